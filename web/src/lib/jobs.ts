// A job as a line of a research log: the parameters its spec changed from the recipe's defaults, its duration or
// the time it has left, and the page (with its form filled in) that shows it.
import type { Spec } from "../api/client";
import type { Values } from "../state";

/** A recipe's JSON Schema, as much of it as the log reads: each field's default. */
export interface RecipeSchema {
  properties?: Record<string, { default?: unknown }>;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** A spec value as a form (and the URL) writes it: numbers "0,1,2", strings one a line, a mapping KEY=VALUE
 * lines, booleans "true"/"false". */
export function asText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value))
    return value.every((v) => typeof v === "string") ? value.join("\n") : value.map((v) => asText(v)).join(",");
  if (typeof value === "object")
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}=${asText(v)}`)
      .join("\n");
  return String(value);
}

/** The fields of `spec` that differ from the recipe's defaults (fields without a default, e.g. the image, always
 * count), `model` aside, in the spec's order: [field, value as text]. */
export function changedParams(spec: Spec, schema: RecipeSchema | undefined): [string, string][] {
  const props = schema?.properties ?? {};
  return Object.entries(spec)
    .filter(([key]) => key !== "model")
    .filter(([key, value]) => !(key in props && "default" in props[key] && same(value, props[key].default)))
    .filter(([key, value]) => key in props || (value !== null && value !== undefined))
    .map(([key, value]) => [key, asText(value)]);
}

/** A page's form fields as the log reads them: key -> the page's default as text (undefined: none, or one that
 * depends on the model). */
export type PageFields = Record<string, string | undefined>;

/** A page's URL values for a job's spec (the inverse of the page's toSpec for its plain fields), under each field's
 * own key: the page's fields whose value differs from the page's own default (which may differ from the recipe's),
 * and the other fields the spec sets away from the recipe's default. */
export function valuesFromSpec(spec: Spec, schema: RecipeSchema | undefined, fields: PageFields = {}): Values {
  const values: Values = Object.fromEntries(changedParams(spec, schema).filter(([key]) => !(key in fields)));
  for (const [key, fallback] of Object.entries(fields)) {
    if (key === "model" || spec[key] === undefined || spec[key] === null) continue;
    const text = asText(spec[key]);
    if (text !== fallback) values[key] = text;
  }
  return values;
}

/** The page that shows a job, its form filled in: `#/model/M/PATH?values&job=ID`. */
export function jobLink(
  model: string,
  path: string,
  spec: Spec,
  schema: RecipeSchema | undefined,
  job: string,
  fields: PageFields = {},
): string {
  const query = new URLSearchParams(valuesFromSpec(spec, schema, fields));
  query.set("job", job);
  return `#/model/${encodeURIComponent(model)}/${path}?${query.toString()}`;
}

/** The model a spec names ({"spec": "digits"} -> "digits"). */
export function modelOf(spec: Spec): string {
  const model = spec.model as { spec?: string } | undefined;
  return model?.spec ?? "default";
}

/** Seconds in words: "0.4 s", "12 s", "3 min 5 s", "2 h 10 min". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

interface Timed {
  status: string;
  started: number | null;
  ended: number | null;
  progress: { done: number; total: number };
}

/** A job's time: its duration once ended, else (running) the time left from its progress so far — elapsed x
 * (total - done) / done — or only the elapsed time before the first step; "" while queued. */
export function timing(job: Timed, now: number): { text: string; kind: "duration" | "eta" | "elapsed" | "none" } {
  if (job.started == null) return { text: "", kind: "none" };
  if (job.ended != null) return { text: duration(job.ended - job.started), kind: "duration" };
  const elapsed = Math.max(0, now - job.started);
  const { done, total } = job.progress;
  if (done > 0 && total > done)
    return { text: `about ${duration((elapsed * (total - done)) / done)} left`, kind: "eta" };
  return { text: `${duration(elapsed)} so far`, kind: "elapsed" };
}

/** A time of day (today) or a date and time (before). */
export function startedAt(seconds: number, now = Date.now() / 1000): string {
  const d = new Date(seconds * 1000);
  const today = new Date(now * 1000).toDateString() === d.toDateString();
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return today ? time : `${d.toLocaleDateString()} ${time}`;
}
