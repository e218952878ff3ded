import { describe, expect, it } from "vitest";
import { FIXTURES } from "./fixtures";
import { searchLayers } from "./search";

describe("searchLayers", () => {
  it("finds by name or type, any case, in execution order", () => {
    const g = FIXTURES.densenet121;
    expect(searchLayers(g, "denseblock4.denselayer16.CONV2")).toEqual(["features.denseblock4.denselayer16.conv2"]);
    const convs = searchLayers(g, "conv2d");
    expect(convs.length).toBe(120); // 1 stem + 58 x 2 + 3 transitions
    expect(convs[0]).toBe("features.conv0");
    expect(convs.at(-1)).toBe("features.denseblock4.denselayer16.conv2");
    // A container matches too (it is shown collapsed, or as its frame).
    expect(searchLayers(g, "transition2")).toEqual([
      "features.transition2",
      "features.transition2.norm",
      "features.transition2.relu",
      "features.transition2.conv",
      "features.transition2.pool",
    ]);
    expect(searchLayers(g, "  ")).toEqual([]);
    expect(searchLayers(g, "nothing like this")).toEqual([]);
  });

  it("leaves out the input pseudo node and layers that never ran", () => {
    const g = FIXTURES.default;
    expect(searchLayers(g, "input")).toEqual([]);
    expect(searchLayers(g, "blocks.0.0.drop_path")).toEqual([]); // calls == 0 in timm's first block
    expect(searchLayers(g, "blocks.1.1.drop_path")).toEqual(["blocks.1.1.drop_path"]);
  });
});
