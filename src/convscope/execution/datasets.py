"""Uploaded datasets: image sets a user adds (a zip, image files, a folder) kept by content in the data dir.

Over 400 lines on purpose: one concept, taking untrusted archives and files in safely (names, links, sizes,
decompression bombs, unreadable images, the layout, content addressing, the index); its safety rules are kept
together so they are read and checked together.

    library = DatasetLibrary(data_dir)
    info = library.add("cats", [("cats.zip", "/tmp/cats.zip")])       # -> DatasetInfo (a dict)
    library.folder("cats")                                              # -> the folder open_dataset reads
    library.list(); library.remove("cats")

Layout: `data_dir/datasets/<sha256>/...` holds the kept files (ImageFolder layout — one sub-folder per class — or
flat), named by the hash of their relative paths and contents, so the same content uploaded twice (under any
name) is stored once and results computed on it stay valid; `data_dir/datasets/index.json` maps names to hashes
with what the upload reported (image count, classes, channels, skipped files). The index is re-read on every call,
so a dataset added by `convscope datasets add` is offered by a running server at once.

What is taken (each rule tested in tests/test_dataset_uploads.py):
- sources: zip archives (members expanded; a zip inside a zip is not) and image files, each with a relative name
  (`cats/a.png` from a folder picker); a common top folder shared by every file is dropped (`set/cats/a.png` ->
  `cats/a.png`; `set/a.png` -> `a.png`: zipping a flat folder gives a flat dataset).
- refused as a whole (UploadError, HTTP 413 / 422): more than `limits.files` files, more than `limits.bytes`
  bytes once uncompressed (counted while reading, never trusted from the archive's header), no readable image,
  a corrupt archive, a bad name.
- skipped and listed, never fatal: names that would leave the folder (`../x`, `/etc/x`, drive letters),
  symbolic links, files that are not images, files over `limits.image_bytes`, images over `limits.pixels` or
  that do not decode, files beside class folders (ImageFolder reads only the sub-folders); `__MACOSX/` entries
  and dot files (archivers' metadata) are dropped without a word.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ..core.data import BUILTIN_DATASETS, IMAGE_SUFFIXES
from ..core.errors import ImageError, UploadError
from .library import Library

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CHUNK = 1 << 20
GRAYSCALE_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F", "P;L"})


@dataclass(frozen=True)
class DatasetLimits:
    """What one dataset upload may hold. `files`: files in it (zip members count one by one); `bytes`: all of them
    uncompressed; `image_bytes`: one file; `pixels`: one image's width x height."""

    files: int = 10_000
    bytes: int = 1 << 30
    image_bytes: int = 32 << 20
    pixels: int = 40_000_000


#: a source of an upload: (its name as sent, its bytes, or a file object / path to read them from)
Source = tuple[str, bytes | BinaryIO | str | os.PathLike]


class DatasetLibrary(Library):
    """The uploaded datasets of one data dir (see the module docstring)."""

    kind = "dataset"

    def __init__(self, data_dir: str | os.PathLike):
        super().__init__(Path(data_dir).expanduser().resolve() / "datasets")

    # --- reading ---------------------------------------------------------------------------------------------
    def list(self) -> list[dict]:
        """Every uploaded dataset's info (name, kind `uploaded`, images, classes, channels, thumbnails, skipped,
        hash, created), by name."""
        return [self._view(name, entry) for name, entry in sorted(self._index().items())]

    def get(self, name: str) -> dict | None:
        """The info of the dataset `name`, or None."""
        entry = self._index().get(name)
        return None if entry is None else self._view(name, entry)

    def folder(self, name: str) -> Path | None:
        """The folder holding the dataset `name` (what `open_dataset` reads), or None."""
        entry = self._index().get(name)
        return None if entry is None else self.root / entry["hash"]

    def name_of(self, folder: str | os.PathLike) -> str | None:
        """The (first) name of an uploaded dataset's folder, or None: how results show it."""
        path = Path(folder)
        if path.parent != self.root:
            return None
        names = [name for name, entry in sorted(self._index().items()) if entry["hash"] == path.name]
        return names[0] if names else None

    def _view(self, name: str, entry: dict) -> dict:
        return {"name": name, "kind": "uploaded", "description": None, **entry}

    # --- changing ---------------------------------------------------------------------------------------------
    def add(
        self,
        name: str,
        sources: Iterable[Source],
        limits: DatasetLimits = DatasetLimits(),
        taken: Iterable[str] = (),
    ) -> dict:
        """Take an upload in: check, expand, decode every image, store by content, list under `name`.

        Args:
            name: 1-64 letters, digits, `_`, `.`, `-` (starting with a letter or digit); not a built-in dataset,
                not one of `taken` (e.g. the server's --dataset names), not an uploaded one.
            sources: (name as sent, content) pairs: zip archives (by their `.zip` suffix or signature) and image
                files; content as bytes, a binary file object or a path.
            limits: the DatasetLimits.
            taken: other names in use.
        Returns:
            The dataset's info (`get`); `skipped` lists [{id, reason}] of the files not kept.
        Raises:
            UploadError: a bad or taken name (field `name`, 422 / 409), too many files or bytes (field `files`,
                413), a corrupt archive or nothing readable (field `files`, 422).
        """
        self._check_name(name, taken, BUILTIN_DATASETS)
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".staging-"))
        try:
            kept, skipped = _Intake(staging, limits).take(sources)
            kept, skipped = _layout(staging, kept, skipped)
            if not kept:
                reasons = "; ".join(f"{s['id']}: {s['reason']}" for s in skipped[:3])
                more = " ..." if len(skipped) > 3 else ""
                raise UploadError(
                    "files", f"the upload holds no readable image{f' ({reasons}{more})' if reasons else ''}"
                )
            digest = _content_hash(kept)
            target = self.root / digest
            with self._locked():
                # again, under the lock: another upload may have taken it
                self._check_name(name, taken, BUILTIN_DATASETS)
                if not target.exists():
                    os.replace(staging, target)
                classes = sorted({rel.split("/")[0] for rel in kept if "/" in rel}) or None
                entry = {
                    "hash": digest,
                    "images": len(kept),
                    "classes": classes,
                    "channels": 1 if all(gray for gray, _ in kept.values()) else 3,
                    "thumbnails": _thumbnails(sorted(kept, key=lambda r: r.split("/")), classes),
                    "skipped": skipped,
                    "created": time.time(),
                }
                index = self._index()
                index[name] = entry
                self._write(index)
            return self._view(name, entry)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def remove(self, name: str) -> None:
        """Forget the dataset `name`; its files go when no other name holds the same content.

        Raises:
            UploadError: no uploaded dataset of that name (status 404, field `name`).
        """
        with self._locked():
            entry, held = self._forget(name)
            if not held:
                doomed = self.root / f".removed-{entry['hash']}-{os.getpid()}"
                os.replace(self.root / entry["hash"], doomed)
                shutil.rmtree(doomed, ignore_errors=True)


# --- intake --------------------------------------------------------------------------------------------------
class _Intake:
    """Writes the image files of an upload's sources below `staging`, within `limits`; records what it skips."""

    def __init__(self, staging: Path, limits: DatasetLimits):
        self.staging, self.limits = staging, limits
        self.files = 0
        self.bytes = 0
        self.kept: dict[str, tuple[bool, str]] = {}  # relative path -> (grayscale, sha256 of the file)
        self.skipped: list[dict] = []

    def take(self, sources: Iterable[Source]) -> tuple[dict[str, tuple[bool, str]], list[dict]]:
        for sent, content in sources:
            sent = str(sent or "upload")
            with _opened(content) as file:
                if sent.lower().endswith(".zip") or _is_zip(file):
                    self._zip(sent, file)
                else:
                    self._member(sent, file, None)
        return self.kept, self.skipped

    def _zip(self, sent: str, file: BinaryIO) -> None:
        try:
            archive = zipfile.ZipFile(file)
            members = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise UploadError("files", f"{sent} is not a readable zip archive ({exc})") from None
        with archive:
            for info in members:
                if info.is_dir():
                    continue
                mode = info.external_attr >> 16
                link = stat.S_ISLNK(mode) if mode else False
                self._member(info.filename, None, (archive, info, link))

    def _member(self, sent: str, file: BinaryIO | None, zipped) -> None:
        relative = _safe_name(sent)
        shown = sent.replace("\\", "/")
        if relative is None:
            self.skipped.append({"id": shown, "reason": "a name that leads out of the dataset folder: not read"})
            return
        if relative == "":
            return  # archivers' metadata (__MACOSX/, dot files): dropped without a word
        self.files += 1
        if self.files > self.limits.files:
            raise UploadError("files", f"too many files: more than {self.limits.files:,} in one upload", 413)
        if zipped is not None and zipped[2]:
            self.skipped.append({"id": relative, "reason": "a symbolic link: not read"})
            return
        if PurePosixPath(relative).suffix.lower() not in IMAGE_SUFFIXES:
            self.skipped.append({"id": relative, "reason": "not an image file (by its suffix)"})
            return
        if relative in self.kept:
            self.skipped.append({"id": relative, "reason": "the same name twice in the upload: the first kept"})
            return
        target = self.staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        too_big = False
        digest = hashlib.sha256()  # hashed as written: the content hash reads nothing again
        with open(target, "wb") as out:
            stream = zipped[0].open(zipped[1]) if zipped is not None else file
            try:
                size = 0
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    self.bytes += len(chunk)
                    if self.bytes > self.limits.bytes:
                        raise UploadError(
                            "files", f"the upload is larger than {self.limits.bytes:,} bytes uncompressed", 413
                        )
                    if size > self.limits.image_bytes:
                        too_big = True
                        break
                    out.write(chunk)
                    digest.update(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a corrupt member (bad CRC, truncated data)
                self._skip(target, relative, f"cannot be read from the archive ({exc})")
                return
            finally:
                if zipped is not None:
                    stream.close()
        if too_big:
            self._skip(target, relative, f"larger than {self.limits.image_bytes:,} bytes")
            return
        self._decode(target, relative, digest.hexdigest())

    def _decode(self, target: Path, relative: str, digest: str) -> None:
        from ..core.images import open_image

        try:
            image = open_image(target, limit=self.limits.pixels)
        except ImageError as exc:
            self._skip(target, relative, str(exc).replace(str(target), relative).removeprefix(f"{relative}: "))
            return
        self.kept[relative] = (image.mode in GRAYSCALE_MODES, digest)

    def _skip(self, target: Path, relative: str, reason: str) -> None:
        target.unlink(missing_ok=True)
        self.skipped.append({"id": relative, "reason": reason})


@contextmanager
def _opened(content):
    """A binary file object for a source's content (bytes, a file object, a path)."""
    import io

    if isinstance(content, (bytes, bytearray)):
        yield io.BytesIO(content)
    elif isinstance(content, (str, os.PathLike)):
        with open(content, "rb") as file:
            yield file
    else:
        yield content


def _is_zip(file: BinaryIO) -> bool:
    position = file.tell()
    head = file.read(4)
    file.seek(position)
    return head in (b"PK\x03\x04", b"PK\x05\x06")


def _safe_name(sent: str) -> str | None:
    """The relative POSIX path a sent name is stored under; None when it would leave the folder; "" for archivers'
    metadata (dropped)."""
    text = sent.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text) or "\x00" in text:
        return None
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts) or not parts:
        return None
    if parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
        return ""
    return "/".join(parts)


def _layout(staging: Path, kept: dict[str, tuple], skipped: list[dict]) -> tuple[dict[str, tuple], list[dict]]:
    """Drop a top folder every kept file shares; then, in the ImageFolder layout (some file in a sub-folder),
    skip files that lie beside the class folders (ImageFolder reads only those)."""
    while kept and all("/" in rel for rel in kept) and len({rel.split("/")[0] for rel in kept}) == 1:
        top = next(iter(kept)).split("/")[0]
        aside = staging.parent / f"{staging.name}-top"  # moved aside first: `cats/cats/a.png` -> `cats/a.png`
        os.replace(staging / top, aside)
        shutil.rmtree(staging)
        os.replace(aside, staging)
        kept = {rel.split("/", 1)[1]: value for rel, value in kept.items()}
        skipped = [{**s, "id": s["id"].split("/", 1)[1] if s["id"].startswith(top + "/") else s["id"]} for s in skipped]
    if any("/" in rel for rel in kept):
        for rel in [r for r in kept if "/" not in r]:
            (staging / rel).unlink()
            del kept[rel]
            skipped.append({"id": rel, "reason": "beside the class folders (ImageFolder reads only sub-folders)"})
    return kept, skipped


def _content_hash(kept: dict[str, tuple[bool, str]]) -> str:
    """sha256 over the sorted (relative path, sha256 of the file) pairs."""
    outer = hashlib.sha256()
    for rel in sorted(kept):
        outer.update(f"{rel}\0{kept[rel][1]}\n".encode())
    return outer.hexdigest()


def _thumbnails(ordered: list[str], classes: list[str] | None, count: int = 4) -> list[str]:
    """A few image ids to show: the first image of the first classes (one per class), else the first images."""
    if classes:
        firsts = {}
        for rel in ordered:
            firsts.setdefault(rel.split("/")[0], rel)
        picked = list(firsts.values())[:count]
        return picked + [rel for rel in ordered if rel not in picked][: count - len(picked)]
    return ordered[:count]
