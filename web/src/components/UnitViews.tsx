// Two views of one unit that more than one page shows: its feature visualization (with how far to trust it) and
// the images for which it is most relevant (relevance maximization). The unit page shows them with its other
// views; the attribution page's concept view shows them beside a filter's conditional heatmap. The same spec on
// both pages: a result one of them computed, the other gets from the store at once.
import { examplesLink } from "../lib/links";
import { sci } from "../lib/format";
import { Picture } from "./Picture";
import { ScorePlot } from "./ScorePlot";
import { Section } from "./Section";
import { TransparencyToggle, TrustPanel } from "./TrustPanel";

interface UnitViewProps {
  model: string;
  layer: string;
  unit: number;
  /** the dataset of the trust check and the examples ("" where none fits the model) */
  dataset: string;
  /** the sections' test ids start with this ("unit" on the unit page) */
  prefix?: string;
  heading?: "h2" | "h3" | "h4" | "h5";
}

/** The unit's feature visualization (128 steps), with its trust panel on `dataset`. */
export function UnitVisualization({ model, layer, unit, dataset, prefix = "unit", heading, auto }: UnitViewProps & { auto?: boolean }) {
  return (
    <Section
      title="Feature visualization"
      recipe="visualize"
      spec={{ model: { spec: model }, layer, channels: [unit], steps: 128, ...(dataset ? { trust_dataset: dataset } : {}) }}
      auto={auto}
      heading={heading}
      testid={`${prefix}-visualization`}
      render={(d) => {
        const im = d.images[0];
        return (
          <>
            <TransparencyToggle map={im.transparency} alt={`the visualization of ${layer}:${unit}`} testid={`${prefix}-transparency`}>
              <figure className="tile" data-testid={`${prefix}-visualization-result`}>
                <Picture
                  src={im.path}
                  alt={`feature visualization of ${layer}:${unit}`}
                  caption={`${d.steps} steps → activation ${sci(im.activation)}`}
                />
                <figcaption>activation {sci(im.activation)}</figcaption>
                {im.curve && im.curve_steps && (
                  <ScorePlot steps={im.curve_steps} values={im.curve} label={`${layer}:${unit}`} testid={`${prefix}-score-plot`} />
                )}
              </figure>
            </TransparencyToggle>
            {im.trust && (
              <TrustPanel trust={im.trust} examples={examplesLink(model, layer, unit, im.trust.dataset)} testid={`${prefix}-trust`} />
            )}
          </>
        );
      }}
    />
  );
}

/** The images of `dataset` for which the unit is most relevant (its Deep Taylor relevance for their predicted class). */
export function UnitRelevant({ model, layer, unit, dataset, prefix = "unit", heading }: UnitViewProps) {
  return (
    <Section
      title="Images for which it is most relevant"
      recipe="examples"
      spec={{ model: { spec: model }, dataset, layer, channels: [unit], top: 9, by: "relevance" }}
      heading={heading}
      testid={`${prefix}-relevant`}
      render={(d) => (
        <>
          <p className="small">
            Ranked by the unit's Deep Taylor relevance for each image's predicted class (relevance maximization,
            Achtibat et al. 2023); the scores are in units of the logit.
          </p>
          <Picture
            src={d.units[0].sheet}
            imgClassName="sheet"
            alt={`images for which ${layer}:${unit} is most relevant`}
            caption="ranked by the unit's Deep Taylor relevance for each image's predicted class"
          />
        </>
      )}
    />
  );
}
