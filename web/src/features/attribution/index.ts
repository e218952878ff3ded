// The attribution page: which pixels and filters made a prediction (the `attribute` recipe: LRP / Deep Taylor,
// gradients, Grad-CAM, integrated gradients, occlusion).
import type { PageDef } from "../../components/RecipePage";
import { clean, modelRef, num } from "../../lib/spec";
import { lazyResult } from "../../components/lazyResult";
const AttributionResult = lazyResult(() => import("./AttributionResult"), "AttributionResult"); // loaded with the first result

const LRP = ["dtd", "lrp-epsilon", "lrp-alphabeta"];
const WITHOUT_LAYERS = ["gradcam", "integrated-gradients", "occlusion"];

export const attributionPage: PageDef = {
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
      when: (v) => LRP.includes(v.method),
      hint: "biases absorb relevance: a model with large biases (e.g. BN-folded EfficientNet) conserves almost nothing at the input; ignoring them conserves it (docs/attribution.md)",
    },
    {
      key: "layers",
      label: "Layers with heatmaps",
      kind: "text",
      default: "all",
      hint: "all, or layer names separated by commas",
      when: (v) => !WITHOUT_LAYERS.includes(v.method),
    },
    { key: "rank", label: "Top filters per layer", kind: "number", default: "5" },
  ],
  toSpec: (v, m) =>
    clean({
      model: modelRef(m),
      image: v.image,
      method: v.method,
      target: num(v, "target"),
      layer: v.method === "gradcam" ? v.layer || undefined : undefined,
      steps: v.method === "integrated-gradients" ? num(v, "steps") : undefined,
      patch: v.method === "occlusion" ? num(v, "patch") : undefined,
      ignore_bias: LRP.includes(v.method) ? v.ignore_bias === "true" : undefined,
      layers: WITHOUT_LAYERS.includes(v.method) ? undefined : v.layers || undefined,
      rank: num(v, "rank"),
    }),
  Result: AttributionResult,
  compare: true,
};
