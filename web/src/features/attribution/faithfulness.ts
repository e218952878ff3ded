// The faithfulness panel's words and its spec: each number's name, the settings a run used (from its data), and
// the `faithfulness` spec made of the attribution's own (its image, method and options; the class or hidden unit
// it explained).
import type { Spec } from "../../api/client";
import type { FaithfulnessData } from "../../api/results";
import { sci } from "../../lib/format";

/** The names of the recipe's numbers (recipes/faithfulness.py DEFINITIONS) as the table heads them. */
const NAMES: Record<string, string> = {
  abpc: "Area between the curves (ABPC)",
  aopc_morf: "AOPC, most relevant first",
  aopc_lerf: "AOPC, least relevant first",
  road_combined: "ROAD",
  faithfulness_correlation: "Faithfulness correlation",
  randomisation_spearman: "Randomisation: Spearman after every layer",
  randomisation_ssim: "Randomisation: SSIM after every layer",
  conservation: "Conservation",
  completeness: "Completeness",
};

/** A number's name in words (its key where the page does not know it). */
export const metricName = (key: string): string => NAMES[key] ?? key;

/** "higher" → "higher is more faithful"; "closer to 1" → "closer to 1 is more faithful". */
export const betterWords = (better: string): string => `${better} is more faithful`;

/** What the curves watch, in words: "the logit of “tabby”", or "the activation of hidden unit blocks.3:12". */
export const watched = (d: Pick<FaithfulnessData, "score" | "label" | "unit">): string =>
  d.unit ? `the activation of hidden unit ${d.unit}` : `the ${d.score} of “${d.label}”`;

/** The settings a run used, one sentence per metric it computed (read from its data, not from the form). */
export function settingsWords(d: FaithfulnessData): string[] {
  const what = d.unit ? `${watched(d)} (channel ${d.target})` : `${watched(d)} (class ${d.target})`;
  const lines = [`Scores watched: ${what}; removed pixels are replaced by ${d.baseline}.`];
  const region = d.region_perturbation;
  if (region)
    lines.push(
      `Region perturbation: ${region.patch}×${region.patch}-pixel patches (${region.patches} on the grid), ` +
        `removed in ${region.fractions.length - 1} steps, most and least relevant first.`,
    );
  if (d.road)
    lines.push(
      `ROAD: ${d.road.percentages.join(", ")}% of the pixels removed, filled by noisy linear imputation ` +
        `(noise σ ${sci(d.road.noise)}).`,
    );
  const corr = d.faithfulness_correlation;
  if (corr) lines.push(`Faithfulness correlation: ${corr.runs} random subsets of ${corr.subset} input entries each.`);
  const rnd = d.randomisation;
  if (rnd)
    lines.push(
      `Randomisation: ${rnd.layers.length} points over the ${rnd.total} layers with parameters, re-initialized ` +
        `from the top (seed ${rnd.seed})${d.unit ? `: only the layers below ${d.unit}, the others cannot change its map` : ""}.`,
    );
  return lines;
}

/** The `faithfulness` spec of an attribution: the fields of the attribute spec the recipe also takes (`accepted`:
 * its schema's properties — image, method options, fit, model), the method and what was explained (a class index,
 * or a hidden unit's spelling LAYER:CHANNEL[@Y,X]), and the panel's own settings. */
export function faithfulnessSpec(
  attribute: Spec,
  accepted: string[],
  explained: { method: string; target: number | string },
  settings: Spec,
): Spec {
  const shared = Object.fromEntries(Object.entries(attribute).filter(([key]) => accepted.includes(key)));
  return { ...shared, method: explained.method, target: explained.target, ...settings };
}
