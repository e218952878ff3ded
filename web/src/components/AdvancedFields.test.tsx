import { describe, expect, it } from "vitest";
import type { JsonSchema } from "../lib/schema";
import { withAdvanced } from "./AdvancedFields";
import type { PageDef } from "./RecipePage";

const SCHEMA: JsonSchema = {
  properties: {
    model: { $ref: "#/$defs/ModelRef" },
    layer: { minLength: 1, title: "Layer", type: "string" },
    steps: { default: 10, description: "steps per octave", maximum: 10000, minimum: 1, title: "Steps", type: "integer" },
    size: { anyOf: [{ minimum: 8, type: "integer" }, { type: "null" }], default: null, description: "image size", title: "Size" },
    octave_scale: { default: 1.4, exclusiveMinimum: 1, maximum: 4, title: "Octave Scale", type: "number" },
    decorrelate: { default: true, title: "Decorrelate", type: "boolean" },
  },
  type: "object",
};

const PAGE: PageDef = {
  path: "p",
  title: "P",
  recipe: "p",
  intro: "",
  fields: [
    { key: "layer", label: "Layer", kind: "layer" },
    { key: "steps", label: "Steps", kind: "number", default: "4" },
    { key: "size", label: "Size (px)", kind: "number" },
  ],
  toSpec: (v) => ({ layer: v.layer, steps: Number(v.steps) }),
  Result: () => null,
};

describe("a page with its advanced fields", () => {
  const page = withAdvanced(PAGE, SCHEMA);

  it("adds a field for every property the page does not show itself, after its own", () => {
    expect(page.fields.map((f) => [f.key, !!f.advanced])).toEqual([
      ["layer", false],
      ["steps", false],
      ["size", false],
      ["octave_scale", true],
      ["decorrelate", true],
    ]);
    const scale = page.fields[3];
    expect(scale).toMatchObject({ label: "Octave scale", kind: "custom", default: "", hint: "default: 1.4 · > 1, ≤ 4" });
    expect(scale.check!("9")).toBe("must be at most 4");
  });

  it("tells the page's own plain fields their description; the recipe's default only where the page sets none", () => {
    expect(page.fields[1].hint).toBe("steps per octave · ≥ 1, ≤ 10000"); // the page's default (4) is in the input
    expect(page.fields[2].hint).toBe("image size · default: none · ≥ 8");
    expect(page.fields[0].hint).toBeUndefined(); // a picker keeps its own look
  });

  it("adds the advanced values that are set and differ from the default to the page's spec", () => {
    expect(page.toSpec({ layer: "a", steps: "10" }, "m")).toEqual({ layer: "a" }); // the recipe's default: not sent
    expect(page.toSpec({ layer: "a", steps: "4", octave_scale: "", decorrelate: "" }, "m")).toEqual({ layer: "a", steps: 4 });
    expect(page.toSpec({ layer: "a", steps: "4", octave_scale: "1.8", decorrelate: "false" }, "m")).toEqual({
      layer: "a",
      steps: 4,
      octave_scale: 1.8,
      decorrelate: false,
    });
  });

  it("gives a choice without options the schema's, and makes a `schema` field where the page places it", () => {
    const schema: JsonSchema = {
      properties: {
        ...SCHEMA.properties,
        method: { default: "a", enum: ["a", "b", "c"], title: "Method", type: "string" },
        eps: { default: 1, exclusiveMinimum: 0, description: "stabilizer", title: "Eps", type: "number" },
      },
    };
    const placed = withAdvanced(
      {
        ...PAGE,
        fields: [
          { key: "method", label: "Method", kind: "select", default: "a" },
          { key: "eps", label: "Epsilon", kind: "schema", when: (v) => v.method === "b" },
          ...PAGE.fields,
        ],
      },
      schema,
    );
    expect(placed.fields[0].options).toEqual(["a", "b", "c"]);
    const eps = placed.fields[1];
    expect(eps).toMatchObject({ key: "eps", label: "Epsilon", kind: "custom", hint: "stabilizer · default: 1 · > 0" });
    expect(eps.advanced).toBeFalsy(); // among the page's own fields, not under "Advanced"
    expect(eps.check!("0")).toBe("must be more than 0");
    expect(placed.fields.filter((f) => f.key === "eps")).toHaveLength(1);
    // sent while its `when` holds, left out otherwise
    expect(placed.toSpec({ layer: "l", steps: "4", method: "b", eps: "0.5" }, "m")).toMatchObject({ eps: 0.5 });
    expect(placed.toSpec({ layer: "l", steps: "4", method: "c", eps: "0.5" }, "m")).not.toHaveProperty("eps");
  });

  it("leaves a page without a schema as it is", () => {
    expect(withAdvanced(PAGE, undefined)).toBe(PAGE);
  });
});
