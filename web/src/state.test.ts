import { describe, expect, it } from "vitest";
import { PAGES } from "./pages/techniques";
import { intList, numberOr } from "./state";

describe("form values to spec values", () => {
  it("parses comma lists and numbers, leaving empty fields out", () => {
    expect(intList("1, 2,3")).toEqual([1, 2, 3]);
    expect(intList(" ")).toBeUndefined();
    expect(intList("1,x")).toEqual([1, NaN]); // the server names the field: nothing is silently dropped
    expect(numberOr("")).toBeUndefined();
    expect(numberOr("0.5")).toBe(0.5);
  });

  it("builds the specs the recipes take", () => {
    const page = (path: string) => PAGES.find((p) => p.path === path)!;
    expect(page("predict").toSpec({ image: "abc", top: "3" }, "digits")).toEqual({
      model: { spec: "digits" },
      image: "abc",
      top: 3,
    });
    const visualize = page("visualize").toSpec(
      { layer: "features.3", channels: "0,1", classes: "", mix: "false", alphas: "2", param: "fft", decorrelate: "true",
        transforms: "seed001", size: "", lr: "", steps: "48", seed: "0" },
      "digits",
    );
    expect(visualize).toEqual({
      model: { spec: "digits" }, layer: "features.3", channels: [0, 1], mix: false, param: "fft", decorrelate: true,
      transforms: "seed001", steps: 48, seed: 0,
    });
    const inverse = page("inverse-set").toSpec({ constraints: "logits:3:4:6\n features.3:1:0:1 ", n: "6", k: "2",
      generator: "fourier", baselines: "false" }, "digits");
    expect(inverse.constraints).toEqual(["logits:3:4:6", "features.3:1:0:1"]);
  });
});
