// What a page says about the job its URL names (job=<id>) when there is no result to show: it was cancelled (Run
// starts it again, after asking), or this server does not know it; and that a rerun of a cancelled spec was
// declined.
import type { RunState } from "../api/useRun";

export function JobNotice(props: { state: RunState; missing?: string; declined?: boolean; jobs: string[] }) {
  const { state, missing, declined, jobs } = props; // jobs: those the URL names
  if (missing)
    return (
      <p className="notice" data-testid="job-missing">
        Job {missing} is not known to this server (it ran elsewhere, or the server forgot it): nothing was started.
        Run runs these parameters.
      </p>
    );
  if (declined)
    return (
      <p className="notice" data-testid="not-rerun">
        Not run: the last run of these parameters was cancelled.
      </p>
    );
  if (state.status === "cancelled" && state.job && jobs.includes(state.job))
    return (
      <p className="notice" data-testid="job-cancelled">
        Job {state.job} was cancelled before it finished; nothing was started again. Run starts it anew.
      </p>
    );
  return null;
}
