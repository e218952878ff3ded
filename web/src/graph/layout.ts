// ELK layered layout (top to bottom, expanded groups laid out with their contents) of a visible
// graph, run in a Web Worker (elk.worker.ts) when the browser has one, else on the main thread
// (jsdom tests, or when the worker cannot start). The result is React Flow nodes (children
// positioned relative to their group, groups before their children) and edges with ELK's routes.
import type { Edge, Node } from "@xyflow/react";
import type { ElkExtendedEdge, ElkNode, LayoutOptions } from "elkjs/lib/elk-api";
import { chainPlace } from "./chains";
import type { VisibleEdge, VisibleGraph, VisibleNode } from "./collapse";
import { formatShape, formatTuple } from "./format";

export interface Point {
  x: number;
  y: number;
}

export type GraphNodeData = {
  v: VisibleNode;
  /** Secondary line under the name: type and, for convs/pools, kernel/stride. */
  detail: string;
  /** Output shape line. */
  shapeText: string;
};
export type GraphEdgeData = {
  v: VisibleEdge;
  /** ELK's route in absolute (flow) coordinates, or null (then React Flow draws a bezier). */
  points: Point[] | null;
  /** Whether this edge draws the shape label: one per source node and shape, to avoid stacks of equal labels. */
  showLabel: boolean;
  /** Line (0, 1, ...) of the label below the source, so that different labels of one source do not overlap. */
  labelRow: number;
  /** The route leaves the source upwards (an edge against the flow, e.g. into a module called again): label above. */
  labelAbove: boolean;
};
export type LayerFlowNode = Node<GraphNodeData, "cgLayer">;
export type GroupFlowNode = Node<GraphNodeData, "cgGroup">;
export type GraphFlowNode = LayerFlowNode | GroupFlowNode;
export type GraphFlowEdge = Edge<GraphEdgeData, "cgEdge">;

export interface PositionedGraph {
  nodes: GraphFlowNode[];
  edges: GraphFlowEdge[];
  width: number;
  height: number;
  /** Wall time of the ELK run, in milliseconds. */
  ms: number;
  /** "worker" or "main" (where ELK ran). */
  ranOn: "worker" | "main";
}

export const NODE_HEIGHT = 58;
export const GROUP_HEADER = 30;
const MIN_WIDTH = 112;
const MAX_WIDTH = 250;
/** A folded chain's box: room for its headline ("15 layers: conv → bn → relu6 → conv …"). */
const CHAIN_WIDTH = 320;

const ROOT_ID = "__cg_root__";

/** Options of the whole layout; INCLUDE_CHILDREN lays out the expanded groups in the same pass. */
export const LAYOUT_OPTIONS: LayoutOptions = {
  "elk.algorithm": "layered",
  "elk.direction": "DOWN",
  "elk.hierarchyHandling": "INCLUDE_CHILDREN",
  "elk.edgeRouting": "ORTHOGONAL",
  "elk.layered.spacing.nodeNodeBetweenLayers": "40",
  "elk.layered.spacing.edgeNodeBetweenLayers": "14",
  "elk.spacing.nodeNode": "22",
  "elk.spacing.edgeNode": "12",
  "elk.spacing.edgeEdge": "8",
  "elk.spacing.componentComponent": "40",
  "elk.layered.nodePlacement.strategy": "LINEAR_SEGMENTS",
  "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
  // Edges from one source share their route (DenseNet's fan-outs): clearer, and fewer dummy nodes to place.
  "elk.layered.mergeEdges": "true",
  "elk.layered.thoroughness": "4",
  "elk.json.edgeCoords": "ROOT",
  "elk.padding": "[top=12,left=12,bottom=12,right=12]",
};

/**
 * Groups repeat the options (ELK does not inherit them into nested graphs) with room for the header;
 * not considerModelOrder, which makes elkjs 0.12.1 crash ("reading 'a'") when set on a nested graph.
 */
const GROUP_OPTIONS: LayoutOptions = {
  ...Object.fromEntries(Object.entries(LAYOUT_OPTIONS).filter(([k]) => k !== "elk.layered.considerModelOrder.strategy")),
  "elk.padding": `[top=${GROUP_HEADER + 10},left=12,bottom=12,right=12]`,
};

/** "Conv2d 3×3 /2" for convs and pools, "Sequential · 8 layers" for containers, else the type. */
export function detailOf(v: VisibleNode): string {
  const d = v.data;
  if (v.kind === "chain") return chainPlace(v);
  if (v.kind === "collapsed" || v.kind === "group") {
    return `${v.type} · ${v.leafCount} layer${v.leafCount === 1 ? "" : "s"}`;
  }
  const k = formatTuple(d.kernel_size ?? null);
  const s = formatTuple(d.stride ?? null, true);
  let text = v.type;
  if (k) text += ` ${k}`;
  if (s && s !== "1") text += ` /${s}`;
  if (typeof d.groups === "number" && d.groups > 1) text += ` g${d.groups}`;
  return text;
}

function textWidth(text: string, px: number): number {
  return text.length * px;
}

/** Fixed box size of a (non-group) node, estimated from its text (12-px name, 11.5-px detail and shape). */
export function nodeSize(v: VisibleNode): { width: number; height: number } {
  const w = Math.max(
    textWidth(v.label, 7.3),
    textWidth(detailOf(v), 6.7),
    textWidth(formatShape(v.outputShape), 6.7),
  );
  const max = v.kind === "chain" ? CHAIN_WIDTH : MAX_WIDTH;
  return { width: Math.round(Math.min(max, Math.max(MIN_WIDTH, w + 26))), height: NODE_HEIGHT };
}

/** Minimal width of a group (its header). */
function groupMinWidth(v: VisibleNode): number {
  return Math.min(420, Math.max(MIN_WIDTH, textWidth(v.label, 7.3) + textWidth(v.type, 6.4) + 60));
}

/**
 * Options for a view with many more edges than boxes (DenseNet's open dense blocks: 48 dense layers, 1,128 edges,
 * most of them long, each a chain of dummy nodes for ELK): one crossing-minimisation pass instead of four and
 * Brandes-Köpf placement (not "no crossing minimisation": that puts children outside their groups).
 */
export const DENSE_OPTIONS: LayoutOptions = {
  "elk.layered.thoroughness": "1",
  "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
};

/** Whether a view gets DENSE_OPTIONS: more than 400 edges and more than 3 per box. */
export function isDense(view: VisibleGraph): boolean {
  const boxes = view.nodes.filter((n) => n.kind !== "group").length;
  return view.edges.length > 400 && view.edges.length > 3 * boxes;
}

/** The ELK input for a view: groups nest their children, each edge sits in its endpoints' lowest common group. */
export function toElkGraph(view: VisibleGraph): ElkNode {
  const dense = isDense(view) ? DENSE_OPTIONS : {};
  const root: ElkNode = { id: ROOT_ID, layoutOptions: { ...LAYOUT_OPTIONS, ...dense }, children: [], edges: [] };
  const elkNodes = new Map<string, ElkNode>();
  const parentOf = new Map<string, string | null>();
  for (const v of view.nodes) {
    parentOf.set(v.id, v.parent);
    const e: ElkNode =
      v.kind === "group"
        ? {
            id: v.id,
            layoutOptions: {
              ...GROUP_OPTIONS,
              ...dense,
              "elk.nodeSize.constraints": "MINIMUM_SIZE",
              "elk.nodeSize.minimum": `(${groupMinWidth(v)}, ${GROUP_HEADER + 20})`,
            },
            children: [],
            edges: [],
          }
        : { id: v.id, ...nodeSize(v) };
    elkNodes.set(v.id, e);
    const container = v.parent !== null ? elkNodes.get(v.parent) : root;
    (container ?? root).children!.push(e);
  }
  const chain = (id: string): string[] => {
    const out: string[] = [];
    let p = parentOf.get(id) ?? null;
    while (p !== null) {
      out.push(p);
      p = parentOf.get(p) ?? null;
    }
    return out;
  };
  for (const edge of view.edges) {
    if (!elkNodes.has(edge.source) || !elkNodes.has(edge.target)) continue;
    const targetChain = new Set(chain(edge.target));
    const lca = chain(edge.source).find((g) => targetChain.has(g));
    const container = lca !== undefined ? elkNodes.get(lca)! : root;
    const e: ElkExtendedEdge = { id: edge.id, sources: [edge.source], targets: [edge.target] };
    container.edges!.push(e);
  }
  return root;
}

// ---------------------------------------------------------------- running ELK

class WorkerFailure extends Error {}

let worker: Worker | null = null;
let workerBroken = false;
let nextRequest = 1;
const pending = new Map<number, { resolve: (g: ElkNode) => void; reject: (e: Error) => void }>();

function failAll(err: Error) {
  for (const p of pending.values()) p.reject(err);
  pending.clear();
}

function getWorker(): Worker | null {
  if (workerBroken || typeof Worker === "undefined") return null;
  if (worker) return worker;
  try {
    const w = new Worker(new URL("./elk.worker.ts", import.meta.url), { type: "module", name: "convscope-elk" });
    w.onmessage = (event: MessageEvent<{ id: number; graph?: ElkNode; error?: string }>) => {
      const { id, graph, error } = event.data;
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      if (graph) p.resolve(graph);
      else p.reject(new Error(`ELK layout failed: ${error ?? "unknown error"}`));
    };
    w.onerror = (event) => {
      // The worker script failed (load error or a crash): run ELK on the main thread from now on.
      event.preventDefault?.();
      workerBroken = true;
      w.terminate();
      if (worker === w) worker = null;
      failAll(new WorkerFailure(event.message || "ELK worker failed"));
    };
    worker = w;
    return w;
  } catch {
    workerBroken = true;
    return null;
  }
}

function layoutInWorker(w: Worker, graph: ElkNode): Promise<ElkNode> {
  return new Promise<ElkNode>((resolve, reject) => {
    const id = nextRequest++;
    pending.set(id, { resolve, reject });
    try {
      w.postMessage({ id, graph });
    } catch (err) {
      pending.delete(id);
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

type ElkInstance = { layout: (graph: ElkNode) => Promise<ElkNode> };
let mainElk: Promise<ElkInstance> | null = null;

async function layoutOnMainThread(graph: ElkNode): Promise<ElkNode> {
  if (!mainElk) {
    mainElk = import("elkjs/lib/elk.bundled.js").then(({ default: ELK }) => new ELK() as unknown as ElkInstance);
  }
  const elk = await mainElk;
  return elk.layout(graph);
}

/** Runs ELK on a graph: in the worker when possible, else (or when the worker fails) on the main thread. */
export async function runElk(graph: ElkNode, where: "auto" | "main" = "auto"): Promise<{ graph: ElkNode; ranOn: "worker" | "main" }> {
  const w = where === "auto" ? getWorker() : null;
  if (w) {
    try {
      return { graph: await layoutInWorker(w, graph), ranOn: "worker" };
    } catch (err) {
      if (!(err instanceof WorkerFailure)) throw err;
    }
  }
  return { graph: await layoutOnMainThread(graph), ranOn: "main" };
}

/** Stops the layout worker (it is restarted on the next layout). */
export function disposeLayoutWorker(): void {
  if (worker) worker.terminate();
  worker = null;
  failAll(new Error("ELK worker disposed"));
}

// ---------------------------------------------------------------- result -> React Flow

function num(v: number | undefined): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/** React Flow nodes and edges from a view and ELK's answer for `toElkGraph(view)`. */
export function fromElkGraph(view: VisibleGraph, laid: ElkNode): Omit<PositionedGraph, "ms" | "ranOn"> {
  const boxes = new Map<string, ElkNode>();
  const walk = (n: ElkNode) => {
    for (const c of n.children ?? []) {
      boxes.set(c.id, c);
      walk(c);
    }
  };
  walk(laid);
  // Absolute top of each box (ELK gives positions relative to the parent; routes are absolute).
  const absTop = new Map<string, number>();
  const walkAbs = (n: ElkNode, y0: number) => {
    for (const c of n.children ?? []) {
      absTop.set(c.id, y0 + num(c.y));
      walkAbs(c, y0 + num(c.y));
    }
  };
  walkAbs(laid, 0);
  const routes = new Map<string, Point[]>();
  const walkEdges = (n: ElkNode) => {
    for (const e of n.edges ?? []) {
      const s = e.sections?.[0];
      if (!s) continue;
      const pts = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint];
      // Edges of several sections (rare with one source and target) are concatenated in order.
      for (const extra of e.sections!.slice(1)) pts.push(...(extra.bendPoints ?? []), extra.endPoint);
      if (pts.every((p) => Number.isFinite(p.x) && Number.isFinite(p.y))) routes.set(e.id, pts.map((p) => ({ x: p.x, y: p.y })));
    }
    for (const c of n.children ?? []) walkEdges(c);
  };
  walkEdges(laid);

  const nodes: GraphFlowNode[] = view.nodes.map((v) => {
    const b = boxes.get(v.id);
    const size = v.kind === "group" ? { width: num(b?.width), height: num(b?.height) } : nodeSize(v);
    const data: GraphNodeData = { v, detail: detailOf(v), shapeText: formatShape(v.outputShape) };
    const node = {
      id: v.id,
      position: { x: num(b?.x), y: num(b?.y) },
      data,
      width: size.width,
      height: size.height,
      ...(v.parent !== null ? { parentId: v.parent } : {}),
      draggable: false,
      connectable: false,
      selectable: false,
      zIndex: v.kind === "group" ? v.depth : 1000,
    };
    return v.kind === "group" ? ({ ...node, type: "cgGroup" } as GroupFlowNode) : ({ ...node, type: "cgLayer" } as LayerFlowNode);
  });

  // One label per source and shape; labels of one source that would overlap go to the next line.
  const labeled = new Set<string>();
  const rows = new Map<string, number>();
  const bySource = new Map<string, { id: string; x: number; w: number }[]>();
  for (const v of view.edges) {
    const key = `${v.source}\u0000${v.label ?? ""}`;
    if (v.label === null || labeled.has(key)) continue;
    labeled.add(key);
    const x = routes.get(v.id)?.[0]?.x ?? 0;
    const list = bySource.get(v.source) ?? [];
    list.push({ id: v.id, x, w: v.label.length * 6.8 + 8 });
    bySource.set(v.source, list);
  }
  for (const list of bySource.values()) {
    const ends: number[] = []; // right end of the last label on each row
    for (const l of list.sort((a, b) => a.x - b.x)) {
      let row = ends.findIndex((end) => end <= l.x);
      if (row < 0) row = ends.push(0) - 1;
      ends[row] = l.x + l.w;
      rows.set(l.id, row);
    }
  }
  const edges: GraphFlowEdge[] = view.edges.map((v) => {
    const showLabel = rows.has(v.id);
    const start = routes.get(v.id)?.[0];
    const top = absTop.get(v.source);
    const labelAbove = start !== undefined && top !== undefined && Math.abs(start.y - top) < 1;
    return {
      id: v.id,
      source: v.source,
      target: v.target,
      type: "cgEdge",
      data: { v, points: routes.get(v.id) ?? null, showLabel, labelRow: rows.get(v.id) ?? 0, labelAbove },
      selectable: false,
      focusable: false,
      zIndex: 500,
    };
  });
  return { nodes, edges, width: num(laid.width), height: num(laid.height) };
}

/** Lays out a view with ELK (in the worker when available) and returns it ready for React Flow. */
export async function layoutGraph(view: VisibleGraph, options: { where?: "auto" | "main" } = {}): Promise<PositionedGraph> {
  const t0 = performance.now();
  const { graph, ranOn } = await runElk(toElkGraph(view), options.where ?? "auto");
  const ms = performance.now() - t0;
  return { ...fromElkGraph(view, graph), ms, ranOn };
}
