// What the inverse set's constraints can ask for: each chosen unit's observed activation range on a dataset (the
// `unit-ranges` recipe: min, percentiles 5 / 50 / 95 and max of the unit's mean activation over space — the
// quantity a constraint bounds) and, on demand, the values its feature visualization reaches (the `visualize`
// recipe maximizing the unit, and minimizing it: a mix with weight -1), so that [z1, z2] is picked where images
// exist or can be made.
import { useEffect, useState } from "react";
import type { RunState } from "../../api/useRun";
import { useRun } from "../../api/useRun";
import { resultData, type UnitRange } from "../../api/results";
import { DatasetSelect, useOffered } from "../../components/pickers";
import { sci } from "../../lib/format";
import { datasetFor, modelRef } from "../../lib/spec";

/** Steps of the on-demand feature visualization (enough to see how far a unit goes; seconds on digits). */
export const REACH_STEPS = 64;

/** A constraint's unit as the recipes spell it (LAYER:UNIT), or undefined while the row is incomplete. */
export function unitOf(layer: string, unit: string): string | undefined {
  return layer && /^\d+$/.test(unit.trim()) ? `${layer}:${Number(unit)}` : undefined;
}

/** A bound for the constraint's text: 3 significant digits, plain decimals (what LAYER:UNIT:Z1:Z2 takes). */
export function bound(x: number): string {
  const rounded = Number(x.toPrecision(3));
  return Math.abs(rounded) >= 1e-4 || rounded === 0 ? String(rounded) : rounded.toFixed(8).replace(/0+$/, "");
}

/** The ranges of `units` observed on `dataset` (one `unit-ranges` run for all of them, again when they change). */
export function useObservedRanges(model: string, dataset: string, units: string[]) {
  const { state, run, reset } = useRun();
  const [asked, setAsked] = useState<string[]>([]);
  const key = JSON.stringify([model, dataset, units]);
  useEffect(() => {
    if (!dataset || units.length === 0) {
      reset();
      return;
    }
    const timer = setTimeout(() => {
      setAsked(units);
      void run("unit-ranges", { model: modelRef(model), dataset, units });
    }, 300); // typing a unit number: one run once it stops
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const ranges: Record<string, UnitRange> = {};
  if (state.status === "done" && state.result) {
    const data = resultData(state.result, "unit-ranges");
    asked.forEach((unit, i) => data.units[i] && (ranges[unit] = data.units[i]));
    return { ranges, state, images: data.images };
  }
  return { ranges, state, images: undefined };
}

/** The dataset the ranges are measured on: chosen here (not sent with the inverse set), first the one that fits the
 * model (lib/spec.ts datasetFor). */
export function useRangeDataset(model: string): [string, (name: string) => void] {
  const { modelInfo, datasetInfo, loaded } = useOffered();
  const [chosen, setChosen] = useState<string>();
  const fallback = loaded ? datasetFor(modelInfo.find((m) => m.name === model), datasetInfo) : "";
  return [chosen ?? fallback, setChosen];
}

/** "Observed on [dataset]", with the run's progress or error. */
export function RangeSource(props: {
  model: string;
  dataset: string;
  onDataset: (name: string) => void;
  state: RunState;
  images?: number;
}) {
  const { model, dataset, onDataset, state, images } = props;
  const p = state.progress;
  return (
    <div className="range-source" data-testid="range-source">
      <span>Observed activation ranges on</span>
      <DatasetSelect value={dataset} onChange={onDataset} model={model} />
      {["submitting", "queued", "running"].includes(state.status) && (
        <span className="muted">
          measuring…{p && p.total ? ` ${p.done} / ${p.total} ${p.stage}` : ""}
        </span>
      )}
      {state.status === "done" && images !== undefined && <span className="muted">{images} images</span>}
      {state.error && <span className="error">{state.error.message}</span>}
    </div>
  );
}

/** One constraint's hint: the unit's observed range (with "use 5–95%") and what its feature visualization reaches. */
export function UnitHint(props: {
  model: string;
  unit: string;
  range?: UnitRange;
  onUse: (low: string, high: string) => void;
}) {
  const { model, unit, range, onUse } = props;
  const use = (low: number | null, high: number | null) =>
    low != null && high != null && low < high && onUse(bound(low), bound(high));
  return (
    <div className="unit-hint" data-testid={`unit-hint-${unit}`}>
      {range ? (
        <p className="observed" data-testid="observed-range">
          <span>
            {unit} observed: min <b>{sci(range.min)}</b> · 5% <b>{sci(range.p5)}</b> · median <b>{sci(range.p50)}</b>
            {" "}· 95% <b>{sci(range.p95)}</b> · max <b>{sci(range.max)}</b>
          </span>
          <button type="button" className="small" onClick={() => use(range.p5, range.p95)}>
            use 5–95%
          </button>
        </p>
      ) : null}
      <Reach key={`${model}/${unit}`} model={model} unit={unit} onUse={use} observed={range} />
    </div>
  );
}

/** On demand: the unit maximized and minimized by feature visualization, the values reached and the pictures. */
function Reach({ model, unit, onUse, observed }: { model: string; unit: string; onUse: (low: number | null, high: number | null) => void; observed?: UnitRange }) {
  const high = useRun();
  const low = useRun();
  const cut = unit.lastIndexOf(":");
  const spec = { model: modelRef(model), layer: unit.slice(0, cut), channels: [Number(unit.slice(cut + 1))], steps: REACH_STEPS };
  const start = () => {
    void high.run("visualize", spec);
    void low.run("visualize", { ...spec, mix: true, alphas: [-1] });
  };
  const image = (s: RunState) => (s.status === "done" && s.result ? resultData(s.result, "visualize").images[0] : undefined);
  const top = image(high.state);
  const bottom = image(low.state);
  const reachedHigh = top?.activation ?? null;
  const reachedLow = bottom?.activation == null ? null : -bottom.activation; // the mix's objective is -unit
  const busy = [high.state, low.state].some((s) => ["submitting", "queued", "running"].includes(s.status));
  const failed = high.state.error?.message ?? low.state.error?.message;
  const steps = (s: RunState) => (s.progress && s.progress.total ? `${s.progress.done}/${s.progress.total}` : "");
  if (!top && !bottom && !busy && !failed)
    return (
      <button type="button" className="small" onClick={start} data-testid="reach">
        feature visualization: how far does {unit} go?
      </button>
    );
  return (
    <div className="reach" data-testid="reach-result">
      {busy && (
        <span className="muted">
          visualizing {unit} ({REACH_STEPS} steps) … max {steps(high.state)} min {steps(low.state)}
        </span>
      )}
      {failed && <span className="error">{failed}</span>}
      {top && bottom && (
        <>
          <span>
            feature visualization ({REACH_STEPS} steps) reaches <b>{sci(reachedLow)}</b> to <b>{sci(reachedHigh)}</b>
            {observed?.max != null && reachedHigh != null && reachedHigh > observed.max ? " (beyond the observed max)" : ""}
          </span>
          <figure>
            <img src={bottom.path} alt={`${unit} minimized by feature visualization: ${sci(reachedLow)}`} />
            <figcaption>min</figcaption>
          </figure>
          <figure>
            <img src={top.path} alt={`${unit} maximized by feature visualization: ${sci(reachedHigh)}`} />
            <figcaption>max</figcaption>
          </figure>
          <button type="button" className="small" onClick={() => onUse(observed?.p95 ?? null, reachedHigh)}>
            use 95% – reached max
          </button>
        </>
      )}
    </div>
  );
}
