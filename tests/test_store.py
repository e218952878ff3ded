"""The result store (issue 13): hits, atomic commits under kill -9, several processes and threads at once."""

import json
import multiprocessing
import os
import random
import shutil
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from pydantic import Field

import convscope.execution.store as store_module
from convscope.core.errors import Cancelled, ConvscopeError
from convscope.execution.store import ResultStore, default_data_dir
from convscope.recipes.base import REGISTRY, RunContext, Spec, recipe, spec_key

NAME = "test-store-count"


class CountSpec(Spec):
    """Writes `steps` artifacts of `size` bytes, each in `chunks` pieces with a progress report after each."""

    steps: int = Field(3, ge=1)
    chunks: int = Field(1, ge=1)
    size: int = Field(64, ge=1)
    delay: float = 0.0
    seed: int = 0
    fail: bool = False


def content(seed: int, step: int, size: int) -> bytes:
    return random.Random(seed * 100_003 + step).randbytes(size)


def run_count(spec: CountSpec, ctx: RunContext):
    files = []
    piece = -(-spec.size // spec.chunks)
    total = spec.steps * spec.chunks
    for step in range(spec.steps):
        path = ctx.path(f"steps/{step}.bin")
        data = content(spec.seed, step, spec.size)
        with open(path, "wb") as file:
            for chunk in range(spec.chunks):
                file.write(data[chunk * piece : (chunk + 1) * piece])
                file.flush()
                if spec.delay:
                    time.sleep(spec.delay)
                ctx.progress("write", step * spec.chunks + chunk + 1, total)
        if spec.fail and step == spec.steps - 1:
            raise ValueError("planned failure")
        files.append(str(path))
    summary = ctx.path("summary.json")
    summary.write_text(json.dumps({"steps": spec.steps, "seed": spec.seed}))
    (ctx.out / "scratch.tmp").write_bytes(b"not an artifact")
    return ctx.result(
        NAME,
        {
            "files": files,
            "summary": str(summary),
            "steps": spec.steps,
            "where": str(ctx.out),
            "nested": [{"path": files[0], "text": "results/ not a path"}],
        },
    )


def _families_first() -> None:
    """Load the family recipes before registering a test recipe: `convscope.recipes.registry()` imports them only
    while REGISTRY is empty, so a test recipe registered first would hide them from tests that run later."""
    try:
        from convscope.recipes import registry

        registry()
    except Exception:  # the family modules do not import (yet): these tests do not need them
        pass


_families_first()
if NAME not in REGISTRY:
    recipe(NAME, 1, CountSpec, "test: writes a few files slowly")(run_count)


def check_complete(result, spec: CountSpec, root: Path | None = None) -> None:
    """Every artifact is there with the right bytes, and the data's paths point inside the result's folder."""
    folder = Path(result.folder)
    if root is not None:
        assert folder.parent.parent == root / "results"
    assert [a.name for a in result.artifacts] == [f"steps/{i}.bin" for i in range(spec.steps)] + ["summary.json"]
    for step, path in enumerate(result.data["files"]):
        assert Path(path).parent.parent == folder
        assert Path(path).read_bytes() == content(spec.seed, step, spec.size)
    assert json.loads(Path(result.data["summary"]).read_text()) == {"steps": spec.steps, "seed": spec.seed}
    assert result.data["where"] == result.folder  # every path in the data follows the files
    assert result.data["nested"] == [{"path": result.data["files"][0], "text": "results/ not a path"}]
    if root is not None:
        assert not (folder / "scratch.tmp").exists()  # only listed artifacts are kept


def leftovers(root: Path) -> dict:
    folders = sorted(p.relative_to(root).as_posix() for p in (root / "results").glob("*/*"))
    return {
        "staging": sorted(os.listdir(root / "staging")),
        "trash": sorted(os.listdir(root / "trash")),
        "folders": folders,
    }


def integrity(root: Path) -> str:
    with sqlite3.connect(root / "index.sqlite") as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


# --- one process ----------------------------------------------------------------------------------------------
def test_rerun_comes_from_the_store(tmp_path):
    store = ResultStore(tmp_path / "data")
    spec = CountSpec(steps=3, seed=1)
    first, hit = store.run(spec)
    assert not hit
    check_complete(first, spec, store.root)
    before = {p: Path(p).read_bytes() for p in first.data["files"]}
    again, hit = store.run(spec)
    assert hit and again == first  # same data, same paths (inside the store), same artifacts
    assert {p: Path(p).read_bytes() for p in again.data["files"]} == before
    assert store.get(spec_key(spec)) == first and store.verify(spec_key(spec))
    # a fresh store object (another process would do the same) finds it too
    assert ResultStore(tmp_path / "data").run(spec) == (first, True)
    (entry,) = store.list()
    assert (entry.key, entry.recipe, entry.files) == (spec_key(spec), NAME, 4)
    assert entry.size == 3 * 64 + len(Path(first.data["summary"]).read_bytes())
    stats = store.stats()
    assert (stats["results"], stats["bytes"], stats["recipes"], stats["in_flight"]) == (1, entry.size, {NAME: 1}, 0)
    assert json.loads(store.spec_json(entry.key))["spec"]["seed"] == 1
    with sqlite3.connect(store.root / "index.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert leftovers(store.root)["staging"] == [] and integrity(store.root) == "ok"


def test_context_forms_and_refresh(tmp_path):
    store = ResultStore(tmp_path)
    spec = CountSpec(steps=2, seed=2)
    seen = []
    ctx = RunContext(tmp_path / "ignored", on_progress=lambda *a: seen.append(a))
    first, hit = store.run(spec, ctx)
    assert not hit and seen == [("write", 1, 2), ("write", 2, 2)] and not (tmp_path / "ignored").exists()
    assert ctx.out.parent.parent == store.root / "staging"
    fresh, hit = store.run(spec, lambda out: RunContext(out), refresh=True)
    assert not hit and fresh.folder != first.folder and not Path(first.folder).exists()
    check_complete(fresh, spec, store.root)
    assert store.get(spec_key(spec)) == fresh and len(store) == 1
    assert len(leftovers(store.root)["folders"]) == 1
    durable = ResultStore(tmp_path / "durable", durable=True)  # fsyncs files and folders on commit
    check_complete(durable.run(spec)[0], spec, durable.root)


def test_put_copies_a_result_computed_elsewhere(tmp_path):
    store = ResultStore(tmp_path / "data")
    spec = CountSpec(steps=2, seed=3)
    outside = REGISTRY[NAME].run(spec, RunContext(tmp_path / "out"))
    key = spec_key(spec)
    stored = store.put(key, spec, outside)
    check_complete(stored, spec, store.root)
    check_complete(outside, spec)  # the original stays where it was
    assert not (Path(stored.folder) / "scratch.tmp").exists()
    assert store.get(key) == stored
    other = REGISTRY[NAME].run(CountSpec(steps=2, seed=4), RunContext(tmp_path / "out2"))
    assert store.put(key, spec, other) == stored  # the first one stays
    moved = store.put(key, spec, other, move=True, replace=True)
    assert not Path(other.data["files"][0]).exists() and Path(moved.data["files"][0]).read_bytes() == content(4, 0, 64)
    with pytest.raises(ConvscopeError, match="malformed key"):
        store.put("../x", spec, outside)
    broken = outside.model_copy(
        update={"artifacts": outside.artifacts + [outside.artifacts[0].model_copy(update={"name": "missing.png"})]}
    )
    with pytest.raises(ConvscopeError, match="missing.png was not written"):
        store.put("k" * 64, spec, broken)
    assert "k" * 64 not in store and leftovers(store.root)["staging"] == []


def test_failed_and_cancelled_runs_store_nothing(tmp_path):
    store = ResultStore(tmp_path)
    with pytest.raises(ValueError, match="planned failure"):
        store.run(CountSpec(steps=2, fail=True))
    cancel = threading.Event()
    steps = []

    def progress(stage, done, total):
        steps.append(done)
        if done == 2:
            cancel.set()

    with pytest.raises(Cancelled):
        store.run(CountSpec(steps=5, seed=5), RunContext(tmp_path, on_progress=progress, cancel=cancel))
    assert steps == [1, 2]
    assert len(store) == 0 and leftovers(store.root) == {"staging": [], "trash": [], "folders": []}


def test_missing_files_drop_the_row(tmp_path):
    store = ResultStore(tmp_path)
    spec = CountSpec(steps=2, seed=6)
    first, _ = store.run(spec)
    Path(first.data["files"][1]).unlink()
    assert store.get(spec_key(spec)) is None and len(store) == 0
    assert leftovers(store.root)["folders"] == []
    again, hit = store.run(spec)
    assert not hit
    check_complete(again, spec, store.root)
    Path(again.data["files"][0]).write_bytes(b"short")  # a torn file: wrong size
    assert not store.verify(spec_key(spec)) and store.get(spec_key(spec)) is None


def test_delete_and_relocation(tmp_path):
    store = ResultStore(tmp_path / "a")
    spec = CountSpec(steps=1, seed=7)
    result, _ = store.run(spec)
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # the data dir moves: paths follow it
    moved = ResultStore(tmp_path / "b").get(spec_key(spec))
    assert moved.folder.startswith(str(tmp_path / "b")) and moved.data["files"][0].startswith(str(tmp_path / "b"))
    check_complete(moved, spec)
    assert store.delete(spec_key(spec)) and not store.delete(spec_key(spec))
    assert store.get(spec_key(spec)) is None and not Path(result.folder).exists()


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVSCOPE_DATA", str(tmp_path / "x"))
    assert default_data_dir() == tmp_path / "x"
    monkeypatch.delenv("CONVSCOPE_DATA")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "convscope"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".local" / "share" / "convscope"


def test_threads_read_while_another_writes(tmp_path):
    store = ResultStore(tmp_path)
    specs = [CountSpec(steps=2, size=4096, seed=100 + i) for i in range(24)]
    keys = [spec_key(s) for s in specs]
    errors, seen = [], [0] * 3
    writing = threading.Event()
    writing.set()

    def write():
        try:
            for spec in specs:
                store.run(spec)
            for spec in specs[::4]:
                store.run(spec, refresh=True)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            writing.clear()

    def read(index):
        try:
            while writing.is_set():
                for spec, key in zip(specs, keys):
                    result = store.get(key)
                    if result is None:
                        continue
                    try:
                        check_complete(result, spec)
                    except FileNotFoundError:  # a refresh replaced it meanwhile: the row has moved on
                        assert store.get(key).folder != result.folder
                    seen[index] += 1
                store.list()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert all(count > 0 for count in seen)
    assert len(store) == len(specs) and len(leftovers(store.root)["folders"]) == len(specs)
    for spec, key in zip(specs, keys):
        check_complete(store.get(key), spec, store.root)


def test_repair_spares_live_runs_and_reaps_dead_ones(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    started, release = threading.Event(), threading.Event()

    def progress(stage, done, total):
        started.set()
        release.wait(10)

    runner = threading.Thread(
        target=store.run, args=(CountSpec(steps=1, seed=8), RunContext(tmp_path, on_progress=progress))
    )
    runner.start()
    assert started.wait(10)
    live = leftovers(tmp_path)["staging"]
    assert len(live) == 2  # <id>/ and <id>.lock
    ResultStore(tmp_path).repair()  # another opener (same process or not) leaves the live run alone
    assert leftovers(tmp_path)["staging"] == live
    (tmp_path / "staging" / "stray").mkdir()  # a staging folder without its lock file: reaped once stale
    (tmp_path / "results" / "ab").mkdir()
    (tmp_path / "results" / "ab" / "abcd-12345678").mkdir()  # a folder without a row
    monkeypatch.setattr(store_module, "STALE_AFTER_S", 0.0)
    removed = store.repair()
    assert removed["orphans"] == 1 and removed["staging"] == 1 and leftovers(tmp_path)["staging"] == live
    release.set()
    runner.join(10)
    check_complete(store.get(spec_key(CountSpec(steps=1, seed=8))), CountSpec(steps=1, seed=8), store.root)
    assert leftovers(tmp_path)["staging"] == []


# --- several processes, kill -9 -------------------------------------------------------------------------------
FORK = multiprocessing.get_context("fork")


def _child_run(data_dir, fields, fault, refresh, conn, go=None):
    """Run a spec into the store (in a forked child); report each progress step and the result on `conn`."""
    if fault:
        store_module._FAULT = lambda point: os.kill(os.getpid(), signal.SIGKILL) if point == fault else None
    store = ResultStore(data_dir)
    if go is not None:
        go.wait(30)
    result, hit = store.run(
        CountSpec(**fields), lambda out: RunContext(out, on_progress=lambda s, d, t: conn.send(d)), refresh=refresh
    )
    conn.send(("result", result.model_dump(), hit))


def _child_delete(data_dir, key, fault):
    store_module._FAULT = lambda point: os.kill(os.getpid(), signal.SIGKILL) if point == fault else None
    ResultStore(data_dir).delete(key)


def test_kill_9_at_every_point_leaves_no_partial_result(tmp_path):
    slow = {"steps": 4, "chunks": 3, "size": 3000, "delay": 0.01, "seed": 11}
    spec = CountSpec(**slow)
    key = spec_key(spec)
    old_spec = CountSpec(**{**slow, "delay": 0.0})  # for the refresh case: an older result to keep
    scenarios = {  # name: (fault point, kill after this many progress steps, refresh)
        "writing": (None, 5, False),
        "staged": ("staged", None, False),
        "begun": ("begun", None, False),
        "renamed": ("renamed", None, False),
        "inserted": ("inserted", None, False),
        "committed": ("committed", None, False),
        "refresh-renamed": ("renamed", None, True),
    }
    children, go = {}, FORK.Event()
    for name, (fault, after, refresh) in scenarios.items():
        root = tmp_path / name
        if refresh:
            ResultStore(root).put(key, spec, REGISTRY[NAME].run(old_spec, RunContext(tmp_path / "old")))
        parent, child = FORK.Pipe()
        process = FORK.Process(target=_child_run, args=(root, slow, fault, refresh, child, go))
        process.start()
        children[name] = (process, parent, after)
    go.set()
    # the writing case: kill from outside while a file is half written
    process, parent, after = children["writing"]
    while parent.poll(20) and parent.recv() != after:
        pass
    assert process.is_alive()
    os.kill(process.pid, signal.SIGKILL)
    # a delete killed between its commit and the removal of the files
    deleted = tmp_path / "deleted"
    ResultStore(deleted).put(key, spec, REGISTRY[NAME].run(spec, RunContext(tmp_path / "full")))
    killed_delete = FORK.Process(target=_child_delete, args=(deleted, key, "deleted"))
    killed_delete.start()
    for process, _, _ in list(children.values()) + [(killed_delete, None, None)]:
        process.join(30)
        assert process.exitcode == -signal.SIGKILL

    for name, (_fault, _after, refresh) in scenarios.items():
        root = tmp_path / name
        mess = leftovers(root)
        assert mess["staging"], name  # the killed run left its staging folder behind
        store = ResultStore(root)  # the next open repairs
        assert integrity(root) == "ok", name
        state = leftovers(root)
        assert state["staging"] == [] and state["trash"] == [], (name, state)
        stored = store.get(key)
        if name == "committed":  # killed after the commit: the result is complete
            check_complete(stored, spec, root)
        elif refresh:  # killed before the refresh committed: the old result is intact
            assert state["folders"] == [Path(stored.folder).relative_to(root).as_posix()]
            check_complete(stored, old_spec, root)
        else:  # no partial result, no orphan folder
            assert stored is None and state["folders"] == [] and len(store) == 0, (name, state)
        again, hit = store.run(spec, refresh=refresh)
        assert hit == (name == "committed")
        check_complete(again, spec, root)
        assert integrity(root) == "ok" and leftovers(root)["staging"] == []
    store = ResultStore(deleted)
    assert store.get(key) is None and leftovers(deleted) == {"staging": [], "trash": [], "folders": []}


def test_two_processes_write_at_once(tmp_path):
    root = tmp_path / "data"
    ResultStore(root)
    fields = [{"steps": 3, "delay": 0.05, "seed": 21}] * 3 + [{"steps": 3, "delay": 0.05, "seed": s} for s in (22, 23)]
    go = FORK.Event()
    pipes, processes = [], []
    for f in fields:
        parent, child = FORK.Pipe()
        process = FORK.Process(target=_child_run, args=(root, f, None, False, child, go))
        process.start()
        pipes.append(parent)
        processes.append(process)
    go.set()
    results, hits = [], []
    for parent, process in zip(pipes, processes):
        while True:
            assert parent.poll(30)
            message = parent.recv()
            if isinstance(message, tuple):
                results.append(message[1])
                hits.append(message[2])
                break
        process.join(30)
        assert process.exitcode == 0
    store = ResultStore(root)
    same = {r["folder"] for r in results[:3]}
    assert len(same) == 1  # every process of the same key got the winner's result
    assert hits[:3].count(False) >= 2  # (they did run at the same time: at least two computed it)
    for data, f in zip(results, fields):
        spec = CountSpec(**f)
        assert store.get(spec_key(spec)).model_dump() == data
        check_complete(store.get(spec_key(spec)), spec, store.root)
    assert len(store) == 3 and len(leftovers(root)["folders"]) == 3
    assert leftovers(root)["staging"] == [] and integrity(root) == "ok"
