// An evaluation: top-1 / top-k as big numbers with their counts, the per-class table (sortable), the most confused
// pairs, the unmatched classes, and the misclassified images — a click opens the attribution page on one, for its
// predicted class, on the same model.
import { useState } from "react";
import { useNavigate } from "react-router";
import type { ApiError, ResultView } from "../../api/client";
import { type ClassAccuracy, type Misclassified, resultData } from "../../api/results";
import { datasetImage, imageFromDataset } from "../../api/uploads";
import { fixed } from "../../lib/format";
import type { Values } from "../../state";

const percent = (x: number | null | undefined) => (x == null ? "n/a" : `${(x * 100).toFixed(1)}%`);
const FIRST = 48; // misclassified images shown before "show all"

export function EvaluateResult({ result, model, values }: { result: ResultView; model: string; values: Values }) {
  const d = resultData(result, "evaluate");
  const dataset = values.dataset || d.dataset;
  const count = (fraction: number) => Math.round(fraction * d.images);
  return (
    <>
      <div className="scores" data-testid="scores">
        <div className="score">
          <span className="big" data-testid="top1">{percent(d.top1)}</span>
          <span>
            top-1: {count(d.top1)} of {d.images} images
          </span>
        </div>
        <div className="score">
          <span className="big" data-testid="topk">{percent(d.topk)}</span>
          <span>
            top-{d.k}: {count(d.topk)} of {d.images} images
          </span>
        </div>
      </div>
      <p className="small">
        {model} on {dataset}: {d.images} images of {d.classes.length - d.unmatched.length} classes evaluated
        {d.skipped.length > 0 && `; ${d.skipped.length} unreadable files skipped`}.
      </p>
      {d.unmatched.length > 0 && (
        <p className="notice" data-testid="unmatched">
          Classes that match no label of the model: {d.unmatched.join(", ")}. Their {d.unmatched_images} images were
          not evaluated; map them with a CLASS=LABEL line in the class mapping.
        </p>
      )}
      <div className="evaluation">
        <ClassTable classes={d.classes} k={d.k} />
        {d.confusions.length > 0 && (
          <section aria-labelledby="confusions-title">
            <h2 id="confusions-title">Most confused pairs</h2>
            <div className="table-wrap">
              <table data-testid="confusions">
                <thead>
                  <tr>
                    <th>true</th>
                    <th>predicted as</th>
                    <th>images</th>
                    <th>of the class</th>
                  </tr>
                </thead>
                <tbody>
                  {d.confusions.map((c) => (
                    <tr key={`${c.true}-${c.predicted}`}>
                      <td>{c.true_name}</td>
                      <td>{c.predicted_name}</td>
                      <td>{c.count}</td>
                      <td>{percent(c.fraction)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        )}
      </div>
      <MisclassifiedGrid images={d.misclassified} dataset={dataset} model={model} />
      {d.skipped.length > 0 && (
        <details>
          <summary>{d.skipped.length} unreadable files skipped</summary>
          <ul className="small">
            {d.skipped.map((s) => (
              <li key={s.id}>
                <code>{s.id}</code>: {s.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
    </>
  );
}

type Column = "name" | "images" | "top1" | "topk";

function ClassTable({ classes, k }: { classes: ClassAccuracy[]; k: number }) {
  const [by, setBy] = useState<{ column: Column; descending: boolean }>({ column: "name", descending: false });
  const value = (c: ClassAccuracy) => (by.column === "name" ? c.name : (c[by.column] ?? -1));
  const rows = [...classes].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    const order = typeof x === "string" ? x.localeCompare(String(y), "en", { numeric: true }) : x - (y as number);
    return by.descending ? -order : order;
  });
  const header = (column: Column, label: string) => (
    <th aria-sort={by.column === column ? (by.descending ? "descending" : "ascending") : undefined}>
      <button
        type="button"
        className="sort"
        onClick={() => setBy({ column, descending: by.column === column ? !by.descending : column !== "name" })}
      >
        {label}
        {by.column === column ? (by.descending ? " ▼" : " ▲") : ""}
      </button>
    </th>
  );
  return (
    <section aria-labelledby="classes-title">
      <h2 id="classes-title">Per class</h2>
      <div className="table-wrap">
        <table data-testid="class-table">
          <thead>
            <tr>
              {header("name", "class")}
              <th>model label</th>
              {header("images", "images")}
              {header("top1", "top-1")}
              {header("topk", `top-${k}`)}
            </tr>
          </thead>
          <tbody>
            {rows.map((c) => (
              <tr key={c.name} className={c.label == null ? "unmatched" : undefined}>
                <td>{c.name}</td>
                <td>
                  {c.label == null
                    ? "unmatched: not evaluated"
                    : c.label_name === String(c.label)
                      ? c.label_name
                      : `${c.label_name} (${c.label})`}
                </td>
                <td>{c.images}</td>
                <td>
                  <span className="bar" style={{ width: `${Math.round((c.top1 ?? 0) * 60)}px` }} />
                  {percent(c.top1)}
                </td>
                <td>{percent(c.topk)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function MisclassifiedGrid({ images, dataset, model }: { images: Misclassified[]; dataset: string; model: string }) {
  const navigate = useNavigate();
  const [all, setAll] = useState(false);
  const [opening, setOpening] = useState<string>();
  const [error, setError] = useState<string>();
  // the dataset image as an uploaded image, then the attribution page on it: same model, the predicted class
  const explain = async (m: Misclassified) => {
    setOpening(m.id);
    setError(undefined);
    try {
      const image = await imageFromDataset(dataset, m.id);
      const query = new URLSearchParams({ image: image.id, target: String(m.predicted), run: "1" });
      navigate(`/model/${encodeURIComponent(model)}/attribution?${query}`);
    } catch (caught) {
      setError(`${m.id}: ${(caught as ApiError).message}`);
      setOpening(undefined);
    }
  };
  const shown = all ? images : images.slice(0, FIRST);
  return (
    <section aria-labelledby="misclassified-title" data-testid="misclassified">
      <h2 id="misclassified-title">Misclassified images: {images.length}</h2>
      {images.length === 0 ? (
        <p>None: every evaluated image's best class is its true class.</p>
      ) : (
        <p className="small">
          Caption: true → predicted (its probability). Click an image to explain the prediction (attribution for the
          predicted class).
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="mis-grid">
        {shown.map((m) => (
          <button
            type="button"
            key={m.id}
            className="mis"
            onClick={() => void explain(m)}
            disabled={opening !== undefined}
            title={`${m.id}: the true class ranks ${m.true_rank} (p ${fixed(m.true_probability, 2)})`}
            data-testid={`misclassified-${m.id}`}
          >
            <img src={datasetImage(dataset, m.id)} alt={m.id} loading="lazy" />
            <span>
              {m.true_name} → {m.predicted_name} ({fixed(m.probability, 2)})
            </span>
            {opening === m.id && <span className="small">opening…</span>}
          </button>
        ))}
      </div>
      {!all && images.length > FIRST && (
        <button type="button" onClick={() => setAll(true)}>
          show all {images.length}
        </button>
      )}
    </section>
  );
}
