// The feature visualizations, one image per unit (or one for a mix); a single unit's image leads to its unit page
// and its caption to its top dataset examples.
import { Link } from "react-router";
import type { ResultView } from "../../api/client";
import { resultData } from "../../api/results";
import { Figure } from "../../components/Figure";
import { unitLink } from "../../lib/links";
import { fixed } from "../../lib/format";

export function VisualizeResult({ result, model }: { result: ResultView; model: string }) {
  const d = resultData(result, "visualize");
  return (
    <>
      <p>
        {d.steps} steps, {fixed(d.seconds_per_step == null ? null : d.seconds_per_step * 1000, 0)} ms a step. The activation is measured again on the
        final image.
      </p>
      <div className="tiles">
        {d.images.map((im) => {
          const [layer, index] = String(im.units[0] ?? "").split(/:(?=\d+$)/);
          const to = im.units.length === 1 && index !== undefined ? unitLink(model, layer, Number(index)) : undefined;
          const examples =
            to && `/model/${encodeURIComponent(model)}/examples?layer=${encodeURIComponent(layer)}&channels=${index}&run=1`;
          const caption = (
            <>
              {im.objective} → {fixed(im.activation, 2)}
              {examples && (
                <>
                  {" "}
                  <Link to={examples}>examples</Link>
                </>
              )}
            </>
          );
          return <Figure key={im.path} src={im.path} to={to} caption={caption} />;
        })}
      </div>
    </>
  );
}
