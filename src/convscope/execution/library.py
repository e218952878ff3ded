"""What the uploaded datasets (`datasets.DatasetLibrary`) and models (`models.ModelLibrary`) share: a folder of
content-addressed files with a name -> entry index (`index.json`), re-read on every call (a server and the CLI may
change it at the same time), written atomically under an exclusive file lock, and one rule for names."""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from ..core.errors import ConvscopeError, UploadError

#: an uploaded dataset's or model's name: 1-64 letters, digits, `_`, `.`, `-`, starting with a letter or digit
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Library:
    """The index of a folder of uploads of one `kind` (`dataset`, `model`) under `root`."""

    kind = "upload"

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.index_path = self.root / "index.json"

    def _index(self) -> dict[str, dict]:
        """name -> entry, as on disk now."""
        try:
            return json.loads(self.index_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConvscopeError(f"the {self.kind} index {self.index_path} cannot be read: {exc}") from None

    @contextmanager
    def _locked(self):
        """An exclusive lock on the index (between threads and processes)."""
        with open(self.root / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write(self, index: dict) -> None:
        """Replace the index atomically (call under `_locked`)."""
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".index-")
        try:
            with os.fdopen(handle, "w") as file:
                json.dump(index, file, indent=1, sort_keys=True)
            os.replace(temporary, self.index_path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    def _check_name(self, name: str, taken: Iterable[str] = (), reserved: Iterable[str] = ()) -> None:
        """UploadError (field `name`): a name against NAME (422), a `reserved` one (409: built in), one in `taken`
        or already in the index (409)."""
        if not isinstance(name, str) or not NAME.match(name):
            raise UploadError(
                "name",
                f"{self.kind} name `{str(name)[:100]}` is not allowed: 1-64 letters, digits, `_`, `.` or `-`, "
                "starting with a letter or digit",
            )
        if name in set(reserved):
            raise UploadError("name", f"{self.kind} name `{name}` is a built-in {self.kind}; choose another name", 409)
        if name in set(taken) or name in self._index():
            raise UploadError(
                "name", f"a {self.kind} named `{name}` exists; remove it first or choose another name", 409
            )

    def _forget(self, name: str) -> tuple[dict, bool]:
        """Drop `name` from the index (call under `_locked`): its entry, and whether another name still holds the
        same content (`hash`). UploadError (field `name`, 404) for an unknown name."""
        index = self._index()
        entry = index.pop(name, None)
        if entry is None:
            raise UploadError("name", f"no uploaded {self.kind} `{name}`", 404)
        self._write(index)
        return entry, any(other["hash"] == entry["hash"] for other in index.values())
