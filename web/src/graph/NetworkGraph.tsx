// The network-graph view of a model: React Flow over an ELK layout of the module tree, containers
// collapsed until clicked, edges labeled with tensor shapes, an info box for the hovered/selected
// node. Also the layer picker of other pages (`selected` + `onSelect`). Its nodes and edges: nodes.tsx; the info
// box: InfoBox.tsx; which nodes are shown: collapse.ts; where: layout.ts (ELK in a worker).
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
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState, type CSSProperties } from "react";
import {
  TYPE_LEGEND,
  boxCount,
  defaultExpanded,
  expandAll,
  expandPathTo,
  paletteOf,
  visibleGraph,
  visibleIdOf,
  type VisibleGraph,
} from "./collapse";
import { InfoBox } from "./InfoBox";
import { layoutGraph, type GraphFlowEdge, type GraphFlowNode, type PositionedGraph } from "./layout";
import { ActionsContext, MARKER, createValueStore, edgeTypes, nodeTypes, type GraphActions } from "./nodes";
import type { LayerGraphData } from "./types";

export interface NetworkGraphProps {
  graph: LayerGraphData;
  /** Selected layer name (controlled); its collapsed ancestors are expanded to show it. */
  selected?: string;
  /** Called with the layer name when a leaf layer is clicked. */
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

export function NetworkGraph(props: NetworkGraphProps) {
  return (
    <ReactFlowProvider>
      <NetworkGraphInner {...props} controlled={"selected" in props} />
    </ReactFlowProvider>
  );
}

function NetworkGraphInner({
  graph,
  selected,
  onSelect,
  height = 600,
  controlled,
}: NetworkGraphProps & { controlled: boolean }) {
  const { fitView } = useReactFlow<GraphFlowNode, GraphFlowEdge>();
  const [innerSelected, setInnerSelected] = useState<string | undefined>(undefined);
  const selectedLayer = controlled ? selected : innerSelected;

  // Expansion state, reset when another graph comes in; the selected layer's ancestors are opened.
  // `focus`: the node ids to fit the viewport to after the layout of this expansion (null: everything).
  type ViewState = { graph: LayerGraphData; expanded: ReadonlySet<string>; sel: string | undefined; focus: string[] | null };
  const fresh = (g: LayerGraphData, sel: string | undefined): ViewState => {
    const base = defaultExpanded(g);
    const expanded = sel ? expandPathTo(g, base, sel) : base;
    const id = sel ? visibleIdOf(g, expanded, sel) : undefined;
    return { graph: g, expanded, sel, focus: id !== undefined && expanded !== base ? [id] : null };
  };
  const [state, setState] = useState<ViewState>(() => fresh(graph, selectedLayer));
  let current = state;
  if (state.graph !== graph) {
    current = fresh(graph, selectedLayer);
    setState(current);
  } else if (state.sel !== selectedLayer) {
    // A selection from outside (the picker use): open the path to it and, if that changed the view, go there.
    const expanded = selectedLayer ? expandPathTo(graph, state.expanded, selectedLayer) : state.expanded;
    const id = selectedLayer ? visibleIdOf(graph, expanded, selectedLayer) : undefined;
    current = { graph, expanded, sel: selectedLayer, focus: expanded !== state.expanded && id !== undefined ? [id] : state.focus };
    setState(current);
  }
  const expanded = current.expanded;
  const focusNow = useRef(current.focus);
  focusNow.current = current.focus;
  const setExpanded = useCallback(
    (update: (prev: ReadonlySet<string>) => ReadonlySet<string>, focus: string[] | null) =>
      setState((s) => ({ ...s, expanded: update(s.expanded), focus })),
    [],
  );

  const view = useMemo(() => visibleGraph(graph, expanded), [graph, expanded]);

  // Layout (in the worker), newest request wins; the previous layout stays on screen meanwhile.
  const [layout, setLayout] = useState<{ view: VisibleGraph; result: PositionedGraph; focus: string[] | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const busy = layout?.view !== view && error === null;
  useEffect(() => {
    let live = true;
    const focus = focusNow.current;
    setError(null);
    layoutCached(view).then(
      (result) => live && setLayout({ view, result, focus }),
      (err: unknown) => live && setError(err instanceof Error ? err.message : String(err)),
    );
    return () => {
      live = false;
    };
  }, [view]);

  // Fit the view after each layout: to the focused nodes (the container just opened or closed, the
  // layer selected from outside), else to everything.
  // `fitted` names the layout whose viewport animation has ended: until then the graph reports itself
  // busy (data-busy), so nothing clicks a node that is still moving.
  const [fitted, setFitted] = useState<typeof layout>(null);
  useEffect(() => {
    if (!layout) return;
    let live = true;
    const present = layout.focus?.filter((id) => layout.result.nodes.some((n) => n.id === id));
    const raf = requestAnimationFrame(() => {
      const fit = fitView(
        present && present.length
          ? { nodes: present.map((id) => ({ id })), padding: 0.15, duration: 300, maxZoom: 1.25 }
          : { padding: 0.06, duration: 300, maxZoom: 1.25 },
      );
      // A pan or zoom by the user interrupts the animation, whose promise then never settles.
      const cap = new Promise((resolve) => setTimeout(resolve, 1000));
      void Promise.race([fit, cap]).finally(() => live && setFitted(layout));
    });
    return () => {
      live = false;
      cancelAnimationFrame(raf);
    };
  }, [layout, fitView]);
  const moving = layout !== null && fitted !== layout;

  const selectedId = selectedLayer !== undefined ? visibleIdOf(graph, expanded, selectedLayer) : undefined;

  // Nodes with the selection class; only the selected node's object changes when the selection does.
  const nodes = useMemo(() => {
    const all = layout?.result.nodes ?? [];
    if (selectedId === undefined) return all;
    return all.map((n) => (n.id === selectedId ? { ...n, className: "cg-selected" } : n));
  }, [layout, selectedId]);
  const edges = useMemo(
    () => (layout?.result.edges ?? []).map((e) => ({ ...e, markerEnd: MARKER })),
    [layout],
  );

  // Stable actions for the memoized node components (they read the latest props through refs).
  const hoverStore = useMemo(() => createValueStore<string | null>(null), []);
  const latest = useRef({ onSelect, controlled });
  latest.current = { onSelect, controlled };
  const actions = useMemo<GraphActions>(
    () => ({
      activate(v) {
        if (v.kind === "collapsed") {
          setExpanded((prev) => new Set([...prev, v.id]), [v.id]);
          return;
        }
        if (v.kind === "group") return;
        if (v.kind === "io") return;
        if (!latest.current.controlled) setInnerSelected(v.layer);
        latest.current.onSelect?.(v.layer);
      },
      collapse(id) {
        hoverStore.set(null);
        setExpanded((prev) => {
          const next = new Set(prev);
          next.delete(id);
          return next;
        }, [id]);
      },
      hover(id) {
        hoverStore.set(id);
      },
    }),
    [hoverStore, setExpanded],
  );

  const expandEverything = useCallback(() => {
    setExpanded(() => expandAll(graph), null);
  }, [graph, setExpanded]);
  const collapseEverything = useCallback(() => {
    hoverStore.set(null);
    setExpanded(() => new Set(), null);
  }, [setExpanded, hoverStore]);
  const resetView = useCallback(() => {
    hoverStore.set(null);
    setExpanded(() => defaultExpanded(graph), null);
  }, [graph, setExpanded, hoverStore]);

  const large = view.nodes.length > 150;
  const miniMapColor = useCallback((n: GraphFlowNode) => {
    const v = n.data.v;
    return v.kind === "group" ? "rgba(120, 110, 90, 0.10)" : paletteOf(v.type, v.kind === "collapsed").stroke;
  }, []);

  const rootStyle: CSSProperties = { height: typeof height === "number" ? `${height}px` : height };
  const shown = layout?.result;
  return (
    <div
      className="cg-root"
      style={rootStyle}
      data-testid="network-graph"
      data-busy={busy || moving ? "true" : "false"}
      data-nodes={shown ? shown.nodes.length : 0}
      data-layout-ms={shown ? Math.round(shown.ms) : ""}
      data-layout-on={shown?.ranOn ?? ""}
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
        <span className="cg-status" data-testid="graph-status">
          {error
            ? `layout failed: ${error}`
            : busy
              ? `laying out ${boxCount(view)} nodes…`
              : shown
                ? `${boxCount(view)} nodes · ${view.edges.length} edges · layout ${Math.round(shown.ms)} ms`
                : ""}
        </span>
        <div className="cg-legend">
          {TYPE_LEGEND.map((t) => (
            <span key={t.category} className="cg-legend-item">
              <i style={{ background: t.fill, borderColor: t.stroke }} />
              {t.label}
            </span>
          ))}
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
