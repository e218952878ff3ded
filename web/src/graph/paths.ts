// The path from the input to a node of a drawn view: the nodes and edges that lie on some path from an input
// node to it (what the "path from input" toggle highlights).
import type { VisibleGraph } from "./collapse";

export interface PathHighlight {
  nodes: Set<string>;
  edges: Set<string>;
}

/**
 * Nodes and edges on any directed path from the view's inputs (its `io` nodes of type Input, else the nodes
 * without incoming edges) to `target`: an edge u -> v lies on one when u is reachable from an input and v
 * reaches the target. An open block (a group, which no edge touches) is reached through its entries, the boxes
 * inside it with an edge from outside; it is marked too. Empty when the target is not in the view or no input
 * reaches it.
 */
export function pathFromInput(view: VisibleGraph, target: string): PathHighlight {
  const empty = { nodes: new Set<string>(), edges: new Set<string>() };
  const t = view.nodes.find((n) => n.id === target);
  if (!t) return empty;
  let targets = [target];
  let inside = new Set<string>();
  if (t.kind === "group") {
    const parent = new Map(view.nodes.map((n) => [n.id, n.parent]));
    const within = (id: string) => {
      for (let p = parent.get(id) ?? null; p !== null; p = parent.get(p) ?? null) if (p === target) return true;
      return false;
    };
    inside = new Set(view.nodes.filter((n) => n.kind !== "group" && within(n.id)).map((n) => n.id));
    targets = [...new Set(view.edges.filter((e) => inside.has(e.target) && !inside.has(e.source)).map((e) => e.target))];
  }
  const out = new Map<string, string[]>();
  const into = new Map<string, string[]>();
  for (const e of view.edges) {
    out.set(e.source, [...(out.get(e.source) ?? []), e.target]);
    into.set(e.target, [...(into.get(e.target) ?? []), e.source]);
  }
  let inputs = view.nodes.filter((n) => n.kind === "io" && n.type === "Input").map((n) => n.id);
  if (!inputs.length) inputs = view.nodes.filter((n) => n.kind !== "group" && !into.has(n.id)).map((n) => n.id);
  const reach = (start: string[], next: Map<string, string[]>) => {
    const seen = new Set(start);
    const queue = [...start];
    while (queue.length) for (const m of next.get(queue.pop()!) ?? []) if (!seen.has(m)) seen.add(m), queue.push(m);
    return seen;
  };
  const forward = reach(inputs, out);
  targets = targets.filter((x) => forward.has(x));
  if (!targets.length) return empty;
  const backward = reach(targets, into);
  const nodes = new Set([...forward].filter((n) => backward.has(n)));
  const edges = new Set(
    view.edges.filter((e) => nodes.has(e.source) && nodes.has(e.target) && !inside.has(e.source)).map((e) => e.id),
  );
  if (t.kind === "group") for (const x of targets) nodes.add(x), nodes.add(target);
  return { nodes, edges };
}
