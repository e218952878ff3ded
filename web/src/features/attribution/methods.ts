// The attribution methods by family (what each takes and shows; the list itself comes from the recipe's schema,
// recipes/attribute.py `Method`), and a target as typed: a class index or a hidden unit.

/** LRP: Deep Taylor (dtd) and its rules; relevance conserved layer by layer (the conservation trace). */
export const LRP = ["dtd", "lrp-epsilon", "lrp-alphabeta"];
/** The class activation maps: one layer's channels weighted (Grad-CAM, Grad-CAM++, Score-CAM). */
export const CAMS = ["gradcam", "gradcam-plusplus", "scorecam"];
/** Gradient methods whose input map is a magnitude, max |gradient| over colour channels. */
export const MAGNITUDE = ["saliency", "guided-backprop", "deconvnet"];
/** Methods with a map per layer (LRP's relevance; the gradient family's gradient × activation). */
export const WITH_LAYERS = [...LRP, ...MAGNITUDE, "gradient-x-input"];

/** What the `target` field sends: a class index as a number ("285" → 285), anything else as typed (a hidden unit,
 * LAYER:CHANNEL or LAYER:CHANNEL@Y,X: the server checks it and names `target` when it is wrong); empty: none
 * (the predicted class). */
export function targetValue(text: string | undefined): number | string | undefined {
  const t = (text ?? "").trim();
  if (t === "") return undefined;
  return /^\d+$/.test(t) ? Number(t) : t;
}

/** A hidden unit's spelling in words: "channel 12 of blocks.5.0 (its mean over the map)" or "… at row 3, column 4". */
export function unitWords(unit: string): string {
  const m = /^(.*):(\d+)(?:@(\d+),(\d+))?$/.exec(unit);
  if (!m) return unit;
  const [, layer, channel, y, x] = m;
  return y === undefined
    ? `channel ${channel} of ${layer} (its activation averaged over the map)`
    : `channel ${channel} of ${layer} at row ${y}, column ${x} of its map`;
}
