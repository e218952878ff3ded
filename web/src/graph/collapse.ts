// Which part of a model's module tree is shown, as plain data (no React): collapsed containers stand
// for all their descendants, expanded ones become groups around their visible children, and the
// data-flow edges (recorded between leaves) are lifted to the visible nodes, deduplicated and
// labeled with the tensor shape that flows along them. Generic over any CNN: no per-architecture code.
import { formatShape } from "./format";
import type { LayerGraphData, LayerNode } from "./types";

/** Suffix of the id of the node that stands for an expanded container's own computation. */
export const SELF_SUFFIX = "#self";

/**
 * leaf: a layer without (shown) children; collapsed: a container shown as one node;
 * group: an expanded container (a frame around its children, no edges attach to it);
 * self: the own computation of an expanded container that computes something itself
 * (e.g. timm's BatchNormAct2d runs batch norm, then its `drop` and `act` children);
 * io: a pseudo node from the edges that is not a module (`input`);
 * chain: a folded run of boxes each with one input and one output (chains.ts), opened by a click.
 */
export type NodeKind = "leaf" | "collapsed" | "group" | "self" | "io" | "chain";

/** What a folded chain (kind "chain") stands for; see chains.ts. */
export interface ChainInfo {
  /** Visible ids of the boxes it folds, in execution order. */
  boxes: string[];
  /** Expanded containers whose whole content is in the chain (they reappear when it opens). */
  groups: string[];
  /** Layer names of the boxes, in execution order. */
  layers: string[];
  /** Short operation names of the boxes ("conv", "bn", "relu6"; no-op Identity layers left out). */
  ops: string[];
  /** Category of each box (conv, norm, ...): the colour strip of the chain's box. */
  categories: TypeCategory[];
  /** The container the chain stands for when it is the whole content of one, else null. */
  group: string | null;
}

export interface VisibleNode {
  /** Unique id: the layer name, or `<name>#self` for a self node. */
  id: string;
  /** The layer it stands for (what `onSelect` receives). */
  layer: string;
  kind: NodeKind;
  type: string;
  /** Name shown on the node: relative to the enclosing group ("conv1" inside "layer1.0"). */
  label: string;
  /** Id of the enclosing group node, null at the top level. */
  parent: string | null;
  /** Nesting depth of the node in the view (0 = top level). */
  depth: number;
  /** Shown direct children (containers), 0 for leaves. */
  childCount: number;
  /** Shown leaf layers inside (containers), 1 for leaves. */
  leafCount: number;
  /** The container's own output_shape, else that of its last executed descendant; the layer's for leaves. */
  outputShape: number[] | null;
  /** Position in execution order (first executed descendant for containers). */
  order: number;
  /** The layer's record (a synthesized one for pseudo nodes). */
  data: LayerNode;
  /** Only for kind "chain": what it folds. */
  chain?: ChainInfo;
}

export interface VisibleEdge {
  id: string;
  source: string;
  target: string;
  /** Shape of the tensor on the edge, or null when unknown. */
  shape: number[] | null;
  /** `formatShape(shape)`, or null. */
  label: string | null;
  /** Number of recorded (leaf-level) edges it stands for. */
  count: number;
}

export interface VisibleGraph {
  nodes: VisibleNode[];
  edges: VisibleEdge[];
}

/** Derived, cached structure of one graph answer. */
export interface GraphIndex {
  /** All layers, plus synthesized records for pseudo nodes such as `input`. */
  layers: Map<string, LayerNode>;
  parent: Map<string, string | null>;
  /** Shown children of each layer, in execution order. */
  children: Map<string, string[]>;
  /** Shown top-level layers (and pseudo nodes), in execution order. */
  roots: string[];
  /** Layers with at least one shown child. */
  containers: Set<string>;
  /** Containers that are edge endpoints themselves (they compute something besides their children). */
  computing: Set<string>;
  /** Pseudo nodes (edge endpoints that are not layers). */
  pseudo: Set<string>;
  /** Layers never executed (calls == 0) and not touched by edges: not shown. */
  hidden: Set<string>;
  firstOrder: Map<string, number>;
  leafCount: Map<string, number>;
  /** Output shape shown for a node (own, else last executed descendant's). */
  outputShape: Map<string, number[] | null>;
  /** Tensor shape on each recorded edge, aligned with `graph.edges` (null: unknown). */
  edgeShapes: (number[] | null)[];
}

const indexCache = new WeakMap<LayerGraphData, GraphIndex>();

/** Builds (once per graph object) the module tree, execution order and visibility of a graph answer. */
export function indexGraph(graph: LayerGraphData): GraphIndex {
  const cached = indexCache.get(graph);
  if (cached) return cached;

  const layers = new Map<string, LayerNode>();
  const listIndex = new Map<string, number>();
  graph.layers.forEach((l, i) => {
    if (!layers.has(l.name)) {
      layers.set(l.name, l);
      listIndex.set(l.name, i);
    }
  });

  // Pseudo nodes: edge endpoints that are no layer (`input`; `logits` is listed as a layer by the server).
  const asSource = new Set<string>();
  const asTarget = new Set<string>();
  for (const e of graph.edges) {
    if (e.length < 2) continue;
    asSource.add(e[0]);
    asTarget.add(e[1]);
  }
  const edgeEnds = new Set<string>([...asSource, ...asTarget]);
  let maxOrder = -1;
  for (const l of layers.values()) if (typeof l.order === "number") maxOrder = Math.max(maxOrder, l.order);
  const pseudo = new Set<string>();
  for (const name of edgeEnds) {
    if (layers.has(name)) continue;
    const isInput = name === "input" || !asTarget.has(name);
    const isOutput = !isInput && !asSource.has(name);
    layers.set(name, {
      name,
      type: isInput ? "Input" : isOutput ? "Output" : "Tensor",
      parent: null,
      children: [],
      output_shape: isInput && graph.input_shape ? [...graph.input_shape] : null,
      params: 0,
      calls: 1,
      order: isInput ? -1 : isOutput && maxOrder >= 0 ? maxOrder + 1 : null,
    });
    listIndex.set(name, isInput ? -1 : graph.layers.length + pseudo.size);
    pseudo.add(name);
  }

  // Parents: the `parent` field, else the layer that lists it among its children.
  const parent = new Map<string, string | null>();
  for (const l of layers.values()) {
    for (const c of l.children ?? []) if (layers.has(c) && c !== l.name) parent.set(c, l.name);
  }
  for (const l of layers.values()) {
    if (l.parent && layers.has(l.parent) && l.parent !== l.name) parent.set(l.name, l.parent);
    else if (!parent.has(l.name)) parent.set(l.name, null);
  }
  // Guard against cycles in malformed input: a layer whose parent chain loops becomes a root.
  for (const name of layers.keys()) {
    const seen = new Set<string>([name]);
    let p = parent.get(name) ?? null;
    while (p !== null) {
      if (seen.has(p)) {
        parent.set(name, null);
        break;
      }
      seen.add(p);
      p = parent.get(p) ?? null;
    }
  }
  const allChildren = new Map<string, string[]>();
  for (const name of layers.keys()) allChildren.set(name, []);
  const roots: string[] = [];
  for (const name of layers.keys()) {
    const p = parent.get(name) ?? null;
    if (p === null) roots.push(name);
    else allChildren.get(p)!.push(name);
  }

  // Post-order pass: visibility, first execution order, leaf counts, last executed descendant.
  const hidden = new Set<string>();
  const firstOrder = new Map<string, number>();
  const lastOrder = new Map<string, number>();
  const lastShape = new Map<string, number[] | null>();
  const leafCount = new Map<string, number>();
  const children = new Map<string, string[]>();
  const containers = new Set<string>();
  const sortKey = (n: string): [number, number] => [firstOrder.get(n) ?? Infinity, listIndex.get(n) ?? 0];
  const byOrder = (a: string, b: string) => {
    const [oa, ia] = sortKey(a);
    const [ob, ib] = sortKey(b);
    return oa !== ob ? oa - ob : ia - ib;
  };
  const visit = (name: string) => {
    const l = layers.get(name)!;
    const kids = allChildren.get(name)!;
    for (const c of kids) visit(c);
    const shown = kids.filter((c) => !hidden.has(c)).sort(byOrder);
    children.set(name, shown);
    const executed = (l.calls ?? 1) > 0 || edgeEnds.has(name);
    if (!shown.length && !executed) {
      hidden.add(name);
      return;
    }
    if (shown.length) containers.add(name);
    const own = typeof l.order === "number" ? l.order : undefined;
    let first = own ?? Infinity;
    let last = own ?? -Infinity;
    let lastS: number[] | null = own !== undefined ? l.output_shape ?? null : null;
    let leaves = shown.length ? 0 : 1;
    for (const c of shown) {
      first = Math.min(first, firstOrder.get(c) ?? Infinity);
      const cl = lastOrder.get(c);
      if (cl !== undefined && cl > last) {
        last = cl;
        lastS = lastShape.get(c) ?? null;
      }
      leaves += leafCount.get(c) ?? 0;
    }
    if (first !== Infinity) firstOrder.set(name, first);
    if (last !== -Infinity) lastOrder.set(name, last);
    lastShape.set(name, lastS);
    leafCount.set(name, leaves);
  };
  for (const r of roots) visit(r);
  const shownRoots = roots.filter((r) => !hidden.has(r)).sort(byOrder);

  const outputShape = new Map<string, number[] | null>();
  for (const [name, l] of layers) {
    if (hidden.has(name)) continue;
    outputShape.set(name, l.output_shape ?? (containers.has(name) ? lastShape.get(name) ?? null : null));
  }
  const computing = new Set<string>();
  for (const name of containers) if (edgeEnds.has(name)) computing.add(name);

  const index: GraphIndex = {
    layers,
    parent,
    children,
    roots: shownRoots,
    containers,
    computing,
    pseudo,
    hidden,
    firstOrder,
    leafCount,
    outputShape,
    edgeShapes: computeEdgeShapes(graph, layers),
  };
  indexCache.set(graph, index);
  return index;
}

function stripSelf(name: string): string {
  return name.endsWith(SELF_SUFFIX) ? name.slice(0, -SELF_SUFFIX.length) : name;
}

/** Enclosing containers of a layer, outermost first (the layer itself excluded); [] for unknown names. */
export function ancestorsOf(graph: LayerGraphData, name: string): string[] {
  const idx = indexGraph(graph);
  const out: string[] = [];
  let p = idx.parent.get(stripSelf(name)) ?? null;
  while (p !== null) {
    out.push(p);
    p = idx.parent.get(p) ?? null;
  }
  return out.reverse();
}

/** Every container: the fully expanded view. */
export function expandAll(graph: LayerGraphData): Set<string> {
  return new Set(indexGraph(graph).containers);
}

/**
 * `expanded` plus the ancestors of `name` (so that the layer gets its own node). Returns `expanded`
 * itself when nothing has to change, so that React state stays referentially equal (no re-layout).
 */
export function expandPathTo(graph: LayerGraphData, expanded: ReadonlySet<string>, name: string): ReadonlySet<string> {
  const missing = ancestorsOf(graph, name).filter((a) => !expanded.has(a));
  if (!missing.length) return expanded;
  return new Set([...expanded, ...missing]);
}

/**
 * Id of the visible node that stands for `name` with this expansion: the outermost collapsed
 * ancestor, the layer itself, or its self node when it is an expanded computing container.
 * Undefined for unknown or hidden (never executed) layers.
 */
export function visibleIdOf(graph: LayerGraphData, expanded: ReadonlySet<string>, name: string): string | undefined {
  const idx = indexGraph(graph);
  const layer = stripSelf(name);
  if (!idx.layers.has(layer) || idx.hidden.has(layer)) return undefined;
  for (const a of ancestorsOf(graph, layer)) if (!expanded.has(a)) return a;
  if (idx.containers.has(layer) && expanded.has(layer)) {
    return idx.computing.has(layer) ? layer + SELF_SUFFIX : layer;
  }
  return layer;
}

function relativeName(name: string, parent: string | null): string {
  return parent !== null && name.startsWith(parent + ".") ? name.slice(parent.length + 1) : name;
}

const visibleCache = new WeakMap<LayerGraphData, Map<string, VisibleGraph>>();

/**
 * The view of `graph` with the containers in `expanded` opened (empty set: the top-level modules,
 * each collapsed). Nodes come parents first (groups before their children), each level in execution
 * order; edges are lifted to visible nodes, deduplicated, without self-loops. Results are cached per
 * graph object and expansion, so calling it on every render is cheap.
 */
export function visibleGraph(graph: LayerGraphData, expanded: ReadonlySet<string>): VisibleGraph {
  const idx = indexGraph(graph);
  // Only expansions that matter (expanded containers all of whose ancestors are expanded) define the view.
  const effective = [...idx.containers].filter((c) => expanded.has(c) && ancestorsOf(graph, c).every((a) => expanded.has(a)));
  const key = effective.sort().join("\n");
  let perGraph = visibleCache.get(graph);
  if (!perGraph) visibleCache.set(graph, (perGraph = new Map()));
  const hit = perGraph.get(key);
  if (hit) return hit;
  const open = new Set(effective);

  const nodes: VisibleNode[] = [];
  const byId = new Map<string, VisibleNode>();
  const push = (n: VisibleNode) => {
    nodes.push(n);
    byId.set(n.id, n);
  };
  const visit = (name: string, parentId: string | null, depth: number) => {
    const l = idx.layers.get(name)!;
    const isContainer = idx.containers.has(name);
    const kids = idx.children.get(name) ?? [];
    const base = {
      layer: name,
      type: l.type ?? (isContainer ? "Module" : "Layer"),
      label: relativeName(name, parentId),
      parent: parentId,
      depth,
      childCount: isContainer ? kids.length : 0,
      leafCount: idx.leafCount.get(name) ?? 1,
      outputShape: idx.outputShape.get(name) ?? null,
      order: idx.firstOrder.get(name) ?? Infinity,
      data: l,
    };
    if (isContainer && open.has(name)) {
      push({ ...base, id: name, kind: "group" });
      if (idx.computing.has(name)) {
        push({
          ...base,
          id: name + SELF_SUFFIX,
          kind: "self",
          label: `${relativeName(name, parentId)} (own op)`,
          parent: name,
          depth: depth + 1,
          childCount: 0,
          leafCount: 1,
          outputShape: l.output_shape ?? null,
          order: typeof l.order === "number" ? l.order : base.order,
        });
      }
      for (const c of kids) visit(c, name, depth + 1);
    } else {
      push({ ...base, id: name, kind: isContainer ? "collapsed" : idx.pseudo.has(name) ? "io" : "leaf" });
    }
  };
  for (const r of idx.roots) visit(r, null, 0);

  // Lift the recorded edges to the visible nodes that stand for their endpoints.
  const repCache = new Map<string, string | undefined>();
  const rep = (name: string): string | undefined => {
    if (repCache.has(name)) return repCache.get(name);
    const r = visibleIdOf(graph, open, name);
    repCache.set(name, r);
    return r;
  };
  interface Acc {
    source: string;
    target: string;
    shapes: Map<string, number[]>;
    count: number;
  }
  const lifted = new Map<string, Acc>();
  graph.edges.forEach((e, i) => {
    if (e.length < 2) return;
    const [u, v] = e;
    const ru = rep(u);
    const rv = rep(v);
    if (ru === undefined || rv === undefined || ru === rv) return;
    const k = `${ru}\u0000${rv}`;
    let acc = lifted.get(k);
    if (!acc) lifted.set(k, (acc = { source: ru, target: rv, shapes: new Map(), count: 0 }));
    acc.count += 1;
    const shape = idx.edgeShapes[i];
    if (shape) acc.shapes.set(formatShape(shape), shape);
  });
  const edges: VisibleEdge[] = [];
  for (const acc of lifted.values()) {
    let shape: number[] | null = null;
    if (acc.shapes.size === 1) shape = [...acc.shapes.values()][0];
    else if (acc.shapes.size > 1) {
      // Several tensors leave a collapsed container towards the same node (e.g. the branches of an
      // Inception block, concatenated on the way): what arrives is the container's output.
      shape = byId.get(acc.source)?.outputShape ?? [...acc.shapes.values()][0];
    }
    edges.push({
      id: `${acc.source}->${acc.target}`,
      source: acc.source,
      target: acc.target,
      shape,
      label: shape ? formatShape(shape) : null,
      count: acc.count,
    });
  }
  const pos = new Map(nodes.map((n, i) => [n.id, i]));
  edges.sort((a, b) => pos.get(a.source)! - pos.get(b.source)! || pos.get(a.target)! - pos.get(b.target)!);

  const result = { nodes, edges };
  if (perGraph.size > 64) perGraph.clear();
  perGraph.set(key, result);
  return result;
}

/**
 * Shape of the tensor on each recorded edge (same index as `graph.edges`): the source's output shape.
 * A module called several times (torchvision ResNet's shared `relu`) records only its last output
 * shape. The server lists edges in the order they first occurred, so when such a module preserves
 * shapes (its last output has the shape of its last input), the tensor on u -> v is taken to be the
 * one that most recently flowed into u. A shape that contradicts v's in_channels is dropped (null).
 */
function computeEdgeShapes(graph: LayerGraphData, layers: Map<string, LayerNode>): (number[] | null)[] {
  const shapeOf = (n: string) => layers.get(n)?.output_shape ?? null;
  const sameShape = (a: readonly number[] | null, b: readonly number[] | null) =>
    !!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]);
  const multi = (n: string) => (layers.get(n)?.calls ?? 1) > 1;
  // For each multi-call module, the sources of its in-edges in recorded order.
  const inSources = new Map<string, { index: number; source: string }[]>();
  graph.edges.forEach((e, index) => {
    if (e.length >= 2 && multi(e[1])) {
      let list = inSources.get(e[1]);
      if (!list) inSources.set(e[1], (list = []));
      list.push({ index, source: e[0] });
    }
  });
  const preserving = new Map<string, boolean>();
  for (const [u, list] of inSources) {
    const last = list[list.length - 1].source;
    preserving.set(u, !multi(last) && sameShape(shapeOf(last), shapeOf(u)));
  }
  return graph.edges.map((e, index) => {
    if (e.length < 2) return null;
    const [u, v] = e;
    let shape = shapeOf(u);
    if (shape && multi(u)) {
      if (preserving.get(u)) {
        const before = (inSources.get(u) ?? []).filter((x) => x.index < index);
        const w = before[before.length - 1]?.source;
        shape = w !== undefined && !multi(w) ? shapeOf(w) : shape;
      }
      const inCh = layers.get(v)?.in_channels;
      if (shape && typeof inCh === "number" && shape.length > 0 && shape[0] !== inCh) shape = null;
    }
    return shape ? [...shape] : null;
  });
}

/** Number of non-group nodes of a view (what the reader sees as boxes). */
export function boxCount(view: VisibleGraph): number {
  return view.nodes.reduce((n, v) => n + (v.kind === "group" ? 0 : 1), 0);
}

/**
 * A useful first view: the top-level modules, collapsed, but when that shows fewer than `minNodes`
 * boxes (e.g. torchvision DenseNet: input, features, classifier, logits) the biggest collapsed
 * containers are opened while the view stays within `maxNodes` boxes.
 */
export function defaultExpanded(graph: LayerGraphData, minNodes = 8, maxNodes = 60): Set<string> {
  const idx = indexGraph(graph);
  const expanded = new Set<string>();
  for (;;) {
    const view = visibleGraph(graph, expanded);
    const count = boxCount(view);
    if (count >= minNodes) break;
    const candidates = view.nodes
      .filter((n) => n.kind === "collapsed")
      .sort((a, b) => b.leafCount - a.leafCount || a.order - b.order);
    const pick = candidates.find(
      (c) => count - 1 + c.childCount + (idx.computing.has(c.id) ? 1 : 0) <= maxNodes,
    );
    if (!pick) break;
    expanded.add(pick.id);
  }
  return expanded;
}

// ---------------------------------------------------------------- colors

export type TypeCategory =
  | "conv"
  | "norm"
  | "activation"
  | "pooling"
  | "linear"
  | "dropout"
  | "io"
  | "container"
  | "other";

export interface TypePalette {
  category: TypeCategory;
  /** Node background. */
  fill: string;
  /** Border / accent. */
  stroke: string;
  /** Text in the category's colour: at least 4.5:1 against the fill and white (WCAG AA, axe-core). */
  ink: string;
}

const PALETTE: Record<TypeCategory, Omit<TypePalette, "category">> = {
  conv: { fill: "#dbe7f6", stroke: "#2f64a8", ink: "#24528c" },
  norm: { fill: "#fcebcf", stroke: "#b86e0a", ink: "#854d05" },
  activation: { fill: "#fbe0df", stroke: "#c2364a", ink: "#9b2236" },
  pooling: { fill: "#dcf1e2", stroke: "#23834a", ink: "#1a6438" },
  linear: { fill: "#eae1f6", stroke: "#6d43a8", ink: "#5b3592" },
  dropout: { fill: "#eef0f2", stroke: "#6b7785", ink: "#4f5a66" },
  io: { fill: "#d9f1f1", stroke: "#0e7c7e", ink: "#0a5c5e" },
  container: { fill: "#f4f1ea", stroke: "#7a6a4f", ink: "#65573f" },
  other: { fill: "#f1f2f4", stroke: "#59636e", ink: "#4d5661" },
};

const ACTIVATIONS =
  /relu|gelu|silu|swish|sigmoid|tanh|softmax|softmin|softplus|softsign|mish|elu$|celu|selu|glu|hardshrink|softshrink|threshold|activation|^act|logsigmoid/;

/** Fill and stroke of each category. */
export const PALETTE_OF_CATEGORY: Readonly<Record<TypeCategory, Omit<TypePalette, "category">>> = PALETTE;

/** Category of a module class name, from the name alone (works across torchvision, timm and custom models). */
export function categoryOf(type: string | null | undefined): TypeCategory {
  const t = (type ?? "").toLowerCase();
  if (!t) return "other";
  if (t === "input" || t === "output" || t === "tensor") return "io";
  if (/^(sequential|modulelist|moduledict|container)$/.test(t)) return "container";
  if (/conv/.test(t)) return "conv";
  if (/norm/.test(t)) return "norm";
  if (/pool/.test(t)) return "pooling";
  if (/linear|dense$|^fc$|bilinear/.test(t)) return "linear";
  if (ACTIVATIONS.test(t)) return "activation";
  if (/dropout|droppath|drop_path|identity|flatten|unflatten/.test(t)) return "dropout";
  return "other";
}

/** Fill and stroke colors for a module type; `container: true` for collapsed/expanded containers of an unknown kind. */
export function paletteOf(type: string | null | undefined, container = false): TypePalette {
  let category = categoryOf(type);
  if (container && (category === "other" || category === "dropout")) category = "container";
  return { category, ...PALETTE[category] };
}

/** The accent color of a module type (conv blue, norm orange, activation red, pooling green, linear purple...). */
export function colorOf(type: string | null | undefined, container = false): string {
  return paletteOf(type, container).stroke;
}

/** The legend: one entry per category. */
export const TYPE_LEGEND: ReadonlyArray<{ category: TypeCategory; label: string; fill: string; stroke: string; ink: string }> = [
  { category: "conv", label: "conv", ...PALETTE.conv },
  { category: "norm", label: "norm", ...PALETTE.norm },
  { category: "activation", label: "activation", ...PALETTE.activation },
  { category: "pooling", label: "pooling", ...PALETTE.pooling },
  { category: "linear", label: "linear", ...PALETTE.linear },
  { category: "container", label: "block", ...PALETTE.container },
  { category: "other", label: "other", ...PALETTE.other },
];
