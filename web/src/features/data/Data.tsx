// The Data page (#/data): add a dataset from the browser (a zip, images or a folder), the server's datasets with
// what they hold (images, classes, channels, a few thumbnails, the files an upload skipped), removing an uploaded
// one; and the models, with a form to add one where the server allows it.
import { useEffect, useState } from "react";
import { api, type ApiError, type DatasetView, type Health } from "../../api/client";
import { datasetImage, removeUploaded } from "../../api/uploads";
import { refreshOffered, useOffered } from "../../components/pickers";
import { DatasetUpload } from "./DatasetUpload";
import { Models } from "./Models";

const CLASSES_SHOWN = 6;

export function Data() {
  const { datasetInfo, loaded } = useOffered();
  const [health, setHealth] = useState<Health>();
  useEffect(() => {
    void api.GET("/api/health").then(({ data }) => setHealth(data));
  }, []);
  return (
    <div className="page data">
      <header className="page-head">
        <h1>Data</h1>
        <p>
          Your own images as datasets: every page that scans a dataset offers them on the models they fit (the same
          number of channels). Nothing needs a restart.
        </p>
      </header>
      <DatasetUpload limits={health?.limits} />
      <section aria-labelledby="datasets-title">
        <h2 id="datasets-title">Datasets</h2>
        {!loaded && <p className="notice">loading…</p>}
        <div className="dataset-list" data-testid="dataset-list">
          {datasetInfo.map((d) => (
            <DatasetCard key={d.name} dataset={d} />
          ))}
        </div>
      </section>
      <Models health={health} />
    </div>
  );
}

const channels = (c?: number | null) => (c === 1 ? "grayscale" : c === 3 ? "RGB" : c ? `${c} channels` : null);

function DatasetCard({ dataset: d }: { dataset: DatasetView }) {
  const [error, setError] = useState<string>();
  const remove = async () => {
    if (!window.confirm(`Delete the uploaded dataset ${d.name}? Pages that name it will not run on it any more.`)) return;
    setError(undefined);
    try {
      await removeUploaded("datasets", d.name);
      await refreshOffered();
    } catch (caught) {
      setError((caught as ApiError).message);
    }
  };
  const classes = d.classes ?? null;
  const skipped = d.skipped ?? [];
  const facts = [
    d.images != null ? `${d.images.toLocaleString("en")} images` : "images not counted (a folder given at start)",
    channels(d.channels),
    classes ? `${classes.length} classes` : "no classes",
  ].filter(Boolean);
  return (
    <article className="dataset" data-testid={`dataset-${d.name}`} aria-labelledby={`dataset-title-${d.name}`}>
      <header>
        <h3 id={`dataset-title-${d.name}`}>{d.name}</h3>
        <span className="tag">{d.kind}</span>
        {d.kind === "uploaded" && (
          <button type="button" className="delete" onClick={() => void remove()} data-testid={`delete-dataset-${d.name}`}>
            Delete
          </button>
        )}
      </header>
      <p className="facts" data-testid={`dataset-facts-${d.name}`}>
        {facts.join(" · ")}
      </p>
      {classes && classes.length > 0 && (
        <p className="small classes">
          {classes.slice(0, CLASSES_SHOWN).join(", ")}
          {classes.length > CLASSES_SHOWN ? `, … (${classes.length - CLASSES_SHOWN} more)` : ""}
        </p>
      )}
      {(d.thumbnails ?? []).length > 0 && (
        <div className="dataset-thumbs">
          {(d.thumbnails ?? []).slice(0, 4).map((id) => (
            <img key={id} src={datasetImage(d.name, id)} alt={id} title={id} loading="lazy" />
          ))}
        </div>
      )}
      {d.description && <p className="small description">{d.description}</p>}
      {skipped.length > 0 && (
        <details data-testid={`skipped-${d.name}`}>
          <summary>
            {skipped.length} file{skipped.length === 1 ? "" : "s"} skipped
          </summary>
          <ul className="small">
            {skipped.map((s) => (
              <li key={s.id}>
                <code>{s.id}</code>: {s.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </article>
  );
}
