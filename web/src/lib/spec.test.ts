import { describe, expect, it } from "vitest";
import { clean, datasetFor, fitting, intList, numberOr, whyNot } from "./spec";

describe("form values to spec values", () => {
  it("parses comma lists and numbers, leaving empty fields out", () => {
    expect(intList("1, 2,3")).toEqual([1, 2, 3]);
    expect(intList(" ")).toBeUndefined();
    expect(intList("1,x")).toEqual([1, NaN]); // the server names the field: nothing is silently dropped
    expect(numberOr("")).toBeUndefined();
    expect(numberOr("0.5")).toBe(0.5);
    expect(clean({ a: undefined, b: "", c: 0, d: false })).toEqual({ c: 0, d: false });
  });
});

describe("the fit rule", () => {
  const digits = { name: "digits", channels: 1, classes: ["0", "1"] };
  const photos = { name: "photos", channels: 3, classes: null };
  const mine = { name: "mine", channels: 3, classes: ["cat", "dog"] };
  const folder = { name: "folder", channels: null, classes: null };
  const all = [digits, photos, mine, folder];
  const rgb = { name: "default", channels: 3 };
  const gray = { name: "digits", channels: 1 };

  it("offers the datasets whose channels equal the model's; a null on either side fits", () => {
    expect(fitting(rgb, all).map((d) => d.name)).toEqual(["photos", "mine", "folder"]);
    expect(fitting(gray, all).map((d) => d.name)).toEqual(["digits", "folder"]);
    expect(fitting({ name: "x", channels: null }, all)).toHaveLength(4);
    expect(fitting(undefined, all)).toHaveLength(4); // the model's facts not known: nothing hidden
    expect(whyNot(rgb, digits)).toBe("digits holds grayscale (1 channel) images; default takes RGB (3 channels) input");
  });

  it("offers only labelled datasets for an evaluation", () => {
    expect(fitting(rgb, all, true).map((d) => d.name)).toEqual(["mine"]);
    expect(whyNot(rgb, photos, true)).toMatch(/photos has no classes/);
  });

  it("defaults to photos for an RGB model and digits for a grayscale one, else the first that fits", () => {
    expect(datasetFor(rgb, all)).toBe("photos");
    expect(datasetFor(gray, all)).toBe("digits");
    expect(datasetFor(gray, [folder, digits])).toBe("digits");
    expect(datasetFor(rgb, [digits, mine])).toBe("mine");
    expect(datasetFor(rgb, all, true)).toBe("mine");
    expect(datasetFor(gray, all, true)).toBe("digits");
    expect(datasetFor(rgb, [digits])).toBe(""); // none fits: none offered
    expect(datasetFor(undefined, all)).toBe("photos");
  });
});
