// An inverse set: how many samples landed inside their ranges, their diversity (against the baselines when asked
// for) and a contact sheet per activation band.
import type { ResultView } from "../../api/client";
import { resultData } from "../../api/results";
import { fixed } from "../../lib/format";

export function InverseSetResult({ result }: { result: ResultView }) {
  const d = resultData(result, "inverse-set");
  const baselines = Object.entries(d.baselines ?? {});
  return (
    <>
      <p>
        {d.n} samples, {d.all_inside ? "all" : "not all"} inside their ranges (re-measured from the saved files);
        diversity {fixed(d.diversity, 3)}; {d.seed_steps} seed steps, {d.sampling_steps} sampling steps.
      </p>
      {baselines.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>objective</th>
              <th>diversity</th>
              <th>inside</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td>{d.objective} (this run)</td>
              <td>{fixed(d.diversity, 3)}</td>
              <td>
                {d.samples.length
                  ? `${((100 * d.samples.filter((x) => x.inside).length) / d.samples.length).toFixed(0)}%`
                  : ""}
              </td>
            </tr>
            {baselines.map(([name, b]) => (
              <tr key={name}>
                <td>{name}</td>
                <td>{"error" in b ? b.error : fixed(b.diversity, 3)}</td>
                <td>{"in_range" in b && b.in_range != null ? `${(b.in_range * 100).toFixed(0)}%` : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {d.band_sheets.map((b) => (
        <section key={b.band}>
          <h4>
            band {b.band}: [{b.range[0].toFixed(2)}, {b.range[1].toFixed(2)}], {b.count} samples
          </h4>
          <img className="sheet" src={b.path} alt={`band ${b.band}`} />
        </section>
      ))}
    </>
  );
}
