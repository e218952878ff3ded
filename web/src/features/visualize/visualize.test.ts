import { describe, expect, it } from "vitest";
import { visualizePage } from ".";

describe("the feature visualization page", () => {
  it("builds the visualize recipe's spec, leaving empty fields out", () => {
    const spec = visualizePage.toSpec(
      { layer: "features.3", channels: "0,1", classes: "", mix: "false", alphas: "2", param: "fft", decorrelate: "true",
        transforms: "seed001", size: "", lr: "", steps: "48", seed: "0" },
      "digits",
    );
    expect(spec).toEqual({
      model: { spec: "digits" }, layer: "features.3", channels: [0, 1], mix: false, param: "fft", decorrelate: true,
      transforms: "seed001", steps: 48, seed: 0,
    });
  });
});
