// The prediction page: an image in, the most probable classes out (the `predict` recipe).
import type { PageDef } from "../../components/RecipePage";
import { clean, modelRef, num } from "../../lib/spec";
import { lazyResult } from "../../components/lazyResult";
const PredictResult = lazyResult(() => import("./PredictResult"), "PredictResult"); // loaded with the first result

export const predictPage: PageDef = {
  path: "predict",
  title: "Prediction",
  recipe: "predict",
  intro: "The most probable classes for an image (softmax of the logits).",
  fields: [
    { key: "image", label: "Image", kind: "image" },
    { key: "top", label: "How many classes", kind: "number", default: "5" },
  ],
  toSpec: (v, m) => clean({ model: modelRef(m), image: v.image, top: num(v, "top") }),
  Result: PredictResult,
  compare: true,
};
