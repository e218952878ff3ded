"""The Ray backend of `RunContext.map` (an atlas's shards over many processes, GPUs and machines; issue 16).

`RayShards(address, workers, data_dir, device)` is a shard runner: a pool of Ray actors, each holding one replica
of each model it is asked for (its own SubjectPool) and its own connection to the result store at `data_dir`
(SQLite WAL and atomic commits make concurrent writers safe). A shard's result is committed to the store by the
worker that computed it and read back by the driver by key, so:

- a rerun skips every finished shard (a store hit in the worker costs one index read);
- a worker that dies (killed, out of memory, its machine gone) costs only the shard it was running: the driver
  starts a new actor and runs that shard again (twice at most, then the error is reported);
- results do not depend on the backend or the shard size: shards are ordinary specs, and each unit draws its own
  random stream from (seed, unit).

`address="local"` starts a private Ray on this machine with `workers` actors (default: one per CPU but one, so
the driver keeps a core for reading and merging; one per GPU with device cuda), dashboard off, a small object
store; it is shut down when the run ends. `"auto"` or `"HOST:PORT"` joins a running cluster (the store folder
must then be shared storage that every node mounts at the same path). Ray is an optional extra:
`pip install convscope[ray]`.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ..core.errors import Cancelled, ConvscopeError
from ..recipes import Result, RunContext, Spec, SubjectPool, canonical_json, parse_spec, spec_key
from .store import ResultStore

# Quiet, fast, local-only defaults for a Ray this process starts (a user's own settings win).
RAY_ENVIRONMENT = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",  # a private local cluster; no token file in ~/.ray
    "RAY_DEDUP_LOGS": "0",
    "RAY_enable_metrics_collection": "0",
    "RAY_memory_monitor_refresh_ms": "0",
}
RETRIES = 2  # runs of one shard after its worker died


class _Worker:
    """One Ray actor: a result store connection and a SubjectPool (a model replica per model, built on first use)."""

    def __init__(self, data_dir: str, device: str, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.store = ResultStore(data_dir, repair=False)
        self.device = device
        self.subjects = SubjectPool()

    def run(self, document: str) -> tuple[str, bool]:
        """Run (or find) one shard given as canonical JSON; returns (its key, whether the store had it)."""
        import json

        fields = json.loads(document)
        spec = parse_spec(fields["recipe"], fields["spec"])
        key = spec_key(spec)
        _, hit = self.store.run(spec, lambda out: RunContext(out, device=self.device, subjects=self.subjects), key=key)
        return key, hit

    def pid(self) -> int:
        return os.getpid()


def _reachable(address: str) -> None:
    """A HOST:PORT that nothing answers on is refused at once (Ray itself keeps retrying for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ConvscopeError(f"address: `{address}` is not local, auto or HOST:PORT")
    try:
        socket.create_connection((host.removeprefix("ray://") or "127.0.0.1", int(port)), timeout=3).close()
    except OSError as exc:
        raise ConvscopeError(f"address: no Ray cluster answers at {address} ({exc.strerror or exc})") from None


class RayShards:
    """A shard runner (`RunContext.shards`) over Ray actors; see the module docstring. Use as a context manager
    or call `close()` (it shuts down a Ray it started).

    Raises ConvscopeError when Ray is not installed, the address is unreachable, or a shard keeps killing its
    worker; `Cancelled` when the parent's cancel token is set (the running shards are abandoned, the finished
    ones stay stored)."""

    def __init__(
        self,
        address: str = "local",
        workers: int | None = None,
        data_dir: str | Path | None = None,
        device: str = "cpu",
        object_store_mb: int = 256,
    ):
        try:
            import ray
        except ImportError:
            raise ConvscopeError("backend ray: Ray is not installed (pip install 'convscope[ray]')") from None
        if workers is not None and workers < 1:
            raise ConvscopeError(f"workers: must be at least 1, got {workers}")
        self.ray = ray
        self.device = device
        self.gpus = 1 if device.startswith("cuda") else 0
        self.data_dir = str(ResultStore(data_dir).root)  # resolved once: every worker opens the same store
        for name, value in RAY_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
        self.started = False
        if address not in ("local", "auto"):
            _reachable(address)  # before anything else: a wrong address is never silently replaced
        if ray.is_initialized():
            pass  # this process is connected already (a notebook, a test): its Ray is used as it is
        elif address == "local":
            cpus = os.cpu_count() or 1
            count = workers or max(1, cpus - 1)
            ray.init(
                address="local",
                num_cpus=count + 1,  # one CPU of headroom: the driver reads and merges while the actors work
                num_gpus=None if self.gpus else 0,
                include_dashboard=False,
                object_store_memory=object_store_mb * 1024**2,
                log_to_driver=False,
                configure_logging=False,
            )
            self.started = True
        else:
            try:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            except ConnectionError as exc:
                raise ConvscopeError(f"address: {' '.join(str(exc).split())}") from None
        resources = ray.cluster_resources()
        if self.gpus:
            available = int(resources.get("GPU", 0))
            if available < 1:
                self.close()
                raise ConvscopeError("device cuda: the Ray cluster has no GPU")
            self.workers = workers or available
        else:
            self.workers = workers or max(1, int(resources.get("CPU", 1)) - 1)
        self.actor_class = ray.remote(num_cpus=1, num_gpus=self.gpus)(_Worker)
        self.actors = [self._actor() for _ in range(self.workers)]

    def _actor(self):
        return self.actor_class.remote(self.data_dir, self.device, 1)

    def _replace(self, actor):
        """A new actor in place of `actor` (killed, if it is still alive)."""
        self.ray.kill(actor)
        fresh = self._actor()
        self.actors[self.actors.index(actor)] = fresh
        return fresh

    def __enter__(self) -> "RayShards":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for actor in getattr(self, "actors", []):
            self.ray.kill(actor)
        self.actors = []
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
        self.started = False

    def __call__(self, specs: list[Spec], parent: RunContext) -> list[Result]:
        ray = self.ray
        documents = [canonical_json(spec) for spec in specs]
        keys: list[str | None] = [None] * len(specs)
        queue = list(range(len(specs)))
        tries = [0] * len(specs)
        running: dict = {}  # object ref -> (shard index, actor)
        idle = list(self.actors)
        hits = done = 0
        parent.shard_finished(None, 0, len(specs))
        while queue or running:
            while idle and queue:
                actor, index = idle.pop(), queue.pop(0)
                running[actor.run.remote(documents[index])] = (index, actor)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            if parent.cancelled:
                # a running actor task cannot be cancelled in place: its worker is replaced (finished shards stay
                # stored; the abandoned ones leave nothing, the store commits only whole results)
                for _, actor in running.values():
                    self._replace(actor)
                raise Cancelled("the run was cancelled")
            for ref in ready:
                index, actor = running.pop(ref)
                try:
                    keys[index], hit = ray.get(ref)
                except ray.exceptions.RayActorError as exc:  # the worker died: a new one, the shard again
                    tries[index] += 1
                    if tries[index] > RETRIES:
                        raise ConvscopeError(
                            f"shard {index} ({specs[index].recipe}) killed its worker {tries[index]} times: "
                            f"{' '.join(str(exc).split())[:300]}"
                        ) from None
                    actor = self._replace(actor)
                    queue.insert(0, index)
                except ray.exceptions.RayTaskError as exc:  # the shard itself failed: its error, one line
                    cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                    raise (cause if isinstance(cause, ConvscopeError) else ConvscopeError(str(cause))) from None
                else:
                    hits += hit
                    done += 1
                    parent.shard_finished(index, done, len(specs))
                idle.append(actor)
        store = ResultStore(self.data_dir, repair=False)
        results = []
        for key in keys:
            result = store.get(key)
            if result is None:
                raise ConvscopeError(f"a shard's result {key} is not in the store {self.data_dir}")
            results.append(result)
        parent.shard_counts = {"total": len(specs), "from_store": hits}
        return results
