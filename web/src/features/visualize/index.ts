// The feature visualization page: images that maximize units, optimized from noise (the `visualize` recipe).
import type { PageDef } from "../../components/RecipePage";
import { clean, intList, modelRef, num } from "../../lib/spec";
import { lazyResult } from "../../components/lazyResult";
const VisualizeResult = lazyResult(() => import("./VisualizeResult"), "VisualizeResult"); // loaded with the first result

export const visualizePage: PageDef = {
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
    { key: "steps", label: "Steps", kind: "number", default: "128" },
    // under "Advanced parameters", with the recipe's other fields (components/AdvancedFields.tsx)
    { key: "param", label: "Parameterization", kind: "select", options: ["fft", "pixel", "laplacian"], default: "fft", advanced: true, hint: "fft: decorrelated Fourier space; pixel; laplacian pyramid" },
    { key: "decorrelate", label: "Color decorrelation", kind: "bool", default: "true", advanced: true },
    { key: "transforms", label: "Transforms", kind: "select", options: ["seed001", "standard", "none"], default: "seed001", hint: "seed001: pad, jitter, rotation, scale", advanced: true },
    { key: "pad", label: "Padding (px)", kind: "number", hint: "default: the preset's", advanced: true },
    { key: "jitter", label: "Jitter (px)", kind: "number", advanced: true },
    { key: "rotate", label: "Rotation (°)", kind: "number", advanced: true },
    { key: "scale", label: "Scale (±)", kind: "number", hint: "e.g. 0.1", advanced: true },
    { key: "size", label: "Size (px)", kind: "number", advanced: true },
    { key: "lr", label: "Learning rate", kind: "number", advanced: true },
    { key: "seed", label: "Seed", kind: "number", default: "0", advanced: true },
  ],
  toSpec: (v, m) =>
    clean({
      model: modelRef(m),
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
};
