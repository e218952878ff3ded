import { describe, expect, it } from "vitest";
import { expandAll, visibleGraph } from "./collapse";
import { FIXTURES } from "./fixtures";
import { pathFromInput } from "./paths";

describe("pathFromInput", () => {
  it("marks the one path of a linear model", () => {
    const view = visibleGraph(FIXTURES.digits, expandAll(FIXTURES.digits));
    const p = pathFromInput(view, "features.3");
    expect([...p.edges]).toEqual(["input->features.0", "features.0->features.1", "features.1->features.2", "features.2->features.3"]);
    expect([...p.nodes].sort()).toEqual(["features.0", "features.1", "features.2", "features.3", "input"]);
  });

  it("marks both branches of a skip connection (EfficientNet-Lite0's stage 1 -> stage 2)", () => {
    const view = visibleGraph(FIXTURES.default, new Set(["blocks", "blocks.1"]));
    const p = pathFromInput(view, "blocks.2");
    expect([...p.edges].sort()).toEqual(
      [
        "input->conv_stem",
        "conv_stem->bn1",
        "bn1->blocks.0",
        "blocks.0->blocks.1.0",
        "blocks.1.0->blocks.1.1",
        "blocks.1.0->blocks.2", // the residual
        "blocks.1.1->blocks.2",
      ].sort(),
    );
    // Nothing after the target, nothing for an unknown node.
    expect(p.nodes.has("blocks.3")).toBe(false);
    expect(pathFromInput(view, "nope").edges.size).toBe(0);
  });

  it("reaches an open block through its entries", () => {
    const view = visibleGraph(FIXTURES.googlenet, new Set(["inception3a"]));
    const p = pathFromInput(view, "inception3a");
    for (const b of [1, 2, 3, 4]) expect(p.edges.has(`maxpool2->inception3a.branch${b}`)).toBe(true);
    expect([...p.edges].some((e) => e.startsWith("inception3a.branch"))).toBe(false); // nothing inside or after it
    expect(p.nodes.has("inception3a")).toBe(true);
    // input -> conv1 -> maxpool1 -> conv2 -> conv3 -> maxpool2, then the four branch entries
    expect(p.edges.size).toBe(5 + 4);
  });

  it("on googlenet's inception block, takes all four branches and nothing of the block after", () => {
    const view = visibleGraph(FIXTURES.googlenet, new Set(["inception3a"]));
    const p = pathFromInput(view, "inception3b");
    for (const b of [1, 2, 3, 4]) {
      expect(p.edges.has(`maxpool2->inception3a.branch${b}`)).toBe(true);
      expect(p.edges.has(`inception3a.branch${b}->inception3b`)).toBe(true);
    }
    expect(p.nodes.has("maxpool3")).toBe(false);
  });
});
