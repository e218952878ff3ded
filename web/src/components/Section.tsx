// One view of a unit or a result, computed on demand: a run of `recipe` (at once when `auto`, else on Compute),
// its progress and cancel (RunPanel), its result rendered by the caller and the run's downloads. The unit page's
// views and the attribution page's concept view are made of them.
import { useEffect } from "react";
import type { Spec } from "../api/client";
import { resultData, type RecipeName, type ResultData } from "../api/results";
import { useRun } from "../api/useRun";
import { RunExtras } from "./RunExtras";
import { RunPanel } from "./RunPanel";

export function Section<R extends RecipeName>({
  title,
  recipe,
  spec,
  auto,
  render,
  testid,
  heading: Heading = "h2",
}: {
  title: string;
  recipe: R;
  spec: Spec;
  auto?: boolean;
  render: (data: ResultData[R]) => React.ReactNode;
  testid: string;
  /** the title's heading level where the section sits (default h2: a section of a page) */
  heading?: "h2" | "h3" | "h4" | "h5";
}) {
  const { state, run, cancel } = useRun();
  const key = JSON.stringify(spec);
  useEffect(() => {
    if (auto) void run(recipe, spec);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, auto]);
  return (
    <section className="unit-section" data-testid={testid}>
      <Heading className="section-title">
        {title}{" "}
        {!auto && state.status === "idle" && (
          <button type="button" onClick={() => void run(recipe, spec)} data-testid={`${testid}-run`}>
            Compute
          </button>
        )}
      </Heading>
      <RunPanel state={state} onCancel={() => void cancel()} />
      {state.status === "done" && state.result && render(resultData(state.result, recipe))}
      {state.status === "done" && state.result && <RunExtras result={state.result} what={`the run of “${title}”`} />}
    </section>
  );
}
