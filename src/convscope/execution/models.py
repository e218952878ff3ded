"""Uploaded models: an architecture (timm / torchvision) plus safetensors weights a user adds, validated before they
are listed, kept by content in the data dir.

    library = ModelLibrary(data_dir)
    info = library.add("mynet", "timm:resnet18", "/tmp/weights.safetensors", labels_text=None)
    library.spec("mynet")       # -> "file:<data_dir>/models/<sha256>.safetensors", a spec zoo.load reads
    library.list(); library.remove("mynet")

Layout: `data_dir/models/<sha256>.safetensors` are convscope checkpoints (core.checkpoint: the tensors plus the
architecture, input convention and labels in the safetensors metadata), named by the sha256 of the stored file,
written byte for byte the same for the same content, so the same weights and labels uploaded under two names are
stored once; `data_dir/models/index.json` maps names to {hash, arch, outputs, classes, channels, size, bytes,
created}, written atomically under a file lock and re-read on every call.

What `add` refuses, before anything is listed (UploadError naming the field; nothing is left behind):
- `name`: not 1-64 letters, digits, `_`, `.`, `-` (starting with a letter or digit); taken by a served model or an
  uploaded one (409).
- `arch`: anything but `timm:NAME`, `torchvision:NAME` (or the built-in architectures `default`, `digits`): never a
  `file:` spec, never code; an architecture that does not build (with weights none).
- `weights`: over `max_bytes` (413); not a safetensors file (its header is checked first: a pickle or a zip torch
  file renamed `.safetensors` is refused without ever being unpickled: torch.load is never called); tensors that
  do not fit the architecture strictly (weights.load_weights names the keys); a dry run on a zero image of the model's
  input size that fails or gives non-finite outputs, or outputs that are not [1, K] class scores. An upload that is
  itself a safetensors convscope checkpoint brings its own arch, input convention and labels (`arch` may then be
  omitted; if given it must be the same).
- `labels`: not UTF-8 text (one label per line, blank lines ignored) or a JSON list of strings; a count other than
  the model's number of outputs K.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from ..core.errors import ConvscopeError, UploadError
from .library import Library

ARCH = re.compile(r"^(?:(?:timm|torchvision):[A-Za-z0-9_.-]{1,128}|default|digits)$")
STORED = re.compile(r"^[0-9a-f]{64}\.safetensors$")
MAX_MODEL_BYTES = 1 << 30
MAX_LABEL_BYTES = 4 << 20
STAGING = ".upload-"


class ModelLibrary(Library):
    """The uploaded models of one data dir (see the module docstring)."""

    kind = "model"

    def __init__(self, data_dir: str | os.PathLike):
        super().__init__(Path(data_dir).expanduser().resolve() / "models")
        self._sweep()

    # --- reading ---------------------------------------------------------------------------------------------
    def list(self) -> list[dict]:
        """Every uploaded model: {name, hash, arch, outputs, classes, channels, size [H, W], bytes, created}, in
        the order they were added."""
        entries = sorted(self._index().items(), key=lambda item: (item[1]["created"], item[0]))
        return [{"name": name, **entry} for name, entry in entries]

    def get(self, name: str) -> dict | None:
        """The info of the uploaded model `name` (as `list` gives it), or None."""
        entry = self._index().get(name)
        return None if entry is None else {"name": name, **entry}

    def spec(self, name: str) -> str | None:
        """The model spec (`file:<stored checkpoint>`) of the uploaded model `name`, or None."""
        entry = self._index().get(name)
        return None if entry is None else f"file:{self.root / (entry['hash'] + '.safetensors')}"

    def name_of(self, path: str | os.PathLike) -> str | None:
        """The (first added) name of a stored checkpoint (its path or `file:` spec), or None."""
        path = Path(str(path).removeprefix("file:"))
        if path.parent != self.root or not STORED.match(path.name):
            return None
        names = [m["name"] for m in self.list() if m["hash"] + ".safetensors" == path.name]
        return names[0] if names else None

    def hide(self, text: str) -> str:
        """`text` with every stored checkpoint's path (`file:` spec or bare) replaced by its model's name (by
        `uploaded:<first 12 hex digits>` once removed): results and messages never show the server's paths."""
        pattern = r"(?:file:)?" + re.escape(str(self.root)) + r"/([0-9a-f]{64})\.safetensors"
        if not re.search(pattern, text):
            return text
        names = {}
        for entry in self.list():
            names.setdefault(entry["hash"], entry["name"])
        return re.sub(pattern, lambda m: names.get(m.group(1), f"uploaded:{m.group(1)[:12]}"), text)

    # --- changing ---------------------------------------------------------------------------------------------
    def staging_file(self) -> Path:
        """A new empty file inside the library to stream an upload into (then `add(..., move=True)`)."""
        handle, path = tempfile.mkstemp(dir=self.root, prefix=STAGING, suffix=".safetensors")
        os.close(handle)
        return Path(path)

    def add(
        self,
        name: str,
        arch: str | None,
        weights: bytes | str | os.PathLike,
        labels_text: bytes | str | None = None,
        max_bytes: int = MAX_MODEL_BYTES,
        taken: Iterable[str] = (),
        filename: str | None = None,
        move: bool = False,
    ) -> dict:
        """Validate an uploaded model and list it under `name` (the checks: the module docstring).

        Args:
            name: 1-64 letters, digits, `_`, `.`, `-` (starting with a letter or digit), not in `taken` (the
                server's own model names) nor uploaded already.
            arch: `timm:NAME` or `torchvision:NAME` (`default`, `digits`: the built-in architectures); None or ""
                when the weights are a convscope checkpoint naming theirs.
            weights: the safetensors bytes, or a path to them (`move`: a `staging_file` the library may take over;
                it is gone afterwards either way).
            labels_text: UTF-8 text, one class name per line, or a JSON list of strings; None: the checkpoint's or
                the architecture's own labels (ImageNet's for 1000 outputs), else none.
            max_bytes: the largest weights file taken (413 beyond).
            taken: other model names in use.
            filename: how messages name the weights (the uploaded file's name).
        Returns:
            The model's info (`get`).
        Raises:
            UploadError: field `name` (422; 409 when taken), `arch`, `weights` (413 when too large), `labels`.
        """
        source = f"`{Path(filename).name[:100]}`" if filename else "the upload"
        staged = self.staging_file()
        stored = None
        try:
            self._check_name(name, taken)
            if arch and not ARCH.match(arch):
                raise UploadError(
                    "arch",
                    f"arch `{arch[:100]}` is not accepted: give timm:NAME or torchvision:NAME (never a file: spec or "
                    "code)",
                )
            self._stage(weights, staged, max_bytes, move)
            subject, arch, labels, outputs = _validated(staged, arch or None, labels_text, source)
            stored = self.staging_file()
            from ..core.checkpoint import write_checkpoint

            write_checkpoint(subject.state_dict(), arch, subject.input.to_dict(), labels, stored)
            digest = _sha256(stored)
            with self._locked():
                self._check_name(name, taken)  # again, under the lock: another upload may have taken it
                target = self.root / f"{digest}.safetensors"
                if not target.exists():
                    os.replace(stored, target)
                entry = {
                    "hash": digest,
                    "arch": arch,
                    "outputs": outputs,
                    "classes": len(labels) if labels else None,
                    "channels": subject.input.channels,
                    "size": list(subject.input.size),
                    "bytes": target.stat().st_size,
                    "created": time.time(),
                }
                index = self._index()
                index[name] = entry
                self._write(index)
            return {"name": name, **entry}
        finally:
            for path in (staged, stored):
                if path is not None and path.exists():
                    path.unlink()

    def remove(self, name: str, keep_file: bool = False) -> None:
        """Forget the uploaded model `name`; its file goes when no other name holds the same content, unless
        `keep_file` (a queued or running job still names it: the next library opened on this data dir sweeps it).
        A job already running on it keeps its loaded model and finishes.

        Raises:
            UploadError: no uploaded model of that name (status 404, field `name`).
        """
        with self._locked():
            entry, held = self._forget(name)
            if not keep_file and not held:
                (self.root / f"{entry['hash']}.safetensors").unlink(missing_ok=True)

    def _sweep(self) -> None:
        """Delete stored checkpoints no name holds (kept by `remove(keep_file=True)`) and staging files a process
        that died mid-upload left (a day old or more)."""
        with self._locked():
            held = {entry["hash"] + ".safetensors" for entry in self._index().values()}
            for path in self.root.iterdir():
                try:
                    orphan = STORED.match(path.name) and path.name not in held
                    stale = path.name.startswith(STAGING) and time.time() - path.stat().st_mtime > 86400
                    if orphan or stale:
                        path.unlink()
                except OSError:
                    pass

    def _stage(self, weights, staged: Path, max_bytes: int, move: bool) -> None:
        """Put the weights into `staged` (within `max_bytes`)."""
        too_big = f"the weights are larger than this server's limit of {max_bytes:,} bytes"
        if isinstance(weights, (bytes, bytearray, memoryview)):
            if len(weights) > max_bytes:
                raise UploadError("weights", too_big, 413)
            staged.write_bytes(weights)
            return
        path = Path(weights)
        if not path.is_file():
            raise UploadError("weights", f"weights file {path.name} does not exist")
        if path.stat().st_size > max_bytes:
            if move:
                path.unlink()
            raise UploadError("weights", too_big, 413)
        if move:
            os.replace(path, staged)
        else:
            shutil.copyfile(path, staged)


# --- validation ------------------------------------------------------------------------------------------------
def _validated(path: Path, arch: str | None, labels_text, source: str):
    """(Subject, arch, labels, outputs K) of the staged weights (the architecture built with weights none, the
    tensors loaded strictly, a dry run passed); UploadError naming the field otherwise."""
    import torch

    from ..core import zoo
    from ..core.checkpoint import checkpoint_metadata, safetensors_header
    from ..core.errors import WeightsError
    from ..core.inputs import InputSpec
    from ..core.subject import Subject

    try:
        safetensors_header(path)  # before any reader: a pickle never reaches one
    except WeightsError as exc:
        raise UploadError("weights", f"only safetensors files are accepted: {exc}".replace(path.name, source)) from None
    try:
        meta = checkpoint_metadata(path)
    except ConvscopeError as exc:
        raise UploadError("weights", f"{source}: {_plain(exc, path, source)}") from None
    if meta is not None:
        if not ARCH.match(meta["arch"]):
            raise UploadError("weights", f"{source} is a checkpoint of `{meta['arch'][:100]}`, which is not accepted")
        if arch and arch != meta["arch"]:
            raise UploadError(
                "arch", f"{source} is a checkpoint of `{meta['arch']}`, not `{arch}`: leave arch empty or give that"
            )
        arch = meta["arch"]
    elif not arch:
        raise UploadError(
            "arch", "arch is required (timm:NAME or torchvision:NAME) unless the weights are a convscope checkpoint"
        )
    try:
        subject = zoo.load(arch, "none")
    except ConvscopeError as exc:
        raise UploadError("arch", _plain(exc, path, source)) from None
    try:
        zoo.load_weights(subject.model, zoo.read_state_dict(path), f"of {source}")
    except ConvscopeError as exc:
        raise UploadError("weights", _plain(exc, path, source)) from None
    spec = subject.input
    if meta is not None and meta["input"]:
        try:
            spec = InputSpec.from_dict(meta["input"])
        except (TypeError, ValueError, ConvscopeError) as exc:
            raise UploadError("weights", f"{source}: the checkpoint's input convention is invalid ({exc})") from None
    checked = Subject(subject.model, spec, None, name=arch)
    try:
        with torch.no_grad():
            out = checked(torch.zeros(1, spec.channels, *spec.size))
    except Exception as exc:  # noqa: BLE001 - any failure of the dry run is the upload's fault
        raise UploadError("weights", f"the dry run on a zero image failed: {_plain(exc, path, source)}") from None
    if out.dim() != 2 or out.shape[0] != 1:
        raise UploadError("arch", f"the model's output is {list(out.shape)}, not [1, K] class scores")
    if not torch.isfinite(out).all():
        raise UploadError("weights", "the dry run on a zero image gives non-finite outputs (NaN or infinity)")
    outputs = int(out.shape[1])
    labels = _labels(labels_text, outputs) if labels_text is not None else None
    if labels is None and meta is not None and meta["labels"]:
        labels = meta["labels"]
        if len(labels) != outputs:
            raise UploadError(
                "labels", f"the checkpoint names {len(labels)} labels but the model has {outputs} outputs"
            )
    if labels is None and subject.labels and len(subject.labels) == outputs:
        labels = list(subject.labels)  # the architecture's own (ImageNet's for 1000 outputs)
    checked.labels = labels
    return checked, arch, labels, outputs


def _labels(text: bytes | str, outputs: int) -> list[str]:
    """Class names from a labels file: one per line (blank lines ignored) or a JSON list of strings; exactly
    `outputs` of them."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_LABEL_BYTES:
            raise UploadError("labels", f"the labels file is larger than {MAX_LABEL_BYTES:,} bytes", 413)
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UploadError("labels", "the labels file is not UTF-8 text") from None
    if text.lstrip().startswith("["):
        try:
            labels = json.loads(text)
        except ValueError:
            raise UploadError("labels", "the labels file starts with `[` but is not a JSON list") from None
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise UploadError("labels", "a JSON labels file must be a list of strings")
        labels = [x.strip() for x in labels]
    else:
        labels = [line.strip() for line in text.splitlines() if line.strip()]
    if len(labels) != outputs:
        raise UploadError("labels", f"the labels file names {len(labels)} labels but the model has {outputs} outputs")
    return labels


def _plain(exc: Exception, path: Path, source: str) -> str:
    """An error's first line, with the staging file's path replaced by how the upload is named."""
    line = (str(exc).splitlines() or [type(exc).__name__])[0]
    return line.replace(str(path), source).replace(path.name, source)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
