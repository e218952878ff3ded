// The home page: the model picker (the server's models with their layer count and input size), a card per page.
import { Link, useNavigate, useParams } from "react-router";
import { useLayers, useOffered } from "../components/pickers";
import { PAGES } from "./pages";

export const CARDS: { path: string; title: string; text: string; paper?: string }[] = [
  { path: "graph", title: "Network graph", text: "The layers, nested modules collapsed, shapes on the edges; pick a layer." },
  ...PAGES.map((p) => ({ path: p.path, title: p.title, text: p.intro, paper: p.paper?.url })),
];

export function ModelSummary({ model }: { model: string }) {
  const { graph, error } = useLayers(model);
  if (error) return <small className="error">{error}</small>;
  if (!graph) return <small>loading…</small>;
  const leaves = graph.layers.filter((l) => l.children.length === 0 && l.name !== "input").length;
  const logits = graph.layers.find((l) => l.name === "logits");
  return (
    <small data-testid={`model-summary-${model}`}>
      {leaves} layers · input {graph.input_shape.join("×")} · {logits?.output_shape?.[0] ?? "?"} classes
    </small>
  );
}

export function Home() {
  const model = useParams().model ?? "";
  const navigate = useNavigate();
  const { models, datasets, datasetInfo } = useOffered();
  const photos = datasetInfo.find((d) => d.name === "photos");
  const chosen = model || models[0] || "default";
  return (
    <div className="page home">
      <header className="page-head">
        <h1>convscope</h1>
        <p>Look inside convolutional networks: pick a model, then a technique.</p>
      </header>
      <section className="models" aria-label="models">
        {models.map((m) => (
          <button
            key={m}
            type="button"
            className={m === chosen ? "model selected" : "model"}
            onClick={() => navigate(`/model/${encodeURIComponent(m)}`)}
            data-testid={`model-${m}`}
          >
            <strong>{m}</strong>
            <ModelSummary model={m} />
          </button>
        ))}
      </section>
      <p className="datasets" data-testid="home-datasets">
        Datasets: {datasets.join(", ") || "—"}.{" "}
        {photos?.description && (
          <>
            <strong>photos</strong>: {photos.description.replace(/\.$/, "")}.{" "}
          </>
        )}
        Your own images: upload a zip (one sub-folder per class, or flat), image files or a folder on the{" "}
        <Link to="/data">Data page</Link>; every page that scans a dataset then offers them.
      </p>
      <section className="cards">
        {CARDS.map((c) => (
          <article key={c.path} className="card">
            <Link to={`/model/${encodeURIComponent(chosen)}/${c.path}`} data-testid={`card-${c.path}`}>
              <img src={`./cards/${c.path}.jpg`} alt="" loading="lazy" />
              <h2>{c.title}</h2>
              <p>{c.text}</p>
            </Link>
            {c.paper && (
              <a className="paper" href={c.paper} target="_blank" rel="noreferrer">
                the paper ↗
              </a>
            )}
          </article>
        ))}
        <Link className="card" to="/jobs" data-testid="card-jobs">
          <h2>Jobs</h2>
          <p>A log of every run: its parameters, when and how long; cancel, or open it on its page.</p>
        </Link>
      </section>
    </div>
  );
}
