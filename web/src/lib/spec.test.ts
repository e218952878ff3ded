import { describe, expect, it } from "vitest";
import { clean, datasetFor, intList, numberOr } from "./spec";

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

describe("datasetFor", () => {
  it("gives the digits model its digits and every other model the photographs", () => {
    expect(datasetFor("digits")).toBe("digits");
    expect(datasetFor("default")).toBe("photos");
    expect(datasetFor("timm:resnet18")).toBe("photos");
  });
});
