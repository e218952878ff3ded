// The prediction's table: the most probable classes with their probability as a bar.
import type { ResultView } from "../../api/client";
import { resultData } from "../../api/results";
import { fixed } from "../../lib/format";

export function PredictResult({ result }: { result: ResultView }) {
  const d = resultData(result, "predict");
  return (
    <table className="predictions" data-testid="predictions">
      <thead>
        <tr>
          <th>#</th>
          <th>class</th>
          <th>index</th>
          <th>probability</th>
        </tr>
      </thead>
      <tbody>
        {d.predictions.map((p, i) => (
          <tr key={p.index}>
            <td>{i + 1}</td>
            <td>{p.label}</td>
            <td>{p.index}</td>
            <td>
              <span className="bar" style={{ width: `${((p.probability ?? 0) * 8).toFixed(2)}em` }} />
              {fixed(p.probability == null ? null : p.probability * 100, 1)}%
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
