import { describe, expect, it } from "vitest";
import { type JsonSchema, boundsOf, helpOf, labelOf, problemOf, schemaFields, specOf, valueOf } from "./schema";

// pydantic's schema of DreamSpec (GET /api/recipes), trimmed to the kinds a form meets, plus an object field
const DREAM: JsonSchema = {
  properties: {
    model: { $ref: "#/$defs/ModelRef", default: { spec: "default" } },
    image: { description: "an image file (path)", minLength: 1, title: "Image", type: "string" },
    channels: {
      anyOf: [{ items: { type: "integer" }, minItems: 1, type: "array" }, { type: "null" }],
      default: null,
      description: "channels (default: the whole layer, mean of squares)",
      title: "Channels",
    },
    alphas: {
      anyOf: [{ items: { type: "number" }, minItems: 1, type: "array" }, { type: "null" }],
      default: null,
      description: "weights of the channels (default all 1)",
      title: "Alphas",
    },
    octave_scale: { default: 1.4, exclusiveMinimum: 1, maximum: 4, title: "Octave Scale", type: "number" },
    jitter: { default: 32, description: "max random shift in pixels", maximum: 1024, minimum: 0, title: "Jitter", type: "integer" },
    decorrelate: { default: true, title: "Decorrelate", type: "boolean" },
    fit: { default: "squash", enum: ["squash", "crop"], title: "Fit", type: "string" },
    encoder_layer: { anyOf: [{ type: "string" }, { type: "null" }], default: null, title: "Encoder Layer" },
    mapping: {
      anyOf: [{ additionalProperties: { type: "string" }, type: "object" }, { type: "null" }],
      default: null,
      title: "Mapping",
    },
  },
  required: ["image"],
  type: "object",
};

describe("schema fields", () => {
  const fields = schemaFields(DREAM);
  const by = Object.fromEntries(fields.map((f) => [f.key, f]));

  it("takes every property a form can show, each with its kind, in the schema's order", () => {
    expect(fields.map((f) => [f.key, f.kind])).toEqual([
      ["image", "string"],
      ["channels", "list"],
      ["alphas", "list"],
      ["octave_scale", "number"],
      ["jitter", "integer"],
      ["decorrelate", "boolean"],
      ["fit", "enum"],
      ["encoder_layer", "layer"],
      ["mapping", "object"],
    ]); // `model` (a nested model) is the page's own
    expect(by.channels.item).toBe("integer");
    expect(by.alphas.item).toBe("number");
    expect(by.fit.options).toEqual(["squash", "crop"]);
    expect(by.image.required).toBe(true);
    expect(by.octave_scale).toMatchObject({ default: 1.4, exclusiveMinimum: 1, maximum: 4 });
  });

  it("labels, bounds and help: description, default, bounds", () => {
    expect(labelOf("octave_scale", DREAM.properties!.octave_scale)).toBe("Octave scale");
    expect(by.alphas.label).toBe("Mix weights");
    expect(boundsOf(by.octave_scale)).toBe("> 1, ≤ 4");
    expect(helpOf(by.octave_scale)).toBe("default: 1.4 · > 1, ≤ 4");
    expect(helpOf(by.jitter)).toBe("max random shift in pixels · default: 32 · ≥ 0, ≤ 1024");
    expect(helpOf(by.decorrelate)).toBe("default: true");
    // a description that tells its default already is not told it twice; a null default is "none"
    expect(helpOf(by.alphas)).toBe("weights of the channels (default all 1) · comma-separated");
    expect(helpOf(by.encoder_layer)).toBe("default: none");
  });

  it("checks a value against its kind and bounds, naming the item of a list", () => {
    expect(problemOf(by.octave_scale, "")).toBeUndefined();
    expect(problemOf(by.octave_scale, "1.8")).toBeUndefined();
    expect(problemOf(by.octave_scale, "1")).toBe("must be more than 1");
    expect(problemOf(by.octave_scale, "5")).toBe("must be at most 4");
    expect(problemOf(by.octave_scale, "fast")).toBe("fast is not a number");
    expect(problemOf(by.jitter, "2.5")).toBe("2.5 is not an integer");
    expect(problemOf(by.channels, "3, x")).toBe("item 2 (x) is not an integer");
    expect(problemOf(by.alphas, "1, -0.5")).toBeUndefined();
    expect(problemOf(by.mapping, "{\"a\": \"1\"}")).toBeUndefined();
    expect(problemOf(by.mapping, "[1]")).toBe("must be a JSON object {…}");
    expect(problemOf(by.mapping, "{a")).toBe("is not valid JSON");
  });

  it("sends a value only when it is set and differs from the recipe's default", () => {
    expect(valueOf(by.octave_scale, "")).toBeUndefined();
    expect(valueOf(by.octave_scale, "1.4")).toBeUndefined();
    expect(valueOf(by.octave_scale, " 1.8 ")).toBe(1.8);
    expect(valueOf(by.jitter, "32")).toBeUndefined();
    expect(valueOf(by.decorrelate, "true")).toBeUndefined();
    expect(valueOf(by.decorrelate, "false")).toBe(false);
    expect(valueOf(by.fit, "crop")).toBe("crop");
    expect(valueOf(by.fit, "squash")).toBeUndefined();
    expect(valueOf(by.alphas, "1, -0.5")).toEqual([1, -0.5]);
    expect(valueOf(by.channels, "3, x")).toEqual([3, "x"]); // sent as typed: the server names item 2
    expect(valueOf(by.mapping, "{\"a\": \"1\"}")).toEqual({ a: "1" });
    expect(specOf(fields, { octave_scale: "1.8", jitter: "32", fit: "", decorrelate: "false" })).toEqual({
      octave_scale: 1.8,
      decorrelate: false,
    });
  });
});
