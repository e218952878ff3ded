import { describe, expect, it } from "vitest";
import { bound, unitOf } from "./UnitRanges";

describe("the range hints", () => {
  it("measure a row's unit once it is complete", () => {
    expect(unitOf("logits", "3")).toBe("logits:3");
    expect(unitOf("features.3", " 07 ")).toBe("features.3:7");
    expect(unitOf("", "3")).toBeUndefined();
    expect(unitOf("logits", "x")).toBeUndefined();
    expect(unitOf("logits", "-1")).toBeUndefined();
  });

  it("write bounds as plain decimals of 3 significant digits (LAYER:UNIT:Z1:Z2 takes them)", () => {
    expect(bound(-30.154165649)).toBe("-30.2");
    expect(bound(14.443897)).toBe("14.4");
    expect(bound(0)).toBe("0");
    expect(bound(0.000012345)).toBe("0.0000123");
    expect(bound(123456)).toBe("123000");
  });
});
