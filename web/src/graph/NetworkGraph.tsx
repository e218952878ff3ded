// The network-graph view of a model: React Flow over an ELK layout of the module tree, containers
// collapsed until clicked, long linear chains folded into one box, edges labeled with tensor shapes, an info
// box for the hovered/selected node, a search box, the path from the input to the selection. Also the layer
// picker of other pages (`selected` + `onSelect`). Its nodes and edges: nodes.tsx; the info box: InfoBox.tsx;
// which nodes are shown: collapse.ts and chains.ts; where: layout.ts (ELK in a worker); the viewport (never
// below a readable zoom: a large graph scrolls): viewport.ts.
import "@xyflow/react/dist/style.css";
import "./graph.css";

import {
  Background,
  BackgroundVariant,
  Controls,
  MiniMap,
  Panel,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  useStoreApi,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState, type CSSProperties } from "react";
import { foldsChains, openPathTo, shownIdOf, shownView } from "./chains";
import { TYPE_LEGEND, boxCount, defaultExpanded, expandAll, paletteOf, type VisibleGraph } from "./collapse";
import { GraphSearch } from "./GraphSearch";
import { InfoBox } from "./InfoBox";
import { layoutGraph, type GraphFlowEdge, type GraphFlowNode, type PositionedGraph } from "./layout";
import { ActionsContext, MARKER, MARKER_PATH, createValueStore, edgeTypes, nodeTypes, type GraphActions } from "./nodes";
import { pathFromInput } from "./paths";
import type { LayerGraphData } from "./types";
import { centredOn, unionRect, viewportFor, type Rect, type Viewport } from "./viewport";

export interface NetworkGraphProps {
  graph: LayerGraphData;
  /** Selected layer name (controlled); its collapsed ancestors are expanded to show it. */
  selected?: string;
  /** Called with the layer name when a leaf layer is clicked or a search match is chosen. */
  onSelect?: (layer: string) => void;
  /** Height of the component (CSS); default 600px. */
  height?: number | string;
}

// ---------------------------------------------------------------- the component

/** Layouts per view object (views are cached per graph and expansion): toggling back is instant. */
const layoutCache = new WeakMap<VisibleGraph, Promise<PositionedGraph>>();
function layoutCached(view: VisibleGraph): Promise<PositionedGraph> {
  let p = layoutCache.get(view);
  if (!p) {
    p = layoutGraph(view);
    layoutCache.set(view, p);
    p.catch(() => layoutCache.delete(view));
  }
  return p;
}

const NONE: ReadonlySet<string> = new Set();

/** Absolute (flow) rectangles of the laid-out nodes (children are positioned relative to their group). */
function absoluteRects(nodes: GraphFlowNode[]): Map<string, Rect> {
  const out = new Map<string, Rect>();
  for (const n of nodes) {
    const p = n.parentId !== undefined ? out.get(n.parentId) : undefined;
    out.set(n.id, { x: n.position.x + (p?.x ?? 0), y: n.position.y + (p?.y ?? 0), width: n.width ?? 0, height: n.height ?? 0 });
  }
  return out;
}

/**
 * Where the viewport goes after a layout or a search: one box -> centred at the current zoom (kept readable);
 * several nodes or an open block -> all of them if that fits at a readable zoom, else their top; no focus ->
 * the whole graph if it fits at a readable zoom, else its top, centred on the input.
 */
function targetViewport(result: PositionedGraph, focus: string[] | null, size: { width: number; height: number }, zoom: number): Viewport | null {
  if (!size.width || !size.height || !result.nodes.length) return null;
  const rects = absoluteRects(result.nodes);
  const topmost = (ids: string[]) => {
    let best: Rect | undefined;
    for (const id of ids) {
      const r = rects.get(id);
      if (r && (!best || r.y < best.y)) best = r;
    }
    return best ? best.x + best.width / 2 : undefined;
  };
  const present = (focus ?? []).filter((id) => rects.has(id));
  if (present.length) {
    const one = present.length === 1 ? result.nodes.find((n) => n.id === present[0]) : undefined;
    if (one && one.type !== "cgGroup") {
      const r = rects.get(one.id)!;
      return centredOn({ x: r.x + r.width / 2, y: r.y + r.height / 2 }, size, zoom);
    }
    const inside = result.nodes.filter((n) => present.includes(n.id) || (n.parentId !== undefined && present.includes(n.parentId)));
    return viewportFor(unionRect(present.map((id) => rects.get(id)!))!, size, { anchorX: topmost(inside.map((n) => n.id)) });
  }
  const top = result.nodes.filter((n) => n.parentId === undefined).map((n) => n.id);
  return viewportFor(unionRect(top.map((id) => rects.get(id)!))!, size, { anchorX: topmost(top) });
}

export function NetworkGraph(props: NetworkGraphProps) {
  return (
    <ReactFlowProvider>
      <NetworkGraphInner {...props} controlled={"selected" in props} />
    </ReactFlowProvider>
  );
}

/**
 * What is shown: the expanded containers, the opened chains, whether chains fold (null: when the view is large),
 * the selection as last seen, the node ids the viewport goes to after the next layout (null: everything) and a
 * counter that asks for that move without a new layout (a search match already on screen).
 */
type ViewState = {
  graph: LayerGraphData;
  expanded: ReadonlySet<string>;
  open: ReadonlySet<string>;
  fold: boolean | null;
  sel: string | undefined;
  focus: string[] | null;
  seq: number;
};

/** `s` with the path to `layer` opened (containers expanded, its chain opened) and the viewport sent to it. */
function revealLayer(s: ViewState, layer: string): ViewState {
  const { expanded, open } = openPathTo(s.graph, s.expanded, s.open, s.fold, layer);
  const id = shownIdOf(s.graph, expanded, shownView(s.graph, expanded, open, s.fold), open, layer);
  return { ...s, expanded, open, sel: layer, focus: id !== undefined ? [id] : s.focus, seq: s.seq + 1 };
}

function freshState(graph: LayerGraphData, sel: string | undefined): ViewState {
  const base: ViewState = { graph, expanded: defaultExpanded(graph), open: NONE, fold: null, sel, focus: null, seq: 0 };
  return sel ? revealLayer(base, sel) : base;
}

function NetworkGraphInner({
  graph,
  selected,
  onSelect,
  height = 600,
  controlled,
}: NetworkGraphProps & { controlled: boolean }) {
  const { getViewport, setViewport } = useReactFlow<GraphFlowNode, GraphFlowEdge>();
  const store = useStoreApi<GraphFlowNode, GraphFlowEdge>();
  const [innerSelected, setInnerSelected] = useState<string | undefined>(undefined);
  const selectedLayer = controlled ? selected : innerSelected;

  // Expansion state, reset when another graph comes in; a selection from outside (the picker use) opens the
  // path to it and moves the viewport there.
  const [state, setState] = useState<ViewState>(() => freshState(graph, selectedLayer));
  let current = state;
  if (state.graph !== graph) {
    current = freshState(graph, selectedLayer);
    setState(current);
  } else if (state.sel !== selectedLayer) {
    current = selectedLayer ? revealLayer(state, selectedLayer) : { ...state, sel: undefined };
    setState(current);
  }
  const { expanded, open } = current;
  const focusNow = useRef(current.focus);
  focusNow.current = current.focus;

  const shown = useMemo(() => shownView(graph, expanded, open, current.fold), [graph, expanded, open, current.fold]);
  const view = shown.view;
  const viewNow = useRef(view);
  viewNow.current = view;

  // Layout (in the worker), newest request wins; the previous layout stays on screen meanwhile.
  const [layout, setLayout] = useState<{ view: VisibleGraph; result: PositionedGraph } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const busy = layout?.view !== view && error === null;
  useEffect(() => {
    let live = true;
    setError(null);
    layoutCached(view).then(
      (result) => live && setLayout({ view, result }),
      (err: unknown) => live && setError(err instanceof Error ? err.message : String(err)),
    );
    return () => {
      live = false;
    };
  }, [view]);

  // Move the viewport after each layout of the current view and after each search: never below a readable zoom.
  // `fitted` names the layout and move whose animation has ended: until then the graph reports itself busy
  // (data-busy), so nothing clicks a node that is still moving.
  const [fitted, setFitted] = useState<{ layout: typeof layout; seq: number } | null>(null);
  const seq = current.seq;
  useEffect(() => {
    if (!layout || layout.view !== viewNow.current) return;
    let live = true;
    const raf = requestAnimationFrame(() => {
      const { width, height: h } = store.getState();
      const target = targetViewport(layout.result, focusNow.current, { width, height: h }, getViewport().zoom);
      const move = target ? setViewport(target, { duration: 300 }) : Promise.resolve(true);
      // A pan or zoom by the user interrupts the animation, whose promise then never settles.
      const cap = new Promise((resolve) => setTimeout(resolve, 1000));
      void Promise.race([move, cap]).finally(() => live && setFitted({ layout, seq }));
    });
    return () => {
      live = false;
      cancelAnimationFrame(raf);
    };
  }, [layout, seq, store, getViewport, setViewport]);
  const moving = layout !== null && (fitted?.layout !== layout || fitted.seq !== seq);

  const selectedId = selectedLayer !== undefined ? shownIdOf(graph, expanded, shown, open, selectedLayer) : undefined;

  // The path from the input to the selection, on the drawn view.
  const [showPath, setShowPath] = useState(false);
  const drawn = layout?.view;
  const path = useMemo(
    () => (showPath && drawn && selectedId !== undefined ? pathFromInput(drawn, selectedId) : null),
    [showPath, drawn, selectedId],
  );

  // Nodes with the selection / path classes; only the objects of marked nodes change.
  const nodes = useMemo(() => {
    const all = layout?.result.nodes ?? [];
    if (selectedId === undefined && !path) return all;
    return all.map((n) => {
      const cls = [n.id === selectedId ? "cg-selected" : "", path?.nodes.has(n.id) ? "cg-on-path" : ""].filter(Boolean).join(" ");
      return cls ? { ...n, className: cls } : n;
    });
  }, [layout, selectedId, path]);
  const edges = useMemo(
    () =>
      (layout?.result.edges ?? []).map((e) =>
        path?.edges.has(e.id)
          ? { ...e, markerEnd: MARKER_PATH, className: "cg-on-path", zIndex: 600 }
          : { ...e, markerEnd: MARKER },
      ),
    [layout, path],
  );

  // Stable actions for the memoized node components (they read the latest props through refs).
  const hoverStore = useMemo(() => createValueStore<string | null>(null), []);
  const latest = useRef({ onSelect, controlled });
  latest.current = { onSelect, controlled };
  const select = useCallback((layer: string, reveal: boolean) => {
    setState((s) => (reveal ? revealLayer(s, layer) : { ...s, sel: layer }));
    if (!latest.current.controlled) setInnerSelected(layer);
    latest.current.onSelect?.(layer);
  }, []);
  const actions = useMemo<GraphActions>(
    () => ({
      activate(v) {
        if (v.kind === "collapsed") {
          setState((s) => ({ ...s, expanded: new Set([...s.expanded, v.id]), focus: [v.id] }));
          return;
        }
        if (v.kind === "chain") {
          hoverStore.set(null);
          const members = [...(v.chain?.groups ?? []), ...(v.chain?.boxes ?? [])];
          setState((s) => ({ ...s, open: new Set([...s.open, v.id]), focus: members }));
          return;
        }
        if (v.kind === "group" || v.kind === "io") return;
        select(v.layer, false);
      },
      collapse(id) {
        hoverStore.set(null);
        setState((s) => {
          const next = new Set(s.expanded);
          next.delete(id);
          return { ...s, expanded: next, focus: [id] };
        });
      },
      hover(id) {
        hoverStore.set(id);
      },
    }),
    [hoverStore, select],
  );

  /** A new expansion (chains closed again), the path to the selection kept open and in view. */
  const reshape = useCallback(
    (expandedNext: (s: ViewState) => ReadonlySet<string>, fold?: (s: ViewState) => boolean | null) => {
      hoverStore.set(null);
      setState((s) => {
        const next: ViewState = { ...s, expanded: expandedNext(s), open: NONE, fold: fold ? fold(s) : s.fold, focus: null };
        return next.sel ? { ...revealLayer(next, next.sel), seq: s.seq } : next;
      });
    },
    [hoverStore],
  );
  const expandEverything = useCallback(() => reshape(() => expandAll(graph)), [graph, reshape]);
  const collapseEverything = useCallback(() => {
    hoverStore.set(null);
    setState((s) => ({ ...s, expanded: NONE, open: NONE, focus: null }));
  }, [hoverStore]);
  const resetView = useCallback(() => reshape(() => defaultExpanded(graph), () => null), [graph, reshape]);
  const folding = foldsChains(shown.base, current.fold);
  const toggleFold = useCallback(
    () => reshape((s) => s.expanded, (s) => !foldsChains(shownView(s.graph, s.expanded, s.open, s.fold).base, s.fold)),
    [reshape],
  );

  const large = view.nodes.length > 150;
  const miniMapColor = useCallback((n: GraphFlowNode) => {
    const v = n.data.v;
    return v.kind === "group" ? "rgba(120, 110, 90, 0.10)" : paletteOf(v.type, v.kind === "collapsed" || v.kind === "chain").stroke;
  }, []);

  const rootStyle: CSSProperties = { height: typeof height === "number" ? `${height}px` : height };
  const result = layout?.result;
  const chains = shown.chains ? [...shown.chains.chains.keys()].filter((id) => !open.has(id)).length : 0;
  return (
    <div
      className="cg-root"
      style={rootStyle}
      data-testid="network-graph"
      data-busy={busy || moving ? "true" : "false"}
      data-nodes={result ? result.nodes.length : 0}
      data-layout-ms={result ? Math.round(result.ms) : ""}
      data-layout-on={result?.ranOn ?? ""}
      data-path-edges={path ? path.edges.size : ""}
    >
      <div className="cg-toolbar">
        <button type="button" onClick={expandEverything} data-testid="graph-expand-all">
          Expand all
        </button>
        <button type="button" onClick={collapseEverything} data-testid="graph-collapse-all">
          Collapse all
        </button>
        <button type="button" onClick={resetView} data-testid="graph-reset">
          Reset
        </button>
        <label className="cg-check" title="Show runs of layers with one input and one output each as one box">
          <input type="checkbox" checked={folding} onChange={toggleFold} data-testid="graph-fold" />
          fold chains
        </label>
        <button
          type="button"
          aria-pressed={showPath}
          onClick={() => setShowPath((p) => !p)}
          data-testid="graph-path"
          title="Highlight every path from the input to the selected layer"
        >
          Path from input
        </button>
        <GraphSearch graph={graph} onGo={(layer) => select(layer, true)} />
        <span className="cg-status" data-testid="graph-status">
          {error
            ? `layout failed: ${error}`
            : busy
              ? `laying out ${boxCount(view)} nodes…`
              : result
                ? `${boxCount(view)} nodes · ${view.edges.length} edges${chains > 0 ? ` · ${chains} chain${chains === 1 ? "" : "s"} folded` : ""} · layout ${Math.round(result.ms)} ms`
                : ""}
        </span>
        <div className="cg-legend">
          {TYPE_LEGEND.map((t) => (
            <span key={t.category} className="cg-legend-item">
              <i style={{ background: t.fill, borderColor: t.stroke }} />
              {t.label}
            </span>
          ))}
          <span className="cg-hint">scroll to pan · Ctrl+scroll to zoom</span>
        </div>
      </div>
      {/* the toolbar sits above the canvas, never over a node or an open block's header */}
      <div className="cg-canvas">
      <ActionsContext.Provider value={actions}>
        <ReactFlow<GraphFlowNode, GraphFlowEdge>
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          edgeTypes={edgeTypes}
          nodesDraggable={false}
          nodesConnectable={false}
          nodesFocusable={false}
          edgesFocusable={false}
          elementsSelectable={false}
          onlyRenderVisibleElements={large}
          panOnScroll
          minZoom={0.02}
          maxZoom={2.5}
          zoomOnDoubleClick={false}
          attributionPosition="bottom-center"
        >
          <Background variant={BackgroundVariant.Dots} gap={24} size={1} color="#d5d9df" />
          <Controls showInteractive={false} position="bottom-left" />
          <MiniMap<GraphFlowNode>
            position="bottom-right"
            pannable
            zoomable
            nodeColor={miniMapColor}
            nodeStrokeWidth={0}
            maskColor="rgba(240, 242, 245, 0.7)"
          />
          <Panel position="top-right">
            <InfoBox view={layout?.view ?? view} hoverStore={hoverStore} selectedId={selectedId} />
          </Panel>
        </ReactFlow>
      </ActionsContext.Provider>
      </div>
    </div>
  );
}
