// The Data page's models: the server's models (kind, input, classes); where the server allows it
// (`convscope serve --allow-model-upload`), a form to add one (an architecture name + .safetensors weights +
// optional labels) and a Delete button for the uploaded ones.
import { useState } from "react";
import type { ApiError, Health, ModelView } from "../../api/client";
import { type Progress, removeUploaded, uploadModel } from "../../api/uploads";
import { refreshOffered, useOffered } from "../../components/pickers";
import { Field } from "../../components/RunPanel";
import { bytes } from "../../lib/format";
import { UploadProgress } from "./UploadProgress";

const input = (m: ModelView) =>
  [m.channels === 1 ? "grayscale" : m.channels === 3 ? "RGB" : null, m.size ? m.size.join("×") : null].filter(Boolean).join(" ");

export function Models({ health }: { health?: Health }) {
  const { modelInfo } = useOffered();
  const [error, setError] = useState<string>();
  const remove = async (name: string) => {
    if (!window.confirm(`Delete the uploaded model ${name}? Pages that name it will not run on it any more.`)) return;
    setError(undefined);
    try {
      await removeUploaded("models", name);
      await refreshOffered();
    } catch (caught) {
      setError((caught as ApiError).message);
    }
  };
  return (
    <section className="models-section" aria-labelledby="models-title">
      <h2 id="models-title">Models</h2>
      <div className="table-wrap">
        <table data-testid="model-list">
          <thead>
            <tr>
              <th>name</th>
              <th>kind</th>
              <th>input</th>
              <th>classes</th>
              <th>
                <span className="visually-hidden">actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {modelInfo.map((m) => (
              <tr key={m.name} data-testid={`model-row-${m.name}`}>
                <td>
                  <strong>{m.name}</strong>
                  {m.arch && <small> ({m.arch})</small>}
                </td>
                <td>{m.kind}</td>
                <td>{input(m) || "—"}</td>
                <td>{m.classes ?? "—"}</td>
                <td>
                  {m.kind === "uploaded" && (
                    <button type="button" onClick={() => void remove(m.name)} data-testid={`delete-model-${m.name}`}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {health &&
        (health.model_uploads ? (
          <ModelUpload maxBytes={health.limits?.model_bytes} />
        ) : (
          <p className="notice" data-testid="model-uploads-off">
            Adding models from the browser is off on this server; start it with{" "}
            <code>convscope serve --allow-model-upload</code> to allow it.
          </p>
        ))}
    </section>
  );
}

function ModelUpload({ maxBytes }: { maxBytes?: number }) {
  const [name, setName] = useState("");
  const [arch, setArch] = useState("");
  const [weights, setWeights] = useState<File>();
  const [labels, setLabels] = useState<File>();
  const [progress, setProgress] = useState<Progress>();
  const [error, setError] = useState<ApiError>();
  const [added, setAdded] = useState<ModelView>();
  const [form, setForm] = useState(0); // a new key clears the file inputs after an upload
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!weights) return;
    setError(undefined);
    setAdded(undefined);
    setProgress({ loaded: 0, total: 0 });
    try {
      const view = await uploadModel({ name: name.trim(), arch: arch.trim(), weights, labels }, setProgress);
      setAdded(view);
      setName("");
      setArch("");
      setWeights(undefined);
      setLabels(undefined);
      setForm((n) => n + 1);
      await refreshOffered();
    } catch (caught) {
      setError(caught as ApiError);
    } finally {
      setProgress(undefined);
    }
  };
  const fields = error?.fields ?? {};
  const placed = ["name", "arch", "weights", "labels"].some((k) => fields[k]);
  return (
    <form key={form} className="params upload-form" onSubmit={submit} aria-label="add a model" data-testid="model-upload">
      <h3>Add a model</h3>
      <Field label="Name" error={fields.name} hint="how pages name it">
        <input name="name" value={name} onChange={(e) => setName(e.target.value)} required />
      </Field>
      <Field label="Architecture" error={fields.arch} hint="timm:NAME or torchvision:NAME; none for a convscope checkpoint">
        <input name="arch" value={arch} onChange={(e) => setArch(e.target.value)} placeholder="timm:resnet18" />
      </Field>
      <Field label="Weights (.safetensors)" error={fields.weights} hint={maxBytes ? `at most ${bytes(maxBytes)}` : undefined}>
        <input type="file" name="weights" accept=".safetensors" required onChange={(e) => setWeights(e.target.files?.[0])} />
      </Field>
      <Field label="Labels (optional)" error={fields.labels} hint="a text file, one class name per line (or a JSON list)">
        <input type="file" name="labels" accept=".txt,.json,text/plain,application/json" onChange={(e) => setLabels(e.target.files?.[0])} />
      </Field>
      {error && !placed && (
        <p className="error" role="alert">
          {error.message}
        </p>
      )}
      <div className="actions">
        <button type="submit" disabled={progress !== undefined || !weights}>
          Add the model
        </button>
        {progress && <UploadProgress progress={progress} />}
        {added && (
          <span className="notice" role="status">
            Added {added.name}
            {added.classes ? ` (${added.classes} classes)` : ""}: pick it in the model list above.
          </span>
        )}
      </div>
    </form>
  );
}
