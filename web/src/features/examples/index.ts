// The top dataset examples page: the images (or patches) that most excite units, or in which they are most
// relevant (the `examples` recipe).
import type { PageDef } from "../../components/RecipePage";
import { clean, intList, modelRef, num, numberOr } from "../../lib/spec";
import { lazyResult } from "../../components/lazyResult";
const ExamplesResult = lazyResult(() => import("./ExamplesResult"), "ExamplesResult"); // loaded with the first result

export const examplesPage: PageDef = {
  path: "examples",
  title: "Top dataset examples",
  recipe: "examples",
  intro:
    "The dataset images (or random patches) that most excite each unit — or, ranked by relevance, those in which the unit carries the most LRP relevance for the prediction (relevance maximization).",
  paper: { label: "Achtibat et al. 2023 (relevance)", url: "https://arxiv.org/abs/2206.03208" },
  fields: [
    { key: "dataset", label: "Dataset", kind: "dataset" },
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
      model: modelRef(m),
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
};
