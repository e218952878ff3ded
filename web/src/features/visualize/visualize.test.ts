import { describe, expect, it } from "vitest";
import { visualizePage } from ".";
import { withAdvanced } from "../../components/AdvancedFields";
import type { JsonSchema } from "../../lib/schema";

const FORM = {
  layer: "features.3", channels: "0,1", classes: "", mix: "false", alphas: "2", decorrelate: "true",
  transforms: "seed001", size: "", lr: "", steps: "48", seed: "0",
};

describe("the feature visualization page", () => {
  it("builds the visualize recipe's spec, leaving empty fields out", () => {
    const spec = visualizePage.toSpec(FORM, "digits");
    expect(spec).toEqual({
      model: { spec: "digits" }, layer: "features.3", channels: [0, 1], mix: false, decorrelate: true,
      transforms: "seed001", steps: 48, seed: 0,
    });
  });

  it("sends the accentuation's start image, and its keep layer and weight only with one", () => {
    const keep = { keep_layer: "features.0", keep_weight: "2" };
    expect(visualizePage.toSpec({ ...FORM, ...keep }, "digits")).not.toHaveProperty("keep_layer");
    expect(visualizePage.toSpec({ ...FORM, ...keep, accentuate: "abc123" }, "digits")).toMatchObject({
      accentuate: "abc123", keep_layer: "features.0", keep_weight: 2,
    });
    const keepLayer = visualizePage.fields.find((f) => f.key === "keep_layer")!;
    expect(keepLayer.when!({ accentuate: "" })).toBe(false);
    expect(keepLayer.when!({ accentuate: "abc123" })).toBe(true);
  });

  it("takes the parameterization, its choices and its default from the recipe's schema", () => {
    const schema: JsonSchema = {
      properties: {
        param: { default: "maco", enum: ["maco", "fft", "pixel", "laplacian"], title: "Param", type: "string", description: "image parameterization" },
        steps: { default: 256, minimum: 1, title: "Steps", type: "integer" },
      },
    };
    const page = withAdvanced(visualizePage, schema);
    const param = page.fields.find((f) => f.key === "param")!;
    expect(param).toMatchObject({ label: "Parameterization", advanced: true, default: "" });
    expect(param.hint).toContain("default: maco");
    // left at the recipe's default: not sent (the recipe applies it); another choice is
    expect(page.toSpec({ ...FORM, param: "" }, "digits")).not.toHaveProperty("param");
    expect(page.toSpec({ ...FORM, param: "fft" }, "digits")).toMatchObject({ param: "fft" });
    expect(page.toSpec({ ...FORM, param: "maco" }, "digits")).not.toHaveProperty("param");
  });
});
