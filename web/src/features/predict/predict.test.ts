import { describe, expect, it } from "vitest";
import { predictPage } from ".";

describe("the prediction page", () => {
  it("builds the predict recipe's spec", () => {
    expect(predictPage.toSpec({ image: "abc", top: "3" }, "digits")).toEqual({
      model: { spec: "digits" },
      image: "abc",
      top: 3,
    });
  });
});
