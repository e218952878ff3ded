import { describe, expect, it } from "vitest";
import {
  CHAIN_PREFIX,
  FOLD_ABOVE,
  MIN_CHAIN,
  chainHeadline,
  findChains,
  foldChains,
  foldsChains,
  opName,
  openPathTo,
  shownIdOf,
  shownView,
} from "./chains";
import { boxCount, defaultExpanded, expandAll, visibleGraph, type VisibleGraph } from "./collapse";
import { FIXTURES } from "./fixtures";

const none = new Set<string>();

/** Ids unique, parents before children, groups not empty, edges between drawn boxes, every box reached from the input. */
function checkDrawn(view: VisibleGraph) {
  const ids = view.nodes.map((n) => n.id);
  expect(new Set(ids).size).toBe(ids.length);
  const seen = new Map<string, string>();
  for (const n of view.nodes) {
    if (n.parent !== null) expect(seen.get(n.parent), `${n.id} in ${n.parent}`).toBe("group");
    seen.set(n.id, n.kind);
  }
  for (const g of view.nodes.filter((n) => n.kind === "group")) expect(view.nodes.some((n) => n.parent === g.id), g.id).toBe(true);
  const keys = new Set<string>();
  const out = new Map<string, string[]>();
  for (const e of view.edges) {
    expect(e.source).not.toBe(e.target);
    expect(seen.get(e.source), e.source).toBeDefined();
    expect(seen.get(e.target), e.target).toBeDefined();
    expect(seen.get(e.source)).not.toBe("group");
    expect(seen.get(e.target)).not.toBe("group");
    const k = `${e.source}->${e.target}`;
    expect(keys.has(k), k).toBe(false);
    keys.add(k);
    out.set(e.source, [...(out.get(e.source) ?? []), e.target]);
  }
  const reached = new Set(["input"]);
  const queue = ["input"];
  while (queue.length) for (const t of out.get(queue.shift()!) ?? []) if (!reached.has(t)) reached.add(t), queue.push(t);
  expect(view.nodes.filter((n) => n.kind !== "group" && !reached.has(n.id)).map((n) => n.id)).toEqual([]);
}

describe("opName and chainHeadline", () => {
  it("name operations briefly and leave out identities", () => {
    expect(["Conv2d", "Conv2dSame", "ConvTranspose2d", "BatchNorm2d", "BatchNormAct2d", "LayerNorm", "ReLU6", "SiLU"].map(opName)).toEqual([
      "conv", "conv", "convT", "bn", "bn", "ln", "relu6", "silu",
    ]);
    expect(["MaxPool2d", "AdaptiveAvgPool2d", "Linear", "Flatten", "Identity", null].map(opName)).toEqual([
      "maxpool", "avgpool", "linear", "flatten", null, null,
    ]);
    expect(chainHeadline(15, ["conv", "bn", "relu6", "conv", "bn", "relu6"])).toBe("15 layers: conv → bn → relu6 → conv …");
    expect(chainHeadline(3, ["conv", "bn", "relu"])).toBe("3 layers: conv → bn → relu");
    expect(chainHeadline(2, [])).toBe("2 layers");
  });
});

describe("findChains / foldChains", () => {
  it("fold EfficientNet-Lite0's 242 expanded boxes into 23: one chain per block, its whole content", () => {
    const g = FIXTURES.default;
    const base = visibleGraph(g, expandAll(g));
    expect(boxCount(base)).toBe(242);
    const index = findChains(base);
    const folded = foldChains(base, index, none);
    expect(boxCount(folded)).toBe(23);
    checkDrawn(folded);
    const c = index.chains.get(`${CHAIN_PREFIX}blocks.1.1`)!;
    expect(c.node.kind).toBe("chain");
    expect(c.node.parent).toBe("blocks.1");
    expect(c.node.type).toBe("InvertedResidual");
    expect(c.node.label).toBe("15 layers: conv → bn → relu6 → conv …");
    // conv_pw, bn1 (own op, drop: Identity, act: ReLU6), conv_dw, bn2 (...), aa and se (Identity), conv_pwl, bn3
    // (own op, drop, act: Identity), drop_path (Identity): 15 boxes, the identities left out of the ops.
    expect(c.node.chain!.ops).toEqual(["conv", "bn", "relu6", "conv", "bn", "relu6", "conv", "bn"]);
    expect(c.node.chain!.boxes.length).toBe(15);
    expect(c.node.chain!.layers[0]).toBe("blocks.1.1.conv_pw");
    expect(c.node.chain!.layers.at(-1)).toBe("blocks.1.1.drop_path");
    expect(c.node.chain!.groups).toEqual(["blocks.1.1", "blocks.1.1.bn1", "blocks.1.1.bn2", "blocks.1.1.bn3"]);
    expect(c.node.outputShape).toEqual([24, 56, 56]);
    // Every chain is long and each box is in at most one.
    for (const chain of index.chains.values()) expect(chain.node.chain!.boxes.length).toBeGreaterThanOrEqual(MIN_CHAIN);
    const boxes = [...index.chains.values()].flatMap((x) => x.node.chain!.boxes);
    expect(new Set(boxes).size).toBe(boxes.length);
    // The skip connections survive: block 1.0's chain feeds block 1.1's chain and (the residual) block 2.0's.
    const from10 = folded.edges.filter((e) => e.source === `${CHAIN_PREFIX}blocks.1.0`).map((e) => e.target);
    expect(from10.sort()).toEqual([`${CHAIN_PREFIX}blocks.1.1`, `${CHAIN_PREFIX}blocks.2.0`]);
    // A run at the top level (not one container): the head, conv_head to classifier.
    const head = [...index.chains.values()].find((x) => x.node.chain!.group === null)!;
    expect(head.id).toBe(`${CHAIN_PREFIX}conv_head~classifier`);
    expect(head.node.label).toBe("7 layers: conv → bn → relu6 → avgpool …");
  });

  it("open one chain without changing the others, and fold nothing where branches break every run", () => {
    const g = FIXTURES.default;
    const base = visibleGraph(g, expandAll(g));
    const index = findChains(base);
    const opened = foldChains(base, index, new Set([`${CHAIN_PREFIX}blocks.1.1`]));
    checkDrawn(opened);
    expect(boxCount(opened)).toBe(23 - 1 + 15);
    expect(opened.nodes.find((n) => n.id === "blocks.1.1")?.kind).toBe("group");
    expect(opened.nodes.find((n) => n.id === "blocks.1.1.bn2#self")?.kind).toBe("self");
    expect(opened.nodes.some((n) => n.id === `${CHAIN_PREFIX}blocks.1.0`)).toBe(true);
    expect(foldChains(base, index, new Set(index.chains.keys()))).toBe(base);
    // resnet50: the shared relu of each bottleneck has several inputs and outputs; densenet121's dense layers
    // (6 layers) are shorter than MIN_CHAIN, though each is a chain of 6.
    const r = visibleGraph(FIXTURES.resnet50, expandAll(FIXTURES.resnet50));
    expect(findChains(r).chains.size).toBe(0);
    const d = visibleGraph(FIXTURES.densenet121, expandAll(FIXTURES.densenet121));
    expect(findChains(d).chains.size).toBe(0);
    const six = findChains(d, 6);
    expect(six.chains.size).toBe(6 + 12 + 24 + 16);
    expect(six.chains.get(`${CHAIN_PREFIX}features.denseblock3.denselayer7`)?.node.label).toBe(
      "6 layers: bn → relu → conv → bn …",
    );
    checkDrawn(foldChains(d, six, none));
  });

  it("fold on 'auto' only views of more than FOLD_ABOVE boxes (the default views stay as they were)", () => {
    for (const [name, g] of Object.entries(FIXTURES)) {
      const base = visibleGraph(g, defaultExpanded(g));
      expect(foldsChains(base, null), name).toBe(false);
      expect(shownView(g, defaultExpanded(g), none, null).view, name).toBe(base);
    }
    expect(foldsChains(visibleGraph(FIXTURES.default, expandAll(FIXTURES.default)), null)).toBe(true);
    expect(FOLD_ABOVE).toBe(60);
    // Forced on, digits' default view folds features (8 layers) with pool and the collapsed classifier.
    const digits = shownView(FIXTURES.digits, defaultExpanded(FIXTURES.digits), none, true).view;
    expect(digits.nodes.map((n) => n.id)).toEqual(["input", `${CHAIN_PREFIX}features~classifier`, "logits"]);
    expect(digits.nodes[1].leafCount).toBe(8 + 1 + 4);
    checkDrawn(digits);
  });

  it("openPathTo expands the containers and opens the chain of a layer; shownIdOf finds its box", () => {
    const g = FIXTURES.default;
    const all = expandAll(g);
    const before = shownView(g, all, none, null);
    expect(shownIdOf(g, all, before, none, "blocks.3.1.conv_dw")).toBe(`${CHAIN_PREFIX}blocks.3.1`);
    const { expanded, open } = openPathTo(g, all, none, null, "blocks.3.1.conv_dw");
    expect(expanded).toBe(all);
    expect([...open]).toEqual([`${CHAIN_PREFIX}blocks.3.1`]);
    const after = shownView(g, expanded, open, null);
    expect(shownIdOf(g, expanded, after, open, "blocks.3.1.conv_dw")).toBe("blocks.3.1.conv_dw");
    expect(after.view.nodes.some((n) => n.id === "blocks.3.1.conv_dw")).toBe(true);
    // Already visible: the same objects.
    const again = openPathTo(g, expanded, open, null, "blocks.3.1.conv_dw");
    expect(again.expanded).toBe(expanded);
    expect(again.open).toBe(open);
    // From the default view: the containers open (no chains there: the view is small).
    const fromDefault = openPathTo(g, defaultExpanded(g), none, null, "blocks.3.1.conv_dw");
    expect([...fromDefault.expanded].sort()).toEqual(["blocks", "blocks.3", "blocks.3.1"]);
  });
});
