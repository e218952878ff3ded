// The inverse set page: diverse images whose activations lie in given ranges (the `inverse-set` recipe); its
// constraints field is this feature's own input, rows of (layer, unit, range).
import type { PageDef } from "../../components/RecipePage";
import { clean, modelRef, num } from "../../lib/spec";
import { ConstraintBuilder } from "./ConstraintBuilder";
import { lazyResult } from "../../components/lazyResult";
const InverseSetResult = lazyResult(() => import("./InverseSetResult"), "InverseSetResult"); // loaded with the first result

export const inverseSetPage: PageDef = {
  path: "inverse-set",
  title: "Inverse set",
  recipe: "inverse-set",
  intro: "Diverse images whose activations lie in given ranges; several constraints sample the intersection of their inverse sets.",
  fields: [
    { key: "constraints", label: "Constraints: layer, unit, activation range", kind: "custom", default: "logits:3:4:6", Input: ConstraintBuilder },
    { key: "n", label: "Samples", kind: "number", default: "24" },
    { key: "k", label: "Seeds", kind: "number", default: "4" },
    { key: "generator", label: "Generator", kind: "text", default: "fourier", hint: "fourier or trained:DATASET" },
    { key: "baselines", label: "Compare with the baselines", kind: "bool", default: "false" },
  ],
  toSpec: (v, m) =>
    clean({
      model: modelRef(m),
      constraints: v.constraints.split(/[\n;]+/).map((s) => s.trim()).filter(Boolean),
      n: num(v, "n"),
      k: num(v, "k"),
      generator: v.generator,
      baselines: v.baselines === "true",
    }),
  Result: InverseSetResult,
};
