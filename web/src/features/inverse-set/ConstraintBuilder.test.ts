import { describe, expect, it } from "vitest";
import { formatRows, parseRows } from "./ConstraintBuilder";

describe("constraint rows", () => {
  it("round-trip the recipe's LAYER:UNIT:Z1:Z2 lines, layer names with colons included", () => {
    const text = "logits:3:4:6\nfeatures.3:1:-0.5:1e2";
    expect(parseRows(text)).toEqual([
      { layer: "logits", unit: "3", low: "4", high: "6" },
      { layer: "features.3", unit: "1", low: "-0.5", high: "1e2" },
    ]);
    expect(formatRows(parseRows(text))).toBe(text);
    expect(parseRows("a:b:7:1:2")[0]).toEqual({ layer: "a:b", unit: "7", low: "1", high: "2" });
  });

  it("starts with one empty row", () => {
    expect(parseRows("")).toEqual([{ layer: "", unit: "0", low: "", high: "" }]);
  });
});
