// A top filter's concept view, opened from its layer card: where in the image that one channel contributes to the
// explained class (its concept-conditional heatmap, CRP: the `concepts` recipe) and which channels of a lower layer
// feed it most (drawn as a small graph, ConceptGraph.tsx, above their list), beside what the channel responds to —
// its feature visualization and the images for which it is most relevant (the unit page's views) — and a link to
// its unit page.
import { Link } from "react-router";
import type { Spec } from "../../api/client";
import type { AttributeData } from "../../api/results";
import { useRecipeSchema } from "../../components/AdvancedFields";
import { ColorBar } from "../../components/ColorBar";
import { Figure } from "../../components/Figure";
import type { OverlayView } from "../../components/Overlay";
import { useOffered } from "../../components/pickers";
import { Section } from "../../components/Section";
import { UnitRelevant, UnitVisualization } from "../../components/UnitViews";
import { sci } from "../../lib/format";
import { unitLink } from "../../lib/links";
import { schemaFields } from "../../lib/schema";
import { datasetFor } from "../../lib/spec";
import { ConceptGraph } from "./ConceptGraph";
import { LRP } from "./methods";

/** The LRP options of the attribution that CRP takes too. */
const SHARED = ["maxpool", "ignore_bias", "epsilon", "fit"];

export function ConceptView({
  d,
  attribute,
  model,
  layer,
  channel,
  lower,
  view,
  onClose,
}: {
  d: AttributeData;
  /** the attribution's spec (its LRP options) */
  attribute: Spec | undefined;
  model: string;
  layer: string;
  channel: number;
  /** the layer below whose channels feed this one (the concept graph's edges), if there is one */
  lower?: string;
  view: OverlayView;
  onClose: () => void;
}) {
  const offered = useOffered();
  const schema = useRecipeSchema("concepts");
  const dataset = datasetFor(offered.modelInfo.find((m) => m.name === model), offered.datasetInfo);
  // an LRP map's own composite where CRP knows it (else CRP's default, Deep Taylor)
  const composites = schema ? schemaFields(schema).find((f) => f.key === "composite")?.options : undefined;
  const composite = LRP.includes(d.method) && "composite" in d.info ? d.info.composite.name : undefined;
  const spec: Spec = {
    model: { spec: model },
    image: d.image,
    target: d.unit ?? d.target,
    layer,
    channels: [channel],
    ...(lower ? { lower_layer: lower, lower_top: 5 } : {}),
    ...(composite && composites?.includes(composite) ? { composite } : {}),
    ...Object.fromEntries(Object.entries(attribute ?? {}).filter(([key]) => SHARED.includes(key))),
  };
  const name = `${layer}:${channel}`;
  return (
    <section className="concept-view" data-testid="concept-view" aria-label={`concept ${name}`}>
      <div className="concept-head">
        <h4>
          Concept {name}{" "}
          <Link className="small" to={unitLink(model, layer, channel)}>
            its unit page
          </Link>
        </h4>
        <button type="button" className="small" onClick={onClose} data-testid="concept-close">
          close
        </button>
      </div>
      <p className="small">
        Concept relevance propagation (CRP, Achtibat et al. 2023): the relevance of “{d.label}” passed back only
        through channel {channel} of {layer}, R(x | {name}) — where in the image this filter contributes to the
        explanation. It runs LRP ({composite && composites?.includes(composite) ? composite : "Deep Taylor"})
        whatever the method above.
      </p>
      <div className="concept-grid">
        <Section
          title="Conditional heatmap"
          recipe="concepts"
          spec={spec}
          auto
          heading="h5"
          testid="concept-crp"
          render={(c) => {
            const ch = c.channels[0];
            return (
              <>
                <Figure
                  src={ch.heatmap}
                  under={d.input}
                  view={view}
                  alt={`conditional heatmap of ${name} for “${c.label}”`}
                  caption={
                    <>
                      relevance of {name}: <span data-testid="concept-relevance">{sci(ch.relevance)}</span> (
                      <span data-testid="concept-share">{ch.share == null ? "n/a" : `${sci(ch.share * 100)}%`}</span> of the
                      layer's {sci(c.layer_relevance)}); its heatmap sums to{" "}
                      <span data-testid="concept-input-relevance">{sci(ch.input_relevance)}</span> (logit units)
                    </>
                  }
                  testid="concept-heatmap"
                  download={`concept-${layer}-${channel}-class-${c.target}.png`}
                  colorbar={
                    <ColorBar scale={ch.scale} units="relevance per pixel through this channel (logit units)">
                      {ch.scale.signed
                        ? `red: evidence for “${c.label}” through this filter, blue: against it.`
                        : `Brighter: more relevance for “${c.label}” through this filter.`}
                    </ColorBar>
                  }
                />
                {c.lower_layer && c.edges.length > 0 && (
                  <div data-testid="concept-edges">
                    <h6>Channels of {c.lower_layer} that feed it most</h6>
                    <ConceptGraph model={model} source={name} lowerLayer={c.lower_layer} edges={c.edges} />
                    <ol className="small">
                      {c.edges.map((e) => {
                        const lowerChannel = Number(e.to.split(":").pop());
                        return (
                          <li key={e.to}>
                            <Link to={unitLink(model, c.lower_layer!, lowerChannel)}>{e.to}</Link>: relevance{" "}
                            {sci(e.relevance)} ({sci(e.share * 100)}% of what {name} passes down)
                          </li>
                        );
                      })}
                    </ol>
                  </div>
                )}
              </>
            );
          }}
        />
        <UnitVisualization model={model} layer={layer} unit={channel} dataset={dataset} prefix="concept" heading="h5" />
        {dataset && <UnitRelevant model={model} layer={layer} unit={channel} dataset={dataset} prefix="concept" heading="h5" />}
      </div>
    </section>
  );
}
