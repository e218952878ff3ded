// The feature visualization page: images that maximize units (the `visualize` recipe), optimized from noise — or
// from a chosen image (feature accentuation) — with how far to trust each picture beside it.
import type { PageDef } from "../../components/RecipePage";
import { clean, intList, modelRef, num } from "../../lib/spec";
import { lazyResult } from "../../components/lazyResult";
import { AccentuateInput } from "./AccentuateInput";
const VisualizeResult = lazyResult(() => import("./VisualizeResult"), "VisualizeResult"); // loaded with the first result

const accentuating = (v: Record<string, string>) => Boolean(v.accentuate);

export const visualizePage: PageDef = {
  path: "visualize",
  title: "Feature visualization",
  recipe: "visualize",
  intro:
    "Images that maximize units, optimized from noise (a natural magnitude spectrum with only its phase optimized, " +
    "or a decorrelated Fourier space) with transformation robustness, or accentuated from an image you choose. " +
    "Beside each picture, how far to trust it: its activation as a multiple of the best natural image's, its " +
    "natural-image statistics against the dataset's, and whether the network processes it like its top natural images.",
  paper: { label: "Olah et al. 2017", url: "https://distill.pub/2017/feature-visualization/" },
  // the parameterization (`param`: maco, fft, pixel, laplacian) is not listed here: it comes from the recipe's schema
  // under "Advanced parameters" (components/AdvancedFields.tsx), with the recipe's own default
  fields: [
    { key: "layer", label: "Layer", kind: "layer?", hint: "not needed for classes" },
    { key: "channels", label: "Channels", kind: "text", hint: "one image each, e.g. 0,1,2" },
    { key: "classes", label: "Or classes", kind: "text", hint: "class indices" },
    { key: "mix", label: "Mix (one image for all)", kind: "bool", default: "false" },
    { key: "alphas", label: "Mix weights", kind: "text", when: (v) => v.mix === "true", hint: "one per unit" },
    { key: "steps", label: "Steps", kind: "number", default: "128" },
    // under "Advanced parameters", with the recipe's other fields (components/AdvancedFields.tsx)
    {
      key: "accentuate",
      label: "Accentuate (start image)",
      kind: "custom",
      default: "",
      advanced: true,
      hint: "feature accentuation (Hamblin et al. 2024): start from this image and keep it close to itself; none: from noise",
      Input: AccentuateInput,
    },
    { key: "keep_layer", label: "Keep layer", kind: "layer?", advanced: true, when: accentuating, hint: "the layer whose activations stay close (default: halfway to the unit)" },
    { key: "keep_weight", label: "Keep weight", kind: "number", advanced: true, when: accentuating, hint: "weight of the closeness penalty (default 1)" },
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
      accentuate: v.accentuate || undefined,
      keep_layer: accentuating(v) ? v.keep_layer || undefined : undefined,
      keep_weight: accentuating(v) ? num(v, "keep_weight") : undefined,
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
