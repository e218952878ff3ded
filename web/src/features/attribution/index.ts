// The attribution page: which pixels and filters made a prediction (the `attribute` recipe: LRP / Deep Taylor,
// the gradient family, the CAMs, integrated gradients, occlusion) for a class or a hidden unit; beside the map, on
// demand, how faithful it is (the `faithfulness` recipe) and, per top filter, its concept view (`concepts`).
import type { PageDef } from "../../components/RecipePage";
import { clean, modelRef, num } from "../../lib/spec";
import type { Values } from "../../state";
import { lazyResult } from "../../components/lazyResult";
import { CAMS, LRP, WITH_LAYERS, targetValue } from "./methods";
const AttributionResult = lazyResult(() => import("./AttributionResult"), "AttributionResult"); // loaded with the first result

const is = (...methods: string[]) => (v: Values) => methods.includes(v.method);
const smoothing = is("smoothgrad");

export const attributionPage: PageDef = {
  path: "attribution",
  title: "Attribution",
  recipe: "attribute",
  intro:
    "Which pixels and which filters made the prediction — or made a hidden unit fire: Deep Taylor / LRP heatmaps " +
    "at every layer (with the conservation trace), the gradient family with SmoothGrad, Grad-CAM, Grad-CAM++ and " +
    "Score-CAM, integrated gradients, occlusion. Beside the map: how faithful it is, and each top filter's concept.",
  paper: { label: "Montavon et al. 2017", url: "https://doi.org/10.1016/j.patcog.2016.11.008" },
  // the methods are the recipe's (its schema's choices); each method's options from the schema where they apply
  fields: [
    { key: "image", label: "Image", kind: "image" },
    { key: "method", label: "Method", kind: "select", default: "dtd" },
    {
      key: "target",
      label: "Class or hidden unit",
      kind: "text",
      hint: "a class index (empty: the predicted class), LAYER:CHANNEL (the channel's mean activation) or LAYER:CHANNEL@Y,X (one position of its map), e.g. 285, blocks.5.0:12, blocks.5.0:12@3,4",
    },
    { key: "layer", label: "CAM layer", kind: "layer?", when: is(...CAMS), hint: "default: the last spatial layer" },
    { key: "epsilon", label: "Epsilon (LRP)", kind: "schema", when: is(...LRP) },
    { key: "alpha", label: "Alpha (LRP α-β)", kind: "schema", when: is("lrp-alphabeta") },
    { key: "smooth_of", label: "Method smoothed", kind: "schema", when: smoothing },
    { key: "samples", label: "Noisy samples", kind: "schema", when: smoothing },
    { key: "noise", label: "Noise σ (share of the input range)", kind: "schema", when: smoothing },
    { key: "smooth_kind", label: "Average", kind: "schema", when: smoothing },
    {
      key: "steps",
      label: "Steps (integrated gradients)",
      kind: "schema",
      when: (v) => v.method === "integrated-gradients" || (smoothing(v) && v.smooth_of === "integrated-gradients"),
    },
    { key: "patch", label: "Patch (px)", kind: "schema", when: is("occlusion") },
    { key: "stride", label: "Stride (px)", kind: "schema", when: is("occlusion") },
    { key: "fill", label: "Fill", kind: "schema", when: is("occlusion") },
    {
      key: "ignore_bias",
      label: "Ignore biases (LRP)",
      kind: "bool",
      default: "false",
      when: is(...LRP),
      hint: "biases absorb relevance: a model with large biases (e.g. BN-folded EfficientNet) conserves almost nothing at the input; ignoring them conserves it (docs/attribution.md)",
    },
    {
      key: "layers",
      label: "Layers with heatmaps",
      kind: "text",
      default: "all",
      hint: "all, or layer names separated by commas",
      when: is(...WITH_LAYERS),
    },
    { key: "rank", label: "Top filters per layer", kind: "number", default: "5" },
    { key: "maxpool", label: "Max-pool rule (LRP)", kind: "schema", advanced: true, when: is(...LRP) },
    { key: "seed", label: "Seed (SmoothGrad's noise)", kind: "schema", advanced: true, when: smoothing },
  ],
  toSpec: (v, m) =>
    clean({
      model: modelRef(m),
      image: v.image,
      method: v.method,
      target: targetValue(v.target),
      layer: CAMS.includes(v.method) ? v.layer || undefined : undefined,
      ignore_bias: LRP.includes(v.method) ? v.ignore_bias === "true" : undefined,
      layers: WITH_LAYERS.includes(v.method) ? v.layers || undefined : undefined,
      rank: num(v, "rank"),
    }),
  Result: AttributionResult,
  compare: true,
};
