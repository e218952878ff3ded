// What an attribution map's numbers measure and what its colours mean, per method (the colour bar's words).
import { CAMS, LRP, MAGNITUDE } from "./methods";

/** Each CAM's input map and its units (cam.py). */
const CAM_WORDS: Record<string, string> = {
  gradcam: "Grad-CAM, ReLU(Σ α_c A_c), α_c the channel's mean gradient (logit units)",
  "gradcam-plusplus":
    "Grad-CAM++, ReLU(Σ w_c A_c), w_c the channel's positive gradients weighted by higher-order terms (score × activation units)",
  scorecam:
    "Score-CAM, ReLU(Σ w_c A_c), w_c the softmax over channels of the score with the image masked by each channel's map (activation units)",
};

export interface MapWords {
  /** what the numbers are, in which units */
  units: string;
  /** what the colours mean: the sign convention, or what a magnitude says */
  meaning: string;
}

/** The words of the input map (`layer` false) or of a layer's map, for `method`, `signed` as drawn, class `label`. */
export function mapWords(method: string, signed: boolean, label: string, layer = false): MapWords {
  const evidence = `red: evidence for “${label}”, blue: evidence against it, white: neither`;
  if (LRP.includes(method)) {
    const units = layer
      ? "relevance summed over the layer's channels (units of the class's logit)"
      : "relevance per pixel, summed over colour channels (units of the class's logit)";
    return {
      units,
      meaning: signed
        ? `${evidence}.`
        : `Brighter: more relevance for “${label}”; this rule passes only positive relevance (evidence for the class).`,
    };
  }
  if (MAGNITUDE.includes(method) && !layer) {
    const how =
      method === "saliency"
        ? "the plain gradient"
        : method === "guided-backprop"
          ? "the gradient through ReLUs passing only positive signals (guided backprop)"
          : "the gradient through ReLUs rectified backwards (deconvnet)";
    return {
      units: "|∂ logit / ∂ pixel|, the largest over colour channels",
      meaning: `Brighter: a small change of that pixel changes the score of “${label}” more, in either direction (${how}); a magnitude, not evidence for or against.`,
    };
  }
  if (MAGNITUDE.includes(method) || (method === "gradient-x-input" && layer)) {
    return { units: "gradient × activation summed over channels (logit units)", meaning: `${evidence} (to first order).` };
  }
  if (method === "gradient-x-input") {
    return {
      units: "gradient × input per pixel, summed over colour channels (logit units)",
      meaning: `${evidence} (to first order: the pixel's share of a linear approximation of the score).`,
    };
  }
  if (method === "smoothgrad") {
    return {
      units: "the smoothed method's map averaged over noisy copies of the image (its units; squared for the squared and variance kinds)",
      meaning: signed
        ? `${evidence}, averaged over noise (SmoothGrad, Smilkov et al. 2017).`
        : `Brighter: larger, averaged over noisy copies of the image (SmoothGrad, Smilkov et al. 2017); a magnitude, not evidence for or against.`,
    };
  }
  if (CAMS.includes(method)) {
    return {
      units: layer ? "the channels' contributions w_c A_c summed" : CAM_WORDS[method],
      meaning: `Brighter: where the layer's features raise the score of “${label}”; regions that lower it are cut to 0 (black).`,
    };
  }
  if (method === "integrated-gradients") {
    return {
      units: "attribution per pixel, summed over colour channels (logit units; all of it sums to F(x) − F(baseline))",
      meaning: `${evidence}.`,
    };
  }
  if (method === "occlusion") {
    return {
      units: "drop of the class's logit when a patch covering the pixel is hidden",
      meaning: `red: hiding it lowers the score of “${label}” (evidence for), blue: hiding it raises it (against).`,
    };
  }
  return { units: "attribution", meaning: signed ? `${evidence}.` : "Brighter: larger." };
}
