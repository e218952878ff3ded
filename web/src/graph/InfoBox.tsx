// The network graph's info box: the hovered (else the selected) node's type, kernel, stride, shapes, parameters.
import { useMemo, useSyncExternalStore, type CSSProperties, type ReactNode } from "react";
import { paletteOf, type VisibleGraph } from "./collapse";
import { formatCount, formatShape, formatTuple } from "./format";
import type { ValueStore } from "./nodes";

function InfoRow({ k, v }: { k: string; v: ReactNode }) {
  if (v === "" || v === null || v === undefined) return null;
  return (
    <>
      <dt>{k}</dt>
      <dd>{v}</dd>
    </>
  );
}

export function InfoBox({
  view,
  hoverStore,
  selectedId,
}: {
  view: VisibleGraph;
  hoverStore: ValueStore<string | null>;
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
  const chain = v.chain;
  if (chain) {
    const pal = paletteOf(v.type, true);
    return (
      <div className="cg-info" data-testid="graph-info" style={{ "--cg-stroke": pal.stroke, "--cg-ink": pal.ink } as CSSProperties}>
        <div className="cg-info-name">{chain.group ?? `${chain.layers[0]} … ${chain.layers[chain.layers.length - 1]}`}</div>
        <div className="cg-info-type">
          chain of {v.leafCount} layers (folded: click to open)
          {v.id === selectedId && <span className="cg-info-selected">selected</span>}
        </div>
        <dl>
          <InfoRow k="from" v={chain.layers[0]} />
          <InfoRow k="to" v={chain.layers[chain.layers.length - 1]} />
          <InfoRow k="ops" v={chain.ops.join(" → ")} />
          <InfoRow k="output" v={formatShape(v.outputShape)} />
        </dl>
      </div>
    );
  }
  const container = v.kind === "collapsed" || v.kind === "group";
  const pal = paletteOf(v.type, container);
  return (
    <div className="cg-info" data-testid="graph-info" style={{ "--cg-stroke": pal.stroke, "--cg-ink": pal.ink } as CSSProperties}>
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
