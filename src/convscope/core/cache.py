"""Where convscope keeps what it computes once (trained built-in models): `CONVSCOPE_CACHE` or ~/.cache/convscope."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch


def cache_dir() -> Path:
    """The folder convscope caches what it computes once (trained digits model, trained generators).

    Returns:
        `CONVSCOPE_CACHE`, else `$XDG_CACHE_HOME/convscope`, else `~/.cache/convscope`; created if missing.
    """
    root = (
        os.environ.get("CONVSCOPE_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "convscope"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_atomically(obj: object, path: Path) -> None:
    """`torch.save(obj)` to a temporary file in `path`'s folder, then an atomic rename onto `path`:
    concurrent readers never see a half-written file."""
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as handle:
        torch.save(obj, handle)
    os.replace(handle.name, path)
