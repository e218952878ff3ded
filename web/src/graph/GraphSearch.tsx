// The network graph's search box: finds layers by name or type (substring, any case); Enter / ↓ goes to the next
// match, Shift+Enter / ↑ to the previous one ("3 of 17"), Escape clears. Going to a match is the graph's job (onGo).
import { useId, useMemo, useState } from "react";
import { searchLayers } from "./search";
import type { LayerGraphData } from "./types";

export function GraphSearch({ graph, onGo }: { graph: LayerGraphData; onGo: (layer: string) => void }) {
  const [query, setQuery] = useState("");
  const [at, setAt] = useState(-1);
  const matches = useMemo(() => searchLayers(graph, query), [graph, query]);
  const statusId = useId();
  const go = (step: 1 | -1) => {
    if (!matches.length) return;
    const i = at < 0 ? (step > 0 ? 0 : matches.length - 1) : (at + step + matches.length) % matches.length;
    setAt(i);
    onGo(matches[i]);
  };
  const status = !query.trim()
    ? ""
    : !matches.length
      ? "no match"
      : at < 0
        ? `${matches.length} match${matches.length === 1 ? "" : "es"}`
        : `${at + 1} of ${matches.length}`;
  return (
    <span className="cg-search">
      <input
        type="search"
        value={query}
        placeholder="Find a layer: name or type"
        aria-label="Find a layer by name or type"
        aria-describedby={statusId}
        data-testid="graph-search"
        onChange={(e) => {
          setQuery(e.target.value);
          setAt(-1);
        }}
        onKeyDown={(e) => {
          if (e.key === "Enter" || e.key === "ArrowDown" || e.key === "ArrowUp") {
            e.preventDefault();
            go(e.key === "ArrowUp" || (e.key === "Enter" && e.shiftKey) ? -1 : 1);
          } else if (e.key === "Escape") {
            setQuery("");
            setAt(-1);
          }
        }}
      />
      <button type="button" onClick={() => go(-1)} disabled={!matches.length} aria-label="Previous match" data-testid="graph-search-prev">
        ↑
      </button>
      <button type="button" onClick={() => go(1)} disabled={!matches.length} aria-label="Next match" data-testid="graph-search-next">
        ↓
      </button>
      <span id={statusId} className="cg-search-status" role="status" data-testid="graph-search-status">
        {status}
      </span>
    </span>
  );
}
