"""Where convscope keeps what it computes once (trained built-in models): `CONVSCOPE_CACHE` or ~/.cache/convscope."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch


def cache_dir() -> Path:
    root = (
        os.environ.get("CONVSCOPE_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "convscope"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_atomically(obj: object, path: Path) -> None:
    """torch.save to a temporary file, then rename: concurrent readers never see a half-written file."""
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as handle:
        torch.save(obj, handle)
    os.replace(handle.name, path)
