// Finding layers of a graph by name or type (the graph's search box).
import { indexGraph } from "./collapse";
import type { LayerGraphData } from "./types";

/**
 * Names of the layers (containers included, pseudo nodes and never-executed layers left out) whose name or
 * type contains `query` (case-insensitive, surrounding spaces ignored), in execution order; [] for an empty query.
 */
export function searchLayers(graph: LayerGraphData, query: string): string[] {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const idx = indexGraph(graph);
  const found: { name: string; order: number; at: number }[] = [];
  let at = 0;
  for (const [name, l] of idx.layers) {
    at++;
    if (idx.hidden.has(name) || idx.pseudo.has(name)) continue;
    if (name.toLowerCase().includes(q) || (l.type ?? "").toLowerCase().includes(q)) {
      found.push({ name, order: idx.firstOrder.get(name) ?? Infinity, at });
    }
  }
  found.sort((a, b) => (a.order !== b.order ? a.order - b.order : a.at - b.at));
  return found.map((f) => f.name);
}
