// The network graph page: nested modules collapsed, shapes on the edges, an info box; a leaf links to its units.
import { useState } from "react";
import { Link, useParams } from "react-router";
import { useLayers } from "../../components/pickers";
import { NetworkGraph } from "../../graph/NetworkGraph";
import type { LayerGraphData } from "../../graph/types";
import { unitLink } from "../../lib/links";

export function Graph() {
  const model = useParams().model ?? "default";
  // Another model is another page: its own selection, and no graph of the previous model while its own loads.
  return <GraphOf key={model} model={model} />;
}

function GraphOf({ model }: { model: string }) {
  const { graph, error } = useLayers(model);
  const [selected, setSelected] = useState<string>();
  return (
    <div className="page graph-page">
      <header className="page-head">
        <h1>Network graph of {model}</h1>
        <p>
          Click a block to open it, a layer to select it; find a layer by name or type in the search box.{" "}
          {selected && (
            <>
              Selected <code>{selected}</code>:{" "}
              <Link to={unitLink(model, selected, 0)}>its units</Link>
              {" · "}
              <Link to={`/model/${encodeURIComponent(model)}/activations?layer=${encodeURIComponent(selected)}`}>
                activation maps
              </Link>
              {" · "}
              <Link to={`/model/${encodeURIComponent(model)}/visualize?layer=${encodeURIComponent(selected)}&channels=0,1,2,3`}>
                feature visualization
              </Link>
            </>
          )}
        </p>
      </header>
      {error && <p className="error">{error}</p>}
      {graph && (
        <NetworkGraph graph={graph as unknown as LayerGraphData} selected={selected} onSelect={setSelected} height="75vh" />
      )}
    </div>
  );
}
