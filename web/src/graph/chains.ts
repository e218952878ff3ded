// Folding of long linear chains (plain data, no React): a run of boxes each with one input and one output
// (conv -> bn -> relu -> conv ...) becomes one box "15 layers: conv → bn → relu6 → …" that opens on a click.
// Chains never cross the frame of an expanded container, except a container whose whole content is one chain
// (timm's BatchNormAct2d, an InvertedResidual block without a skip): that container counts as one link of the
// chain around it and disappears into it. The chains of a view are found on the view without any chain opened,
// so a chain's id (and whether it is open) does not change when another chain opens.
import {
  boxCount,
  categoryOf,
  expandPathTo,
  visibleGraph,
  visibleIdOf,
  type ChainInfo,
  type TypeCategory,
  type VisibleEdge,
  type VisibleGraph,
  type VisibleNode,
} from "./collapse";
import { formatShape } from "./format";
import type { LayerGraphData } from "./types";

/** A chain folds when it stands for at least this many boxes ("long": DenseNet's 6-layer dense layers stay open). */
export const MIN_CHAIN = 7;
/** With folding on "auto", views of more boxes than this fold their chains (the default views have at most 60). */
export const FOLD_ABOVE = 60;
/** Prefix of a chain's node id. */
export const CHAIN_PREFIX = "chain:";

export interface Chain {
  id: string;
  /** The view node standing first in the chain (a box, or a container it swallows). */
  head: string;
  /** Every view node it stands for: its boxes and the expanded containers it swallows. */
  members: string[];
  /** The node shown instead of the members when the chain is folded. */
  node: VisibleNode;
}

export interface ChainIndex {
  chains: Map<string, Chain>;
  /** Chain id of each member node id. */
  chainOf: Map<string, string>;
}

/** "Conv2d" -> "conv", "BatchNorm2d" -> "bn", "ReLU6" -> "relu6", "Identity" -> null (left out of the label). */
export function opName(type: string | null | undefined): string | null {
  const t = (type ?? "").toLowerCase();
  if (!t || t === "identity") return null;
  switch (categoryOf(type)) {
    case "conv":
      return /transpose/.test(t) ? "convT" : "conv";
    case "norm":
      return /batchnorm/.test(t) ? "bn" : /layernorm/.test(t) ? "ln" : /groupnorm/.test(t) ? "gn" : "norm";
    case "pooling":
      return /max/.test(t) ? "maxpool" : /avg|mean|adaptive/.test(t) ? "avgpool" : "pool";
    case "linear":
      return "linear";
    default:
      return t;
  }
}

/** The headline of a chain's box: "15 layers: conv → bn → relu6 → conv …". */
export function chainHeadline(layers: number, ops: readonly string[], shown = 4): string {
  const list = ops.slice(0, shown).join(" → ");
  return `${layers} layer${layers === 1 ? "" : "s"}${list ? `: ${list}` : ""}${ops.length > shown ? " …" : ""}`;
}

function relativeName(name: string, parent: string | null): string {
  return parent !== null && name.startsWith(parent + ".") ? name.slice(parent.length + 1) : name;
}

function isIoType(type: string): boolean {
  return type === "Input" || type === "Output" || type === "Tensor";
}

const chainCache = new WeakMap<VisibleGraph, Map<number, ChainIndex>>();

/**
 * The chains of a view (found as if none were open), each of at least `minBoxes` boxes. Within each
 * expanded container (deepest first) and at the top level, consecutive boxes u -> v where u's only
 * successor is v and v's only predecessor is u form a run; a container whose content is one run is
 * itself a link of the level above. Input and output nodes and containers with branches break runs.
 */
export function findChains(view: VisibleGraph, minBoxes = MIN_CHAIN): ChainIndex {
  let perView = chainCache.get(view);
  if (!perView) chainCache.set(view, (perView = new Map()));
  const hit = perView.get(minBoxes);
  if (hit) return hit;

  const byId = new Map(view.nodes.map((n) => [n.id, n]));
  const kids = new Map<string | null, VisibleNode[]>();
  const path = new Map<string, string[]>(); // ancestors from the top level down, the node itself last
  for (const n of view.nodes) {
    const list = kids.get(n.parent) ?? [];
    list.push(n);
    kids.set(n.parent, list);
    path.set(n.id, n.parent === null ? [n.id] : [...(path.get(n.parent) ?? []), n.id]);
  }
  /** The node among `level`'s direct children that contains (or is) `id`; undefined when `id` is outside. */
  const elementAt = (id: string, level: string | null): string | undefined => {
    const p = path.get(id);
    if (!p) return undefined;
    if (level === null) return p[0];
    const d = path.get(level)!.length;
    return p[d - 1] === level ? p[d] : undefined;
  };

  const linear = new Map<string, string[]>(); // container -> the run that is its whole content
  const boxesOf = (id: string): string[] => (linear.has(id) ? linear.get(id)!.flatMap(boxesOf) : [id]);
  const groupsOf = (id: string): string[] => (linear.has(id) ? [id, ...linear.get(id)!.flatMap(groupsOf)] : []);
  const eligible = (n: VisibleNode) =>
    n.kind === "group" ? linear.has(n.id) : n.kind !== "io" && n.kind !== "chain" && !isIoType(n.type);

  const chains = new Map<string, Chain>();
  const chainOf = new Map<string, string>();
  const groups = view.nodes.filter((n) => n.kind === "group").map((n) => n.id);
  // Children come after their parents in a view: reversed, every container is done before the one around it.
  const levels: (string | null)[] = [...groups.reverse(), null];
  for (const level of levels) {
    const els = kids.get(level) ?? [];
    if (!els.length) continue;
    const outs = new Map<string, Set<string>>();
    const ins = new Map<string, Set<string>>();
    const add = (m: Map<string, Set<string>>, k: string, v: string) => {
      let s = m.get(k);
      if (!s) m.set(k, (s = new Set()));
      s.add(v);
    };
    for (const e of view.edges) {
      const a = elementAt(e.source, level);
      const b = elementAt(e.target, level);
      if ((a === undefined && b === undefined) || a === b) continue;
      if (a !== undefined) add(outs, a, b ?? `\u0000${e.target}`);
      if (b !== undefined) add(ins, b, a ?? `\u0000${e.source}`);
    }
    const next = new Map<string, string>();
    for (const n of els) {
      if (!eligible(n)) continue;
      const o = outs.get(n.id);
      if (!o || o.size !== 1) continue;
      const b = byId.get([...o][0]);
      if (!b || b.parent !== level || !eligible(b) || ins.get(b.id)?.size !== 1) continue;
      next.set(n.id, b.id);
    }
    const hasPrev = new Set(next.values());
    for (const n of els) {
      if (!eligible(n) || hasPrev.has(n.id)) continue;
      const run = [n.id];
      const seen = new Set(run);
      for (let c = next.get(n.id); c !== undefined && !seen.has(c); c = next.get(c)) {
        run.push(c);
        seen.add(c);
      }
      if (level !== null && run.length === els.length) {
        linear.set(level, run); // a link of the level above (folded there, with its neighbours)
        continue;
      }
      if (run.length === 1 && !linear.has(run[0])) continue;
      const boxes = run.flatMap(boxesOf);
      if (boxes.length < minBoxes) continue;
      const chain = makeChain(run, boxes, run.flatMap(groupsOf), level, byId, linear);
      chains.set(chain.id, chain);
      for (const m of chain.members) chainOf.set(m, chain.id);
    }
  }
  const index = { chains, chainOf };
  perView.set(minBoxes, index);
  return index;
}

function makeChain(
  run: string[],
  boxes: string[],
  swallowed: string[],
  level: string | null,
  byId: Map<string, VisibleNode>,
  linear: Map<string, string[]>,
): Chain {
  const head = byId.get(run[0])!;
  const boxNodes = boxes.map((b) => byId.get(b)!);
  const first = boxNodes[0];
  const last = boxNodes[boxNodes.length - 1];
  const group = run.length === 1 && linear.has(run[0]) ? run[0] : null;
  const id = group !== null ? CHAIN_PREFIX + group : `${CHAIN_PREFIX}${run[0]}~${run[run.length - 1]}`;
  const ops: string[] = [];
  const categories: TypeCategory[] = [];
  for (const b of boxNodes) {
    const op = opName(b.type);
    if (op !== null) ops.push(op);
    categories.push(categoryOf(b.type));
  }
  const layers = boxNodes.reduce((s, b) => s + b.leafCount, 0);
  const info: ChainInfo = {
    boxes,
    groups: swallowed,
    layers: boxNodes.map((b) => b.layer),
    ops,
    categories,
    group,
  };
  const groupNode = group !== null ? byId.get(group)! : null;
  const node: VisibleNode = {
    id,
    layer: groupNode ? groupNode.layer : first.layer,
    kind: "chain",
    type: groupNode ? groupNode.type : "Chain",
    label: chainHeadline(layers, ops),
    parent: level,
    depth: head.depth,
    childCount: 0,
    leafCount: layers,
    outputShape: last.outputShape,
    order: head.order,
    data: groupNode ? groupNode.data : first.data,
    chain: info,
  };
  return { id, head: head.id, members: [...swallowed, ...boxes], node };
}

/** Where a chain's box says it lies: "blocks.1.1 · InvertedResidual", or "conv_stem … bn1.act" for a run. */
export function chainPlace(v: VisibleNode): string {
  const c = v.chain;
  if (!c) return "";
  if (c.group !== null) return `${relativeName(c.group, v.parent)} · ${v.type}`;
  const first = relativeName(c.layers[0], v.parent);
  const last = relativeName(c.layers[c.layers.length - 1], v.parent);
  return `${first} … ${last}`;
}

const foldCache = new WeakMap<VisibleGraph, Map<string, VisibleGraph>>();

/**
 * The view with every chain of `index` that is not in `open` shown as one node (in the place of its first
 * member); edges to and from its members go to that node, deduplicated, without self-loops. Returns `view`
 * itself when nothing folds. Cached per view and set of folded chains.
 */
export function foldChains(view: VisibleGraph, index: ChainIndex, open: ReadonlySet<string>): VisibleGraph {
  const folded = [...index.chains.keys()].filter((id) => !open.has(id));
  if (!folded.length) return view;
  const key = folded.sort().join("\n");
  let perView = foldCache.get(view);
  if (!perView) foldCache.set(view, (perView = new Map()));
  const hit = perView.get(key);
  if (hit) return hit;

  const rep = new Map<string, string>();
  for (const id of folded) for (const m of index.chains.get(id)!.members) rep.set(m, id);
  const nodes: VisibleNode[] = [];
  for (const n of view.nodes) {
    const c = rep.get(n.id);
    if (c === undefined) nodes.push(n);
    else if (index.chains.get(c)!.head === n.id) nodes.push(index.chains.get(c)!.node);
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const merged = new Map<string, VisibleEdge>();
  for (const e of view.edges) {
    const source = rep.get(e.source) ?? e.source;
    const target = rep.get(e.target) ?? e.target;
    if (source === target) continue;
    if (source === e.source && target === e.target) {
      merged.set(`${source}\u0000${target}`, e);
      continue;
    }
    const k = `${source}\u0000${target}`;
    const had = merged.get(k);
    if (!had) {
      merged.set(k, { ...e, id: `${source}->${target}`, source, target });
      continue;
    }
    let shape = had.shape;
    if (had.label !== e.label) shape = byId.get(source)?.outputShape ?? had.shape;
    merged.set(k, { ...had, shape, label: shape ? formatShape(shape) : null, count: had.count + e.count });
  }
  const result = { nodes, edges: [...merged.values()] };
  if (perView.size > 32) perView.clear();
  perView.set(key, result);
  return result;
}

/** Whether chains fold: `fold` when the reader chose, else (null: auto) when the view is large. */
export function foldsChains(view: VisibleGraph, fold: boolean | null): boolean {
  return fold ?? boxCount(view) > FOLD_ABOVE;
}

export interface ShownView {
  /** The view before folding. */
  base: VisibleGraph;
  /** Its chains, or null when chains do not fold. */
  chains: ChainIndex | null;
  /** What is drawn. */
  view: VisibleGraph;
}

/** The drawn view of a graph: the expansion (collapse.ts), then the chains that are not open folded. */
export function shownView(
  graph: LayerGraphData,
  expanded: ReadonlySet<string>,
  open: ReadonlySet<string>,
  fold: boolean | null,
): ShownView {
  const base = visibleGraph(graph, expanded);
  const chains = foldsChains(base, fold) ? findChains(base) : null;
  return { base, chains, view: chains ? foldChains(base, chains, open) : base };
}

/**
 * The expansion and open chains that give `layer` a box of its own: its enclosing containers expanded and the
 * chain holding it opened. Returns the same objects when nothing has to change.
 */
export function openPathTo(
  graph: LayerGraphData,
  expanded: ReadonlySet<string>,
  open: ReadonlySet<string>,
  fold: boolean | null,
  layer: string,
): { expanded: ReadonlySet<string>; open: ReadonlySet<string> } {
  const e = expandPathTo(graph, expanded, layer);
  const { chains } = shownView(graph, e, open, fold);
  const id = visibleIdOf(graph, e, layer);
  const c = chains && id !== undefined ? chains.chainOf.get(id) : undefined;
  return { expanded: e, open: c !== undefined && !open.has(c) ? new Set([...open, c]) : open };
}

/** Id of the drawn node that stands for `layer`: its own box, else the collapsed container or folded chain holding it. */
export function shownIdOf(
  graph: LayerGraphData,
  expanded: ReadonlySet<string>,
  shown: ShownView,
  open: ReadonlySet<string>,
  layer: string,
): string | undefined {
  const id = visibleIdOf(graph, expanded, layer);
  if (id === undefined || !shown.chains) return id;
  const c = shown.chains.chainOf.get(id);
  return c !== undefined && !open.has(c) ? c : id;
}
