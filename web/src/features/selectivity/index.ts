// The class selectivity page: which units of a layer respond to one class, two, none or nothing (the
// `selectivity` recipe).
import type { PageDef } from "../../components/RecipePage";
import { clean, modelRef, num } from "../../lib/spec";
import { lazyResult } from "../../components/lazyResult";
const SelectivityResult = lazyResult(() => import("./SelectivityResult"), "SelectivityResult"); // loaded with the first result

export const selectivityPage: PageDef = {
  path: "selectivity",
  title: "Class selectivity",
  recipe: "selectivity",
  intro: "Which units of a layer respond to one class, two, none or nothing (a unit is specific to a class whose mean activation exceeds the overall mean by the threshold).",
  fields: [
    { key: "dataset", label: "Dataset", kind: "dataset" },
    { key: "layer", label: "Layer", kind: "layer" },
    { key: "threshold", label: "Threshold", kind: "number", default: "0.4" },
  ],
  toSpec: (v, m) => clean({ model: modelRef(m), dataset: v.dataset, layer: v.layer, threshold: num(v, "threshold") }),
  Result: SelectivityResult,
};
