// A concept's graph as a small inline SVG (the concept view, ConceptView.tsx): the upper concept LAYER:CHANNEL on
// top, the lower layer's channels that feed it most in a row below, one edge per entry of the `concepts` recipe's
// `edges`, as wide as its |share| (1..8 px, the largest share widest) and red for positive relevance, blue for
// negative (the heatmaps' signed colours). Each lower channel links to its unit page. The list beside it keeps the
// numbers as text; this is the picture of them.
import { useHref, useLinkClickHandler } from "react-router";
import { sci } from "../../lib/format";
import { unitLink } from "../../lib/links";

/** One edge of the concept graph (the `concepts` recipe's `ConceptEdge`). */
export interface ConceptGraphEdge {
  /** LAYER:CHANNEL of the upper concept */
  source: string;
  /** LOWER_LAYER:CHANNEL it passes relevance to */
  to: string;
  relevance: number | null;
  /** relevance / sum of |relevance| over the lower layer's channels */
  share: number;
}

/** The picture's sizes (SVG user units; the picture scales to its box through its viewBox). */
export const GRAPH = {
  minWidth: 300,
  height: 140,
  /** the labels' font size, and an upper estimate of a character's width in it */
  font: 10,
  charWidth: 5.6,
  /** a node's height and the room beside its label */
  nodeHeight: 20,
  padding: 5,
  /** the room between lower nodes and around the picture */
  gap: 6,
  margin: 4,
  minStroke: 1,
  maxStroke: 8,
};

/** An edge's stroke width: 1..8 px in proportion to |share|, the largest |share| of the graph widest. */
export function strokeWidth(share: number, largest: number): number {
  if (!(largest > 0) || !Number.isFinite(share)) return GRAPH.minStroke;
  return GRAPH.minStroke + (GRAPH.maxStroke - GRAPH.minStroke) * Math.min(1, Math.abs(share) / largest);
}

/** The sign an edge is drawn with: its relevance's (its share's where the relevance is unknown). */
export function edgeSign(edge: Pick<ConceptGraphEdge, "relevance" | "share">): "positive" | "negative" | "zero" {
  const value = edge.relevance ?? edge.share;
  return value > 0 ? "positive" : value < 0 ? "negative" : "zero";
}

/** A lower channel in words, as its node's tooltip says it: "LOWER:c': relevance X (share Y%)". */
export function edgeWords(edge: Pick<ConceptGraphEdge, "to" | "relevance" | "share">): string {
  return `${edge.to}: relevance ${sci(edge.relevance)} (share ${sci(edge.share * 100)}%)`;
}

/** The channel of a "LAYER:CHANNEL" name (NaN when it has none). */
export function channelOf(name: string): number {
  const at = name.lastIndexOf(":");
  return at < 0 ? NaN : Number(name.slice(at + 1));
}

/** A node's box: its centre x, top y, width and height. */
export interface NodeBox {
  label: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LowerNode extends NodeBox {
  edge: ConceptGraphEdge;
  channel: number;
  stroke: number;
  sign: ReturnType<typeof edgeSign>;
  /** the edge from the upper node's bottom to this node's top (an SVG path) */
  path: string;
}

export interface GraphLayout {
  width: number;
  height: number;
  upper: NodeBox;
  lower: LowerNode[];
}

/** A coordinate to 0.1 unit. */
const r = (v: number) => Math.round(v * 10) / 10;

/** A label's box width: an upper estimate of its text's width plus padding. */
export function nodeWidth(label: string): number {
  return Math.ceil(label.length * GRAPH.charWidth) + 2 * GRAPH.padding;
}

/**
 * Where everything goes: the upper concept centred on top, the lower nodes in one row below, all as wide as the
 * widest lower label and evenly spread (the picture widens past 300 units when they need the room), each edge a
 * curve from the upper node down to its lower node.
 */
export function conceptGraphLayout(source: string, edges: ConceptGraphEdge[]): GraphLayout {
  const { margin, gap, nodeHeight: h, height } = GRAPH;
  const w = Math.max(0, ...edges.map((e) => nodeWidth(e.to)));
  const row = edges.length * w + Math.max(0, edges.length - 1) * gap;
  const width = Math.max(GRAPH.minWidth, row + 2 * margin, nodeWidth(source) + 2 * margin);
  const upper: NodeBox = { label: source, x: width / 2, y: margin, w: nodeWidth(source), h };
  const largest = Math.max(0, ...edges.map((e) => Math.abs(e.share)).filter(Number.isFinite));
  const slot = edges.length > 0 ? (width - 2 * margin) / edges.length : 0;
  const top = upper.y + h; // where the edges leave the upper node
  const bottom = height - margin - h; // and reach the lower ones
  const lower = edges.map((edge, i): LowerNode => {
    const x = r(margin + slot * (i + 0.5));
    const mid = (top + bottom) / 2;
    return {
      label: edge.to,
      x,
      y: bottom,
      w,
      h,
      edge,
      channel: channelOf(edge.to),
      stroke: strokeWidth(edge.share, largest),
      sign: edgeSign(edge),
      path: `M ${r(upper.x)} ${r(top)} C ${r(upper.x)} ${r(mid)}, ${r(x)} ${r(mid)}, ${r(x)} ${r(bottom)}`,
    };
  });
  return { width, height, upper, lower };
}

/** The picture in words (its accessible name): the concept, its lower channels and their shares. */
export function graphWords(source: string, lowerLayer: string, edges: ConceptGraphEdge[]): string {
  const shares = edges.map((e) => `${e.to} ${sci(e.share * 100)}%`).join(", ");
  return (
    `Concept graph: ${source} above the ${edges.length} channel${edges.length === 1 ? "" : "s"} of ${lowerLayer} ` +
    `that feed it most, each edge as wide as its share of what ${source} passes down (red: positive relevance, ` +
    `blue: negative): ${shares}`
  );
}

export function ConceptGraph({
  model,
  source,
  lowerLayer,
  edges,
}: {
  model: string;
  /** the upper concept, LAYER:CHANNEL */
  source: string;
  lowerLayer: string;
  edges: ConceptGraphEdge[];
}) {
  const layout = conceptGraphLayout(source, edges);
  const { upper } = layout;
  return (
    <svg
      className="concept-graph"
      viewBox={`0 0 ${layout.width} ${layout.height}`}
      style={{ maxWidth: layout.width }}
      // a group, not an image: its lower nodes are links (axe: no focusable content inside role="img")
      role="group"
      aria-label={graphWords(source, lowerLayer, edges)}
      data-testid="concept-graph"
    >
      <g className="edges">
        {layout.lower.map((n) => (
          <path
            key={n.label}
            className={`edge ${n.sign}`}
            d={n.path}
            strokeWidth={n.stroke}
            data-testid="concept-graph-edge"
            data-to={n.edge.to}
            data-share={n.edge.share}
          >
            <title>{`${source} → ${edgeWords(n.edge)}`}</title>
          </path>
        ))}
      </g>
      <g className="node upper" data-testid="concept-graph-upper">
        <title>{source}</title>
        <Box node={upper} />
      </g>
      {layout.lower.map((n) => (
        <LowerLink key={n.label} node={n} to={unitLink(model, lowerLayer, n.channel)} />
      ))}
    </svg>
  );
}

/** A lower channel's node: a link to its unit page, with the href and click handling of a react-router `Link`. */
function LowerLink({ node, to }: { node: LowerNode; to: string }) {
  const href = useHref(to);
  const onClick = useLinkClickHandler(to) // JSX types <a> as HTML; the handler reads only the event;
  const words = edgeWords(node.edge);
  return (
    <a
      className="node lower"
      href={href}
      aria-label={words}
      onClick={onClick}
      data-testid="concept-graph-node"
    >
      <title>{words}</title>
      <Box node={node} />
    </a>
  );
}

/** A node's box and its label, centred on the node's x. */
function Box({ node }: { node: NodeBox }) {
  return (
    <>
      <rect x={node.x - node.w / 2} y={node.y} width={node.w} height={node.h} rx={4} />
      <text x={node.x} y={node.y + node.h / 2} dominantBaseline="central" textAnchor="middle">
        {node.label}
      </text>
    </>
  );
}
