// A technique's page: its parameters (kept in the URL), Run, live progress with previews, cancel, errors next to
// their fields, and the result. Opening a URL with `run=1` runs it (the server answers from its store).
import { useEffect, useRef, useState } from "react";
import { Link, useLocation, useParams } from "react-router";
import type { ResultView, Spec } from "../api/client";
import { useRun } from "../api/useRun";
import { type Values, rememberPage, useUrlState } from "../state";
import { LayerPicker } from "./LayerPicker";
import { DatasetSelect, ImagePicker } from "./pickers";
import { Field, RunPanel } from "./RunPanel";

export type FieldKind = "image" | "layer" | "layer?" | "dataset" | "select" | "bool" | "text" | "number" | "custom";

/** What a feature's own input (a field of kind "custom") receives. */
export interface FieldInputProps {
  model: string;
  value: string;
  onChange: (value: string) => void;
}

export interface FieldDef {
  key: string;
  label: string;
  kind: FieldKind;
  /** the field's value before the user types one; a function of the page's model where it depends on it */
  default?: string | ((model: string) => string);
  options?: string[];
  hint?: string;
  /** spec fields whose API errors show under this field (default: the key) */
  spec?: string[];
  /** shown only when this returns true for the current values */
  when?: (v: Values) => boolean;
  /** kind "custom": the feature's own input (e.g. the inverse set's constraint rows) */
  Input?: (props: FieldInputProps) => React.ReactNode;
}

/** A technique page (each feature's `index.ts` defines one; src/app/pages.ts lists them in nav order). */
export interface PageDef {
  path: string;
  title: string;
  recipe: string;
  intro: string;
  paper?: { label: string; url: string };
  fields: FieldDef[];
  toSpec: (v: Values, model: string) => Spec;
  Result: (props: { result: ResultView; model: string; values: Values }) => React.ReactNode;
  runLabel?: string;
}

export function RecipePage({ page }: { page: PageDef }) {
  const model = useParams().model ?? "default";
  const defaults = Object.fromEntries(
    page.fields.map((f) => [f.key, typeof f.default === "function" ? f.default(model) : (f.default ?? "")]),
  );
  const [values, setValues, autorun] = useUrlState(defaults);
  const location = useLocation();
  const [draft, setDraft] = useState<Values>(values);
  const { state, run, cancel } = useRun();
  // the spec last run from this page: a URL with run=1 (opened, reloaded, edited, or reached from the nav) runs
  // its spec unless that is the one already shown; the server answers a stored spec at once and a spec still
  // running with its running job
  const lastRun = useRef<string | null>(null);
  useEffect(() => setDraft(values), [values]);
  useEffect(() => {
    if (!autorun) return;
    const spec = page.toSpec(values, model);
    const key = JSON.stringify(spec);
    if (lastRun.current === key) return;
    lastRun.current = key;
    void run(page.recipe, spec);
  }, [autorun, values, model, page, run]);
  useEffect(() => rememberPage(model, page.path, location.search), [model, page.path, location.search]);
  const edit = (next: Values) => {
    setDraft(next);
    setValues(next, false, true); // typed values survive a reload and a visit to another page
  };
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const spec = page.toSpec(draft, model);
    lastRun.current = JSON.stringify(spec);
    setValues(draft, true);
    void run(page.recipe, spec);
  };
  const errors = state.error?.fields ?? {};
  const errorOf = (f: FieldDef) =>
    (f.spec ?? [f.key])
      .map((k) => errors[k])
      .filter(Boolean)
      .join("; ") || undefined;
  const shown = page.fields.filter((f) => !f.when || f.when(draft));
  const known = new Set(page.fields.flatMap((f) => f.spec ?? [f.key]));
  const other = Object.entries(errors).filter(([k]) => !known.has(k));
  const busy = ["submitting", "queued", "running"].includes(state.status);
  return (
    <div className="page">
      <header className="page-head">
        <h1>{page.title}</h1>
        <p>
          {page.intro}{" "}
          {page.paper && (
            <a href={page.paper.url} target="_blank" rel="noreferrer">
              {page.paper.label}
            </a>
          )}
        </p>
      </header>
      <form className="params" onSubmit={submit} aria-label={`${page.title} parameters`}>
        {shown.map((f) => (
          <Field key={f.key} label={f.label} error={errorOf(f)} hint={f.hint}>
            <Input field={f} model={model} value={draft[f.key] ?? ""} set={(v) => edit({ ...draft, [f.key]: v })} />
          </Field>
        ))}
        {other.map(([k, msg]) => (
          <p key={k} className="error" role="alert">
            {k}: {msg}
          </p>
        ))}
        <div className="actions">
          <button type="submit" disabled={busy} data-testid="run">
            {page.runLabel ?? "Run"}
          </button>
          {state.job && (
            <Link to={`/jobs`} className="small">
              job {state.job}
            </Link>
          )}
        </div>
      </form>
      <RunPanel state={state} onCancel={() => void cancel()} />
      {state.status === "done" && state.result && (
        <section className="result" data-testid="result">
          <page.Result result={state.result} model={model} values={values} />
        </section>
      )}
    </div>
  );
}

function Input({ field, model, value, set }: { field: FieldDef; model: string; value: string; set: (v: string) => void }) {
  switch (field.kind) {
    case "image":
      return <ImagePicker value={value} onChange={set} />;
    case "layer":
    case "layer?":
      return <LayerPicker model={model} value={value} onChange={set} allowEmpty={field.kind === "layer?"} />;
    case "dataset":
      return <DatasetSelect value={value} onChange={set} />;
    case "custom": {
      const Custom = field.Input!;
      return <Custom model={model} value={value} onChange={set} />;
    }
    case "select":
      return (
        <select value={value} onChange={(e) => set(e.target.value)} name={field.key}>
          {field.options!.map((o) => (
            <option key={o}>{o}</option>
          ))}
        </select>
      );
    case "bool":
      return <input type="checkbox" name={field.key} checked={value === "true"} onChange={(e) => set(String(e.target.checked))} />;
    default:
      return <input name={field.key} value={value} onChange={(e) => set(e.target.value)} inputMode={field.kind === "number" ? "decimal" : undefined} />;
  }
}
