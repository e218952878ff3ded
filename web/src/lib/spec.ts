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

/** What the fit rule reads of a model (GET /api/models): its input channels, null where unknown. */
export interface ModelFacts {
  name: string;
  channels?: number | null;
}

/** What the fit rule reads of a dataset (GET /api/datasets): its images' channels and its classes (null: none). */
export interface DatasetFacts {
  name: string;
  channels?: number | null;
  classes?: string[] | null;
}

const inWords = (channels: number) => (channels === 1 ? "grayscale (1 channel)" : channels === 3 ? "RGB (3 channels)" : `${channels}-channel`);

/** Why `dataset` does not fit `model` (its images' channels differ from the model's input; for an evaluation, it
 * has no classes), or undefined when it fits. A channel count that is null on either side fits. */
export function whyNot(model: ModelFacts | undefined, dataset: DatasetFacts, labelled = false): string | undefined {
  const [m, d] = [model?.channels, dataset.channels];
  if (m != null && d != null && m !== d)
    return `${dataset.name} holds ${inWords(d)} images; ${model!.name} takes ${inWords(m)} input`;
  if (labelled && dataset.classes == null)
    return `${dataset.name} has no classes (a flat set of images): evaluating needs one sub-folder per class`;
  return undefined;
}

/** The datasets a page offers for `model`, in the server's order (labelled: only those with classes). */
export const fitting = <D extends DatasetFacts>(model: ModelFacts | undefined, datasets: D[], labelled = false): D[] =>
  datasets.filter((d) => whyNot(model, d, labelled) === undefined);

/** A page's default dataset for a model: the first that fits it, `photos` preferred for an RGB (or unknown)
 * model and `digits` for a 1-channel one — never 32-px digits fed to an ImageNet network; "" when none fits. */
export function datasetFor(model: ModelFacts | undefined, datasets: DatasetFacts[], labelled = false): string {
  const offered = fitting(model, datasets, labelled);
  const preferred = model?.channels === 1 ? "digits" : "photos";
  return (offered.find((d) => d.name === preferred) ?? offered[0])?.name ?? "";
}
