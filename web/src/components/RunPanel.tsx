// Progress, live previews, cancel and errors of one run; the page renders the result itself.
import type { RunState } from "../api/useRun";

export function RunPanel({ state, onCancel }: { state: RunState; onCancel: () => void }) {
  const active = ["submitting", "queued", "running"].includes(state.status);
  const p = state.progress;
  const fraction = p && p.total > 0 ? Math.min(1, p.done / p.total) : undefined;
  return (
    <section className="run-panel" aria-live="polite">
      {active && (
        <div className="progress-row">
          <span className="status">{state.status}</span>
          {p && (
            <span>
              {p.stage} {p.done}
              {p.total ? ` / ${p.total}` : ""}
            </span>
          )}
          <progress max={1} value={fraction} aria-label="progress" />
          {state.job && (
            <button type="button" onClick={onCancel}>
              Cancel
            </button>
          )}
        </div>
      )}
      {active && Object.keys(state.previews).length > 0 && (
        <div className="previews">
          {Object.entries(state.previews).map(([name, url]) => (
            <figure key={name}>
              <img src={url} alt={`preview of ${name}`} />
              <figcaption>{name}</figcaption>
            </figure>
          ))}
        </div>
      )}
      {state.status === "cancelled" && <p className="notice">Cancelled.</p>}
      {state.error && (
        <p className="error" role="alert">
          {state.error.message}
        </p>
      )}
      {state.status === "done" && state.cached && <p className="notice">From the result store.</p>}
    </section>
  );
}

/** A form field with its label and the API's message for it. */
export function Field({
  label,
  error,
  children,
  hint,
}: {
  label: string;
  error?: string;
  children: React.ReactNode;
  hint?: string;
}) {
  return (
    <label className={error ? "field invalid" : "field"}>
      <span className="label">{label}</span>
      {children}
      {hint && !error && <small>{hint}</small>}
      {error && <small className="error">{error}</small>}
    </label>
  );
}
