import { describe, expect, it } from "vitest";
import { asText, changedParams, duration, jobLink, modelOf, timing, valuesFromSpec } from "./jobs";

const schema = {
  properties: {
    model: { default: { spec: "default" } },
    layer: {},
    channels: { default: null },
    steps: { default: 256 },
    mix: { default: false },
    param: { default: "fft" },
  },
};

describe("a job as a line of the research log", () => {
  const spec = { model: { spec: "digits" }, layer: "features.3", channels: [0, 1], steps: 256, mix: false, param: "pixel" };

  it("lists the parameters that differ from the recipe's defaults (fields without one always)", () => {
    expect(changedParams(spec, schema)).toEqual([
      ["layer", "features.3"],
      ["channels", "0,1"],
      ["param", "pixel"],
    ]);
    expect(modelOf(spec)).toBe("digits");
  });

  it("writes values as the forms do", () => {
    expect(asText([1, 2, 3])).toBe("1,2,3");
    expect(asText(["logits:3:4:6", "logits:5:1:2"])).toBe("logits:3:4:6\nlogits:5:1:2");
    expect(asText({ cat: "281", dog: "207" })).toBe("cat=281\ndog=207");
    expect(asText(true)).toBe("true");
    expect(asText(null)).toBe("");
  });

  it("links to its page with the form filled in, the page's own fields where they differ from the page's default", () => {
    // the page's steps default (128) is not the recipe's (256): steps=256 goes in the link; its mix default does
    const fields = { steps: "128", layer: undefined, mix: "false" };
    expect(valuesFromSpec(spec, schema, fields)).toEqual({ layer: "features.3", channels: "0,1", param: "pixel", steps: "256" });
    expect(valuesFromSpec({ ...spec, steps: 128 }, schema, fields)).toEqual({ layer: "features.3", channels: "0,1", param: "pixel" });
    const link = jobLink("digits", "visualize", spec, schema, "abc123", { steps: "128" });
    expect(link.startsWith("#/model/digits/visualize?")).toBe(true);
    const query = new URLSearchParams(link.split("?")[1]);
    expect(Object.fromEntries(query)).toEqual({ layer: "features.3", channels: "0,1", param: "pixel", steps: "256", job: "abc123" });
  });

  it("says how long it took, or how long it has left from its progress", () => {
    expect(duration(4.25)).toBe("4.3 s");
    expect(duration(42)).toBe("42 s");
    expect(duration(185)).toBe("3 min 5 s");
    expect(duration(7800)).toBe("2 h 10 min");
    const base = { status: "running", started: 1000, ended: null, progress: { done: 0, total: 100 } };
    expect(timing({ ...base, status: "queued", started: null }, 1010)).toEqual({ text: "", kind: "none" });
    expect(timing(base, 1010)).toEqual({ text: "10 s so far", kind: "elapsed" });
    // 25 of 100 steps in 20 s: 60 s left
    expect(timing({ ...base, progress: { done: 25, total: 100 } }, 1020)).toEqual({ text: "about 1 min 0 s left", kind: "eta" });
    expect(timing({ ...base, status: "done", ended: 1003.5 }, 2000)).toEqual({ text: "3.5 s", kind: "duration" });
  });
});
