// Page state lives in the URL (hash route + query), so a reload or a shared link shows the same page and,
// with `run=1`, the same result (answered from the server's result store).
import { useCallback, useMemo } from "react";
import { useSearchParams } from "react-router";

export type Values = Record<string, string>;

export function useUrlState(
  defaults: Values,
): [Values, (next: Values, run?: boolean, keepRun?: boolean) => void, boolean] {
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
      // a draft (typed, not run): the URL keeps the values but no run flag, replacing the entry
      if (draft && out.toString() === new URLSearchParams(window.location.hash.split("?")[1] ?? "").toString()) return;
      setParams(out, { replace: !run });
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [setParams],
  );
  return [values, set, params.get("run") === "1"];
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
