import { afterAll, describe, expect, it } from "vitest";
import { boxCount, defaultExpanded, expandAll, visibleGraph } from "./collapse";
import { FIXTURES } from "./fixtures";
import { DENSE_OPTIONS, isDense, layoutGraph, nodeSize, toElkGraph, type PositionedGraph } from "./layout";

const timings: string[] = [];
afterAll(() => {
  console.log(`ELK layout times (main thread, jsdom):\n${timings.join("\n")}`);
});

function absolutePositions(p: PositionedGraph) {
  const abs = new Map<string, { x: number; y: number; w: number; h: number }>();
  for (const n of p.nodes) {
    const parent = n.parentId ? abs.get(n.parentId) : { x: 0, y: 0, w: 0, h: 0 };
    expect(parent, `${n.id}: parent ${n.parentId} placed first`).toBeDefined();
    abs.set(n.id, { x: parent!.x + n.position.x, y: parent!.y + n.position.y, w: n.width ?? 0, h: n.height ?? 0 });
  }
  return abs;
}

function checkLayout(name: string, p: PositionedGraph) {
  expect(Number.isFinite(p.width) && p.width > 0, name).toBe(true);
  expect(Number.isFinite(p.height) && p.height > 0, name).toBe(true);
  for (const n of p.nodes) {
    expect(Number.isFinite(n.position.x) && Number.isFinite(n.position.y), `${name} ${n.id}`).toBe(true);
    expect((n.width ?? 0) > 0 && (n.height ?? 0) > 0, `${name} ${n.id} size`).toBe(true);
  }
  // No two top-level nodes at the same position, and no two top-level boxes overlap.
  const top = p.nodes.filter((n) => !n.parentId);
  const positions = new Set(top.map((n) => `${Math.round(n.position.x)},${Math.round(n.position.y)}`));
  expect(positions.size, name).toBe(top.length);
  for (let i = 0; i < top.length; i++)
    for (let j = i + 1; j < top.length; j++) {
      const a = top[i];
      const b = top[j];
      const overlap =
        a.position.x < b.position.x + b.width! - 1 &&
        b.position.x < a.position.x + a.width! - 1 &&
        a.position.y < b.position.y + b.height! - 1 &&
        b.position.y < a.position.y + a.height! - 1;
      expect(overlap, `${name}: ${a.id} overlaps ${b.id}`).toBe(false);
    }
  // Children lie inside their group.
  for (const n of p.nodes.filter((x) => x.parentId)) {
    const g = p.nodes.find((x) => x.id === n.parentId)!;
    expect(n.position.x >= 0 && n.position.y >= 0, `${name} ${n.id} in ${g.id}`).toBe(true);
    expect(n.position.x + n.width! <= g.width! + 0.5 && n.position.y + n.height! <= g.height! + 0.5, `${name} ${n.id} in ${g.id}`).toBe(true);
  }
  // Edge routes are absolute: they start at the source's bottom and end at the target's top.
  const abs = absolutePositions(p);
  for (const e of p.edges) {
    const pts = e.data!.points;
    expect(pts, `${name} ${e.id} route`).not.toBeNull();
    expect(pts!.length).toBeGreaterThanOrEqual(2);
    const s = abs.get(e.source)!;
    const t = abs.get(e.target)!;
    const first = pts![0];
    const last = pts![pts!.length - 1];
    expect(first.x >= s.x - 1 && first.x <= s.x + s.w + 1, `${name} ${e.id} start x`).toBe(true);
    expect(Math.abs(first.y - (s.y + s.h)) < 2 || Math.abs(first.y - s.y) < 2, `${name} ${e.id} start y`).toBe(true);
    expect(last.x >= t.x - 1 && last.x <= t.x + t.w + 1, `${name} ${e.id} end x`).toBe(true);
    expect(Math.abs(last.y - t.y) < 2 || Math.abs(last.y - (t.y + t.h)) < 2, `${name} ${e.id} end y`).toBe(true);
  }
}

describe("layoutGraph", () => {
  for (const [name, graph] of Object.entries(FIXTURES)) {
    it(`lays out ${name} collapsed, default and fully expanded`, async () => {
      for (const [mode, expanded] of [
        ["collapsed", new Set<string>()],
        ["default", defaultExpanded(graph)],
        ["expanded", expandAll(graph)],
      ] as const) {
        const view = visibleGraph(graph, expanded);
        const t0 = performance.now();
        const p = await layoutGraph(view, { where: "main" });
        const ms = performance.now() - t0;
        expect(p.ranOn).toBe("main");
        expect(p.nodes.map((n) => n.id)).toEqual(view.nodes.map((n) => n.id));
        expect(p.edges.length).toBe(view.edges.length);
        checkLayout(`${name}/${mode}`, p);
        timings.push(
          `  ${name.padEnd(12)} ${mode.padEnd(9)} ${String(boxCount(view)).padStart(4)} boxes ${String(view.nodes.length - boxCount(view)).padStart(3)} groups ${String(view.edges.length).padStart(4)} edges  ${ms.toFixed(0).padStart(6)} ms  (${Math.round(p.width)}×${Math.round(p.height)} px)`,
        );
      }
    }, 120_000);
  }

  it("puts each edge in its endpoints' lowest common group", () => {
    const g = FIXTURES.googlenet;
    const view = visibleGraph(g, new Set(["inception3a", "inception3a.branch2"]));
    const elk = toElkGraph(view);
    const group = elk.children!.find((c) => c.id === "inception3a")!;
    const branch2 = group.children!.find((c) => c.id === "inception3a.branch2")!;
    expect(branch2.edges!.map((e) => e.id)).toEqual(["inception3a.branch2.0->inception3a.branch2.1"]);
    expect(elk.edges!.map((e) => e.id)).toContain("maxpool2->inception3a.branch2.0");
    expect(elk.edges!.map((e) => e.id)).toContain("inception3a.branch1->inception3b");
  });

  it("draws one shape label per source and shape, on separate lines where they would overlap", async () => {
    const g = FIXTURES.resnet50;
    const view = visibleGraph(g, expandAll(g));
    const p = await layoutGraph(view, { where: "main" });
    const labels = p.edges.filter((e) => e.data!.showLabel);
    const keys = labels.map((e) => `${e.source} ${e.data!.v.label}`);
    expect(new Set(keys).size).toBe(keys.length);
    const distinct = new Set(p.edges.filter((e) => e.data!.v.label).map((e) => `${e.source} ${e.data!.v.label}`));
    expect(keys.length).toBe(distinct.size);
    // resnet's shared relu sends three different shapes out of layer2.0.relu.
    const relu = labels.filter((e) => e.source === "layer2.0.relu").map((e) => e.data!.v.label).sort();
    expect(relu).toEqual(["128×28×28", "128×56×56", "512×28×28"]);
    for (const a of labels)
      for (const b of labels) {
        if (a === b || a.source !== b.source || a.data!.labelRow !== b.data!.labelRow) continue;
        const ax = a.data!.points![0].x;
        const bx = b.data!.points![0].x;
        expect(Math.abs(ax - bx) >= Math.min(a.data!.v.label!.length, b.data!.v.label!.length) * 6, `${a.id} / ${b.id}`).toBe(true);
      }
  }, 60_000);

  it("lays out an empty graph", async () => {
    const p = await layoutGraph({ nodes: [], edges: [] }, { where: "main" });
    expect(p.nodes).toEqual([]);
    expect(p.edges).toEqual([]);
  });

  it("lays out views with many more edges than boxes in one fast pass (DenseNet's open dense blocks)", async () => {
    const g = FIXTURES.densenet121;
    const light = visibleGraph(g, new Set(["features", "features.denseblock3"])); // 340 edges
    const dense = visibleGraph(g, new Set(["features", "features.denseblock3", "features.denseblock4"])); // 490 edges, 40 boxes
    expect(isDense(light)).toBe(false);
    expect(isDense(dense)).toBe(true);
    expect(isDense(visibleGraph(g, expandAll(g)))).toBe(false); // 902 edges but 368 boxes
    const elk = toElkGraph(dense);
    expect(elk.layoutOptions).toMatchObject(DENSE_OPTIONS);
    const group = elk.children!.find((c) => c.id === "features")!;
    expect(group.layoutOptions).toMatchObject(DENSE_OPTIONS);
    const p = await layoutGraph(dense, { where: "main" });
    checkLayout("densenet121 dense", p);
    expect(p.nodes.length).toBe(dense.nodes.length);
  }, 60_000);

  it("sizes boxes from their text within bounds", () => {
    const view = visibleGraph(FIXTURES.densenet121, expandAll(FIXTURES.densenet121));
    for (const n of view.nodes.filter((x) => x.kind !== "group")) {
      const s = nodeSize(n);
      expect(s.width).toBeGreaterThanOrEqual(112);
      expect(s.width).toBeLessThanOrEqual(250);
    }
  });
});
