"""Jobs: recipe runs queued per device, with states, progress events and cancel, over a `ResultStore`.

Over 400 lines on purpose: one state machine (queued, running, done, failed, cancelled) with its
events, subscribers and journal, which must change together.

    runner = JobRunner(ResultStore(data_dir), workers={"cpu": 1, "cuda:0": 1})
    job = runner.submit(spec, device="cuda:0")     # a stored result answers at once (state done, from_store)
    runner.subscribe(print, job.id, replay=True)    # JobEvent(job, state, stage, done, total, time, error)
    runner.wait(job.id, timeout=60).result         # or runner.cancel(job.id)
    runner.shutdown()

States: `queued -> running -> done | failed | cancelled` (a stored result: `done` at once; a queued job that is
cancelled never starts). One queue per device, served by that device's worker threads (one by default), so runs on
one device never overlap and runs on different devices do; all share one `SubjectPool`, i.e. one Subject per model
per device. A run stops within one step of `cancel` (the context's cancel event: `ctx.progress` raises
`Cancelled`), and nothing of it is stored. A failing run ends `failed` with its one-line message; the worker goes
on with the next job.

Events: one per state change and one per `ctx.progress` call, in order, appended to `job.events` and handed to
subscribers (callbacks or queues) on the thread that made them (a worker, or the caller of submit/cancel):
callbacks should be quick (or put events on a queue). Previews (`ctx.preview`) go to subscribers only (kind
"preview", the image in `event.preview`; the latest per name in `job.previews`), and a bounded history of them per
name stays in `job.preview_frames` (`PreviewFrame`: at most MAX_PREVIEW_FRAMES, thinned evenly beyond), so a run's
progress can be replayed; of finished jobs only the newest REPLAYABLE keep that history (8-bit pictures: a
visualization of 8 units keeps up to 512 of them, ~75 MB at 224 px, which a server remembering 1,000 jobs must not
hold for each).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.errors import Cancelled, ConvscopeError
from ..recipes.base import Result, RunContext, Spec, SubjectPool, spec_key
from .store import ResultStore, recipe_entry

log = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed", "cancelled")
TERMINAL = frozenset({"done", "failed", "cancelled"})
#: events kept per job (older progress events are dropped beyond it; state changes are always kept)
MAX_EVENTS = 2000
#: preview pictures kept per job and name (beyond it every second one is dropped: the whole run stays covered)
MAX_PREVIEW_FRAMES = 64
REPLAYABLE = 16  # finished jobs (the newest) whose preview history is kept


class UnknownJobError(ConvscopeError):
    """A job id the runner does not know (never submitted, or forgotten: see `JobRunner(keep=...)`)."""


@dataclass(frozen=True)
class JobEvent:
    """One event of a job: its state then, the last progress (`stage`, `done` of `total`), the time (unix s),
    what it reports (`kind`), for a failed job the error line, and `seq`, a number that increases over all events
    of the runner (e.g. server-sent event ids). `preview` (not in `to_dict`) carries a preview image for `stage`
    when the event is one (state `running`, `kind` "preview")."""

    job: str
    state: str
    stage: str
    done: int
    total: int
    time: float
    kind: str = "progress"  # "state" (a state change), "progress" or "preview"
    error: str | None = None
    seq: int = 0  # the runner's event counter: increases across all jobs
    preview: Any = None

    def to_dict(self) -> dict:
        """The event as JSON-ready fields (without the preview image)."""
        data = asdict(self)
        data.pop("preview")
        return data


@dataclass
class PreviewFrame:
    """One preview of a job's history: its picture (a PIL image when the run gave a tensor [C, H, W] in [0, 1]),
    the progress it was made at (`done` of `total` of `stage`: the progress report that follows it; None until
    one does) and `seq`, its event's number."""

    image: Any
    seq: int
    stage: str | None = None
    done: int | None = None
    total: int | None = None


def _frame_picture(image: Any) -> Any:
    """A preview as a small CPU picture for the history (a tensor becomes an 8-bit PIL image; else as it is)."""
    if hasattr(image, "detach") and getattr(image, "dim", lambda: 0)() in (2, 3):
        from ..core.images import tensor_to_pil

        return tensor_to_pil(image)
    return image


class Job:
    """A submitted run: its spec and key, device, state, times (unix s; `started`/`ended` None until then), last
    progress, events, and at the end `result` (done), `error` (failed: one line; `traceback` the full text) and
    `from_store` (the result came from the store, nothing ran)."""

    def __init__(self, spec: Spec, key: str, device: str, refresh: bool):
        self.id = uuid.uuid4().hex[:16]
        self.spec, self.key, self.device, self.refresh = spec, key, device, refresh
        self.recipe = spec.recipe
        self.state = "queued"
        self.created, self.started, self.ended = time.time(), None, None
        self.stage, self.done, self.total = "", 0, 0
        self.stages: dict[str, tuple[int, int]] = {}  # the latest (done, total) of every stage reported
        self.result: Result | None = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.from_store = False
        self.events: list[JobEvent] = []
        self.previews: dict[str, Any] = {}  # the latest preview image per name
        self.preview_frames: dict[str, list[PreviewFrame]] = {}  # a bounded history per name (MAX_PREVIEW_FRAMES)
        self._unplaced: list[PreviewFrame] = []  # frames waiting for the progress report that follows them
        self._frame_state: dict[str, tuple[int, int, bool]] = {}  # name -> (previews seen, stride, newest off it)
        self.cancel_event = threading.Event()
        self._ended = threading.Event()

    @property
    def finished(self) -> bool:
        """Whether the job has reached a terminal state (done, failed or cancelled)."""
        return self.state in TERMINAL

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.recipe}, {self.state}, {self.stage} {self.done}/{self.total})"

    def to_dict(self, events: bool = False) -> dict:
        """The job as JSON-ready fields (the result's data and artifacts when done; `events` adds the events)."""
        data = {
            "id": self.id,
            "recipe": self.recipe,
            "key": self.key,
            "device": self.device,
            "state": self.state,
            "created": self.created,
            "started": self.started,
            "ended": self.ended,
            "progress": {"stage": self.stage, "done": self.done, "total": self.total},
            "stages": {name: {"done": d, "total": t} for name, (d, t) in self.stages.items()},
            "error": self.error,
            "from_store": self.from_store,
            "spec": self.spec.model_dump(mode="json"),
            "result": self.result.model_dump(mode="json") if self.result is not None else None,
        }
        if events:
            data["events"] = [event.to_dict() for event in self.events]
        return data


class JobJournal:
    """Job records that outlive the process: one SQLite row per job (id, recipe, key, device, spec, state, times,
    error), written at every state change. Opening a journal marks the jobs a previous process left queued or
    running as `failed` with the error "interrupted: ..." (their partial files never reached the store, whose
    own repair drops them), so a client asking after a restart learns what happened. Safe across threads."""

    INTERRUPTED = "interrupted: the server stopped while the job was {state}; submit the spec again to rerun it"

    def __init__(self, path: str | Path):
        import sqlite3

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, recipe TEXT, key TEXT, device TEXT, "
                "spec TEXT, state TEXT, created REAL, started REAL, ended REAL, error TEXT, from_store INTEGER)"
            )
            for state in ("queued", "running"):
                self._db.execute(
                    "UPDATE jobs SET state='failed', error=?, ended=? WHERE state=?",
                    (self.INTERRUPTED.format(state=state), time.time(), state),
                )

    def record(self, job: Job) -> None:
        """Write the job's current state (insert or replace)."""
        import json

        row = (
            job.id,
            job.recipe,
            job.key,
            job.device,
            json.dumps(job.spec.model_dump(mode="json"), sort_keys=True),
            job.state,
            job.created,
            job.started,
            job.ended,
            job.error,
            int(job.from_store),
        )
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)

    def get(self, job_id: str) -> dict | None:
        """The recorded job as Job.to_dict fields (without result or progress), or None."""
        rows = self._select("WHERE id=?", (job_id,))
        return rows[0] if rows else None

    def list(self, limit: int = 1000) -> list[dict]:
        """The most recent `limit` recorded jobs, oldest first."""
        return self._select("ORDER BY created DESC LIMIT ?", (limit,))[::-1]

    def _select(self, where: str, args: tuple) -> list[dict]:
        import json

        columns = "id, recipe, key, device, spec, state, created, started, ended, error, from_store"
        with self._lock:
            rows = self._db.execute(f"SELECT {columns} FROM jobs {where}", args).fetchall()
        return [
            {
                "id": r[0],
                "recipe": r[1],
                "key": r[2],
                "device": r[3],
                "spec": json.loads(r[4]),
                "state": r[5],
                "created": r[6],
                "started": r[7],
                "ended": r[8],
                "error": r[9],
                "from_store": bool(r[10]),
            }
            for r in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def error_line(exc: BaseException) -> str:
    """One line for a failed run: a ConvscopeError's text, other exceptions as `TypeName: message`."""
    text = str(exc) if isinstance(exc, ConvscopeError) else f"{type(exc).__name__}: {exc}".rstrip(": ")
    line = " ".join(text.split()) or type(exc).__name__
    return line if len(line) <= 1000 else line[:997] + "..."


class JobRunner:
    """Queues recipe runs per device and runs them on worker threads, results through a `ResultStore`.

    Args:
        store: where results are found and kept (default: a `ResultStore()` at the default data dir).
        workers: worker threads per device, e.g. {"cpu": 1, "cuda:0": 1} (default {"cpu": 1}).
        subjects: the SubjectPool every run shares (default: a new one).
        keep: how many finished jobs to remember (the oldest are forgotten beyond it).
        journal: where every state change is also recorded (see JobJournal), e.g. for a server that restarts.

    Raises ConvscopeError for an empty `workers` or a count below 1.
    """

    def __init__(
        self,
        store: ResultStore | None = None,
        workers: dict[str, int] | None = None,
        subjects: SubjectPool | None = None,
        *,
        keep: int = 1000,
        journal: JobJournal | None = None,
    ):
        self.store = store if store is not None else ResultStore()
        self.workers = dict(workers if workers is not None else {"cpu": 1})
        if not self.workers or any(not isinstance(n, int) or n < 1 for n in self.workers.values()):
            raise ConvscopeError(f"workers: one or more devices with at least 1 worker each (got {self.workers})")
        self.subjects = subjects if subjects is not None else SubjectPool()
        self.keep = keep
        self.journal = journal
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._subscribers: dict[int, tuple[str | None, Callable[[JobEvent], Any]]] = {}
        self._tokens, self._seq = itertools.count(), itertools.count(1)
        self._queues: dict[str, queue.Queue] = {device: queue.Queue() for device in self.workers}
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, args=(device,), daemon=True, name=f"convscope-jobs-{device}-{i}")
            for device, count in self.workers.items()
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def __enter__(self) -> "JobRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    # --- submitting and following ----------------------------------------------------------------------------
    def submit(self, spec: Spec, device: str = "cpu", *, refresh: bool = False) -> Job:
        """Queue a run of `spec` on `device`; a stored result makes the job `done` at once (`from_store=True`)
        unless `refresh`. The same spec while a job for it is still queued or running on the device returns that
        job (a page reloaded mid-run follows its run; nothing is computed twice; a cancel stops it for both).
        Raises ConvscopeError for a device without workers, an unknown recipe, a spec file that
        is missing (the key needs its content) or a runner that is shut down."""
        if self._closed:
            raise ConvscopeError("the job runner is shut down")
        if device not in self._queues:
            raise ConvscopeError(f"no worker for device {device}; devices: {', '.join(self._queues)}")
        recipe_entry(spec)
        job = Job(spec, spec_key(spec), device, refresh)
        hit = None if refresh else self.store.get(job.key)
        with self._lock:
            if self._closed:
                raise ConvscopeError("the job runner is shut down")
            if not refresh:
                for active in self._jobs.values():
                    same = active.key == job.key and active.device == device
                    if same and active.state in ("queued", "running") and not active.cancel_event.is_set():
                        return active
            self._jobs[job.id] = job
            self._forget_old()
            if hit is not None:
                job.result, job.from_store = hit, True
                job.started = job.created
                self._finish(job, "done")
            else:
                self._emit(job, "state")
                self._queues[device].put(job)
        return job

    def get(self, job_id: str) -> Job:
        """The job `job_id`; raises UnknownJobError (a ConvscopeError) for an unknown id."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJobError(f"no job {job_id}")
        return job

    def jobs(self, state: str | None = None) -> list[Job]:
        """Every remembered job in submission order (or those in `state`)."""
        with self._lock:
            return [job for job in self._jobs.values() if state is None or job.state == state]

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job is done, failed or cancelled and return it. Raises TimeoutError when it has not
        finished within `timeout` seconds, UnknownJobError for an unknown id."""
        job = self.get(job_id)
        if not job._ended.wait(timeout):
            raise TimeoutError(f"job {job_id} still {job.state} after {timeout:g} s")
        return job

    def cancel(self, job_id: str) -> bool:
        """Cancel a job: a queued one ends `cancelled` now and never starts; a running one stops at its next
        progress step and ends `cancelled` (nothing stored). False when it had already finished. Raises
        UnknownJobError for an unknown id."""
        job = self.get(job_id)
        with self._lock:
            if job.state in TERMINAL:
                return False
            job.cancel_event.set()
            if job.state == "queued":
                self._finish(job, "cancelled")
        return True

    def subscribe(
        self, target: Callable[[JobEvent], Any] | queue.Queue, job_id: str | None = None, *, replay: bool = False
    ) -> Callable[[], None]:
        """Hand every new event (of one job, or of all) to `target`: a callback or anything with `put` (a
        queue). `replay` first hands over the events so far, with no gap and no repeat. Returns a function that
        unsubscribes. Raises UnknownJobError for an unknown `job_id`."""
        deliver = target.put if hasattr(target, "put") else target
        with self._lock:
            if job_id is not None:
                self.get(job_id)
            if replay:
                jobs = [self._jobs[job_id]] if job_id is not None else list(self._jobs.values())
                for event in sorted((e for job in jobs for e in job.events), key=lambda e: e.seq):
                    deliver(event)
            token = next(self._tokens)
            self._subscribers[token] = (job_id, deliver)
        return lambda: self._subscribers.pop(token, None)

    def shutdown(self, wait: bool = True, *, cancel: bool = True) -> None:
        """Stop the runner: `cancel` cancels queued and running jobs (else they all run first); no new submits.
        `wait` joins the worker threads."""
        with self._lock:
            self._closed = True
            if cancel:
                for job in self._jobs.values():
                    if job.state not in TERMINAL:
                        job.cancel_event.set()
                        if job.state == "queued":
                            self._finish(job, "cancelled")
            for device, count in self.workers.items():
                for _ in range(count):
                    self._queues[device].put(None)
        if wait:
            for thread in self._threads:
                if thread is not threading.current_thread():
                    thread.join()

    # --- the workers -----------------------------------------------------------------------------------------
    def _work(self, device: str) -> None:
        jobs = self._queues[device]
        while True:
            job = jobs.get()
            if job is None:
                return
            with self._lock:
                if job.state != "queued":  # cancelled while queued
                    continue
                job.state, job.started = "running", time.time()
                self._emit(job, "state")
            try:
                result, hit = self.store.run(
                    job.spec, lambda out, job=job: self._context(job, out), refresh=job.refresh, key=job.key
                )
            except Cancelled:
                self._end(job, "cancelled")
            except BaseException as exc:  # the worker survives any failing run (even a SystemExit)
                job.traceback = traceback.format_exc()
                self._end(job, "failed", error_line(exc))
                if device.startswith("cuda"):
                    _empty_cuda_cache()
            else:
                job.result, job.from_store = result, hit
                self._end(job, "done")

    def _context(self, job: Job, out: Path) -> RunContext:
        return RunContext(
            out,
            device=job.device,
            cancel=job.cancel_event,
            subjects=self.subjects,
            on_progress=lambda stage, done, total: self._progress(job, stage, done, total),
            on_preview=lambda name, image: self._preview(job, name, image),
        )

    def _progress(self, job: Job, stage: str, done: int, total: int) -> None:
        with self._lock:
            job.stage, job.done, job.total = stage, int(done), int(total)
            job.stages[stage] = (int(done), int(total))
            for frame in job._unplaced:  # a preview is made just before the step's report: it belongs to it
                frame.stage, frame.done, frame.total = stage, int(done), int(total)
            job._unplaced.clear()
            self._emit(job, "progress")

    def _preview(self, job: Job, name: str, image: Any) -> None:
        picture = _frame_picture(image)  # outside the lock: a copy to the CPU
        with self._lock:
            job.previews[name] = image
            frame = PreviewFrame(picture, self._emit(job, "preview", stage=name, preview=image).seq)
            job._unplaced.append(frame)
            del job._unplaced[:-1024]  # (a run that previews without reporting progress keeps no more alive)
            self._keep_frame(job, name, frame)

    @staticmethod
    def _keep_frame(job: Job, name: str, frame: PreviewFrame) -> None:  # under self._lock
        """Keep previews 0, s, 2s ... of a name (s doubles, and every second kept one goes, when MAX_PREVIEW_FRAMES
        are kept), and the newest one after them: the kept frames stay evenly spread over the whole run."""
        frames = job.preview_frames.setdefault(name, [])
        count, stride, trailing = job._frame_state.get(name, (0, 1, False))
        if trailing:
            frames.pop()  # the previous newest, off the stride: replaced by this one
        trailing = count % stride != 0
        frames.append(frame)
        if not trailing and len(frames) >= MAX_PREVIEW_FRAMES:
            frames[:] = frames[::2]
            stride *= 2
            if frames[-1] is not frame:  # the newest is off the new stride: it stays as the newest
                frames.append(frame)
                trailing = True
        job._frame_state[name] = (count + 1, stride, trailing)

    def _end(self, job: Job, state: str, error: str | None = None) -> None:
        with self._lock:
            job.error = error
            self._finish(job, state)

    def _finish(self, job: Job, state: str) -> None:  # under self._lock
        job.state, job.ended = state, time.time()
        for frame in job._unplaced:  # previews after the last report: at the progress the run ended with
            frame.stage, frame.done, frame.total = job.stage, job.done, job.total
        job._unplaced.clear()
        self._emit(job, "state", error=job.error)
        job._ended.set()

    def _emit(
        self, job: Job, kind: str, *, stage: str | None = None, error: str | None = None, preview: Any = None
    ) -> JobEvent:  # under self._lock: events keep their order everywhere
        event = JobEvent(
            job.id,
            job.state,
            job.stage if stage is None else stage,
            job.done,
            job.total,
            time.time(),
            kind,
            error,
            next(self._seq),
            preview,
        )
        if kind != "preview":
            job.events.append(event)
            if len(job.events) > MAX_EVENTS:  # a run of 10^6 steps: keep its state changes and the latest progress
                states = [e for e in job.events if e.kind == "state"]
                recent = [e for e in job.events if e.kind != "state"][-MAX_EVENTS // 2 :]
                job.events = sorted(states + recent, key=lambda e: e.seq)
        if kind == "state" and self.journal is not None:
            try:
                self.journal.record(job)
            except Exception:  # a full disk must not stop the run; the in-memory job stays right
                log.exception("could not record job %s", job.id)
        for job_id, deliver in list(self._subscribers.values()):
            if job_id is None or job_id == job.id:
                try:
                    deliver(event)
                except Exception:  # a subscriber's failure must not stop the run
                    log.exception("job event subscriber failed")
        return event

    def _forget_old(self) -> None:  # under self._lock
        finished = [job_id for job_id, job in self._jobs.items() if job.state in TERMINAL]
        for job_id in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[job_id]
        for job_id in finished[: max(0, len(finished) - REPLAYABLE)]:  # (their latest previews stay)
            if job_id in self._jobs:
                self._jobs[job_id].preview_frames.clear()


def _empty_cuda_cache() -> None:
    try:
        import torch

        torch.cuda.empty_cache()
    except Exception:  # pragma: no cover - best effort after e.g. an out-of-memory error
        pass


__all__ = [
    "Job",
    "JobEvent",
    "JobJournal",
    "JobRunner",
    "MAX_PREVIEW_FRAMES",
    "PreviewFrame",
    "STATES",
    "TERMINAL",
    "UnknownJobError",
    "error_line",
]
