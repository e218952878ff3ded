// The network-graph view of a model: React Flow over an ELK layout of the module tree, containers
// collapsed until clicked, edges labeled with tensor shapes, an info box for the hovered/selected
// node. Also the layer picker of other pages (`selected` + `onSelect`).
import "@xyflow/react/dist/style.css";
import "./graph.css";

import {
  Background,
  BackgroundVariant,
  BaseEdge,
  Controls,
  Handle,
  MarkerType,
  MiniMap,
  Panel,
  Position,
  ReactFlow,
  ReactFlowProvider,
  getBezierPath,
  useReactFlow,
  type EdgeProps,
  type NodeProps,
} from "@xyflow/react";
import {
  createContext,
  memo,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type CSSProperties,
  type ReactNode,
} from "react";
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
  type VisibleNode,
} from "./collapse";
import { formatCount, formatShape, formatTuple } from "./format";
import {
  layoutGraph,
  type GraphFlowEdge,
  type GraphFlowNode,
  type GroupFlowNode,
  type LayerFlowNode,
  type PositionedGraph,
  type Point,
} from "./layout";
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

// ---------------------------------------------------------------- shared state for node components

interface GraphActions {
  activate: (v: VisibleNode) => void;
  collapse: (id: string) => void;
  hover: (id: string | null) => void;
}

const ActionsContext = createContext<GraphActions>({ activate: () => {}, collapse: () => {}, hover: () => {} });

/** A tiny external store, so that hovering re-renders only the info box (never React Flow or the layout). */
function createValueStore<T>(initial: T) {
  let value = initial;
  const listeners = new Set<() => void>();
  return {
    get: () => value,
    set(next: T) {
      if (Object.is(next, value)) return;
      value = next;
      for (const l of listeners) l();
    },
    subscribe(listener: () => void) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}

// ---------------------------------------------------------------- node and edge components

/** Enter or Space acts like a click (nodes are focusable buttons: the graph works from the keyboard too). */
function onKeys(e: React.KeyboardEvent, act: () => void) {
  if (e.key === "Enter" || e.key === " ") {
    e.preventDefault();
    e.stopPropagation();
    act();
  }
}

const LayerNodeView = memo(function LayerNodeView({ data }: NodeProps<LayerFlowNode>) {
  const { v, detail, shapeText } = data;
  const actions = useContext(ActionsContext);
  const pal = paletteOf(v.type, v.kind === "collapsed");
  const style = { "--cg-fill": pal.fill, "--cg-stroke": pal.stroke } as CSSProperties;
  const title =
    v.kind === "collapsed"
      ? `${v.layer} (${v.type}) — click to expand ${v.childCount} children`
      : v.kind === "io"
        ? v.layer
        : `${v.layer} (${v.type}) — click to select`;
  return (
    <div
      className={`cg-node cg-kind-${v.kind} cg-cat-${pal.category}`}
      style={style}
      data-testid={`graph-node-${v.id}`}
      data-layer={v.layer}
      data-kind={v.kind}
      title={title}
      role="button"
      tabIndex={0}
      aria-label={title}
      onClick={() => actions.activate(v)}
      onKeyDown={(e) => onKeys(e, () => actions.activate(v))}
      onFocus={() => actions.hover(v.id)}
      onMouseEnter={() => actions.hover(v.id)}
      onMouseLeave={() => actions.hover(null)}
    >
      <Handle type="target" position={Position.Top} isConnectable={false} className="cg-handle" />
      <div className="cg-node-name">{v.label}</div>
      <div className="cg-node-detail">{detail}</div>
      {shapeText && <div className="cg-node-shape">{shapeText}</div>}
      {v.kind === "collapsed" && (
        <span className="cg-node-expand" aria-hidden>
          +
        </span>
      )}
      <Handle type="source" position={Position.Bottom} isConnectable={false} className="cg-handle" />
    </div>
  );
});

const GroupNodeView = memo(function GroupNodeView({ data }: NodeProps<GroupFlowNode>) {
  const { v } = data;
  const actions = useContext(ActionsContext);
  const pal = paletteOf(v.type, true);
  const style = { "--cg-fill": pal.fill, "--cg-stroke": pal.stroke } as CSSProperties;
  return (
    <div className={`cg-group cg-depth-${Math.min(v.depth, 5)}`} style={style} data-layer={v.layer} data-kind="group">
      <div
        className="cg-group-header"
        data-testid={`graph-node-${v.id}`}
        title={`${v.layer} (${v.type}) — click to collapse`}
        role="button"
        tabIndex={0}
        aria-label={`${v.layer} (${v.type}), open: press Enter to collapse`}
        onClick={() => actions.collapse(v.id)}
        onKeyDown={(e) => onKeys(e, () => actions.collapse(v.id))}
        onFocus={() => actions.hover(v.id)}
        onMouseEnter={() => actions.hover(v.id)}
        onMouseLeave={() => actions.hover(null)}
      >
        <span className="cg-group-toggle" aria-hidden>
          −
        </span>
        <span className="cg-group-name">{v.label}</span>
        <span className="cg-group-type">{v.type}</span>
      </div>
    </div>
  );
});

/** Rounded orthogonal path through ELK's route points. */
function routePath(points: Point[]): string {
  if (points.length < 2) return "";
  const r = 6;
  let d = `M ${points[0].x} ${points[0].y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i];
    const a = points[i - 1];
    const b = points[i + 1];
    const la = Math.hypot(p.x - a.x, p.y - a.y);
    const lb = Math.hypot(b.x - p.x, b.y - p.y);
    const k = Math.min(r, la / 2, lb / 2);
    if (k < 0.5) {
      d += ` L ${p.x} ${p.y}`;
      continue;
    }
    const p1 = { x: p.x + ((a.x - p.x) / la) * k, y: p.y + ((a.y - p.y) / la) * k };
    const p2 = { x: p.x + ((b.x - p.x) / lb) * k, y: p.y + ((b.y - p.y) / lb) * k };
    d += ` L ${p1.x} ${p1.y} Q ${p.x} ${p.y} ${p2.x} ${p2.y}`;
  }
  const last = points[points.length - 1];
  return `${d} L ${last.x} ${last.y}`;
}

const ShapeEdge = memo(function ShapeEdge(props: EdgeProps<GraphFlowEdge>) {
  const { data, markerEnd, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition } = props;
  const points = data?.points ?? null;
  let path: string;
  let labelX: number;
  let labelY: number;
  if (points && points.length >= 2) {
    path = routePath(points);
    labelX = points[0].x + 5;
    labelY = points[0].y + 11;
  } else {
    [path] = getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition });
    labelX = sourceX + 5;
    labelY = sourceY + 11;
  }
  const label = data?.showLabel ? data.v.label : null;
  if (data?.labelAbove) labelY -= 15 + (data.labelRow ?? 0) * 11;
  else labelY += (data?.labelRow ?? 0) * 11;
  return (
    <>
      <BaseEdge path={path} markerEnd={markerEnd} className="cg-edge-path" interactionWidth={0} />
      {label && (
        <text className="cg-edge-label" x={labelX} y={labelY}>
          {label}
        </text>
      )}
    </>
  );
});

const nodeTypes = { cgLayer: LayerNodeView, cgGroup: GroupNodeView };
const edgeTypes = { cgEdge: ShapeEdge };
const MARKER = { type: MarkerType.ArrowClosed, width: 14, height: 14, color: "#8b95a3" };

// ---------------------------------------------------------------- info box

function InfoRow({ k, v }: { k: string; v: ReactNode }) {
  if (v === "" || v === null || v === undefined) return null;
  return (
    <>
      <dt>{k}</dt>
      <dd>{v}</dd>
    </>
  );
}

function InfoBox({
  view,
  hoverStore,
  selectedId,
}: {
  view: VisibleGraph;
  hoverStore: ReturnType<typeof createValueStore<string | null>>;
  selectedId: string | undefined;
}) {
  const hovered = useSyncExternalStore(hoverStore.subscribe, hoverStore.get, hoverStore.get);
  const byId = useMemo(() => new Map(view.nodes.map((n) => [n.id, n])), [view]);
  const v = (hovered !== null ? byId.get(hovered) : undefined) ?? (selectedId !== undefined ? byId.get(selectedId) : undefined);
  if (!v) {
    return (
      <div className="cg-info cg-info-empty" data-testid="graph-info">
        Hover a node for details; click a block to open it, a layer to select it.
      </div>
    );
  }
  const d = v.data;
  const container = v.kind === "collapsed" || v.kind === "group";
  const pal = paletteOf(v.type, container);
  return (
    <div className="cg-info" data-testid="graph-info" style={{ "--cg-stroke": pal.stroke } as CSSProperties}>
      <div className="cg-info-name">{v.layer}</div>
      <div className="cg-info-type">
        {v.type}
        {v.kind === "collapsed" && " (collapsed)"}
        {v.kind === "group" && " (expanded)"}
        {v.kind === "self" && " (own computation)"}
        {v.id === selectedId && <span className="cg-info-selected">selected</span>}
      </div>
      <dl>
        <InfoRow k="kernel" v={formatTuple(d.kernel_size ?? null)} />
        <InfoRow k="stride" v={formatTuple(d.stride ?? null)} />
        <InfoRow k="padding" v={formatTuple(d.padding ?? null)} />
        <InfoRow k="dilation" v={formatTuple(d.dilation ?? null)} />
        <InfoRow k="groups" v={d.groups ?? ""} />
        <InfoRow k="in channels" v={d.in_channels ?? ""} />
        <InfoRow k="out channels" v={d.out_channels ?? ""} />
        <InfoRow k="output" v={formatShape(v.outputShape)} />
        <InfoRow k="parameters" v={typeof d.params === "number" ? `${d.params.toLocaleString("en-US")} (${formatCount(d.params)})` : ""} />
        <InfoRow k="calls" v={typeof d.calls === "number" && d.calls > 1 ? d.calls : ""} />
        {container && <InfoRow k="contains" v={`${v.childCount} children, ${v.leafCount} layers`} />}
      </dl>
    </div>
  );
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
