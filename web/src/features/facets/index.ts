// The multifaceted feature visualization page: cluster a unit's top images, then maximize the unit from each
// cluster's mean image (the `facets` recipe).
import type { PageDef } from "../../components/RecipePage";
import { clean, modelRef, num } from "../../lib/spec";
import { lazyResult } from "../../components/lazyResult";
const FacetsResult = lazyResult(() => import("./FacetsResult"), "FacetsResult"); // loaded with the first result

export const facetsPage: PageDef = {
  path: "facets",
  title: "Multifaceted feature visualization",
  recipe: "facets",
  intro: "The facets of a unit: cluster its top images (or a class's images), then maximize the unit starting from each cluster's mean image.",
  paper: { label: "Nguyen et al. 2016", url: "https://arxiv.org/abs/1602.03616" },
  fields: [
    { key: "dataset", label: "Dataset", kind: "dataset" },
    { key: "target", label: "Unit (LAYER:UNIT)", kind: "text", default: "logits:3" },
    { key: "top_images", label: "Top images", kind: "number", default: "60" },
    { key: "k", label: "Clusters", kind: "number", default: "4" },
    { key: "steps", label: "Steps", kind: "number", default: "20" },
  ],
  toSpec: (v, m) =>
    clean({ model: modelRef(m), dataset: v.dataset, target: v.target, top_images: num(v, "top_images"), k: num(v, "k"), steps: num(v, "steps") }),
  Result: FacetsResult,
};
