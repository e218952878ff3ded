// A technique's page: its parameters (kept in the URL), Run, live progress with previews, cancel, errors next to
// their fields, and the result. Opening a URL with `run=1` runs it (the server answers from its store).
import { useEffect, useRef, useState } from "react";
import { Link, useParams } from "react-router";
import type { ResultView, Spec } from "../api/client";
import { useRun } from "../api/useRun";
import { type Values, useUrlState } from "../state";
import { ConstraintBuilder } from "./ConstraintBuilder";
import { LayerPicker } from "./LayerPicker";
import { DatasetSelect, ImagePicker } from "./pickers";
import { Field, RunPanel } from "./RunPanel";

export type FieldKind = "image" | "layer" | "layer?" | "dataset" | "select" | "bool" | "text" | "number" | "constraints";

export interface FieldDef {
  key: string;
  label: string;
  kind: FieldKind;
  default?: string;
  options?: string[];
  hint?: string;
  /** spec fields whose API errors show under this field (default: the key) */
  spec?: string[];
  /** shown only when this returns true for the current values */
  when?: (v: Values) => boolean;
}

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
  const defaults = Object.fromEntries(page.fields.map((f) => [f.key, f.default ?? ""]));
  const [values, setValues, autorun] = useUrlState(defaults);
  const [draft, setDraft] = useState<Values>(values);
  const { state, run, cancel } = useRun();
  const started = useRef(false);
  useEffect(() => setDraft(values), [values]);
  useEffect(() => {
    if (autorun && !started.current) {
      started.current = true;
      void run(page.recipe, page.toSpec(values, model));
    }
  }, [autorun, values, model, page, run]);
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    started.current = true;
    setValues(draft, true);
    void run(page.recipe, page.toSpec(draft, model));
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
            <Input field={f} model={model} value={draft[f.key] ?? ""} set={(v) => setDraft({ ...draft, [f.key]: v })} />
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
    case "constraints":
      return <ConstraintBuilder model={model} value={value} onChange={set} />;
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
