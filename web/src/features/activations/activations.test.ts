import { describe, expect, it } from "vitest";
import { activationsPage } from ".";

describe("the activation maps page", () => {
  it("asks for the layer and the extra layers in one run", () => {
    expect(activationsPage.toSpec({ image: "abc", layer: "features.3", more: " features.0, logits,", top: "4", channels: "" }, "digits")).toEqual({
      model: { spec: "digits" },
      image: "abc",
      layer: "features.3,features.0,logits",
      top: 4,
    });
  });
});
