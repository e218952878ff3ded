// Every technique page of seed 001 (and the data-driven views of seeds 000, 002, 004): its parameters, how they
// become the recipe's spec, and how its result is shown.
import { Link } from "react-router";
import { useState } from "react";
import {
  Bar,
  BarChart,
  CartesianGrid,
  Line,
  LineChart,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { ResultView } from "../api/client";
import type { PageDef } from "../components/RecipePage";
import { intList, numberOr, type Values } from "../state";

type Data = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const unitLink = (model: string, layer: string, index: number) =>
  `/model/${encodeURIComponent(model)}/layer/${encodeURIComponent(layer)}/unit/${index}`;

const ref = (model: string) => ({ spec: model });
const clean = (spec: Data) => Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined && v !== ""));

function Figure({
  src,
  caption,
  to,
  testid,
  large,
}: {
  src: string;
  caption: React.ReactNode;
  to?: string;
  testid?: string;
  large?: boolean;
}) {
  const img = <img src={src} alt={typeof caption === "string" ? caption : ""} loading="lazy" />;
  return (
    <figure className={large ? "tile large" : "tile"} data-testid={testid}>
      {to ? <Link to={to}>{img}</Link> : img}
      <figcaption>{caption}</figcaption>
    </figure>
  );
}

// --- inspect --------------------------------------------------------------------------------------------------
function PredictResult({ result }: { result: ResultView }) {
  const d = result.data as Data;
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
        {d.predictions.map((p: Data, i: number) => (
          <tr key={p.index}>
            <td>{i + 1}</td>
            <td>{p.label}</td>
            <td>{p.index}</td>
            <td>
              <span className="bar" style={{ width: `${Math.round(p.probability * 100)}%` }} />
              {(p.probability * 100).toFixed(1)}%
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ActivationsResult({ result, model }: { result: ResultView; model: string }) {
  const d = result.data as Data;
  const layers: Data[] = d.layers ?? [d];
  return (
    <>
      <p>Channels by mean activation, each map scaled to its own maximum (click one for its unit page).</p>
      {layers.map((entry) => (
        <section key={entry.layer} data-testid={`maps-${entry.layer}`}>
          <h3>
            <code>{entry.layer}</code>, output {entry.output_shape?.join("×")}
          </h3>
          <div className="tiles">
            {entry.channels.map((c: Data) => (
              <Figure
                key={c.index}
                src={c.image}
                to={unitLink(model, entry.layer, c.index)}
                caption={`#${c.index} mean ${c.mean.toFixed(2)}`}
                testid={`map-${c.index}`}
              />
            ))}
          </div>
        </section>
      ))}
    </>
  );
}

// --- feature visualization ------------------------------------------------------------------------------------
function VisualizeResult({ result, model }: { result: ResultView; model: string }) {
  const d = result.data as Data;
  return (
    <>
      <p>
        {d.steps} steps, {(d.seconds_per_step * 1000).toFixed(0)} ms a step. The activation is measured again on the
        final image.
      </p>
      <div className="tiles">
        {d.images.map((im: Data) => {
          const [layer, index] = String(im.units[0] ?? "").split(/:(?=\d+$)/);
          const to = im.units.length === 1 && index !== undefined ? unitLink(model, layer, Number(index)) : undefined;
          const examples =
            to && `/model/${encodeURIComponent(model)}/examples?layer=${encodeURIComponent(layer)}&channels=${index}&run=1`;
          const caption = (
            <>
              {im.objective} → {im.activation.toFixed(2)}
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

function DreamResult({ result, values }: { result: ResultView; values: Values }) {
  const d = result.data as Data;
  return (
    <>
      <p>
        {d.objective}: {d.objective_before.toFixed(2)} → {d.objective_after.toFixed(2)} over octaves{" "}
        {d.sizes.map((s: number[]) => s.join("×")).join(", ")}.
      </p>
      <div className="before-after">
        {values.image && <Figure large src={`/api/images/${values.image}`} caption="the image" />}
        <Figure large src={d.path} caption="dreamed" />
      </div>
    </>
  );
}

// --- attribution ------------------------------------------------------------------------------------------------
function AttributionResult({ result, model }: { result: ResultView; model: string }) {
  const d = result.data as Data;
  const trace = d.layers
    .filter((l: Data) => l.fraction_of_output !== undefined && l.fraction_of_output !== null)
    .map((l: Data) => ({ layer: l.name, share: l.fraction_of_output }));
  return (
    <>
      <p>
        Explaining class <strong>{d.label}</strong> ({d.target}), logit {d.output.toFixed(3)}, with {d.method}.
        {d.conservation !== undefined && ` Input relevance / output: ${d.conservation.toFixed(4)}.`}
      </p>
      {d.conservation !== undefined && d.conservation !== null && Math.abs(d.conservation) < 0.5 && (
        <p className="small" data-testid="conservation-note">
          Most of the output's relevance does not reach the input: the layers' biases absorb it (z+ and epsilon
          rules pass the bias's share to no input). Tick "Ignore biases" for an explanation that conserves it.
        </p>
      )}
      <Figure src={d.heatmap} caption="input" />
      {trace.length > 0 && (
        <div className="chart" data-testid="conservation">
          <h3>Conservation: relevance of each layer / the output</h3>
          <ResponsiveContainer width="100%" height={220}>
            <LineChart data={trace}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="layer" tick={false} label={{ value: "layers, input → output (hover for names)", position: "insideBottom" }} />
              <YAxis domain={["auto", "auto"]} />
              <Tooltip />
              <Line type="monotone" dataKey="share" stroke="#c0392b" dot={false} isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        </div>
      )}
      {d.layers.some((l: Data) => l.type === "Identity") && (
        <p className="small">
          {d.layers.filter((l: Data) => l.type === "Identity").length} Identity layers (no-ops: their relevance is
          their input's) are not shown.
        </p>
      )}
      <div className="layers">
        {d.layers
          .filter((l: Data) => l.heatmap && l.type !== "Identity")
          .map((l: Data) => {
            const ids = l.top_filters.map((f: Data) => f.index);
            return (
              <article key={l.name} className="layer-card">
                <img src={l.heatmap} alt={`relevance of ${l.name}`} loading="lazy" />
                <div>
                  <h4>{l.name}</h4>
                  <p>
                    {l.type}; relevance {l.relevance_sum.toFixed(3)}
                    {l.fraction_of_output !== undefined && l.fraction_of_output !== null
                      ? ` (${(l.fraction_of_output * 100).toFixed(1)}% of the output)`
                      : ""}
                  </p>
                  <p className="filters">
                    top filters:{" "}
                    {l.top_filters.map((f: Data) => (
                      <Link key={f.index} to={unitLink(model, l.name, f.index)}>
                        {f.index}
                      </Link>
                    ))}{" "}
                    <button type="button" className="small" onClick={() => void navigator.clipboard?.writeText(ids.join(","))}>
                      copy IDs
                    </button>{" "}
                    <Link
                      className="small"
                      to={`/model/${encodeURIComponent(model)}/visualize?layer=${encodeURIComponent(l.name)}&channels=${ids.join(",")}&run=1`}
                    >
                      visualize these
                    </Link>
                  </p>
                </div>
              </article>
            );
          })}
      </div>
    </>
  );
}

// --- data-driven views --------------------------------------------------------------------------------------------
function ExamplesResult({ result, model }: { result: ResultView; model: string }) {
  const d = result.data as Data;
  return (
    <>
      {d.units.map((u: Data) => (
        <section key={`${u.layer}:${u.index}`}>
          <h3>
            <Link to={unitLink(model, u.layer, u.index)}>
              {u.layer}:{u.index}
            </Link>{" "}
            — top {u.examples.length} of {d.images} images by {d.by === "relevance" ? "relevance" : "activation"}
          </h3>
          <img className="sheet" src={u.sheet} alt={`top examples of ${u.layer}:${u.index}`} />
        </section>
      ))}
    </>
  );
}

function SelectivityResult({ result, model }: { result: ResultView; model: string }) {
  const d = result.data as Data;
  const fractions = Object.entries(d.fractions as Record<string, Record<string, number>>).flatMap(([layer, f]) =>
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
      {d.plots.map((p: string) => (
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
          {d.units.map((u: Data) => (
            <tr key={`${u.layer}:${u.index}`}>
              <td>
                <Link to={unitLink(model, u.layer, u.index)}>
                  {u.layer}:{u.index}
                </Link>
              </td>
              <td>{u.kind}</td>
              <td>{u.classes.map((c: number) => d.classes[c] ?? c).join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

const CLUSTER_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

function FacetsResult({ result, values }: { result: ResultView; values: Values }) {
  const d = result.data as Data;
  const [chosen, setChosen] = useState<number>();
  const [hover, setHover] = useState<Data>();
  const points: Data[] = d.points ?? [];
  const imageOf = (id: string) => `/api/datasets/${encodeURIComponent(values.dataset || "digits")}/image?id=${encodeURIComponent(id)}`;
  const clusters: Data[] = chosen === undefined ? d.clusters : d.clusters.filter((c: Data) => c.id === chosen);
  return (
    <>
      <p>
        {d.images}: {d.clusters.length} clusters of {d.code_layer} codes (PCA, t-SNE, k-means). Hover a point for its
        image; click one to show its cluster.
        {Number(values.k) > d.clusters.length &&
          ` (${values.k} clusters asked for: k-means makes at most one cluster per distinct image, so ${d.clusters.length}.)`}
      </p>
      <div className="facets-view">
        <div className="chart scatter" data-testid="embedding">
          <ResponsiveContainer width="100%" height={360}>
            <ScatterChart margin={{ top: 10, right: 10, bottom: 10, left: 10 }}>
              <XAxis dataKey="x" type="number" hide domain={["auto", "auto"]} />
              <YAxis dataKey="y" type="number" hide domain={["auto", "auto"]} />
              {d.clusters.map((c: Data) => (
                <Scatter
                  key={c.id}
                  name={`cluster ${c.id}`}
                  data={points.filter((p) => p.cluster === c.id)}
                  fill={CLUSTER_COLORS[c.id % CLUSTER_COLORS.length]}
                  fillOpacity={chosen === undefined || chosen === c.id ? 0.9 : 0.15}
                  isAnimationActive={false}
                  onMouseEnter={(p: Data) => setHover(p?.payload ?? p)}
                  onClick={() => setChosen(chosen === c.id ? undefined : c.id)}
                />
              ))}
            </ScatterChart>
          </ResponsiveContainer>
        </div>
        <aside className="hover-card" data-testid="embedding-hover">
          {hover ? (
            <>
              <img src={imageOf(hover.id)} alt={hover.id} />
              <small>
                {hover.id} · cluster {hover.cluster}
              </small>
            </>
          ) : (
            <small>hover a point</small>
          )}
        </aside>
      </div>
      <div className="tiles">
        {clusters.map((c: Data) => (
          <div key={c.id} className="facet">
            <Figure src={c.mean_image} caption={`cluster ${c.id} mean (${c.mean_activation.toFixed(1)})`} />
            <Figure src={c.facet_image} caption={`facet ${c.id} (${c.activation.toFixed(1)})`} />
            <Figure src={imageOf(c.nearest_image)} caption={`nearest to its centre`} />
          </div>
        ))}
      </div>
    </>
  );
}

function InverseSetResult({ result }: { result: ResultView }) {
  const d = result.data as Data;
  const baselines = Object.entries((d.baselines ?? {}) as Record<string, Data>);
  return (
    <>
      <p>
        {d.n} samples, {d.all_inside ? "all" : "not all"} inside their ranges (re-measured from the saved files);
        diversity {d.diversity.toFixed(3)}; {d.seed_steps} seed steps, {d.sampling_steps} sampling steps.
      </p>
      {baselines.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>objective</th>
              <th>diversity</th>
              <th>inside</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td>{d.objective} (this run)</td>
              <td>{d.diversity.toFixed(3)}</td>
              <td>
                {d.samples.length
                  ? `${((100 * d.samples.filter((x: Data) => x.inside).length) / d.samples.length).toFixed(0)}%`
                  : ""}
              </td>
            </tr>
            {baselines.map(([name, b]) => (
              <tr key={name}>
                <td>{name}</td>
                <td>{b.diversity !== undefined ? b.diversity.toFixed(3) : b.error}</td>
                <td>{b.in_range !== undefined ? `${(b.in_range * 100).toFixed(0)}%` : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {d.band_sheets.map((b: Data) => (
        <section key={b.band}>
          <h4>
            band {b.band}: [{b.range[0].toFixed(2)}, {b.range[1].toFixed(2)}], {b.count} samples
          </h4>
          <img className="sheet" src={b.path} alt={`band ${b.band}`} />
        </section>
      ))}
    </>
  );
}

// --- the pages ------------------------------------------------------------------------------------------------------
const num = (v: Values, k: string) => numberOr(v[k]);

export const PAGES: PageDef[] = [
  {
    path: "predict",
    title: "Prediction",
    recipe: "predict",
    intro: "The most probable classes for an image (softmax of the logits).",
    fields: [
      { key: "image", label: "Image", kind: "image" },
      { key: "top", label: "How many classes", kind: "number", default: "5" },
    ],
    toSpec: (v, m) => clean({ model: ref(m), image: v.image, top: num(v, "top") }),
    Result: PredictResult,
  },
  {
    path: "activations",
    title: "Activation maps",
    recipe: "activations",
    intro: "The feature maps of one or several layers for an image, strongest first; each map scaled to its own maximum.",
    fields: [
      { key: "image", label: "Image", kind: "image" },
      { key: "layer", label: "Layer", kind: "layer" },
      { key: "more", label: "And these layers", kind: "text", hint: "comma-separated, e.g. features.0,logits: one forward pass" },
      { key: "top", label: "Top channels per layer", kind: "number", default: "16" },
      { key: "channels", label: "Or these channels", kind: "text", hint: "e.g. 3,17" },
    ],
    toSpec: (v, m) =>
      clean({
        model: ref(m),
        image: v.image,
        layer: [v.layer, ...(v.more ?? "").split(",")].map((x) => x.trim()).filter(Boolean).join(",") || undefined,
        top: num(v, "top"),
        channels: intList(v.channels),
      }),
    Result: ActivationsResult,
  },
  {
    path: "visualize",
    title: "Feature visualization",
    recipe: "visualize",
    intro: "Images that maximize units, optimized from noise in a decorrelated Fourier space with transformation robustness.",
    paper: { label: "Olah et al. 2017", url: "https://distill.pub/2017/feature-visualization/" },
    fields: [
      { key: "layer", label: "Layer", kind: "layer?", hint: "not needed for classes" },
      { key: "channels", label: "Channels", kind: "text", hint: "one image each, e.g. 0,1,2" },
      { key: "classes", label: "Or classes", kind: "text", hint: "class indices" },
      { key: "mix", label: "Mix (one image for all)", kind: "bool", default: "false" },
      { key: "alphas", label: "Mix weights", kind: "text", when: (v) => v.mix === "true", hint: "one per unit" },
      { key: "param", label: "Parameterization", kind: "select", options: ["fft", "pixel", "laplacian"], default: "fft" },
      { key: "decorrelate", label: "Color decorrelation", kind: "bool", default: "true" },
      { key: "transforms", label: "Transforms", kind: "select", options: ["seed001", "standard", "none"], default: "seed001", hint: "seed001: pad, jitter, rotation, scale" },
      { key: "pad", label: "Padding (px)", kind: "number", hint: "default: the preset's" },
      { key: "jitter", label: "Jitter (px)", kind: "number" },
      { key: "rotate", label: "Rotation (°)", kind: "number" },
      { key: "scale", label: "Scale (±)", kind: "number", hint: "e.g. 0.1" },
      { key: "size", label: "Size (px)", kind: "number" },
      { key: "lr", label: "Learning rate", kind: "number" },
      { key: "steps", label: "Steps", kind: "number", default: "128" },
      { key: "seed", label: "Seed", kind: "number", default: "0" },
    ],
    toSpec: (v, m) =>
      clean({
        model: ref(m),
        layer: v.layer || undefined,
        channels: intList(v.channels),
        classes: intList(v.classes),
        mix: v.mix === "true",
        alphas: v.mix === "true" ? intList(v.alphas) : undefined,
        param: v.param,
        decorrelate: v.decorrelate === "true",
        transforms: v.transforms,
        pad: num(v, "pad"),
        jitter: num(v, "jitter"),
        rotate: num(v, "rotate"),
        scale: num(v, "scale"),
        size: num(v, "size"),
        lr: num(v, "lr"),
        steps: num(v, "steps"),
        seed: num(v, "seed"),
      }),
    Result: VisualizeResult,
    runLabel: "Visualize",
  },
  {
    path: "dream",
    title: "DeepDream",
    recipe: "dream",
    intro: "Amplify what a layer (or some of its channels) sees in the image, octave by octave.",
    paper: { label: "Mordvintsev et al. 2015", url: "https://research.google/blog/inceptionism-going-deeper-into-neural-networks/" },
    fields: [
      { key: "image", label: "Image", kind: "image" },
      { key: "layer", label: "Layer", kind: "layer" },
      { key: "channels", label: "Channels", kind: "text", hint: "default: the whole layer" },
      { key: "octaves", label: "Octaves", kind: "number", default: "3" },
      { key: "steps", label: "Steps per octave", kind: "number", default: "10" },
    ],
    toSpec: (v, m) =>
      clean({ model: ref(m), image: v.image, layer: v.layer, channels: intList(v.channels), octaves: num(v, "octaves"), steps: num(v, "steps") }),
    Result: DreamResult,
  },
  {
    path: "attribution",
    title: "Attribution",
    recipe: "attribute",
    intro: "Which pixels and which filters made the prediction: Deep Taylor / LRP heatmaps at every layer (with the conservation trace), gradients, Grad-CAM, integrated gradients, occlusion.",
    paper: { label: "Montavon et al. 2017", url: "https://doi.org/10.1016/j.patcog.2016.11.008" },
    fields: [
      { key: "image", label: "Image", kind: "image" },
      {
        key: "method",
        label: "Method",
        kind: "select",
        default: "dtd",
        options: ["dtd", "lrp-epsilon", "lrp-alphabeta", "saliency", "guided-backprop", "deconvnet", "gradcam", "integrated-gradients", "occlusion"],
      },
      { key: "target", label: "Class (default: the predicted one)", kind: "number" },
      { key: "layer", label: "Grad-CAM layer", kind: "layer?", when: (v) => v.method === "gradcam" },
      { key: "steps", label: "Steps", kind: "number", when: (v) => v.method === "integrated-gradients" },
      { key: "patch", label: "Patch (px)", kind: "number", when: (v) => v.method === "occlusion" },
      {
        key: "ignore_bias",
        label: "Ignore biases (LRP)",
        kind: "bool",
        default: "false",
        when: (v) => ["dtd", "lrp-epsilon", "lrp-alphabeta"].includes(v.method),
        hint: "biases absorb relevance: a model with large biases (e.g. BN-folded EfficientNet) conserves almost nothing at the input; ignoring them conserves it (docs/attribution.md)",
      },
      {
        key: "layers",
        label: "Layers with heatmaps",
        kind: "text",
        default: "all",
        hint: "all, or layer names separated by commas",
        when: (v) => !["gradcam", "integrated-gradients", "occlusion"].includes(v.method),
      },
      { key: "rank", label: "Top filters per layer", kind: "number", default: "5" },
    ],
    toSpec: (v, m) =>
      clean({
        model: ref(m),
        image: v.image,
        method: v.method,
        target: num(v, "target"),
        layer: v.method === "gradcam" ? v.layer || undefined : undefined,
        steps: v.method === "integrated-gradients" ? num(v, "steps") : undefined,
        patch: v.method === "occlusion" ? num(v, "patch") : undefined,
        ignore_bias: ["dtd", "lrp-epsilon", "lrp-alphabeta"].includes(v.method) ? v.ignore_bias === "true" : undefined,
        layers: ["gradcam", "integrated-gradients", "occlusion"].includes(v.method) ? undefined : v.layers || undefined,
        rank: num(v, "rank"),
      }),
    Result: AttributionResult,
  },
  {
    path: "examples",
    title: "Top dataset examples",
    recipe: "examples",
    intro:
      "The dataset images (or random patches) that most excite each unit — or, ranked by relevance, those in which the unit carries the most LRP relevance for the prediction (relevance maximization).",
    paper: { label: "Achtibat et al. 2023 (relevance)", url: "https://arxiv.org/abs/2206.03208" },
    fields: [
      { key: "dataset", label: "Dataset", kind: "dataset", default: "digits" },
      { key: "layer", label: "Layer", kind: "layer" },
      { key: "channels", label: "Channels", kind: "text", default: "0" },
      { key: "top", label: "Examples per unit", kind: "number", default: "9" },
      { key: "patches", label: "Patches per image (0: whole images)", kind: "number", default: "0" },
      {
        key: "patch_size",
        label: "Patch size (px)",
        kind: "number",
        default: "",
        hint: "at most the model's input size (digits: 32); default 64",
        when: (v) => (numberOr(v.patches) ?? 0) > 0,
      },
      {
        key: "by",
        label: "Rank by",
        kind: "select",
        options: ["activation", "relevance"],
        default: "activation",
        hint: "relevance: the unit's Deep Taylor relevance for each image's predicted class (or the target)",
      },
      { key: "target", label: "Target class (relevance; empty: predicted)", kind: "number", default: "" },
    ],
    toSpec: (v, m) =>
      clean({
        model: ref(m),
        dataset: v.dataset,
        layer: v.layer,
        channels: intList(v.channels),
        top: num(v, "top"),
        patches: num(v, "patches"),
        patch_size: (numberOr(v.patches) ?? 0) > 0 ? num(v, "patch_size") : undefined,
        by: v.by,
        target: v.by === "relevance" ? num(v, "target") : undefined,
      }),
    Result: ExamplesResult,
  },
  {
    path: "selectivity",
    title: "Class selectivity",
    recipe: "selectivity",
    intro: "Which units of a layer respond to one class, two, none or nothing (a unit is specific to a class whose mean activation exceeds the overall mean by the threshold).",
    fields: [
      { key: "dataset", label: "Dataset", kind: "dataset", default: "digits" },
      { key: "layer", label: "Layer", kind: "layer" },
      { key: "threshold", label: "Threshold", kind: "number", default: "0.4" },
    ],
    toSpec: (v, m) => clean({ model: ref(m), dataset: v.dataset, layer: v.layer, threshold: num(v, "threshold") }),
    Result: SelectivityResult,
  },
  {
    path: "facets",
    title: "Multifaceted feature visualization",
    recipe: "facets",
    intro: "The facets of a unit: cluster its top images (or a class's images), then maximize the unit starting from each cluster's mean image.",
    paper: { label: "Nguyen et al. 2016", url: "https://arxiv.org/abs/1602.03616" },
    fields: [
      { key: "dataset", label: "Dataset", kind: "dataset", default: "digits" },
      { key: "target", label: "Unit (LAYER:UNIT)", kind: "text", default: "logits:3" },
      { key: "top_images", label: "Top images", kind: "number", default: "60" },
      { key: "k", label: "Clusters", kind: "number", default: "4" },
      { key: "steps", label: "Steps", kind: "number", default: "20" },
    ],
    toSpec: (v, m) =>
      clean({ model: ref(m), dataset: v.dataset, target: v.target, top_images: num(v, "top_images"), k: num(v, "k"), steps: num(v, "steps") }),
    Result: FacetsResult,
  },
  {
    path: "inverse-set",
    title: "Inverse set",
    recipe: "inverse-set",
    intro: "Diverse images whose activations lie in given ranges; several constraints sample the intersection of their inverse sets.",
    fields: [
      { key: "constraints", label: "Constraints: layer, unit, activation range", kind: "constraints", default: "logits:3:4:6" },
      { key: "n", label: "Samples", kind: "number", default: "24" },
      { key: "k", label: "Seeds", kind: "number", default: "4" },
      { key: "generator", label: "Generator", kind: "text", default: "fourier", hint: "fourier or trained:DATASET" },
      { key: "baselines", label: "Compare with the baselines", kind: "bool", default: "false" },
    ],
    toSpec: (v, m) =>
      clean({
        model: ref(m),
        constraints: v.constraints.split(/[\n;]+/).map((s) => s.trim()).filter(Boolean),
        n: num(v, "n"),
        k: num(v, "k"),
        generator: v.generator,
        baselines: v.baselines === "true",
      }),
    Result: InverseSetResult,
  },
];
