// The dreamed image beside the image it started from, with the objective before and after.
import type { ResultView } from "../../api/client";
import { resultData } from "../../api/results";
import { Figure } from "../../components/Figure";
import type { Values } from "../../state";
import { fixed, sci } from "../../lib/format";

export function DreamResult({ result, values }: { result: ResultView; values: Values }) {
  const d = resultData(result, "dream");
  return (
    <>
      <p>
        {d.objective}: {fixed(d.objective_before, 2)} → {fixed(d.objective_after, 2)} over octaves{" "}
        {d.sizes.map((s) => s.join("×")).join(", ")}.
      </p>
      <div className="before-after">
        {values.image && <Figure large src={`/api/images/${values.image}`} caption="the image" alt="the image it started from" />}
        <Figure
          large
          src={d.path}
          caption={`dreamed: ${d.objective}, ${sci(d.objective_before)} → ${sci(d.objective_after)}`}
          alt={`DeepDream of ${d.objective}`}
          testid="dreamed"
        />
      </div>
    </>
  );
}
