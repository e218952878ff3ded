// An attribution: the input heatmap, the conservation trace (LRP) and, per layer, its heatmap and top filters
// (each a link to its unit page; all of them to the feature visualization page).
import { Link } from "react-router";
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { ResultView } from "../../api/client";
import { resultData } from "../../api/results";
import { Figure } from "../../components/Figure";
import { unitLink } from "../../lib/links";
import { fixed } from "../../lib/format";

export function AttributionResult({ result, model }: { result: ResultView; model: string }) {
  const d = resultData(result, "attribute");
  const trace = d.layers
    .filter((l) => l.fraction_of_output !== undefined && l.fraction_of_output !== null)
    .map((l) => ({ layer: l.name, share: l.fraction_of_output }));
  return (
    <>
      <p>
        Explaining class <strong>{d.label}</strong> ({d.target}), logit {fixed(d.output, 3)}, with {d.method}.
        {d.conservation !== undefined && ` Input relevance / output: ${fixed(d.conservation, 4)}.`}
      </p>
      {d.conservation !== undefined && d.conservation !== null && Math.abs(d.conservation) < 0.5 && (
        <p className="small" data-testid="conservation-note">
          Most of the output's relevance does not reach the input: the layers' biases absorb it (z+ and epsilon
          rules pass the bias's share to no input). Tick "Ignore biases" for an explanation that conserves it.
        </p>
      )}
      <Figure src={d.heatmap} caption="input" />
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
      <div className="layers">
        {d.layers
          .filter((l) => l.heatmap && l.type !== "Identity")
          .map((l) => {
            const ids = l.top_filters.map((f) => f.index);
            return (
              <article key={l.name} className="layer-card">
                <img src={l.heatmap} alt={`relevance of ${l.name}`} loading="lazy" />
                <div>
                  <h4>{l.name}</h4>
                  <p>
                    {l.type}; relevance {fixed(l.relevance_sum, 3)}
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
