// Atlases (issue 16): every atlas in the server's result store, and one atlas as layer → grid of units → unit
// page, read from the stored result (nothing is computed again). `convscope atlas --data-dir D` on any machine
// writing to the store this server reads makes it appear here.
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { api, type Schemas } from "../../api/client";
import { resultData, type AtlasData, type AtlasUnitData } from "../../api/results";
import { useAtlas } from "../../components/AtlasUnit";
import { fixed } from "../../lib/format";

export const unitInAtlas = (model: string, layer: string, index: number, hash: string) =>
  `/model/${encodeURIComponent(model)}/layer/${encodeURIComponent(layer)}/unit/${index}?atlas=${hash}`;

export function Atlases() {
  const [list, setList] = useState<Schemas["AtlasSummary"][] | null>(null);
  useEffect(() => {
    void api.GET("/api/atlases").then(({ data }) => setList(data?.atlases ?? []));
  }, []);
  return (
    <div className="page">
      <header className="page-head">
        <h1>Atlases</h1>
        <p>
          Whole-model atlases in this server's result store: every unit of the chosen layers with its feature
          visualization and top dataset examples. Make one with <code>convscope atlas --data-dir …</code> (on this
          machine or a Ray cluster writing to the same store) or by running the <code>atlas</code> recipe.
        </p>
      </header>
      {list === null ? (
        <p>loading…</p>
      ) : list.length === 0 ? (
        <p data-testid="no-atlas">No atlas in the store yet.</p>
      ) : (
        <table className="jobs" data-testid="atlases">
          <thead>
            <tr>
              <th>model</th>
              <th>layers</th>
              <th>units</th>
              <th>dataset (images, top)</th>
              <th>steps</th>
              <th>seed</th>
              <th>made</th>
            </tr>
          </thead>
          <tbody>
            {list.map((a) => (
              <tr key={a.hash}>
                <td>
                  <Link to={`/atlas/${a.hash}`} data-testid={`atlas-${a.hash}`}>
                    {a.model}
                  </Link>
                </td>
                <td>{a.layers.join(", ")}</td>
                <td>{a.units}</td>
                <td>{a.dataset ? `${a.dataset} (${a.images}, top ${a.top})` : "none"}</td>
                <td>{a.steps}</td>
                <td>{a.seed}</td>
                <td>{new Date(a.created * 1000).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function Atlas() {
  const { hash = "" } = useParams();
  const { atlas, error } = useAtlas(hash);
  if (error) return <p className="error page">{error}</p>;
  if (!atlas) return <p className="page">loading…</p>;
  const d = resultData(atlas, "atlas");
  return <AtlasView data={d} link={(u) => unitInAtlas(d.model, u.layer, u.index, hash)} />;
}

/** An atlas as a grid of unit pictures per layer; `link(unit)` is where a unit leads. */
export function AtlasView({ data: d, link }: { data: AtlasData; link: (unit: AtlasUnitData) => string }) {
  return (
    <div className="page">
      <header className="page-head">
        <h1>Atlas of {d.model}</h1>
        <p>
          {d.units.length} units · {d.layers.length} layers · {d.steps} steps per visualization
          {d.images ? ` · top examples from ${d.images} dataset images` : ""}. Click a unit for its page.
        </p>
      </header>
      {d.layers.map((layer) => (
        <section key={layer.name} className="result" data-testid={`atlas-layer-${layer.name}`}>
          <h2>
            <code>{layer.name}</code> {layer.type} {layer.output_shape ? `[${layer.output_shape.join("×")}]` : ""}
          </h2>
          <div className="tiles">
            {d.units
              .filter((u) => u.layer === layer.name)
              .map((u) => (
                <figure key={u.index} className="tile" data-testid={`atlas-unit-${u.layer}-${u.index}`}>
                  <Link to={link(u)}>
                    <img src={u.image} alt={`${u.layer}:${u.index}`} loading="lazy" />
                  </Link>
                  <figcaption>
                    #{u.index} → {fixed(u.activation, 2)}
                  </figcaption>
                </figure>
              ))}
          </div>
        </section>
      ))}
    </div>
  );
}
