// The feature visualizations, one image per unit (or one for a mix); a single unit's image leads to its unit page
// and its caption to its top dataset examples.
import { Link } from "react-router";
import type { ResultView } from "../../api/client";
import { resultData } from "../../api/results";
import { Figure } from "../../components/Figure";
import { ScorePlot } from "../../components/ScorePlot";
import { unitLink } from "../../lib/links";
import { fixed, sci } from "../../lib/format";

export function VisualizeResult({ result, model }: { result: ResultView; model: string }) {
  const d = resultData(result, "visualize");
  return (
    <>
      <p>
        {d.steps} steps, {fixed(d.seconds_per_step == null ? null : d.seconds_per_step * 1000, 0)} ms a step. The activation is measured again on the
        final image{d.images.some((im) => im.curve) && "; the curve under each image is the objective at every step, under the random transforms"}.
        Click an image to see it at full size.
      </p>
      <div className="tiles">
        {d.images.map((im, i) => {
          const [layer, index] = String(im.units[0] ?? "").split(/:(?=\d+$)/);
          const to = im.units.length === 1 && index !== undefined ? unitLink(model, layer, Number(index)) : undefined;
          const examples =
            to && `/model/${encodeURIComponent(model)}/examples?layer=${encodeURIComponent(layer)}&channels=${index}&run=1`;
          const caption = (
            <>
              {im.objective} → {sci(im.activation)}
              {examples && (
                <>
                  {" "}
                  <Link to={examples}>examples</Link>
                </>
              )}
            </>
          );
          return (
            <div key={im.path} className="visualized">
              <Figure
                src={im.path}
                to={to}
                alt={`feature visualization of ${im.objective} (activation ${sci(im.activation)})`}
                caption={caption}
                testid={`visualization-${i}`}
              />
              {im.curve && im.curve_steps && (
                <ScorePlot steps={im.curve_steps} values={im.curve} label={im.objective} testid={`score-plot-${i}`} />
              )}
            </div>
          );
        })}
      </div>
    </>
  );
}
