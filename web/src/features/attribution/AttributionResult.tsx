// An attribution: the input heatmap, the conservation trace (LRP) and, per layer, its heatmap and top filters
// (each a link to its unit page; all of them to the feature visualization page).
import { Link } from "react-router";
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { ResultView } from "../../api/client";
import { resultData } from "../../api/results";
import { ColorBar } from "../../components/ColorBar";
import { Figure } from "../../components/Figure";
import { OverlayControls, useOverlayView } from "../../components/Overlay";
import { Picture } from "../../components/Picture";
import { unitLink } from "../../lib/links";
import { sci } from "../../lib/format";
import { mapWords } from "./legend";

export function AttributionResult({ result, model }: { result: ResultView; model: string }) {
  const d = resultData(result, "attribute");
  const [view, setView] = useOverlayView();
  const words = mapWords(d.method, d.scale.signed, d.label);
  const firstMap = d.layers.find((l) => l.scale);
  const layerWords = firstMap?.scale && mapWords(d.method, firstMap.scale.signed, d.label, true);
  const trace = d.layers
    .filter((l) => l.fraction_of_output !== undefined && l.fraction_of_output !== null)
    .map((l) => ({ layer: l.name, share: l.fraction_of_output }));
  return (
    <>
      <p>
        Explaining class <strong>{d.label}</strong> ({d.target}), logit {sci(d.output)}, with {d.method}.
        {d.conservation !== undefined && ` Input relevance / output: ${sci(d.conservation)}.`}
      </p>
      {d.conservation !== undefined && d.conservation !== null && Math.abs(d.conservation) < 0.5 && (
        <p className="small" data-testid="conservation-note">
          Most of the output's relevance does not reach the input: the layers' biases absorb it (z+ and epsilon
          rules pass the bias's share to no input). Tick "Ignore biases" for an explanation that conserves it.
        </p>
      )}
      <OverlayControls view={view} onChange={setView} />
      <Figure
        large
        src={d.heatmap}
        under={d.input}
        view={view}
        alt={`${d.method} map of “${d.label}” over the input`}
        caption={`the input: ${words.units}; sum ${sci(d.input_relevance_sum)}`}
        testid="attribution-input"
        download={`attribution-${d.method}-class-${d.target}.png`}
        colorbar={
          <ColorBar scale={d.scale} units={words.units} testid="attribution-colorbar">
            {words.meaning}
          </ColorBar>
        }
      />
      {trace.length > 0 && (
        <div className="chart" data-testid="conservation">
          <h3>Conservation: relevance of each layer / the output</h3>
          <ResponsiveContainer width="100%" height={220}>
            <LineChart data={trace}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="layer" tick={false} label={{ value: "layers, input → output (hover for names)", position: "insideBottom" }} />
              <YAxis domain={["auto", "auto"]} />
              <Tooltip />
              <Line type="monotone" dataKey="share" stroke="#c0392b" dot={false} isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        </div>
      )}
      {d.layers.some((l) => l.type === "Identity") && (
        <p className="small">
          {d.layers.filter((l) => l.type === "Identity").length} Identity layers (no-ops: their relevance is
          their input's) are not shown.
        </p>
      )}
      {layerWords && (
        <p className="small" data-testid="layer-legend">
          Each layer's map on its own scale (its ends under it): {layerWords.units}. {layerWords.meaning} Maps of [C]
          layers show one cell per channel. Click a map to enlarge it.
        </p>
      )}
      <div className="layers">
        {d.layers
          .filter((l) => l.heatmap && l.type !== "Identity")
          .map((l) => {
            const ids = l.top_filters.map((f) => f.index);
            const spatial = l.shape.length === 3 && l.shape[1] * l.shape[2] > 1; // a map over the image, not [C]
            const cardWords = mapWords(d.method, l.scale?.signed ?? false, d.label, true);
            return (
              <article key={l.name} className="layer-card" data-testid={`layer-${l.name}`}>
                <div>
                  <Picture
                    src={l.heatmap!}
                    alt={`${spatial ? "map" : "channel relevance"} of ${l.name}`}
                    caption={`${l.type}; relevance ${sci(l.relevance_sum)}${spatial ? "" : "; one cell per channel"}`}
                    under={spatial ? d.input : undefined}
                    view={view}
                    download={`attribution-${d.method}-class-${d.target}-${l.name}.png`}
                    legend={
                      l.scale && (
                        <ColorBar scale={l.scale} units={cardWords.units}>
                          {cardWords.meaning}
                        </ColorBar>
                      )
                    }
                  />
                  {l.scale && <ColorBar compact scale={l.scale} units={cardWords.units} />}
                </div>
                <div>
                  <h4>{l.name}</h4>
                  <p>
                    {l.type}; relevance {sci(l.relevance_sum)}
                    {l.fraction_of_output !== undefined && l.fraction_of_output !== null
                      ? ` (${(l.fraction_of_output * 100).toFixed(1)}% of the output)`
                      : ""}
                  </p>
                  <p className="filters">
                    top filters:{" "}
                    {l.top_filters.map((f) => (
                      <Link key={f.index} to={unitLink(model, l.name, f.index)}>
                        {f.index}
                      </Link>
                    ))}{" "}
                    <button type="button" className="small" onClick={() => void navigator.clipboard?.writeText(ids.join(","))}>
                      copy IDs
                    </button>{" "}
                    <Link
                      className="small"
                      to={`/model/${encodeURIComponent(model)}/visualize?layer=${encodeURIComponent(l.name)}&channels=${ids.join(",")}&run=1`}
                    >
                      visualize these
                    </Link>
                  </p>
                </div>
              </article>
            );
          })}
      </div>
    </>
  );
}
