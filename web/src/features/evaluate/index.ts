// The evaluation page: a model's accuracy on a labelled dataset — top-1 / top-k, per class, the most confused
// pairs, the misclassified images, each one click from its explanation (the `evaluate` recipe; seed 001 Table 3.2,
// §4.3.5).
import type { PageDef } from "../../components/RecipePage";
import { clean, modelRef, num } from "../../lib/spec";
import { lazyResult } from "../../components/lazyResult";
const EvaluateResult = lazyResult(() => import("./EvaluateResult"), "EvaluateResult"); // loaded with the first result
import { parseMapping } from "./mapping";
import { MappingInput } from "./MappingInput";

export const evaluatePage: PageDef = {
  path: "evaluate",
  title: "Evaluation",
  recipe: "evaluate",
  intro:
    "A model's accuracy on a labelled dataset (one sub-folder per class): top-1 / top-k, per class, the most confused pairs, and the images it gets wrong — click one to explain it.",
  runLabel: "Evaluate",
  fields: [
    { key: "dataset", label: "Labelled dataset", kind: "dataset", labelled: true, hint: "only datasets with classes" },
    { key: "top_k", label: "Top-k", kind: "number", default: "5" },
    { key: "confusions", label: "Confused pairs listed", kind: "number", default: "10" },
    {
      key: "mapping",
      label: "Class mapping (optional)",
      kind: "custom",
      default: "",
      Input: MappingInput,
      hint: "one CLASS=LABEL per line (a folder = a model label or class index); other classes are matched by name",
      check: (value) => parseMapping(value).errors.join("; ") || undefined,
    },
  ],
  toSpec: (v, m) => {
    const { mapping } = parseMapping(v.mapping ?? "");
    return clean({
      model: modelRef(m),
      dataset: v.dataset,
      top_k: num(v, "top_k"),
      confusions: num(v, "confusions"),
      mapping: Object.keys(mapping).length ? mapping : undefined,
    });
  },
  Result: EvaluateResult,
};
