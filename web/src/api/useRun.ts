// One recipe run from the browser: submit, follow the job's server-sent events (progress, previews), cancel.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, apiError, type ApiError, type ResultView, type Spec } from "./client";

export interface RunState {
  status: "idle" | "submitting" | "queued" | "running" | "done" | "failed" | "cancelled";
  job?: string;
  hash?: string;
  cached?: boolean;
  progress?: { stage: string; done: number; total: number };
  previews: Record<string, string>;
  result?: ResultView;
  /** the spec of the run: as submitted, or (an attached job) as the server keeps it */
  spec?: Spec;
  error?: ApiError;
}

const IDLE: RunState = { status: "idle", previews: {} };

export function useRun() {
  const [state, setState] = useState<RunState>(IDLE);
  const source = useRef<EventSource | null>(null);
  const close = () => {
    source.current?.close();
    source.current = null;
  };
  useEffect(() => close, []);

  const finish = useCallback(async (job: string) => {
    close();
    const { data } = await api.GET("/api/jobs/{job_id}", { params: { path: { job_id: job } } });
    if (!data) return;
    setState((s) => ({
      ...s,
      status: data.status as RunState["status"],
      progress: data.progress,
      result: data.result ?? undefined,
      error: data.error ? { message: data.error, fields: {} } : undefined,
    }));
  }, []);

  const follow = useCallback(
    (job: string) => {
      close();
      const events = new EventSource(`/api/jobs/${job}/events`);
      source.current = events;
      events.addEventListener("progress", (e) => {
        const d = JSON.parse((e as MessageEvent).data);
        setState((s) => ({ ...s, status: "running", progress: { stage: d.stage, done: d.done, total: d.total } }));
      });
      events.addEventListener("preview", (e) => {
        const d = JSON.parse((e as MessageEvent).data);
        setState((s) => ({ ...s, previews: { ...s.previews, [d.stage]: d.url } }));
      });
      events.addEventListener("state", (e) => {
        const d = JSON.parse((e as MessageEvent).data);
        if (["done", "failed", "cancelled"].includes(d.state)) void finish(job);
        else setState((s) => ({ ...s, status: d.state }));
      });
      events.onerror = () => {
        if (events.readyState === EventSource.CLOSED) void finish(job);
      };
    },
    [finish],
  );

  /** Submit a run; resolves to its job's id (undefined when the server refused the spec). */
  const run = useCallback(
    async (recipe: string, spec: Spec): Promise<string | undefined> => {
      close();
      setState({ status: "submitting", previews: {} });
      const { data, error, response } = await api.POST("/api/runs", { body: { recipe, spec } });
      if (error || !data) {
        setState({ status: "failed", previews: {}, error: apiError((error as { detail?: unknown })?.detail, response.status) });
        return undefined;
      }
      setState({
        status: data.status as RunState["status"],
        job: data.job,
        hash: data.hash,
        cached: data.cached,
        previews: {},
        result: data.result ?? undefined,
        spec,
      });
      if (!["done", "failed", "cancelled"].includes(data.status)) follow(data.job);
      return data.job;
    },
    [follow],
  );

  /** Show an existing job (a URL's `job=<id>`) without starting anything: its result, its cancelled or failed
   * state, or its progress while it runs. Resolves to its status, or undefined when the server does not know it. */
  const attach = useCallback(
    async (job: string): Promise<RunState["status"] | undefined> => {
      close();
      setState({ status: "submitting", job, previews: {} });
      const { data } = await api.GET("/api/jobs/{job_id}", { params: { path: { job_id: job } } });
      if (!data) {
        setState(IDLE);
        return undefined;
      }
      const status = data.status as RunState["status"];
      setState({
        status,
        job,
        hash: data.hash,
        cached: data.cached,
        progress: data.progress,
        previews: {},
        result: data.result ?? undefined,
        spec: data.spec,
        error: data.error ? { message: data.error, fields: {} } : undefined,
      });
      if (!["done", "failed", "cancelled"].includes(status)) follow(job);
      return status;
    },
    [follow],
  );

  const cancel = useCallback(async () => {
    if (state.job) await api.DELETE("/api/jobs/{job_id}", { params: { path: { job_id: state.job } } });
  }, [state.job]);

  const reset = useCallback(() => {
    close();
    setState(IDLE);
  }, []);

  return { state, run, attach, cancel, reset };
}
