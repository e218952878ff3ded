// The feature visualizations, one image per unit (or one for a mix); a single unit's image leads to its unit page
// and its caption to its top dataset examples. Beside each picture: how far to trust it (TrustPanel), and where
// the recipe returned a transparency map, a toggle that draws the picture through it.
import { Link } from "react-router";
import type { ResultView } from "../../api/client";
import { resultData } from "../../api/results";
import { Figure } from "../../components/Figure";
import { Picture } from "../../components/Picture";
import { ScorePlot } from "../../components/ScorePlot";
import { TransparencyToggle, TrustPanel } from "../../components/TrustPanel";
import { examplesLink, unitLink } from "../../lib/links";
import { fixed, sci } from "../../lib/format";
import "./visualize.css";

export function VisualizeResult({ result, model }: { result: ResultView; model: string }) {
  const d = resultData(result, "visualize");
  const trusted = d.images.some((im) => im.trust);
  return (
    <>
      <p>
        {d.steps} steps, {fixed(d.seconds_per_step == null ? null : d.seconds_per_step * 1000, 0)} ms a step. The activation is measured again on the
        final image{d.images.some((im) => im.curve) && "; the curve under each image is the objective at every step, under the random transforms"}.
        Click an image to see it at full size.
        {trusted &&
          " Beside each picture: how far to trust it — its activation as a multiple of the best natural image's, its " +
            "natural-image statistics beside the dataset's, and whether the network processes it like its top natural " +
            "images (the path check of Geirhos et al. 2024)."}
      </p>
      <div className="tiles">
        {d.images.map((im, i) => {
          const [layer, index] = String(im.units[0] ?? "").split(/:(?=\d+$)/);
          const single = im.units.length === 1 && index !== undefined;
          const isClass = single && layer === "logits";
          const to = single && !isClass ? unitLink(model, layer, Number(index)) : undefined;
          const examples = to && examplesLink(model, layer, index);
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
          const alt = `feature visualization of ${im.objective} (activation ${sci(im.activation)})`;
          return (
            <div key={im.path} className="visualized">
              <TransparencyToggle map={im.transparency} alt={`the visualization of ${im.objective}`} testid={`transparency-${i}`}>
                <Figure src={im.path} to={to} alt={alt} caption={caption} testid={`visualization-${i}`} />
              </TransparencyToggle>
              {im.start && (
                <figure className="accentuation-start">
                  <Picture
                    src={im.start}
                    alt={`the image the visualization of ${im.objective} started from (feature accentuation)`}
                    testid={`start-${i}`}
                  />
                  <figcaption>started from{d.keep_layer ? `, kept close at ${d.keep_layer}` : ""}</figcaption>
                </figure>
              )}
              {im.curve && im.curve_steps && (
                <ScorePlot steps={im.curve_steps} values={im.curve} label={im.objective} testid={`score-plot-${i}`} />
              )}
              {im.trust && (
                <TrustPanel
                  trust={im.trust}
                  target={isClass ? Number(index) : undefined}
                  examples={to && examplesLink(model, layer, index, im.trust.dataset)}
                  testid={`trust-${i}`}
                />
              )}
            </div>
          );
        })}
      </div>
    </>
  );
}
