// Page state lives in the URL (hash route + query), so a reload or a shared link shows the same page. A link with
// `run=1` runs its spec once: as soon as the job exists, `run=1` is replaced (history.replaceState) by `job=<id>`,
// so that Back, a reload or the history show that job (its result, or its cancelled or failed state) and never
// start it again (`job=<id>,<id>`: the page's two runs, "Compare with").
import { useCallback, useMemo } from "react";
import { useSearchParams } from "react-router";

export type Values = Record<string, string>;

/** The query without the run markers (`run`, `job`): the page's values only. */
const valuesOnly = (query: URLSearchParams): string => {
  const out = new URLSearchParams(query);
  out.delete("run");
  out.delete("job");
  return out.toString();
};

export function useUrlState(
  defaults: Values,
): [
  Values,
  (next: Values, run?: boolean, keepRun?: boolean) => void,
  boolean,
  string[],
  (jobs: string[]) => void,
] {
  const [params, setParams] = useSearchParams();
  const values = useMemo(() => {
    const v: Values = { ...defaults };
    for (const key of Object.keys(defaults)) {
      const got = params.get(key);
      if (got !== null) v[key] = got;
    }
    return v;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [params]);
  const set = useCallback(
    (next: Values, run = false, draft = false) => {
      const out = new URLSearchParams();
      // a value equal to its default stays out of the URL; an emptied field with a default is kept as `key=`
      for (const [key, value] of Object.entries(next)) if (value !== (defaults[key] ?? "")) out.set(key, value);
      if (run) out.set("run", "1");
      // a draft (typed, not run): the URL keeps the values but no run flag nor job, replacing the entry; unchanged
      // values leave the URL (and the job it shows) as it is
      if (draft && out.toString() === valuesOnly(new URLSearchParams(window.location.hash.split("?")[1] ?? ""))) return;
      setParams(out, { replace: !run });
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [setParams],
  );
  // the run's jobs replace its run flag in the URL's current entry (no new history entry)
  const recordJobs = useCallback(
    (jobs: string[]) => {
      const out = new URLSearchParams(window.location.hash.split("?")[1] ?? "");
      out.delete("run");
      if (jobs.length) out.set("job", jobs.join(","));
      else out.delete("job");
      setParams(out, { replace: true });
    },
    [setParams],
  );
  const jobs = useMemo(() => (params.get("job") ?? "").split(",").filter(Boolean), [params]);
  return [values, set, params.get("run") === "1" && jobs.length === 0, jobs, recordJobs];
}

/** The last query of each technique page (per model), so the nav leads back to the page as it was left. */
const LAST = "convscope:page:";

export function rememberPage(model: string, path: string, search: string): void {
  try {
    sessionStorage.setItem(`${LAST}${model}/${path}`, search);
  } catch {
    /* storage unavailable (private mode): the nav links stay plain */
  }
}

export function rememberedQuery(model: string, path: string): string {
  try {
    return sessionStorage.getItem(`${LAST}${model}/${path}`) ?? "";
  } catch {
    return "";
  }
}

/** The model last visited (the nav's target from pages without a model, e.g. Jobs). */
export function lastModel(): string | null {
  try {
    return sessionStorage.getItem("convscope:model");
  } catch {
    return null;
  }
}

export function rememberModel(model: string): void {
  try {
    sessionStorage.setItem("convscope:model", model);
  } catch {
    /* ignore */
  }
}
