// The activation maps page: the feature maps of one or several layers for an image (the `activations` recipe).
import type { PageDef } from "../../components/RecipePage";
import { clean, intList, modelRef, num } from "../../lib/spec";
import { lazyResult } from "../../components/lazyResult";
const ActivationsResult = lazyResult(() => import("./ActivationsResult"), "ActivationsResult"); // loaded with the first result

export const activationsPage: PageDef = {
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
      model: modelRef(m),
      image: v.image,
      layer: [v.layer, ...(v.more ?? "").split(",")].map((x) => x.trim()).filter(Boolean).join(",") || undefined,
      top: num(v, "top"),
      channels: intList(v.channels),
    }),
  Result: ActivationsResult,
};
