// From a page's form values (strings, as kept in the URL) to the values of a recipe's spec.
import type { Spec } from "../api/client";
import type { Values } from "../state";

/** The spec's `model` field for a served model name. */
export const modelRef = (model: string) => ({ spec: model });

/** The spec without its empty fields (the recipe's defaults apply). */
export const clean = (spec: Spec): Spec =>
  Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined && v !== ""));

/** "1, 2,3" -> [1, 2, 3]; empty -> undefined; anything else -> NaN entries the server reports by field. */
export function intList(text: string | undefined): number[] | undefined {
  const parts = (text ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  return parts.length ? parts.map(Number) : undefined;
}

export function numberOr(text: string | undefined): number | undefined {
  return (text ?? "").trim() === "" ? undefined : Number(text);
}

/** The number in field `key`, undefined when it is empty. */
export const num = (v: Values, key: string) => numberOr(v[key]);

/** The built-in dataset that fits a model: `digits` for the digits model, the photographs (`photos`) for every
 * other one (the RGB ImageNet models the server offers) — never 32-px digits fed to an ImageNet network. */
export const datasetFor = (model: string) => (model === "digits" ? "digits" : "photos");
