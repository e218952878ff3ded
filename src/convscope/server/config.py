"""The server's settings in one place: `ServerConfig` (what `convscope serve` offers and its limits), the fixed
policy constants the routes and the spec policy share, and `is_loopback` (whether a bind address needs a token)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

#: recipes answered by the `quick` runner (and, within `quick_wait_s`, inline in POST /api/runs)
QUICK = frozenset({"models", "layers", "predict", "activations"})
SEVERAL_LAYERS = frozenset({"selectivity", "activations"})  # recipes whose `layer` may name several, comma-separated
UPLOAD_ID = re.compile(r"^[0-9a-f]{64}$")
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass
class ServerConfig:
    """What `convscope serve` offers. `models`: the model specs a request may name (lazily loaded);
    `datasets`: NAME -> folder (besides the built-in `digits` and `photos`, whose names it may not take);
    `allow_roots`: folders inside which a request may name image or dataset paths (nothing else on disk is
    reachable); `token`: bearer token required on every request (required when binding beyond loopback);
    `cors_origins`: allowed browser origins (none: CORS off)."""

    data_dir: Path | None = None
    models: list[str] = field(default_factory=lambda: ["default", "digits", "lite1", "lite2"])
    datasets: dict[str, str] = field(default_factory=dict)
    allow_roots: list[Path] = field(default_factory=list)
    token: str | None = None
    device: str = "cpu"
    cors_origins: list[str] = field(default_factory=list)
    max_upload_bytes: int = 32 * 1024 * 1024
    max_upload_pixels: int = 40_000_000
    max_dataset_files: int = 10_000
    max_dataset_bytes: int = 1 << 30
    allow_model_upload: bool = False  # POST / DELETE /api/models (convscope serve --allow-model-upload)
    max_model_bytes: int = 1 << 30  # the largest uploaded weights file
    quick_wait_s: float = 30.0
    keep_jobs: int = 1000

    def __post_init__(self) -> None:
        from ..core.data import BUILTIN_DATASETS
        from ..core.errors import ConvscopeError

        taken = sorted(set(self.datasets) & set(BUILTIN_DATASETS))
        if taken:  # a folder must not shadow a built-in dataset: every spec naming it would change meaning
            raise ConvscopeError(
                f"dataset name `{taken[0]}` is a built-in dataset ({', '.join(BUILTIN_DATASETS)}); name the folder "
                "otherwise"
            )


def is_loopback(host: str) -> bool:
    """Whether `host` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
