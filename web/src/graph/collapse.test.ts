import { describe, expect, it } from "vitest";
import {
  SELF_SUFFIX,
  ancestorsOf,
  boxCount,
  categoryOf,
  colorOf,
  defaultExpanded,
  expandAll,
  expandPathTo,
  indexGraph,
  visibleGraph,
  visibleIdOf,
  type VisibleGraph,
} from "./collapse";
import { FIXTURES } from "./fixtures";
import { formatShape } from "./format";
import type { LayerGraphData } from "./types";

const none = new Set<string>();

/** Structural invariants every view must satisfy. */
function checkView(graph: LayerGraphData, view: VisibleGraph) {
  const ids = view.nodes.map((n) => n.id);
  expect(new Set(ids).size).toBe(ids.length);
  const seen = new Map<string, (typeof view.nodes)[number]>();
  for (const n of view.nodes) {
    if (n.parent !== null) {
      // Parents come before their children and are groups.
      expect(seen.get(n.parent)?.kind, `${n.id} parent ${n.parent}`).toBe("group");
    }
    seen.set(n.id, n);
  }
  const pairs = new Set<string>();
  for (const e of view.edges) {
    expect(e.source).not.toBe(e.target);
    const key = `${e.source}->${e.target}`;
    expect(pairs.has(key), `duplicate ${key}`).toBe(false);
    pairs.add(key);
    const s = seen.get(e.source);
    const t = seen.get(e.target);
    expect(s, e.source).toBeDefined();
    expect(t, e.target).toBeDefined();
    expect(s!.kind).not.toBe("group");
    expect(t!.kind).not.toBe("group");
  }
  // Every group has at least one child.
  for (const g of view.nodes.filter((n) => n.kind === "group")) {
    expect(view.nodes.some((n) => n.parent === g.id), g.id).toBe(true);
  }
  // Every box is reachable from the input.
  const out = new Map<string, string[]>();
  for (const e of view.edges) out.set(e.source, [...(out.get(e.source) ?? []), e.target]);
  const reached = new Set(["input"]);
  const queue = ["input"];
  while (queue.length) for (const t of out.get(queue.shift()!) ?? []) if (!reached.has(t)) reached.add(t), queue.push(t);
  const unreached = view.nodes.filter((n) => n.kind !== "group" && !reached.has(n.id)).map((n) => n.id);
  expect(unreached, `${graph.model}: unreachable`).toEqual([]);
}

describe("visibleGraph default views", () => {
  it("collapses googlenet to its top-level modules", () => {
    const g = FIXTURES.googlenet;
    const view = visibleGraph(g, none);
    const top = g.layers.filter((l) => !l.parent).length;
    expect(boxCount(view)).toBe(top + 1); // + the input pseudo node
    expect(view.nodes.every((n) => n.kind !== "group")).toBe(true);
    const inc = view.nodes.find((n) => n.id === "inception3a")!;
    expect(inc.kind).toBe("collapsed");
    expect(inc.type).toBe("Inception");
    expect(inc.childCount).toBe(4);
    expect(inc.leafCount).toBe(13);
    expect(formatShape(inc.outputShape)).toBe("256×28×28");
    expect(view.nodes[0].id).toBe("input");
    expect(view.nodes[view.nodes.length - 1].id).toBe("logits");
    checkView(g, view);
  });

  it("collapses resnet50's layer1..4 and timm's blocks", () => {
    const r = visibleGraph(FIXTURES.resnet50, none);
    expect(r.nodes.map((n) => n.id)).toEqual([
      "input", "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc", "logits",
    ]);
    expect(r.nodes.filter((n) => n.kind === "collapsed").map((n) => n.id)).toEqual(["layer1", "layer2", "layer3", "layer4"]);
    // A linear chain: 11 edges.
    expect(r.edges.map((e) => e.id)).toContain("layer1->layer2");
    expect(r.edges.length).toBe(11);

    const t = visibleGraph(FIXTURES.default, none);
    const blocks = t.nodes.find((n) => n.id === "blocks")!;
    expect(blocks.kind).toBe("collapsed");
    expect(boxCount(t)).toBeLessThanOrEqual(10);
    checkView(FIXTURES.default, t);
  });

  it("defaultExpanded opens a lone wrapper (densenet's features) but keeps top-level modules otherwise", () => {
    expect([...defaultExpanded(FIXTURES.googlenet)]).toEqual([]);
    expect([...defaultExpanded(FIXTURES.resnet50)]).toEqual([]);
    expect([...defaultExpanded(FIXTURES.densenet121)]).toEqual(["features"]);
    const d = visibleGraph(FIXTURES.densenet121, defaultExpanded(FIXTURES.densenet121));
    expect(boxCount(d)).toBeGreaterThanOrEqual(8);
    expect(d.nodes.find((n) => n.id === "features.denseblock1")?.kind).toBe("collapsed");
    for (const [name, g] of Object.entries(FIXTURES)) {
      const v = visibleGraph(g, defaultExpanded(g));
      expect(boxCount(v), name).toBeLessThanOrEqual(60);
      checkView(g, v);
    }
  });

  it("hides layers that never ran (timm's unused drop_path)", () => {
    const g = FIXTURES.default;
    const all = visibleGraph(g, expandAll(g));
    expect(all.nodes.some((n) => n.id === "blocks.0.0.drop_path")).toBe(false);
    expect(indexGraph(g).hidden.has("blocks.0.0.drop_path")).toBe(true);
  });
});

describe("expanding", () => {
  it("shows the children of an expanded container, edges still connected", () => {
    const g = FIXTURES.googlenet;
    const view = visibleGraph(g, new Set(["inception3a"]));
    const group = view.nodes.find((n) => n.id === "inception3a")!;
    expect(group.kind).toBe("group");
    const kids = view.nodes.filter((n) => n.parent === "inception3a").map((n) => n.id);
    expect(kids).toEqual(["inception3a.branch1", "inception3a.branch2", "inception3a.branch3", "inception3a.branch4"]);
    for (const k of kids) {
      expect(view.edges.some((e) => e.source === "maxpool2" && e.target === k), `maxpool2->${k}`).toBe(true);
      expect(view.edges.some((e) => e.source === k && e.target === "inception3b"), `${k}->inception3b`).toBe(true);
    }
    // Labels inside an expanded group are relative to it.
    expect(view.nodes.find((n) => n.id === "inception3a.branch2")!.label).toBe("branch2");
    checkView(g, view);
  });

  it("keeps every view of every fixture consistent (each top-level container expanded, fully expanded)", () => {
    for (const [name, g] of Object.entries(FIXTURES)) {
      const idx = indexGraph(g);
      for (const c of idx.roots.filter((r) => idx.containers.has(r))) checkView(g, visibleGraph(g, new Set([c])));
      const full = visibleGraph(g, expandAll(g));
      checkView(g, full);
      // Fully expanded: every executed leaf layer is a box.
      const leaves = g.layers.filter((l) => !(l.children ?? []).length && (l.calls ?? 1) > 0).map((l) => l.name);
      const boxes = new Set(full.nodes.filter((n) => n.kind !== "group").map((n) => n.layer));
      expect(leaves.filter((l) => !boxes.has(l)), name).toEqual([]);
      expect(full.nodes.some((n) => n.kind === "collapsed"), name).toBe(false);
    }
  });

  it("ignores expansion flags below a collapsed container, and restores them when it opens again", () => {
    const g = FIXTURES.resnet50;
    const inner = new Set(["layer1.0"]);
    const a = visibleGraph(g, inner);
    expect(a).toBe(visibleGraph(g, none)); // same cached view: layer1 is collapsed
    const b = visibleGraph(g, new Set(["layer1", "layer1.0"]));
    expect(b.nodes.find((n) => n.id === "layer1.0")!.kind).toBe("group");
    expect(b.nodes.find((n) => n.id === "layer1.1")!.kind).toBe("collapsed");
  });

  it("gives a computing container (timm BatchNormAct2d) a self node when expanded", () => {
    const g = FIXTURES.default;
    const v = visibleGraph(g, new Set(["bn1"]));
    const self = v.nodes.find((n) => n.id === "bn1" + SELF_SUFFIX)!;
    expect(self.kind).toBe("self");
    expect(self.layer).toBe("bn1");
    expect(self.parent).toBe("bn1");
    const ids = v.edges.map((e) => e.id);
    expect(ids).toContain(`conv_stem->bn1${SELF_SUFFIX}`);
    expect(ids).toContain(`bn1${SELF_SUFFIX}->bn1.drop`);
    expect(ids).toContain("bn1.act->blocks");
    checkView(g, v);
    // Collapsed, it is one node with its own edges.
    const c = visibleGraph(g, none);
    expect(c.edges.map((e) => e.id)).toEqual(expect.arrayContaining(["conv_stem->bn1", "bn1->blocks"]));
  });
});

describe("lifted edges", () => {
  it("have no self-loops or duplicates and stand for all crossing leaf edges", () => {
    for (const [name, g] of Object.entries(FIXTURES)) {
      for (const expanded of [none, defaultExpanded(g), expandAll(g)]) {
        const view = visibleGraph(g, expanded);
        const keys = view.edges.map((e) => `${e.source}\u0000${e.target}`);
        expect(new Set(keys).size, name).toBe(keys.length);
        expect(view.edges.filter((e) => e.source === e.target), name).toEqual([]);
        const crossing = g.edges.filter((e) => {
          const a = visibleIdOf(g, expanded, e[0]);
          const b = visibleIdOf(g, expanded, e[1]);
          return a !== undefined && b !== undefined && a !== b;
        }).length;
        expect(view.edges.reduce((s, e) => s + e.count, 0), name).toBe(crossing);
      }
    }
  });

  it("collapse googlenet's 16 branch-to-branch edges into one, labeled with the block output", () => {
    const view = visibleGraph(FIXTURES.googlenet, none);
    const e = view.edges.find((x) => x.id === "inception3a->inception3b")!;
    expect(e.count).toBe(16);
    expect(e.label).toBe("256×28×28");
  });
});

describe("edge shapes", () => {
  it("are the source layer's output shape", () => {
    for (const [name, g] of Object.entries(FIXTURES)) {
      const idx = indexGraph(g);
      const full = visibleGraph(g, expandAll(g));
      let checked = 0;
      for (const e of full.edges) {
        const src = idx.layers.get(full.nodes.find((n) => n.id === e.source)!.layer)!;
        if ((src.calls ?? 1) > 1) continue;
        expect(e.label, `${name} ${e.id}`).toBe(formatShape(src.output_shape ?? null) || null);
        checked++;
      }
      expect(checked, name).toBeGreaterThan(0);
    }
  });

  it("start at the input with the input shape", () => {
    for (const g of Object.values(FIXTURES)) {
      const view = visibleGraph(g, none);
      const fromInput = view.edges.filter((e) => e.source === "input");
      expect(fromInput.length).toBeGreaterThan(0);
      for (const e of fromInput) expect(e.label).toBe(formatShape(g.input_shape ?? null));
    }
  });

  it("follow the call a shared module (resnet's relu) made before each consumer", () => {
    const g = FIXTURES.resnet50;
    const full = visibleGraph(g, expandAll(g));
    const label = (id: string) => full.edges.find((e) => e.id === id)?.label;
    expect(label("layer1.0.relu->layer1.0.conv2")).toBe("64×56×56");
    expect(label("layer1.0.relu->layer1.0.conv3")).toBe("64×56×56");
    expect(label("layer1.0.relu->layer1.1.conv1")).toBe("256×56×56");
    expect(label("layer2.0.relu->layer2.0.conv2")).toBe("128×56×56");
    expect(label("layer2.0.relu->layer2.0.conv3")).toBe("128×28×28");
    // Where a shape is known, it matches the consumer's in_channels.
    const idx = indexGraph(g);
    for (const e of full.edges) {
      const inCh = idx.layers.get(e.target)?.in_channels;
      if (e.shape && typeof inCh === "number") expect(e.shape[0], e.id).toBe(inCh);
    }
  });
});

describe("helpers", () => {
  it("ancestorsOf lists the enclosing containers outermost first", () => {
    const g = FIXTURES.googlenet;
    expect(ancestorsOf(g, "inception3a.branch2.0.conv")).toEqual(["inception3a", "inception3a.branch2", "inception3a.branch2.0"]);
    expect(ancestorsOf(g, "conv1")).toEqual([]);
    expect(ancestorsOf(g, "nope")).toEqual([]);
    expect(ancestorsOf(FIXTURES.default, "bn1" + SELF_SUFFIX)).toEqual([]);
  });

  it("expandPathTo opens the path to a layer and keeps the set when nothing changes", () => {
    const g = FIXTURES.googlenet;
    const e = expandPathTo(g, none, "inception4b.branch3.1.bn");
    expect([...e].sort()).toEqual(["inception4b", "inception4b.branch3", "inception4b.branch3.1"]);
    expect(expandPathTo(g, e, "inception4b.branch3.1.conv")).toBe(e);
    expect(visibleIdOf(g, none, "inception4b.branch3.1.bn")).toBe("inception4b");
    expect(visibleIdOf(g, e, "inception4b.branch3.1.bn")).toBe("inception4b.branch3.1.bn");
    const view = visibleGraph(g, e);
    expect(view.nodes.find((n) => n.id === "inception4b.branch3.1.bn")?.kind).toBe("leaf");
  });

  it("expandAll lists every container", () => {
    const g = FIXTURES.densenet121;
    const all = expandAll(g);
    expect(all.has("features")).toBe(true);
    expect(all.has("features.denseblock3.denselayer12")).toBe(true);
    expect(all.has("features.conv0")).toBe(false);
  });

  it("colors types by category", () => {
    expect(categoryOf("Conv2d")).toBe("conv");
    expect(categoryOf("Conv2dSame")).toBe("conv");
    expect(categoryOf("BatchNorm2d")).toBe("norm");
    expect(categoryOf("BatchNormAct2d")).toBe("norm");
    expect(categoryOf("ReLU")).toBe("activation");
    expect(categoryOf("ReLU6")).toBe("activation");
    expect(categoryOf("SiLU")).toBe("activation");
    expect(categoryOf("MaxPool2d")).toBe("pooling");
    expect(categoryOf("SelectAdaptivePool2d")).toBe("pooling");
    expect(categoryOf("Linear")).toBe("linear");
    expect(categoryOf("Sequential")).toBe("container");
    expect(categoryOf("Dropout")).toBe("dropout");
    expect(categoryOf("Input")).toBe("io");
    expect(categoryOf("Inception")).toBe("other");
    const colors = ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Linear", "Sequential", "Inception"].map((t) => colorOf(t));
    expect(new Set(colors).size).toBe(colors.length);
    expect(colorOf("Inception", true)).toBe(colorOf("Sequential"));
    for (const c of colors) expect(c).toMatch(/^#[0-9a-f]{6}$/);
  });
});

describe("sparse input", () => {
  it("copes with missing fields, unknown endpoints and an empty graph", () => {
    const g: LayerGraphData = {
      layers: [
        { name: "block" },
        { name: "block.a", parent: "block", type: "Conv2d", output_shape: [8, 4, 4] },
        { name: "block.b", parent: "block", type: "ReLU", output_shape: null },
        { name: "head", type: "Linear", output_shape: [10] },
        { name: "unused", type: "Dropout", calls: 0 },
      ],
      edges: [["x", "block.a"], ["block.a", "block.b"], ["block.b", "head"], ["head", "y"]],
    };
    const idx = indexGraph(g);
    expect(idx.layers.get("x")?.type).toBe("Input");
    expect(idx.layers.get("y")?.type).toBe("Output");
    expect(idx.containers.has("block")).toBe(true);
    const v = visibleGraph(g, none);
    expect(v.nodes.map((n) => n.id)).toEqual(["x", "block", "head", "y"]);
    expect(v.edges.map((e) => [e.id, e.label])).toEqual([
      ["x->block", null],
      ["block->head", null],
      ["head->y", "10"],
    ]);
    expect(v.nodes.find((n) => n.id === "block")!.outputShape).toBeNull();
    const full = visibleGraph(g, expandAll(g));
    expect(full.edges.find((e) => e.id === "block.a->block.b")?.label).toBe("8×4×4");
    const empty = visibleGraph({ layers: [], edges: [] }, none);
    expect(empty).toEqual({ nodes: [], edges: [] });
    expect(defaultExpanded({ layers: [], edges: [] }).size).toBe(0);
  });
});

