// Next to a page's Run button: how long the run should take, when the server estimates it at over a minute (from
// the journal of past runs of the recipe on the model: POST /api/runs/estimate; its basis in the tooltip).
import { useEffect, useState } from "react";
import type { Spec } from "../api/client";
import { duration } from "../lib/jobs";
import { type Estimate, estimateRun } from "./usePageRun";

/** A run this long (seconds) or longer shows its estimate before it starts. */
export const LONG_RUN_S = 60;

export function RunEstimate({ recipe, spec, skip }: { recipe: string; spec: Spec; skip?: boolean }) {
  const [estimate, setEstimate] = useState<Estimate>();
  const key = JSON.stringify(spec);
  useEffect(() => {
    if (skip) return;
    let live = true;
    const timer = setTimeout(() => {
      void estimateRun(recipe, JSON.parse(key) as Spec).then((e) => live && setEstimate(e));
    }, 400); // once the typing pauses
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [recipe, key, skip]);
  if (skip || !estimate?.seconds || estimate.seconds < LONG_RUN_S) return null;
  return (
    <span className="estimate small" data-testid="estimate" title={estimate.basis}>
      estimated {duration(estimate.seconds)} <span className="basis">({estimate.basis})</span>
    </span>
  );
}
