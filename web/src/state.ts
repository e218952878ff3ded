// Page state lives in the URL (hash route + query), so a reload or a shared link shows the same page and,
// with `run=1`, the same result (answered from the server's result store).
import { useCallback, useMemo } from "react";
import { useSearchParams } from "react-router";

export type Values = Record<string, string>;

export function useUrlState(defaults: Values): [Values, (next: Values, run?: boolean) => void, boolean] {
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
    (next: Values, run = false) => {
      const out = new URLSearchParams();
      for (const [key, value] of Object.entries(next)) if (value !== "" && value !== defaults[key]) out.set(key, value);
      if (run) out.set("run", "1");
      setParams(out, { replace: !run });
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [setParams],
  );
  return [values, set, params.get("run") === "1"];
}

/** "1, 2,3" -> [1, 2, 3]; empty -> undefined; anything else -> NaN entries the server reports by field. */
export function intList(text: string | undefined): number[] | undefined {
  const parts = (text ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  return parts.length ? parts.map(Number) : undefined;
}

export function numberOr(text: string | undefined): number | undefined {
  return (text ?? "").trim() === "" ? undefined : Number(text);
}
