// A technique's page: its parameters (kept in the URL), Run, live progress with previews, cancel, errors next to
// their fields, and the result. Opening a URL with `run=1` runs it once (the server answers from its store); the URL
// then names the job (`job=<id>`), which Back or a reload show without running anything (usePageRun.ts). A page with
// `compare` also offers a second model ("Compare with"): the same spec runs on both, results side by side.
import { Suspense, useEffect, useState } from "react";
import { Link, useLocation, useParams } from "react-router";
import type { ResultView, Spec } from "../api/client";
import type { RunState } from "../api/useRun";
import { datasetFor } from "../lib/spec";
import { type Values, rememberPage, useUrlState } from "../state";
import { AdvancedFields, useAdvanced } from "./AdvancedFields";
import { LayerPicker } from "./LayerPicker";
import { DatasetSelect, ImagePicker, type Offered, datasetProblem, useOffered } from "./pickers";
import { JobNotice } from "./JobNotice";
import { Field, RunPanel } from "./RunPanel";
import { RunExtras } from "./RunExtras";
import { RunEstimate } from "./RunEstimate";
import { usePageRun } from "./usePageRun";

/** "schema": a field made from the recipe's schema (its input, default, bounds; AdvancedFields.tsx) where the page
 * places it, with the page's label and `when`; a "select" without `options` takes the schema's choices. */
export type FieldKind = "image" | "layer" | "layer?" | "dataset" | "select" | "bool" | "text" | "number" | "custom" | "schema";

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
  /** the field's value before the user types one; a function of the page's model where it depends on it (a
   * dataset field without one starts at the first dataset that fits the model: lib/spec.ts datasetFor) */
  default?: string | ((model: string) => string);
  options?: string[];
  hint?: string;
  /** spec fields whose API errors show under this field (default: the key) */
  spec?: string[];
  /** shown only when this returns true for the current values */
  when?: (v: Values) => boolean;
  /** kind "custom": the feature's own input (e.g. the inverse set's constraint rows) */
  Input?: (props: FieldInputProps) => React.ReactNode;
  /** kind "dataset": offer only datasets with classes (an evaluation needs labels) */
  labelled?: boolean;
  /** a problem the page sees before asking the server (shown under the field; the page does not run) */
  check?: (value: string) => string | undefined;
  /** one of the fields generated from the recipe's schema (AdvancedFields.tsx): shown under "Advanced" */
  advanced?: boolean;
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
  /** the result view (a component, or a React.lazy one: the page shows "loading…" until its code is there); `spec`:
   * the spec its run was submitted with (the job's own when the page attached to it), whatever the form holds now */
  Result: React.ComponentType<{ result: ResultView; model: string; values: Values; spec?: Spec }>;
  runLabel?: string;
  /** offer "Compare with" a second model: the same spec runs on it too, the two results side by side */
  compare?: boolean;
}

/** The page once the server's models and datasets are known (dataset defaults and the fit rule read them). */
export function RecipePage({ page: own }: { page: PageDef }) {
  const offered = useOffered();
  const page = useAdvanced(own); // with a field for every other parameter of the recipe, once its schema is known
  if (!offered.loaded || !page)
    return (
      <div className="page">
        <PageHead page={own} />
        <p className="notice">loading…</p>
      </div>
    );
  return <LoadedPage page={page} offered={offered} />;
}

function PageHead({ page }: { page: PageDef }) {
  return (
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
  );
}

function LoadedPage({ page, offered }: { page: PageDef; offered: Offered }) {
  const model = useParams().model ?? "default";
  const facts = offered.modelInfo.find((m) => m.name === model);
  const defaults: Values = Object.fromEntries(
    page.fields.map((f) => [
      f.key,
      typeof f.default === "function"
        ? f.default(model)
        : f.default === undefined && f.kind === "dataset"
          ? datasetFor(facts, offered.datasetInfo, f.labelled)
          : (f.default ?? ""),
    ]),
  );
  if (page.compare) defaults.compare = "";
  const [values, setValues, autorun, jobs, recordJobs] = useUrlState(defaults);
  const location = useLocation();
  const [draft, setDraft] = useState<Values>(values);
  // what keeps the page from running, seen before asking the server: a dataset that does not fit the model (or is
  // not labelled where the page needs classes), a field's own check, an unknown model to compare with
  const problems = (v: Values): Record<string, string> => {
    const found: Record<string, string> = {};
    for (const f of page.fields) {
      if (f.when && !f.when(v)) continue;
      const problem =
        f.kind === "dataset" ? datasetProblem(offered, model, v[f.key] ?? "", f.labelled) : f.check?.(v[f.key] ?? "");
      if (problem) found[f.key] = problem;
    }
    if (page.compare && v.compare && !offered.models.includes(v.compare))
      found.compare = `model ${v.compare} is not on this server`;
    return found;
  };
  const blocked = Object.values(problems(values)).join("; ");
  // Run and the URL (usePageRun.ts): run=1 runs once and becomes job=<id>; job=<id> shows that job, starting nothing
  const { state, cancel, second, compared, missing, declined, start } = usePageRun(page, model, values, blocked, {
    autorun,
    jobs,
    recordJobs,
  });
  useEffect(() => setDraft(values), [values]);
  useEffect(() => rememberPage(model, page.path, location.search), [model, page.path, location.search]);
  const edit = (next: Values) => {
    setDraft(next);
    setValues(next, false, true); // typed values survive a reload and a visit to another page
  };
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (Object.keys(problems(draft)).length) return;
    setValues(draft, true);
    void start(draft);
  };
  const errors = state.error?.fields ?? {};
  const seen = problems(draft);
  const errorOf = (f: FieldDef) =>
    [seen[f.key], ...(f.spec ?? [f.key]).map((k) => errors[k])].filter(Boolean).join("; ") || undefined;
  const shown = page.fields.filter((f) => !f.when || f.when(draft));
  const field = (f: FieldDef) => (
    <Field key={f.key} label={f.label} error={errorOf(f)} hint={f.hint}>
      <Input field={f} model={model} value={draft[f.key] ?? ""} set={(v) => edit({ ...draft, [f.key]: v })} />
    </Field>
  );
  const known = new Set(page.fields.flatMap((f) => f.spec ?? [f.key]));
  const other = Object.entries(errors).filter(([k]) => !known.has(k));
  const busy = [state, second.state].some((s) => ["submitting", "queued", "running"].includes(s.status));
  const others = offered.models.filter((m) => m !== model);
  return (
    <div className="page">
      <PageHead page={page} />
      <form className="params" onSubmit={submit} aria-label={`${page.title} parameters`}>
        {shown.filter((f) => !f.advanced).map(field)}
        <AdvancedFields fields={shown.filter((f) => f.advanced)} active={shown.some((f) => f.advanced && ((draft[f.key] ?? "") !== defaults[f.key] || errorOf(f)))}>
          {field}
        </AdvancedFields>
        {page.compare && (
          <Field label="Compare with" hint="a second model on the same input" error={seen.compare}>
            <select
              name="compare"
              value={draft.compare ?? ""}
              onChange={(e) => edit({ ...draft, compare: e.target.value })}
              data-testid="compare-select"
            >
              <option value="">(none)</option>
              {[...others, ...(draft.compare && !others.includes(draft.compare) ? [draft.compare] : [])].map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </Field>
        )}
        {other.map(([k, msg]) => (
          <p key={k} className="error" role="alert">
            {k}: {msg}
          </p>
        ))}
        <div className="actions">
          <button type="submit" disabled={busy || Object.keys(seen).length > 0} data-testid="run">
            {page.runLabel ?? "Run"}
          </button>
          {state.job && (
            <Link to={`/jobs`} className="small">
              job {state.job}
            </Link>
          )}
          <RunEstimate
            recipe={page.recipe}
            spec={page.toSpec(draft, model)}
            skip={busy || Object.keys(seen).length > 0 || shown.some((f) => ["image", "layer"].includes(f.kind) && !draft[f.key])}
          />
        </div>
      </form>
      {autorun && blocked && (
        <p className="error" role="alert" data-testid="not-run">
          Not run: {blocked}.
        </p>
      )}
      <JobNotice state={state} missing={missing} declined={declined} jobs={jobs} />
      {compared ? (
        <div className="side-by-side" data-testid="side-by-side">
          <Side page={page} model={model} values={values} state={state} onCancel={() => void cancel()} testid="result" />
          <Side
            page={page}
            model={compared}
            values={values}
            state={second.state}
            onCancel={() => void second.cancel()}
            testid="result-compare"
          />
        </div>
      ) : (
        <>
          <RunPanel state={state} onCancel={() => void cancel()} />
          {state.status === "done" && state.result && (
            <Suspense fallback={<p className="notice">loading…</p>}>
              <section className="result" data-testid="result" aria-labelledby="result-heading">
                {/* the outline: the page's h1, this h2, the result's own h3s */}
                <h2 id="result-heading" className="visually-hidden">
                  Result
                </h2>
                <page.Result result={state.result} model={model} values={values} spec={state.spec} />
              </section>
              <RunExtras result={state.result} />
            </Suspense>
          )}
        </>
      )}
    </div>
  );
}

/** One model's run and result, headed by the model's name (the two columns of "Compare with"). */
function Side(props: { page: PageDef; model: string; values: Values; state: RunState; onCancel: () => void; testid: string }) {
  const { page, model, values, state, onCancel, testid } = props;
  return (
    <section className="side" aria-label={`result of ${model}`}>
      <h2>{model}</h2>
      <RunPanel state={state} onCancel={onCancel} />
      {state.status === "done" && state.result && (
        <Suspense fallback={<p className="notice">loading…</p>}>
          <div className="result" data-testid={testid}>
            <page.Result result={state.result} model={model} values={values} spec={state.spec} />
          </div>
          <RunExtras result={state.result} what={`the run of ${model}`} />
        </Suspense>
      )}
    </section>
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
      return <DatasetSelect value={value} onChange={set} model={model} labelled={field.labelled} />;
    case "custom": {
      const Custom = field.Input!;
      return <Custom model={model} value={value} onChange={set} />;
    }
    case "select":
      return (
        <select value={value} onChange={(e) => set(e.target.value)} name={field.key}>
          {(field.options ?? []).map((o) => (
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
