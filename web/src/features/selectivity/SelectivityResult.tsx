// Class selectivity: the share of each kind of unit per layer, the plots, and every unit's kind and classes.
import { Link } from "react-router";
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { ResultView } from "../../api/client";
import { resultData } from "../../api/results";
import { unitLink } from "../../lib/links";

export function SelectivityResult({ result, model }: { result: ResultView; model: string }) {
  const d = resultData(result, "selectivity");
  const fractions = Object.entries(d.fractions).flatMap(([layer, f]) =>
    Object.entries(f).map(([kind, share]) => ({ kind: `${layer} ${kind}`, share })),
  );
  return (
    <>
      <div className="chart" data-testid="fractions">
        <ResponsiveContainer width="100%" height={200}>
          <BarChart data={fractions}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="kind" />
            <YAxis domain={[0, 1]} />
            <Tooltip />
            <Bar dataKey="share" fill="#2e86c1" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
      {d.plots.map((p) => (
        <img key={p} className="sheet" src={p} alt="selectivity plot" />
      ))}
      <table>
        <thead>
          <tr>
            <th>unit</th>
            <th>kind</th>
            <th>classes</th>
          </tr>
        </thead>
        <tbody>
          {d.units.map((u) => (
            <tr key={`${u.layer}:${u.index}`}>
              <td>
                <Link to={unitLink(model, u.layer, u.index)}>
                  {u.layer}:{u.index}
                </Link>
              </td>
              <td>{u.kind}</td>
              <td>{u.classes.join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
