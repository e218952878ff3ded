// The run logic of a technique page (RecipePage), with the URL as its memory (state.ts):
// - Run, or a URL with `run=1` (a shared link, an edited hash, the nav), runs the page's spec once; as soon as the
//   job exists `run=1` becomes `job=<id>` in the same history entry;
// - a URL with `job=<id>` (Back, a reload, the history, the Jobs page's "open") shows that job — its result, its
//   progress while it runs, or its cancelled / failed state — and starts nothing;
// - running a spec whose last job was cancelled asks first (the server's estimate names the spec's last job);
// - "Compare with": the same spec on a second model, the two jobs as `job=<id>,<id>`.
import { useEffect, useRef, useState } from "react";
import { api, type Spec } from "../api/client";
import { useRun } from "../api/useRun";
import type { Values } from "../state";
import type { PageDef } from "./RecipePage";

export type Estimate = {
  seconds?: number | null;
  basis: string;
  stored: boolean;
  last?: { job: string; status: string; created: number } | null;
};

/** The server's estimate of a run (POST /api/runs/estimate), or undefined when it refuses the spec (the run then
 * shows why, under its field). */
export async function estimateRun(recipe: string, spec: Spec): Promise<Estimate | undefined> {
  const { data } = await api.POST("/api/runs/estimate", { body: { recipe, spec } });
  return data ?? undefined;
}

/** Whether to run `spec`: yes, unless its last job was cancelled and the user says no. */
export async function goAhead(recipe: string, spec: Spec): Promise<boolean> {
  const estimate = await estimateRun(recipe, spec);
  if (estimate?.last?.status !== "cancelled") return true;
  return window.confirm(
    `The last run of these parameters (job ${estimate.last.job}) was cancelled. Run it again?` +
      (estimate.seconds ? ` It should take about ${Math.round(estimate.seconds)} s.` : ""),
  );
}

interface UrlRun {
  autorun: boolean;
  jobs: string[];
  recordJobs: (jobs: string[]) => void;
}

export function usePageRun(page: PageDef, model: string, values: Values, blocked: string, url: UrlRun) {
  const main = useRun();
  const second = useRun(); // the "Compare with" model's run
  const [compared, setCompared] = useState<string>();
  const [missing, setMissing] = useState<string>(); // a job=<id> the server does not know
  const [declined, setDeclined] = useState(false); // the user said no to rerunning a cancelled spec
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  const specs = (v: Values) => {
    const spec = page.toSpec(v, model);
    const other = page.compare && v.compare ? v.compare : undefined;
    const otherSpec = other ? page.toSpec(v, other) : undefined;
    return { spec, other, otherSpec, key: JSON.stringify([spec, otherSpec ?? null]) };
  };
  // the spec last run (or shown) on this page, and the job(s) shown, as the URL writes them
  const lastRun = useRef<string | null>(null);
  const attached = useRef("");
  const start = async (v: Values) => {
    const { spec, other, otherSpec, key } = specs(v);
    lastRun.current = key;
    setMissing(undefined);
    setDeclined(false);
    if (!(await goAhead(page.recipe, spec))) {
      if (mounted.current) {
        setDeclined(true);
        url.recordJobs([]); // no run flag left to ask again on a reload
      }
      return;
    }
    setCompared(other);
    if (!otherSpec) second.reset();
    const ids = await Promise.all([main.run(page.recipe, spec), otherSpec ? second.run(page.recipe, otherSpec) : undefined]);
    const got = ids.filter((id): id is string => !!id);
    if (ids[0] && mounted.current && lastRun.current === key) {
      attached.current = got.join(",");
      url.recordJobs(got);
    }
  };
  const jobKey = url.jobs.join(",");
  useEffect(() => {
    if (!jobKey || attached.current === jobKey) return;
    attached.current = jobKey;
    const [first, other] = url.jobs;
    lastRun.current = specs(values).key;
    setDeclined(false);
    setCompared(other ? values.compare || undefined : undefined);
    void main.attach(first).then((status) => mounted.current && setMissing(status ? undefined : first));
    if (other) void second.attach(other);
    else second.reset();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [jobKey]);
  useEffect(() => {
    if (!url.autorun || blocked) return;
    if (lastRun.current === specs(values).key) return;
    void start(values);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [url.autorun, blocked, values, model, page]);
  return { state: main.state, cancel: main.cancel, second, compared, missing, declined, start };
}
