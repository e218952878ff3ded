import { describe, expect, it } from "vitest";
import { inverseSetPage } from ".";

describe("the inverse set page", () => {
  it("sends one constraint per line", () => {
    const spec = inverseSetPage.toSpec(
      { constraints: "logits:3:4:6\n features.3:1:0:1 ", n: "6", k: "2", generator: "fourier", baselines: "false" },
      "digits",
    );
    expect(spec.constraints).toEqual(["logits:3:4:6", "features.3:1:0:1"]);
  });
});
