// An attribution: the input heatmap, beside it on demand how faithful it is (FaithfulnessPanel), the conservation
// trace (LRP: with what the biases absorbed and the sums at the top-level blocks) and, per layer, its heatmap and top
// filters (each a link to its unit page and a button that opens its concept view below the card: ConceptView).
import { useState } from "react";
import { Link } from "react-router";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { ResultView, Spec } from "../../api/client";
import { resultData, type AttributeData, type AttributeLayer } from "../../api/results";
import { ColorBar } from "../../components/ColorBar";
import { Figure } from "../../components/Figure";
import { OverlayControls, type OverlayView, useOverlayView } from "../../components/Overlay";
import { Picture } from "../../components/Picture";
import { unitLink } from "../../lib/links";
import { sci } from "../../lib/format";
import { ConceptView } from "./ConceptView";
import { FaithfulnessPanel } from "./FaithfulnessPanel";
import { mapWords } from "./legend";
import { unitWords } from "./methods";
import "./attribution.css";

export function AttributionResult({ result, model, spec }: { result: ResultView; model: string; spec?: Spec }) {
  const d = resultData(result, "attribute");
  const [view, setView] = useOverlayView();
  const [concept, setConcept] = useState<{ layer: string; channel: number }>();
  const words = mapWords(d.method, d.scale.signed, d.label);
  const firstMap = d.layers.find((l) => l.scale);
  const layerWords = firstMap?.scale && mapWords(d.method, firstMap.scale.signed, d.label, true);
  const cards = d.layers.filter((l) => l.heatmap && l.type !== "Identity");
  return (
    <>
      <p data-testid="attribution-sentence">
        {d.unit ? (
          <>
            Explaining hidden unit <strong data-testid="attribution-unit">{d.unit}</strong> ({unitWords(d.unit)}),
            score {sci(d.output)}, with {d.method}.
          </>
        ) : (
          <>
            Explaining class <strong>{d.label}</strong> ({d.target}), logit {sci(d.output)}, with {d.method}.
          </>
        )}
        {d.conservation !== undefined && ` Input relevance / output: ${sci(d.conservation)}.`}
      </p>
      {d.conservation !== undefined && d.conservation !== null && Math.abs(d.conservation) < 0.5 && (
        <p className="small" data-testid="conservation-note">
          Most of the output's relevance does not reach the input: the layers' biases absorb it (z+ and epsilon
          rules pass the bias's share to no input). Tick "Ignore biases" for an explanation that conserves it.
        </p>
      )}
      <OverlayControls view={view} onChange={setView} />
      <Figure
        large
        src={d.heatmap}
        under={d.input}
        view={view}
        alt={`${d.method} map of “${d.label}” over the input`}
        caption={`the input: ${words.units}; sum ${sci(d.input_relevance_sum)}`}
        testid="attribution-input"
        download={`attribution-${d.method}-class-${d.target}.png`}
        colorbar={
          <ColorBar scale={d.scale} units={words.units} testid="attribution-colorbar">
            {words.meaning}
          </ColorBar>
        }
      />
      <FaithfulnessPanel key={result.hash} attribute={spec} method={d.method} target={d.target} unit={d.unit} />
      <Conservation d={d} />
      {d.layers.some((l) => l.type === "Identity") && (
        <p className="small">
          {d.layers.filter((l) => l.type === "Identity").length} Identity layers (no-ops: their relevance is
          their input's) are not shown.
        </p>
      )}
      {layerWords && (
        <p className="small" data-testid="layer-legend">
          Each layer's map on its own scale (its ends under it): {layerWords.units}. {layerWords.meaning} Maps of [C]
          layers show one cell per channel. Click a map to enlarge it; “concept” opens what one top filter contributes.
        </p>
      )}
      <div className="layers">
        {cards.map((l, i) => (
          <LayerCard
            key={l.name}
            d={d}
            l={l}
            model={model}
            view={view}
            open={concept?.layer === l.name ? concept.channel : undefined}
            onConcept={(channel) => setConcept(channel === undefined ? undefined : { layer: l.name, channel })}
          >
            {concept?.layer === l.name && (
              <ConceptView
                key={`${result.hash}/${concept.channel}`}
                d={d}
                attribute={spec}
                model={model}
                layer={l.name}
                channel={concept.channel}
                lower={lowerLayer(cards, i)}
                view={view}
                onClose={() => setConcept(undefined)}
              />
            )}
          </LayerCard>
        ))}
      </div>
    </>
  );
}

/** The layer below card `i` whose channels feed it, for the concept graph: the nearest lower card of the same type
 * (a convolution's: the convolution before it), else the card just below; none for the first. */
function lowerLayer(cards: AttributeLayer[], i: number): string | undefined {
  const below = cards.slice(0, i).reverse();
  return (below.find((l) => l.type === cards[i].type) ?? below[0])?.name;
}

/** LRP's conservation trace: each layer's relevance / the output; with the ledger, what each layer's biases took and
 * the sums at the top-level blocks' outputs (where residual branches have merged). */
function Conservation({ d }: { d: AttributeData }) {
  const ledger = "composite" in d.info ? d.info : undefined; // LRP's: what each layer's biases took, the block sums
  const absorbed = new Map((ledger?.absorbed ?? []).map((a) => [a.layer, a.fraction]));
  const blocks = new Map((ledger?.blocks ?? []).map((b) => [b.layer, b.fraction]));
  const trace = d.layers
    .filter((l) => l.fraction_of_output !== undefined && l.fraction_of_output !== null)
    .map((l) => ({ layer: l.name, share: l.fraction_of_output, absorbed: absorbed.get(l.name), block: blocks.get(l.name) }));
  if (trace.length === 0) return null;
  return (
    <div className="chart" data-testid="conservation">
      <h3>Conservation: relevance of each layer / the output</h3>
      {ledger && (
        <p className="small" data-testid="absorbed-total">
          Absorbed by the layers' biases and stabilizers:{" "}
          <span data-testid="absorbed-value">
            {ledger.absorbed_total == null ? "n/a" : `${sci(ledger.absorbed_total * 100)}%`}
          </span>{" "}
          of the output in all (each
          layer's share on the second line
          {trace.some((row) => row.absorbed !== undefined) ? "" : ", empty here: its layers are not among those shown"}; Bach
          et al. 2015, eq. 2). An explanation that conserves the output keeps
          every layer's sum at 1; what it loses on the way down went to the biases.
          {ledger && ledger.blocks.length > 0 && " The third line: the sums at the top-level blocks' outputs, where residual branches have merged."}
        </p>
      )}
      <ResponsiveContainer width="100%" height={240}>
        <LineChart data={trace}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="layer" tick={false} label={{ value: "layers, input → output (hover for names)", position: "insideBottom" }} />
          <YAxis domain={["auto", "auto"]} />
          <Tooltip />
          {ledger && <Legend verticalAlign="top" />}
          <Line name="relevance / output" type="monotone" dataKey="share" stroke="#c0392b" dot={false} isAnimationActive={false} />
          {ledger && (
            <Line name="absorbed by biases" dataKey="absorbed" stroke="#1b62d1" connectNulls isAnimationActive={false} />
          )}
          {ledger && ledger.blocks.length > 0 && (
            <Line name="at block outputs" dataKey="block" stroke="#1a7f37" connectNulls isAnimationActive={false} />
          )}
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}

/** One layer's card: its map, relevance and top filters; `children` (its open concept view) below it. */
function LayerCard({
  d,
  l,
  model,
  view,
  open,
  onConcept,
  children,
}: {
  d: AttributeData;
  l: AttributeLayer;
  model: string;
  view: OverlayView;
  /** the channel whose concept view is open below this card */
  open?: number;
  onConcept: (channel: number | undefined) => void;
  children?: React.ReactNode;
}) {
  const ids = l.top_filters.map((f) => f.index);
  const spatial = l.shape.length === 3 && l.shape[1] * l.shape[2] > 1; // a map over the image, not [C]
  const cardWords = mapWords(d.method, l.scale?.signed ?? false, d.label, true);
  return (
    <>
      <article className="layer-card" data-testid={`layer-${l.name}`}>
        <div>
          <Picture
            src={l.heatmap!}
            alt={`${spatial ? "map" : "channel relevance"} of ${l.name}`}
            caption={`${l.type}; relevance ${sci(l.relevance_sum)}${spatial ? "" : "; one cell per channel"}`}
            under={spatial ? d.input : undefined}
            view={view}
            download={`attribution-${d.method}-class-${d.target}-${l.name}.png`}
            legend={
              l.scale && (
                <ColorBar scale={l.scale} units={cardWords.units}>
                  {cardWords.meaning}
                </ColorBar>
              )
            }
          />
          {l.scale && <ColorBar compact scale={l.scale} units={cardWords.units} />}
        </div>
        <div>
          <h4>{l.name}</h4>
          <p>
            {l.type}; relevance {sci(l.relevance_sum)}
            {l.fraction_of_output !== undefined && l.fraction_of_output !== null
              ? ` (${(l.fraction_of_output * 100).toFixed(1)}% of the output)`
              : ""}
          </p>
          <div className="filters">
            top filters:
            <ul>
              {l.top_filters.map((f) => (
                <li key={f.index}>
                  <Link to={unitLink(model, l.name, f.index)}>{f.index}</Link>
                  <button
                    type="button"
                    className="small concept-button"
                    aria-expanded={open === f.index}
                    aria-label={`concept of ${l.name}:${f.index}`}
                    onClick={() => onConcept(open === f.index ? undefined : f.index)}
                    data-testid={`concept-${l.name}-${f.index}`}
                  >
                    concept
                  </button>
                </li>
              ))}
            </ul>
            <button type="button" className="small" onClick={() => void navigator.clipboard?.writeText(ids.join(","))}>
              copy IDs
            </button>{" "}
            <Link
              className="small"
              to={`/model/${encodeURIComponent(model)}/visualize?layer=${encodeURIComponent(l.name)}&channels=${ids.join(",")}&run=1`}
            >
              visualize these
            </Link>
          </div>
        </div>
      </article>
      {children}
    </>
  );
}
