import { describe, expect, it } from "vitest";
import { targetValue, unitWords } from "./methods";

describe("the target as typed", () => {
  it("sends a class index as a number and a hidden unit as its spelling", () => {
    expect(targetValue("285")).toBe(285);
    expect(targetValue(" 7 ")).toBe(7);
    expect(targetValue("blocks.5.0:12")).toBe("blocks.5.0:12");
    expect(targetValue("blocks.5.0:12@3,4")).toBe("blocks.5.0:12@3,4");
  });

  it("leaves an empty field out (the predicted class) and passes anything else on for the server to name", () => {
    expect(targetValue("")).toBeUndefined();
    expect(targetValue("  ")).toBeUndefined();
    expect(targetValue(undefined)).toBeUndefined();
    expect(targetValue("-1")).toBe("-1");
    expect(targetValue("2.5")).toBe("2.5");
    expect(targetValue("features.3:x")).toBe("features.3:x");
  });

  it("says which unit was explained", () => {
    expect(unitWords("features.3:2")).toBe("channel 2 of features.3 (its activation averaged over the map)");
    expect(unitWords("blocks.5.0:12@3,4")).toBe("channel 12 of blocks.5.0 at row 3, column 4 of its map");
    expect(unitWords("odd")).toBe("odd");
  });
});
