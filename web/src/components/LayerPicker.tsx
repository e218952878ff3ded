// The layer field of every page: a list, or the network graph as the picker (the same component as the graph page).
import { Suspense, lazy, useState } from "react";
import type { LayerGraphData } from "../graph/types";
import { LayerSelect, useLayers } from "./pickers";

// the graph (React Flow, ELK) loads when it is first opened: a page's first load stays light
const NetworkGraph = lazy(() => import("../graph/NetworkGraph").then((m) => ({ default: m.NetworkGraph })));

export function LayerPicker({
  model,
  value,
  onChange,
  allowEmpty,
}: {
  model: string;
  value: string;
  onChange: (layer: string) => void;
  allowEmpty?: boolean;
}) {
  const [open, setOpen] = useState(false);
  const { graph } = useLayers(model);
  return (
    <span className="layer-picker">
      <span className="row">
        <LayerSelect model={model} value={value} onChange={onChange} allowEmpty={allowEmpty} />
        <button type="button" className="small" onClick={() => setOpen(!open)} aria-expanded={open} data-testid="pick-in-graph">
          {open ? "close graph" : "pick in graph"}
        </button>
      </span>
      {open && graph && (
        <span className="graph-picker">
          <Suspense fallback={<span className="notice">loading the graph…</span>}>
            <NetworkGraph
              graph={graph as unknown as LayerGraphData}
              selected={value || undefined}
              onSelect={onChange}
              height={420}
            />
          </Suspense>
        </span>
      )}
    </span>
  );
}
