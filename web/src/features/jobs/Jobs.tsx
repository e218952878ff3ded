// Every job of the server as a research log, newest first, refreshed every second while any is active: when it
// started, the recipe and model, the parameters its spec changed from the recipe's defaults, its duration (or the
// time it has left), its status and progress; cancel; "open" shows it on its page with the form filled in (its
// result there, never raw JSON).
import { useEffect, useMemo, useState } from "react";
import { api, type JobView } from "../../api/client";
import { type PageFields, type RecipeSchema, changedParams, jobLink, modelOf, startedAt, timing } from "../../lib/jobs";

const LOOKUPS = new Set(["layers", "models"]);

/** A technique page as the log links to it (the app passes its pages). */
export interface JobPage {
  recipe: string;
  path: string;
  title: string;
  /** the page's own form fields: key -> its default as text (undefined: none, or one that depends on the model) */
  fields: PageFields;
}

function useRecipeSchemas(): Record<string, RecipeSchema> {
  const [schemas, setSchemas] = useState<Record<string, RecipeSchema>>({});
  useEffect(() => {
    let live = true;
    void api.GET("/api/recipes").then(({ data }) => {
      if (live && data) setSchemas(Object.fromEntries(data.recipes.map((r) => [r.name, r.schema as RecipeSchema])));
    });
    return () => {
      live = false;
    };
  }, []);
  return schemas;
}

/** A long value (an image's sha256 id, a long list) cut for the table; the whole value is its title. */
const short = (text: string) => (text.length > 28 ? `${text.slice(0, 12)}…${text.slice(-6)}` : text);

function Params({ job, schema }: { job: JobView; schema?: RecipeSchema }) {
  if (!schema) return null; // until the recipes' defaults are known
  const changed = changedParams(job.spec ?? {}, schema);
  if (!changed.length) return <span className="notice">defaults</span>;
  return (
    <ul className="job-params" data-testid={`params-${job.id}`}>
      {changed.map(([key, value]) => (
        <li key={key} title={`${key}=${value}`}>
          <span className="param-key">{key}</span>={short(value.replace(/\n/g, "; "))}
        </li>
      ))}
    </ul>
  );
}

function Progress({ job }: { job: JobView }) {
  const p = job.progress;
  return (
    <>
      {/* a run with overall stages (an atlas: units, shards) shows them first, then the current one */}
      {["units", "shards"]
        .filter((name) => job.stages?.[name] && p.stage !== name)
        .map((name) => {
          const s = job.stages![name];
          return (
            <div key={name} data-testid={`${name}-${job.id}`}>
              <progress max={s.total} value={s.done} aria-label={`${name} of job ${job.id}`} /> {name} {s.done}/
              {s.total}
            </div>
          );
        })}
      {p.total > 0 && <progress max={p.total} value={p.done} aria-label={`progress of job ${job.id}`} />} {p.stage}{" "}
      {p.total ? `${p.done}/${p.total}` : p.done || ""}
    </>
  );
}

export function Jobs({ pages = [] }: { pages?: JobPage[] }) {
  const [jobs, setJobs] = useState<JobView[]>([]);
  const [lookups, setLookups] = useState(false); // the pages' own quick lookups (layer lists, model lists)
  const [now, setNow] = useState(() => Date.now() / 1000);
  const schemas = useRecipeSchemas();
  const byRecipe = useMemo(() => new Map(pages.map((p) => [p.recipe, p])), [pages]);
  useEffect(() => {
    let live = true;
    const load = async () => {
      const { data } = await api.GET("/api/jobs");
      if (live && data) setJobs([...data.jobs].reverse());
      setNow(Date.now() / 1000);
    };
    void load();
    const timer = setInterval(load, 1000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  const cancel = (id: string) => void api.DELETE("/api/jobs/{job_id}", { params: { path: { job_id: id } } });
  const shown = jobs.filter((j) => lookups || !LOOKUPS.has(j.recipe));
  return (
    <div className="page">
      <header className="page-head">
        <h1>Jobs</h1>
        <p>
          Every run of this server, newest first: what ran, with which parameters (those that differ from the
          recipe's defaults), when, for how long. <strong>Open</strong> shows a run on its page, its form filled in.
        </p>
        <label className="small">
          <input type="checkbox" checked={lookups} onChange={(e) => setLookups(e.target.checked)} /> show the
          pages' quick lookups (layer and model lists)
        </label>
      </header>
      {shown.length === 0 && <p className="notice">No runs yet.</p>}
      <div className="table-wrap">
        <table className="jobs" data-testid="jobs">
          <thead>
            <tr>
              <th scope="col">started</th>
              <th scope="col">recipe</th>
              <th scope="col">model</th>
              <th scope="col">parameters</th>
              <th scope="col">time</th>
              <th scope="col">status</th>
              <th scope="col">progress</th>
              <th scope="col">
                <span className="visually-hidden">actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((j) => {
              const active = j.status === "queued" || j.status === "running";
              const page = byRecipe.get(j.recipe);
              const model = modelOf(j.spec ?? {});
              const time = timing(j, now);
              return (
                <tr key={j.id} data-testid={`job-${j.id}`}>
                  <td data-testid={`started-${j.id}`}>
                    {startedAt(j.started ?? j.created, now)}
                    <br />
                    <small className="job-id" title="job id">
                      {j.id}
                    </small>
                  </td>
                  <td>{page?.title ?? j.recipe}</td>
                  <td data-testid={`model-${j.id}`}>{model}</td>
                  <td>
                    <Params job={j} schema={schemas[j.recipe]} />
                  </td>
                  <td data-testid={`time-${j.id}`} className={`time-${time.kind}`}>
                    {time.text}
                  </td>
                  <td className={`status-${j.status}`}>
                    {j.status}
                    {j.cached ? " (stored)" : ""}
                    {j.error && <small className="error"> {j.error}</small>}
                  </td>
                  <td>
                    <Progress job={j} />
                  </td>
                  <td className="job-actions">
                    {active && (
                      <button
                        type="button"
                        onClick={() => cancel(j.id)}
                        data-testid={`cancel-${j.id}`}
                        aria-label={`Cancel job ${j.id}`}
                      >
                        Cancel
                      </button>
                    )}
                    {page ? (
                      <a
                        href={jobLink(model, page.path, j.spec ?? {}, schemas[j.recipe], j.id, page.fields)}
                        data-testid={`open-${j.id}`}
                        aria-label={`Open job ${j.id} on the ${page.title} page`}
                      >
                        open
                      </a>
                    ) : j.recipe === "atlas" && j.result ? (
                      <a href={`#/atlas/${j.hash}`}>the atlas</a>
                    ) : (
                      j.result && (
                        <a href={`/api/results/${j.hash}`} target="_blank" rel="noreferrer">
                          result (JSON)
                        </a>
                      )
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
