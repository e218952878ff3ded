// Beside an attribution map, on demand: how faithful it is (the `faithfulness` recipe on the same image, method,
// options and class or hidden unit) — its numbers with their definitions, direction and papers; the region
// perturbation curves (MoRF / LeRF), ROAD, the randomisation sanity check as a curve over the layers randomized from
// the top (for a hidden unit: from its layer down), and what each metric cost beside the explanation itself.
import { useState } from "react";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { Spec } from "../../api/client";
import { resultData, type FaithfulnessData } from "../../api/results";
import { useRun } from "../../api/useRun";
import { SchemaInput, useRecipeSchema } from "../../components/AdvancedFields";
import { Field, RunPanel } from "../../components/RunPanel";
import { RunExtras } from "../../components/RunExtras";
import { sci } from "../../lib/format";
import { problemOf, schemaFields, specOf } from "../../lib/schema";
import { betterWords, faithfulnessSpec, metricName, settingsWords, watched } from "./faithfulness";

/** The settings the panel offers (the recipe's other fields keep their defaults), with their labels. */
const SETTINGS: Record<string, string> = { region: "Patch (px)", region_steps: "Steps", points: "Randomisation points" };

export function FaithfulnessPanel({
  attribute,
  method,
  target,
  unit,
}: {
  /** the attribution's spec (image, method options, model) */
  attribute: Spec | undefined;
  method: string;
  /** the class the attribution explained (a hidden unit: its channel) */
  target: number;
  /** the hidden unit it explained instead of a class, if it did: the metrics watch its activation */
  unit?: string | null;
}) {
  const schema = useRecipeSchema("faithfulness");
  const [typed, setTyped] = useState<Record<string, string>>({});
  const { state, run, cancel } = useRun();
  const fields = schema ? schemaFields(schema).filter((f) => f.key in SETTINGS) : [];
  const problems = fields.map((f) => problemOf(f, typed[f.key] ?? "")).filter(Boolean);
  const busy = ["submitting", "queued", "running"].includes(state.status);
  const measure = () => {
    if (!schema || !attribute) return;
    const accepted = Object.keys(schema.properties ?? {});
    const explained = { method, target: unit ?? target };
    void run("faithfulness", faithfulnessSpec(attribute, accepted, explained, specOf(fields, typed)));
  };
  return (
    <section className="faithfulness" data-testid="faithfulness" aria-labelledby="faithfulness-heading">
      <h3 id="faithfulness-heading">Faithfulness of this map</h3>
      <p className="small">
        Whether the map shows what the network used: removing the pixels it ranks highest should lower the score
        fastest, and randomizing the network's weights should change the map. Measured on this image, this
        method and its options, for {unit ? `hidden unit ${unit} (its activation)` : `class ${target}`}.
      </p>
      <div className="faithfulness-settings">
        {fields.map((f) => (
          <Field key={f.key} label={SETTINGS[f.key]} error={problemOf(f, typed[f.key] ?? "") ?? state.error?.fields[f.key]}>
            <SchemaInput
              field={f}
              model=""
              value={typed[f.key] ?? ""}
              onChange={(value) => setTyped({ ...typed, [f.key]: value })}
            />
          </Field>
        ))}
        <button
          type="button"
          onClick={measure}
          disabled={busy || !schema || !attribute || problems.length > 0}
          data-testid="faithfulness-run"
        >
          Measure faithfulness
        </button>
      </div>
      <RunPanel state={state} onCancel={() => void cancel()} />
      {state.status === "done" && state.result && (
        <>
          <FaithfulnessView d={resultData(state.result, "faithfulness")} />
          <RunExtras result={state.result} what="the faithfulness run" />
        </>
      )}
    </section>
  );
}

function FaithfulnessView({ d }: { d: FaithfulnessData }) {
  const region = d.region_perturbation;
  const rnd = d.randomisation;
  const road = d.road;
  const times = Object.entries(d.timings.metrics);
  return (
    <div className="faithfulness-result">
      <ul className="small settings-words" data-testid="faithfulness-settings">
        {settingsWords(d).map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
      <table className="metrics" data-testid="faithfulness-metrics">
        <caption className="visually-hidden">Faithfulness numbers of the {d.method} map</caption>
        <thead>
          <tr>
            <th scope="col">Measure</th>
            <th scope="col">Value</th>
            <th scope="col">Better</th>
            <th scope="col">What it measures</th>
          </tr>
        </thead>
        <tbody>
          {d.metrics.map((m) => (
            <tr key={m.name} data-testid={`metric-${m.name}`}>
              <th scope="row" title={m.definition}>
                {metricName(m.name)}
              </th>
              <td className="value" data-testid="value">
                {sci(m.value)}
              </td>
              <td data-testid="better">{betterWords(m.better)}</td>
              <td className="small">
                {m.definition}. <cite title={m.paper}>{m.paper}</cite>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="faithfulness-charts">
        {region && (
          <PerturbationCurves
            testid="region-curves"
            caption={
              <>
                <strong>Region perturbation</strong>: {watched(d)} as patches are replaced, most
                relevant first (MoRF: should fall fast) and least relevant first (LeRF: should hold); AOPC MoRF{" "}
                {sci(region.aopc_morf)}, LeRF {sci(region.aopc_lerf)}, the area between them / |f(x)| {sci(region.abpc)}.
              </>
            }
            x={region.fractions}
            morf={region.morf}
            lerf={region.lerf}
            percent={100}
            xLabel="share of patches removed"
            yLabel={d.unit ? "activation" : d.score}
            names={["most relevant first (MoRF)", "least relevant first (LeRF)"]}
            height={220}
          />
        )}
        {rnd && (
          <figure className="chart" data-testid="randomisation-curve">
            <figcaption>
              <strong>Randomisation</strong> (Adebayo et al. 2018): how alike the map stays as the layers are
              re-initialized from the top{d.unit ? ` (the layers the unit ${d.unit} depends on)` : ""}, Spearman rank
              correlation and SSIM with the original map. A faithful map changes (falls towards 0); one that stays
              alike does not depend on what the network learned.
            </figcaption>
            <ResponsiveContainer width="100%" height={240}>
              <LineChart
                data={rnd.layers.map((layer, i) => ({ layer, spearman: rnd.spearman[i], ssim: rnd.ssim[i] }))}
                margin={{ top: 5, right: 16, bottom: 5, left: 36 }}
              >
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="layer" interval={0} angle={-25} textAnchor="end" height={64} tick={{ fontSize: 11 }} />
                <YAxis domain={[-1, 1]} />
                <Tooltip />
                <Legend verticalAlign="top" />
                <Line name="Spearman" dataKey="spearman" stroke="#c0392b" isAnimationActive={false} />
                <Line name="SSIM" dataKey="ssim" stroke="#1b62d1" isAnimationActive={false} />
              </LineChart>
            </ResponsiveContainer>
            <details>
              <summary>the curve's numbers</summary>
              <table data-testid="randomisation-table">
                <thead>
                  <tr>
                    <th scope="col">randomized down to</th>
                    <th scope="col">layers randomized</th>
                    <th scope="col">Spearman</th>
                    <th scope="col">SSIM</th>
                  </tr>
                </thead>
                <tbody>
                  {rnd.layers.map((layer, i) => (
                    <tr key={`${layer}-${i}`}>
                      <th scope="row">{layer}</th>
                      <td>
                        {rnd.randomized[i]} of {rnd.total}
                      </td>
                      <td>{sci(rnd.spearman[i])}</td>
                      <td>{sci(rnd.ssim[i])}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          </figure>
        )}
        {road && (
          <PerturbationCurves
            testid="road-curves"
            caption={
              <>
                <strong>ROAD</strong> (Rong et al. 2022): {watched(d)} with the most / least relevant pixels imputed
                from their neighbours (no blank patches the network never saw); (mean LeRF − mean MoRF) / 2 ={" "}
                {sci(road.combined)}.
              </>
            }
            x={road.percentages}
            morf={road.morf}
            lerf={road.lerf}
            percent={1}
            xLabel="share of pixels removed"
            names={["most relevant removed", "least relevant removed"]}
            dots
            height={200}
          />
        )}
      </div>
      <table className="timings" data-testid="faithfulness-timings">
        <caption>What it cost (seconds, wall time)</caption>
        <thead>
          <tr>
            <th scope="col">step</th>
            <th scope="col">time (s)</th>
            <th scope="col">× the explanation</th>
          </tr>
        </thead>
        <tbody>
          <tr data-testid="timing-explanation">
            <th scope="row">the explanation ({d.method})</th>
            <td>{sci(d.timings.explanation)}</td>
            <td>1</td>
          </tr>
          {times.map(([name, seconds]) => (
            <tr key={name} data-testid={`timing-${name}`}>
              <th scope="row">{name}</th>
              <td>{sci(seconds)}</td>
              <td>{d.timings.explanation > 0 ? sci(seconds / d.timings.explanation) : "n/a"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Two perturbation curves over one x axis (a share, drawn as %): the score with the most / least relevant parts
 * removed (region perturbation, ROAD). `percent` turns x into % (100 for a fraction, 1 for a percentage). */
function PerturbationCurves(props: {
  testid: string;
  caption: React.ReactNode;
  x: number[];
  morf: number[];
  lerf: number[];
  percent: number;
  xLabel: string;
  yLabel?: string;
  names: [string, string];
  dots?: boolean;
  height: number;
}) {
  const { x, morf, lerf, percent } = props;
  return (
    <figure className="chart" data-testid={props.testid}>
      <figcaption>{props.caption}</figcaption>
      <ResponsiveContainer width="100%" height={props.height}>
        <LineChart data={x.map((share, i) => ({ share, morf: morf[i], lerf: lerf[i] }))}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis
            dataKey="share"
            type="number"
            domain={[0, 100 / percent]}
            tickFormatter={(v: number) => `${Math.round(v * percent)}%`}
            label={{ value: props.xLabel, position: "insideBottom", offset: -2 }}
            height={40}
          />
          <YAxis label={props.yLabel ? { value: props.yLabel, angle: -90, position: "insideLeft" } : undefined} />
          <Tooltip />
          <Legend verticalAlign="top" />
          <Line name={props.names[0]} dataKey="morf" stroke="#c0392b" dot={props.dots ?? false} isAnimationActive={false} />
          <Line name={props.names[1]} dataKey="lerf" stroke="#1b62d1" dot={props.dots ?? false} isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}
