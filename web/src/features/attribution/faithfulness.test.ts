import { describe, expect, it } from "vitest";
import type { FaithfulnessData } from "../../api/results";
import { betterWords, faithfulnessSpec, metricName, settingsWords, watched } from "./faithfulness";

const DATA = {
  target: 1,
  label: "1",
  score: "logit",
  baseline: "black",
  region_perturbation: { patch: 8, patches: 16, fractions: [0, 0.25, 0.5, 0.75, 1] },
  road: { percentages: [10, 50, 90], noise: 0.01 },
  faithfulness_correlation: { runs: 100, subset: 224 },
  randomisation: { layers: ["c", "b", "a"], total: 5, seed: 42 },
} as unknown as FaithfulnessData;

describe("the faithfulness panel's words", () => {
  it("names each number, and says which direction is more faithful", () => {
    expect(metricName("abpc")).toBe("Area between the curves (ABPC)");
    expect(metricName("something_new")).toBe("something_new");
    expect(betterWords("closer to 1")).toBe("closer to 1 is more faithful");
  });

  it("states the settings a run used, from its data", () => {
    expect(settingsWords(DATA)).toEqual([
      "Scores watched: the logit of “1” (class 1); removed pixels are replaced by black.",
      "Region perturbation: 8×8-pixel patches (16 on the grid), removed in 4 steps, most and least relevant first.",
      "ROAD: 10, 50, 90% of the pixels removed, filled by noisy linear imputation (noise σ 0.01).",
      "Faithfulness correlation: 100 random subsets of 224 input entries each.",
      "Randomisation: 3 points over the 5 layers with parameters, re-initialized from the top (seed 42).",
    ]);
    const only = { ...DATA, road: null, faithfulness_correlation: null, randomisation: null, region_perturbation: null };
    expect(settingsWords(only)).toHaveLength(1); // a metric not asked for: no sentence
  });

  it("says a hidden unit's activation is watched, and that only the layers below it are randomized", () => {
    const unit = { ...DATA, target: 5, label: "features.6:5@2,3", unit: "features.6:5@2,3" } as FaithfulnessData;
    expect(watched(unit)).toBe("the activation of hidden unit features.6:5@2,3");
    expect(watched(DATA)).toBe("the logit of “1”");
    const words = settingsWords(unit);
    expect(words[0]).toBe(
      "Scores watched: the activation of hidden unit features.6:5@2,3 (channel 5); removed pixels are replaced by black.",
    );
    expect(words[4]).toContain("only the layers below features.6:5@2,3");
  });
});

describe("the faithfulness spec of an attribution", () => {
  it("keeps the fields the recipe takes, with the class explained and the panel's settings", () => {
    const attribute = { model: { spec: "m" }, image: "x", method: "dtd", target: undefined, layers: "all", rank: 5, epsilon: 0.1 };
    const accepted = ["model", "image", "method", "target", "epsilon", "points"];
    expect(faithfulnessSpec(attribute, accepted, { method: "dtd", target: 3 }, { points: 4 })).toEqual({
      model: { spec: "m" },
      image: "x",
      method: "dtd",
      target: 3,
      epsilon: 0.1,
      points: 4,
    });
    // a hidden unit goes as its spelling
    expect(faithfulnessSpec(attribute, accepted, { method: "dtd", target: "features.6:5" }, {}).target).toBe("features.6:5");
  });
});
