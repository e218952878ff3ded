"""The result store: every result is computed once and found again by its spec key, from any process.

Over 400 lines on purpose: the store's crash-safety argument (staging, the index row as commit point,
repair on open, locking) only holds read as one unit.

    store = ResultStore()                          # $CONVSCOPE_DATA, $XDG_DATA_HOME/convscope or ~/.local/share/...
    result, hit = store.run(spec)                  # a stored result answers at once; otherwise the recipe runs
    store.get(spec_key(spec))                      # Result (its folder inside the store) or None

Embedded, no server: an SQLite index (WAL mode) next to the result files, under one data dir:

    <data dir>/index.sqlite              one row per result: key, recipe, spec, Result JSON, file manifest, size
    <data dir>/results/<k2>/<key>-<id>/  the artifacts of one result (k2 = the key's first two hex digits; id =
                                         8 random hex digits, new at every commit, so a folder is never rewritten)
    <data dir>/staging/<id>/out/         a run in flight (the recipe's `ctx.out`), with <id>.lock held by its owner
    <data dir>/trash/<id>/               folders no row points to any more, being removed

Atomicity: a run writes into its staging folder; the commit, holding SQLite's write lock (`BEGIN IMMEDIATE`),
renames the finished folder to `results/...` and inserts its row, then commits. The row is the commit point: a
folder no committed row points to is garbage, and nothing is ever removed before its row is gone. A process
killed anywhere (kill -9) leaves at worst a staging folder (its lock file is no longer locked), an unreferenced
folder under `results/`, or a folder in `trash/`; `repair()` (run by every open) removes those, under the write
lock, so it never races a live commit. Rows whose files are missing or have the wrong size (a hand-deleted file,
a file torn by a power cut) are dropped by `get` and `repair`.

Concurrency: any number of threads and processes may read and write at once. Each thread has its own
connection (opened per thread and per process, never shared across a fork); writes serialise on SQLite's write
lock (`busy_timeout` waits for it); a result is visible only once complete. Two processes storing the same key:
the first commit wins, the second discards its copy and returns the winner's result.

See docs/store.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import xxhash
from pydantic import ValidationError

from ..core.errors import ConvscopeError
from ..recipes import result_model
from ..recipes.base import REGISTRY, Recipe, Result, RunContext, Spec, canonical_json, spec_key

try:  # POSIX: a staging folder's owner holds a lock on its lock file; the lock dies with the process
    import fcntl
except ImportError:  # pragma: no cover - Windows: staging folders are reaped by age only
    fcntl = None

SCHEMA_VERSION = 1
#: staging folders without a live owner are removed at once; ones whose owner cannot be told (no lock, an empty
#: lock file) only after this many seconds
STALE_AFTER_S = 60.0

#: tests: called with the name of each point of a commit / delete ("staged", "begun", "renamed", "inserted",
#: "committed", "deleted"), e.g. to kill the process exactly there
_FAULT: Callable[[str], None] | None = None

_KEY = re.compile(r"[0-9A-Za-z_-]{2,128}")
_INHERITED: list[sqlite3.Connection] = []  # connections a fork inherited: kept (never closed by the child)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key     TEXT PRIMARY KEY,
    recipe  TEXT NOT NULL,
    folder  TEXT NOT NULL,     -- relative to the data dir: results/<k2>/<key>-<id>
    spec    TEXT NOT NULL,     -- canonical_json(spec)
    result  TEXT NOT NULL,     -- the Result, its paths relative to the data dir (folder = `folder`)
    files   TEXT NOT NULL,     -- JSON [[name, size, xxh3-128], ...]
    size    INTEGER NOT NULL,  -- bytes of all files
    created REAL NOT NULL      -- unix time of the commit
);
CREATE INDEX IF NOT EXISTS results_recipe ON results(recipe);
CREATE INDEX IF NOT EXISTS results_created ON results(created);
"""


def _fault(point: str) -> None:
    if _FAULT is not None:
        _FAULT(point)


def default_data_dir() -> Path:
    """Where results are kept: `$CONVSCOPE_DATA`, else `$XDG_DATA_HOME/convscope`, else ~/.local/share/convscope."""
    if os.environ.get("CONVSCOPE_DATA"):
        return Path(os.environ["CONVSCOPE_DATA"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base).expanduser() / "convscope"


def recipe_entry(spec: Spec) -> Recipe:
    """The registered recipe of `spec` (from `REGISTRY`, else `convscope.recipes.get`, which imports the family
    modules). Raises ConvscopeError for an unknown recipe or a spec of another recipe's class."""
    entry = REGISTRY.get(spec.recipe)
    if entry is None:
        from ..recipes import get

        entry = get(spec.recipe)
    if not isinstance(spec, entry.spec):
        raise ConvscopeError(f"recipe {spec.recipe} takes a {entry.spec.__name__}, not a {type(spec).__name__}")
    return entry


def execute(entry: Recipe, spec: Spec, ctx: RunContext) -> Result:
    """Run one recipe into `ctx.out` (created) and return its Result. Raises what the recipe raises (`Cancelled`
    once the context's cancel event is set) and ConvscopeError when it does not return a Result."""
    ctx.out.mkdir(parents=True, exist_ok=True)
    result = entry.run(spec, ctx)
    if not isinstance(result, Result):
        raise ConvscopeError(f"recipe {entry.name} returned a {type(result).__name__}, not a Result")
    return result


@dataclass(frozen=True)
class StoreEntry:
    """One stored result as `ResultStore.list` gives it: key, recipe, commit time (unix s), bytes, file count."""

    key: str
    recipe: str
    created: float
    size: int
    files: int

    def to_dict(self) -> dict:
        return asdict(self)


class _Staging:
    """A run's private folder under staging/, its lock file held (flock) from creation to removal."""

    def __init__(self, root: Path):
        self.id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.dir = root / "staging" / self.id
        self.lock_path = root / "staging" / f"{self.id}.lock"
        self.out = self.dir / "out"
        self._fd: int | None = None

    def __enter__(self) -> "_Staging":
        # lock file first (created exclusively, locked, then our pid written): a reaper that finds the file
        # unlocked and non-empty knows its owner is dead
        self._fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            os.write(self._fd, str(os.getpid()).encode())
            self.out.mkdir(parents=True)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        try:
            os.unlink(self.lock_path)
        except FileNotFoundError:
            pass
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ResultStore:
    """Results by spec key: an SQLite index plus the result files under `data_dir` (see the module docstring).

    Args:
        data_dir: the store's folder (created); default `default_data_dir()`.
        timeout: seconds to wait for SQLite's write lock before giving up (ConvscopeError).
        durable: fsync the files and folders of every commit (survives power cuts, not only killed processes).
        repair: run `repair()` now (drop what a killed process left in flight).

    Raises ConvscopeError when the folder cannot be used or the index was written by a newer convscope.
    """

    def __init__(
        self, data_dir: str | Path | None = None, *, timeout: float = 60.0, durable: bool = False, repair: bool = True
    ):
        self.root = Path(data_dir if data_dir is not None else default_data_dir()).expanduser().resolve()
        self.timeout, self.durable = float(timeout), durable
        try:
            for sub in ("results", "staging", "trash"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConvscopeError(f"result store {self.root}: {exc.strerror or exc}") from None
        self._root = str(self.root)
        self._root_json = json.dumps(self._root, ensure_ascii=False)[1:-1]  # as it appears inside JSON text
        self.index_path = self.root / "index.sqlite"
        self._local = threading.local()
        with self._transaction() as conn:
            for statement in _SCHEMA.split(";"):  # (executescript would commit the transaction)
                if statement.strip():
                    conn.execute(statement)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConvscopeError(
                    f"result store {self.root}: index version {version} is newer than this "
                    f"convscope's ({SCHEMA_VERSION}); upgrade convscope or use another --data-dir"
                )
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        if repair:
            self.repair()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    # --- connections and transactions ------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (a new one after a fork: SQLite connections must not cross processes)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        if conn is not None:
            _INHERITED.append(conn)  # the parent's: closing it here could release the parent's locks
        try:
            conn = sqlite3.connect(self.index_path, timeout=self.timeout, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}")
        except sqlite3.Error as exc:
            raise ConvscopeError(f"result store {self.root}: cannot open the index: {exc}") from None
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        """Close the calling thread's connection (others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    def _begin(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise ConvscopeError(
                f"result store {self.root}: the index stayed locked for {self.timeout:g} s ({exc})"
            ) from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        self._begin(conn)
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- reading -------------------------------------------------------------------------------------------
    def get(self, key: str) -> Result | None:
        """The stored result of `key` (its `folder` and the paths in its data inside the store), or None. A row
        whose files are missing or of the wrong size is dropped (and None returned). The result is typed by its
        recipe's data model (`Result[PredictData]` for `predict`, see `_materialize`)."""
        conn = self._conn()
        for _ in range(3):
            row = conn.execute("SELECT recipe, folder, result, files FROM results WHERE key=?", (key,)).fetchone()
            if row is None:
                return None
            result = self._materialize(*row)
            if result is not None:
                return result
            # files gone: a concurrent refresh / delete moved them, or they are really broken; drop the row
            # only if it still points to the same folder
            folder = row[1]
            with self._transaction() as conn:
                now = conn.execute("SELECT folder FROM results WHERE key=?", (key,)).fetchone()
                if now is not None and now[0] == folder:
                    conn.execute("DELETE FROM results WHERE key=? AND folder=?", (key, folder))
                    dropped = folder
                else:
                    dropped = None
            if dropped is not None:
                self._discard(dropped)
                return None
        return None

    def _materialize(self, recipe: str, folder: str, result_json: str, files_json: str) -> Result | None:
        """The stored Result with its paths in the store, or None when a file is missing or of the wrong size.
        (Strings, not Paths, and the paths rewritten in the JSON text: this is the whole cost of a hit.) The
        stored JSON holds paths relative to the data dir, and only strings that start with `folder` (which
        ends in a random commit id) are rewritten, exactly as `Result.moved_to` would.

        Typed by its recipe: `recipes.result_model(recipe)` (`Result[Data]`; a plain `Result` for a recipe not
        registered here). A stored result that its recipe's data model refuses (one stored by another version of
        the recipe, reached by its key) is returned as a plain `Result`: the store never makes a result
        unreadable, and its JSON is the same either way."""
        where = f"{self._root}/{folder}"
        for name, size, _digest in json.loads(files_json):
            try:
                if os.stat(f"{where}/{name}").st_size != size:
                    return None
            except OSError:
                return None
        absolute = f"{self._root_json}/{folder}"
        text = result_json.replace(f'"{folder}/', f'"{absolute}/').replace(f'"{folder}"', f'"{absolute}"')
        model = result_model(recipe)
        try:
            return model.model_validate_json(text)
        except ValidationError:
            if model is Result:
                raise
            return Result.model_validate_json(text)

    def __contains__(self, key: str) -> bool:
        return self._conn().execute("SELECT 1 FROM results WHERE key=?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def list(self, recipe: str | None = None) -> list[StoreEntry]:
        """Every stored result (oldest first), or those of one recipe."""
        query = "SELECT key, recipe, created, size, files FROM results"
        rows = (
            self._conn()
            .execute(
                query + (" WHERE recipe=?" if recipe else "") + " ORDER BY created, key", (recipe,) if recipe else ()
            )
            .fetchall()
        )
        return [
            StoreEntry(key, name, created, size, len(json.loads(files))) for key, name, created, size, files in rows
        ]

    def spec_json(self, key: str) -> str | None:
        """The canonical spec JSON a result was stored under (None for an unknown key)."""
        row = self._conn().execute("SELECT spec FROM results WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def stats(self) -> dict:
        """Counts and sizes: results, bytes (of result files), per-recipe counts, index bytes, runs in flight."""
        conn = self._conn()
        count, size = conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM results").fetchone()
        recipes = dict(conn.execute("SELECT recipe, COUNT(*) FROM results GROUP BY recipe ORDER BY recipe"))
        index = sum(p.stat().st_size for p in self.root.glob("index.sqlite*") if p.is_file())
        staging = sum(1 for p in (self.root / "staging").glob("*.lock"))
        return {
            "data_dir": str(self.root),
            "results": count,
            "bytes": size,
            "recipes": recipes,
            "index_bytes": index,
            "in_flight": staging,
        }

    def verify(self, key: str) -> bool:
        """Whether every file of `key` still has the size and xxh3-128 hash recorded at commit (False for an
        unknown key)."""
        row = self._conn().execute("SELECT folder, files FROM results WHERE key=?", (key,)).fetchone()
        if row is None:
            return False
        for name, size, digest in json.loads(row[1]):
            path = self.root / row[0] / name
            try:
                if path.stat().st_size != size or _hash_file(path) != digest:
                    return False
            except OSError:
                return False
        return True

    # --- writing -------------------------------------------------------------------------------------------
    def run(
        self,
        spec: Spec,
        ctx: RunContext | Callable[[Path], RunContext] | None = None,
        *,
        refresh: bool = False,
        key: str | None = None,
    ) -> tuple[Result, bool]:
        """The result of `spec` and whether it came from the store.

        A stored result answers at once (`hit=True`). Otherwise the recipe runs into a staging folder inside the
        store: `ctx` is a RunContext (its `out` is set to that folder), a factory `ctx(out) -> RunContext`, or
        None (a plain context); then the result is committed atomically. `refresh=True` runs again and replaces
        the stored result. `key` skips recomputing `spec_key(spec)`.

        Only the files listed in `result.artifacts` are kept. When another thread or process commits the same
        key first, its result is returned (and this run's files discarded).

        Raises ConvscopeError (unknown recipe, a named file missing, a listed artifact not written, the index
        locked for longer than `timeout`), `Cancelled` when the cancel event is set (before the commit: nothing
        is stored), and whatever the recipe raises (nothing is stored).
        """
        entry = recipe_entry(spec)
        key = key or spec_key(spec)
        if not refresh:
            hit = self.get(key)
            if hit is not None:
                return hit, True
        with _Staging(self.root) as stage:
            if isinstance(ctx, RunContext):
                ctx.out, ctx.artifacts = stage.out, {}
                context = ctx
            elif ctx is None:
                context = RunContext(stage.out)
            else:
                context = ctx(stage.out)
            if context.shards is None:  # an atlas's shards go through this store too, each under its own key
                context.shards = self.run_shards
            result = execute(entry, spec, context)
            context.check_cancel()  # a cancel that came after the last step still stores nothing
            _fault("staged")
            stored = self._commit(key, spec, result, stage, replace=refresh)
        return stored, False

    def run_shards(self, specs: list[Spec], parent: RunContext) -> list[Result]:
        """`RunContext.map` through this store, in this process: each shard answered from the store when it is
        there (a rerun after an interruption computes only what is missing), else run and stored under its own
        key. Counts go to `parent.shard_counts` ({"total", "from_store"}); progress ("shards", done, total)."""
        results, hits = [], 0
        parent.shard_finished(None, 0, len(specs))
        for i, spec in enumerate(specs):
            result, hit = self.run(spec, parent.child)
            hits += hit
            results.append(result)
            parent.shard_finished(i, i + 1, len(specs))
        parent.shard_counts = {"total": len(specs), "from_store": hits}
        return results

    def put(self, key: str, spec: Spec, result: Result, *, move: bool = False, replace: bool = False) -> Result:
        """Store `result` (computed elsewhere) under `key`: the files of `result.folder` listed in
        `result.artifacts` are copied (moved with `move=True`) into the store. Returns the stored result (paths
        inside the store); when `key` is already stored and `replace` is False, the stored one is returned.

        Raises ConvscopeError for a malformed key or a listed artifact that is not a file under `result.folder`.
        """
        with _Staging(self.root) as stage:
            return self._commit(key, spec, result, stage, replace=replace, move=move)

    def delete(self, key: str) -> bool:
        """Remove a stored result (its row, then its files); False when `key` was not stored. A Result read
        before keeps its paths, which stop existing."""
        with self._transaction() as conn:
            row = conn.execute("SELECT folder FROM results WHERE key=?", (key,)).fetchone()
            if row is not None:
                conn.execute("DELETE FROM results WHERE key=?", (key,))
        if row is None:
            return False
        _fault("deleted")
        self._discard(row[0])
        return True

    def _gather(self, result: Result, stage: _Staging, move: bool) -> list[list]:
        """Bring exactly the listed artifacts into stage.out; returns the manifest [[name, size, hash], ...]."""
        names = []
        for artifact in result.artifacts:
            name = artifact.name
            parts = Path(name).parts
            if not name or Path(name).is_absolute() or ".." in parts or "\\" in name:
                raise ConvscopeError(
                    f"recipe {result.recipe}: artifact name {name!r} is not a path inside its output folder"
                )
            names.append(name)
        if names and not result.folder:
            raise ConvscopeError(f"recipe {result.recipe}: a result with artifacts needs its folder")
        source = Path(result.folder).resolve() if result.folder else None
        in_place = source is not None and source == stage.out.resolve()
        for name in names:
            src = (source / name) if source else None
            if src is None or not src.is_file():
                raise ConvscopeError(f"recipe {result.recipe}: artifact {name} was not written (no file {src})")
            if not in_place:
                dst = stage.out / name
                dst.parent.mkdir(parents=True, exist_ok=True)
                (shutil.move if move else shutil.copyfile)(src, dst)
        if in_place:  # keep only what the result lists
            keep = set(names)
            for path in sorted(stage.out.rglob("*"), reverse=True):
                rel = path.relative_to(stage.out).as_posix()
                if path.is_dir() and not path.is_symlink():
                    if not any(path.iterdir()):
                        path.rmdir()
                elif rel not in keep:
                    path.unlink()
        manifest = []
        for name in sorted(names):
            path = stage.out / name
            manifest.append([name, path.stat().st_size, _hash_file(path, fsync=self.durable)])
        return manifest

    def _commit(
        self, key: str, spec: Spec, result: Result, stage: _Staging, *, replace: bool, move: bool = False
    ) -> Result:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ConvscopeError(f"result store: malformed key {key!r} (2-128 letters, digits, _ or -)")
        manifest = self._gather(result, stage, move)
        folder = f"results/{key[:2]}/{key}-{uuid.uuid4().hex[:8]}"
        target = self.root / folder
        target.parent.mkdir(parents=True, exist_ok=True)
        relative = result.moved_to(folder) if result.folder else result.model_copy(update={"folder": folder})
        row = (
            key,
            result.recipe,
            folder,
            canonical_json(spec),
            relative.model_dump_json(),
            json.dumps(manifest, separators=(",", ":")),
            sum(m[1] for m in manifest),
            time.time(),
        )
        if self.durable:
            _fsync_tree(stage.out)
        conn = self._conn()
        self._begin(conn)
        renamed, old = False, None
        try:
            _fault("begun")
            existing = conn.execute("SELECT recipe, folder, result, files FROM results WHERE key=?", (key,)).fetchone()
            if existing is not None and not replace:
                winner = self._materialize(*existing)
                if winner is not None:  # someone else stored it first: theirs is the answer
                    conn.execute("ROLLBACK")
                    return winner
            old = existing[1] if existing is not None else None
            os.rename(stage.out, target)
            renamed = True
            _fault("renamed")
            conn.execute(
                "INSERT OR REPLACE INTO results (key, recipe, folder, spec, result, files, size, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            _fault("inserted")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if renamed:  # not committed: the folder is nobody's
                self._discard(folder)
            raise
        _fault("committed")
        if self.durable:
            _fsync_dir(target.parent)
        if old is not None:
            self._discard(old)  # unreferenced since the commit
        return relative.moved_to(target)

    def _discard(self, folder: str) -> None:
        """Move a folder no row points to into trash/ (atomic), then remove it."""
        trash = self.root / "trash" / uuid.uuid4().hex
        try:
            os.rename(self.root / folder, trash)
        except FileNotFoundError:
            return
        except OSError:
            trash = self.root / folder
        shutil.rmtree(trash, ignore_errors=True)

    # --- recovery ------------------------------------------------------------------------------------------
    def repair(self) -> dict:
        """Remove what killed processes left: staging folders without a live owner, folders under results/ no
        row points to, rows whose folder is gone, and trash. Safe while other processes use the store (runs
        under the write lock; live runs hold their staging locks). Returns counts of what was removed."""
        removed = {"staging": self._reap_staging(), "orphans": 0, "rows": 0, "trash": 0}
        results = self.root / "results"
        with self._transaction() as conn:
            rows = conn.execute("SELECT key, folder FROM results").fetchall()
            referenced = {folder for _, folder in rows}
            gone = [key for key, folder in rows if not (self.root / folder).is_dir()]
            conn.executemany("DELETE FROM results WHERE key=?", [(key,) for key in gone])
            removed["rows"] = len(gone)
            for prefix in _scandir(results):
                inside = _scandir(prefix.path) if prefix.is_dir(follow_symlinks=False) else []
                strays = [(f"results/{prefix.name}/{e.name}", e.path) for e in inside]
                if not prefix.is_dir(follow_symlinks=False):
                    strays = [(f"results/{prefix.name}", prefix.path)]
                for rel, path in strays:
                    if rel not in referenced:
                        try:
                            os.rename(path, self.root / "trash" / uuid.uuid4().hex)
                        except FileNotFoundError:
                            continue
                        removed["orphans"] += 1
        for entry in _scandir(self.root / "trash"):
            _remove(Path(entry.path))
            removed["trash"] += 1
        return removed

    def _reap_staging(self) -> int:
        staging, now, reaped = self.root / "staging", time.time(), 0
        entries = {entry.name: entry for entry in _scandir(staging)}
        for name, entry in entries.items():
            if name.endswith(".lock"):
                reaped += self._reap_one(staging, name[:-5], Path(entry.path), now)
            elif f"{name}.lock" not in entries:
                try:
                    if now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_S:
                        _remove(Path(entry.path))
                        reaped += 1
                except FileNotFoundError:
                    pass
        return reaped

    def _reap_one(self, staging: Path, run_id: str, lock_path: Path, now: float) -> int:
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except FileNotFoundError:
            return 0
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return 0  # its owner is alive
                owner_wrote = os.fstat(fd).st_size > 0
                if not owner_wrote and now - os.fstat(fd).st_mtime < STALE_AFTER_S:
                    return 0  # being created right now
            elif now - os.fstat(fd).st_mtime < STALE_AFTER_S * 60:
                return 0
            shutil.rmtree(staging / run_id, ignore_errors=True)
            try:
                os.unlink(lock_path)
            except FileNotFoundError:
                pass
            return 1
        finally:
            os.close(fd)


def _scandir(path) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as entries:
            return list(entries)
    except FileNotFoundError:
        return []


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _hash_file(path: Path, fsync: bool = False) -> str:
    digest = xxhash.xxh3_128()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
        if fsync:
            os.fsync(file.fileno())
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for folder, _, _ in os.walk(root):
        _fsync_dir(Path(folder))


__all__ = ["ResultStore", "StoreEntry", "default_data_dir", "execute", "recipe_entry"]
