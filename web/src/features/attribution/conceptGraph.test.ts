import { describe, expect, it } from "vitest";
import {
  GRAPH,
  channelOf,
  conceptGraphLayout,
  edgeSign,
  edgeWords,
  graphWords,
  nodeWidth,
  strokeWidth,
  type ConceptGraphEdge,
} from "./ConceptGraph";

const EDGES: ConceptGraphEdge[] = [
  { source: "features.6:3", to: "features.3:12", relevance: 0.8, share: 0.4 },
  { source: "features.6:3", to: "features.3:7", relevance: 0.2, share: 0.1 },
  { source: "features.6:3", to: "features.3:40", relevance: -0.4, share: -0.2 },
];

describe("the concept graph's edges", () => {
  it("are 1..8 px wide in proportion to |share|, the largest widest", () => {
    expect(strokeWidth(0.4, 0.4)).toBe(8);
    expect(strokeWidth(-0.4, 0.4)).toBe(8);
    expect(strokeWidth(0, 0.4)).toBe(1);
    expect(strokeWidth(0.2, 0.4)).toBeCloseTo(4.5);
    expect(strokeWidth(0.1, 0)).toBe(1); // no share at all: the thinnest
    expect(strokeWidth(Number.NaN, 0.4)).toBe(1);
  });

  it("take their colour from the relevance's sign (the share's when it is unknown)", () => {
    expect(edgeSign({ relevance: 0.3, share: 0.1 })).toBe("positive");
    expect(edgeSign({ relevance: -0.3, share: -0.1 })).toBe("negative");
    expect(edgeSign({ relevance: null, share: -0.1 })).toBe("negative");
    expect(edgeSign({ relevance: 0, share: 0 })).toBe("zero");
  });

  it("say each lower channel's relevance and share", () => {
    expect(edgeWords(EDGES[2])).toBe("features.3:40: relevance -0.4 (share -20%)");
    expect(edgeWords({ to: "b:1", relevance: null, share: 0.5 })).toBe("b:1: relevance n/a (share 50%)");
    expect(channelOf("features.3:40")).toBe(40);
    expect(channelOf("nothing")).toBeNaN();
  });
});

describe("the concept graph's layout", () => {
  it("puts the concept on top and its lower channels in a row below, in order, without overlap", () => {
    const g = conceptGraphLayout("features.6:3", EDGES);
    expect(g.width).toBe(GRAPH.minWidth);
    expect(g.height).toBe(GRAPH.height);
    expect(g.upper).toMatchObject({ label: "features.6:3", x: g.width / 2 });
    expect(g.lower.map((n) => [n.label, n.channel])).toEqual([
      ["features.3:12", 12],
      ["features.3:7", 7],
      ["features.3:40", 40],
    ]);
    expect(g.lower.map((n) => n.stroke)).toEqual([8, strokeWidth(0.1, 0.4), strokeWidth(-0.2, 0.4)]);
    expect(g.lower.map((n) => n.sign)).toEqual(["positive", "positive", "negative"]);
    for (const n of g.lower) {
      expect(n.y).toBeGreaterThan(g.upper.y + g.upper.h);
      expect(n.y + n.h).toBeLessThanOrEqual(g.height);
      expect(n.w).toBeGreaterThanOrEqual(nodeWidth(n.label));
      expect(n.path.startsWith(`M ${g.upper.x} ${g.upper.y + g.upper.h} `)).toBe(true);
      expect(n.path.endsWith(`${n.x} ${n.y}`)).toBe(true);
    }
    for (let i = 1; i < g.lower.length; i++) {
      const [a, b] = [g.lower[i - 1], g.lower[i]];
      expect(a.x + a.w / 2).toBeLessThanOrEqual(b.x - b.w / 2);
    }
    expect(g.lower[0].x - g.lower[0].w / 2).toBeGreaterThanOrEqual(0);
  });

  it("widens past its usual width when the labels need the room", () => {
    const many = Array.from({ length: 5 }, (_, i) => ({
      source: "features.6:3",
      to: `features.3:${100 + i}`,
      relevance: 1,
      share: 0.2,
    }));
    const g = conceptGraphLayout("features.6:3", many);
    expect(g.width).toBeGreaterThan(GRAPH.minWidth);
    const last = g.lower[g.lower.length - 1];
    expect(last.x + last.w / 2).toBeLessThanOrEqual(g.width);
    for (let i = 1; i < g.lower.length; i++) {
      expect(g.lower[i - 1].x + g.lower[i - 1].w / 2).toBeLessThanOrEqual(g.lower[i].x - g.lower[i].w / 2);
    }
  });

  it("is named in words", () => {
    expect(graphWords("features.6:3", "features.3", EDGES)).toBe(
      "Concept graph: features.6:3 above the 3 channels of features.3 that feed it most, each edge as wide as its " +
        "share of what features.6:3 passes down (red: positive relevance, blue: negative): features.3:12 40%, " +
        "features.3:7 10%, features.3:40 -20%",
    );
  });
});
