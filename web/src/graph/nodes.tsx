// The pieces React Flow draws for the network graph (NetworkGraph.tsx): layer and group nodes, edges labeled with
// tensor shapes, and the actions they share with the component (a context, so the nodes stay memoized).
import {
  BaseEdge,
  Handle,
  MarkerType,
  Position,
  getBezierPath,
  type EdgeProps,
  type NodeProps,
} from "@xyflow/react";
import { createContext, memo, useContext, type CSSProperties } from "react";
import { PALETTE_OF_CATEGORY, paletteOf, type VisibleNode } from "./collapse";
import type { GraphFlowEdge, GroupFlowNode, LayerFlowNode, Point } from "./layout";

export interface GraphActions {
  activate: (v: VisibleNode) => void;
  collapse: (id: string) => void;
  hover: (id: string | null) => void;
}

export const ActionsContext = createContext<GraphActions>({ activate: () => {}, collapse: () => {}, hover: () => {} });

/** A tiny external store, so that hovering re-renders only the info box (never React Flow or the layout). */
export function createValueStore<T>(initial: T) {
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

/** A store made by createValueStore (the component keeps the hovered node id in one; the info box reads it). */
export type ValueStore<T> = ReturnType<typeof createValueStore<T>>;

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
  const pal = paletteOf(v.type, v.kind === "collapsed" || v.kind === "chain");
  const style = { "--cg-fill": pal.fill, "--cg-stroke": pal.stroke, "--cg-ink": pal.ink } as CSSProperties;
  const chain = v.chain;
  // What a click does, also read after the box's text by screen readers (its accessible name is its text: the
  // name, type and shape a sighted reader sees, then this).
  const hint =
    v.kind === "collapsed"
      ? `block ${v.layer}: click or press Enter to open its ${v.childCount} children`
      : v.kind === "io"
        ? ""
        : chain
          ? `chain of ${v.leafCount} layers, ${chain.layers[0]} to ${chain.layers[chain.layers.length - 1]}` +
            `${chain.ops.length ? ` (${chain.ops.join(", ")})` : ""}: click or press Enter to open`
          : `layer ${v.layer}: click or press Enter to select`;
  const interactive = v.kind !== "io";
  return (
    <div
      className={`cg-node cg-kind-${v.kind} cg-cat-${pal.category}`}
      style={style}
      data-testid={`graph-node-${v.id}`}
      data-layer={v.layer}
      data-kind={v.kind}
      title={hint || v.layer}
      role={interactive ? "button" : undefined}
      tabIndex={interactive ? 0 : undefined}
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
      {hint && <span className="cg-sr">, {hint}</span>}
      {(v.kind === "collapsed" || v.kind === "chain") && (
        <span className="cg-node-expand" aria-hidden>
          +
        </span>
      )}
      {chain && (
        <span className="cg-chain-strip" aria-hidden>
          {chain.categories.map((c, i) => (
            <i key={i} style={{ background: PALETTE_OF_CATEGORY[c].stroke }} />
          ))}
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
  const style = { "--cg-fill": pal.fill, "--cg-stroke": pal.stroke, "--cg-ink": pal.ink } as CSSProperties;
  return (
    <div className={`cg-group cg-depth-${Math.min(v.depth, 5)}`} style={style} data-layer={v.layer} data-kind="group">
      <div
        className="cg-group-header"
        data-testid={`graph-node-${v.id}`}
        title={`${v.layer} (${v.type}) — click to collapse`}
        role="button"
        tabIndex={0}
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
        <span className="cg-sr">, open block {v.layer}: click or press Enter to close</span>
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

export const nodeTypes = { cgLayer: LayerNodeView, cgGroup: GroupNodeView };
export const edgeTypes = { cgEdge: ShapeEdge };
export const MARKER = { type: MarkerType.ArrowClosed, width: 14, height: 14, color: "#8b95a3" };
/** The arrow of an edge on the highlighted path from the input. */
export const MARKER_PATH = { type: MarkerType.ArrowClosed, width: 14, height: 14, color: "#c2410c" };
