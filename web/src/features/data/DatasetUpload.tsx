// Upload a dataset: a name, files dropped or picked (a .zip in ImageFolder layout or flat, images, or a folder),
// the upload's progress, and the server's answer (what it kept, what it skipped, or the refusal by field).
import { useState } from "react";
import type { ApiError, DatasetView, Health } from "../../api/client";
import { type Picked, type Progress, uploadDataset } from "../../api/uploads";
import { refreshOffered } from "../../components/pickers";
import { Field } from "../../components/RunPanel";
import { datasetLimits, droppedFiles, pickedFiles, suggestName, summary } from "./files";
import { UploadProgress } from "./UploadProgress";

// a folder picker: not in React's input attributes, passed through to the DOM as it is
const FOLDER = { webkitdirectory: "", directory: "" } as Record<string, string>;

export function DatasetUpload({ limits }: { limits?: Health["limits"] }) {
  const [name, setName] = useState("");
  const [files, setFiles] = useState<Picked[]>([]);
  const [over, setOver] = useState(false);
  const [progress, setProgress] = useState<Progress>();
  const [error, setError] = useState<ApiError>();
  const [added, setAdded] = useState<DatasetView>();
  const take = (picked: Picked[]) => {
    if (picked.length === 0) return;
    setFiles(picked);
    setError(undefined);
    setAdded(undefined);
    if (!name) setName(suggestName(picked));
  };
  const drop = (e: React.DragEvent) => {
    e.preventDefault();
    setOver(false);
    void droppedFiles(e.dataTransfer).then(take);
  };
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setAdded(undefined);
    setProgress({ loaded: 0, total: 0 });
    try {
      const view = await uploadDataset(name.trim(), files, setProgress);
      setAdded(view);
      setFiles([]);
      setName("");
      await refreshOffered();
    } catch (caught) {
      setError(caught as ApiError);
    } finally {
      setProgress(undefined);
    }
  };
  const fields = error?.fields ?? {};
  const busy = progress !== undefined;
  return (
    <form className="params upload-form" onSubmit={submit} aria-label="upload a dataset" data-testid="dataset-upload">
      <h2>Add a dataset</h2>
      <Field label="Name" error={fields.name} hint="letters, digits, _ . - (up to 64); how pages name it">
        <input name="name" value={name} onChange={(e) => setName(e.target.value)} required data-testid="dataset-name" />
      </Field>
      <div
        className={over ? "drop-zone over" : "drop-zone"}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
        data-testid="drop-zone"
      >
        <p>
          Drop a <strong>.zip</strong> (one sub-folder per class, or flat), image files or a folder here, or
        </p>
        <div className="row">
          <label className="button">
            choose files
            <input
              type="file"
              multiple
              accept=".zip,image/*"
              className="visually-hidden"
              onChange={(e) => e.target.files && take(pickedFiles(e.target.files))}
              data-testid="dataset-files"
            />
          </label>
          <label className="button">
            choose a folder
            <input
              type="file"
              {...FOLDER}
              className="visually-hidden"
              onChange={(e) => e.target.files && take(pickedFiles(e.target.files))}
              data-testid="dataset-folder"
            />
          </label>
        </div>
        {files.length > 0 && (
          <p className="picked" data-testid="picked">
            {summary(files)}: {files.slice(0, 4).map((f) => f.path).join(", ")}
            {files.length > 4 ? ", …" : ""}
          </p>
        )}
        {(fields.files || (error && !fields.name)) && (
          <p className="error" role="alert">
            {fields.files ?? error?.message}
          </p>
        )}
      </div>
      {limits && <p className="small limits">{datasetLimits(limits)} Unreadable files are skipped and listed.</p>}
      <div className="actions">
        <button type="submit" disabled={busy || files.length === 0 || !name.trim()} data-testid="dataset-upload-run">
          Upload
        </button>
        {progress && <UploadProgress progress={progress} />}
        {added && (
          <span className="notice" role="status" data-testid="dataset-added">
            Added {added.name}: {added.images ?? "?"} images
            {added.skipped?.length
              ? `, ${added.skipped.length} file${added.skipped.length === 1 ? "" : "s"} skipped (listed below)`
              : ""}
            .
          </span>
        )}
      </div>
    </form>
  );
}
