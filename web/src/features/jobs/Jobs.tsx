// Every job of the server, refreshed every second while any is active: progress bars, cancel, results.
import { useEffect, useState } from "react";
import { api, type JobView } from "../../api/client";

const LOOKUPS = new Set(["layers", "models"]);

export function Jobs() {
  const [jobs, setJobs] = useState<JobView[]>([]);
  const [open, setOpen] = useState<string>();
  const [lookups, setLookups] = useState(false); // the pages' own quick lookups (layer lists, model lists)
  useEffect(() => {
    let live = true;
    const load = async () => {
      const { data } = await api.GET("/api/jobs");
      if (live && data) setJobs([...data.jobs].reverse());
    };
    void load();
    const timer = setInterval(load, 1000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  const cancel = (id: string) => void api.DELETE("/api/jobs/{job_id}", { params: { path: { job_id: id } } });
  return (
    <div className="page">
      <header className="page-head">
        <h1>Jobs</h1>
        <label className="small">
          <input type="checkbox" checked={lookups} onChange={(e) => setLookups(e.target.checked)} /> show the
          pages' quick lookups (layer and model lists)
        </label>
      </header>
      <div className="table-wrap">
      <table className="jobs" data-testid="jobs">
        <thead>
          <tr>
            <th>job</th>
            <th>recipe</th>
            <th>status</th>
            <th>progress</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {jobs.filter((j) => lookups || !LOOKUPS.has(j.recipe)).map((j) => {
            const active = j.status === "queued" || j.status === "running";
            return (
              <tr key={j.id} data-testid={`job-${j.id}`}>
                <td>
                  <button type="button" className="link" onClick={() => setOpen(open === j.id ? undefined : j.id)}>
                    {j.id}
                  </button>
                </td>
                <td>{j.recipe}</td>
                <td className={`status-${j.status}`}>
                  {j.status}
                  {j.cached ? " (stored)" : ""}
                  {j.error && <small className="error"> {j.error}</small>}
                </td>
                <td>
                  {/* a run with overall stages (an atlas: units, shards) shows them first, then the current one */}
                  {["units", "shards"]
                    .filter((name) => j.stages?.[name] && j.progress.stage !== name)
                    .map((name) => {
                      const p = j.stages![name];
                      return (
                        <div key={name} data-testid={`${name}-${j.id}`}>
                          <progress max={p.total} value={p.done} /> {name} {p.done}/{p.total}
                        </div>
                      );
                    })}
                  {j.progress.total > 0 && <progress max={j.progress.total} value={j.progress.done} />}{" "}
                  {j.progress.stage} {j.progress.done}
                  {j.progress.total ? `/${j.progress.total}` : ""}
                </td>
                <td>
                  {active && (
                    <button type="button" onClick={() => cancel(j.id)} data-testid={`cancel-${j.id}`}>
                      Cancel
                    </button>
                  )}
                  {j.result &&
                    (j.recipe === "atlas" ? (
                      <a href={`#/atlas/${j.hash}`}>the atlas</a>
                    ) : (
                      <a href={`/api/results/${j.hash}`} target="_blank" rel="noreferrer">
                        result
                      </a>
                    ))}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      </div>
      {open && (
        <pre className="job-detail">
          {JSON.stringify(
            (() => {
              const job = jobs.find((j) => j.id === open);
              return job?.result?.data ?? (job?.error ? { error: job.error } : { status: job?.status });
            })(),
            null,
            1,
          )}
        </pre>
      )}
    </div>
  );
}
