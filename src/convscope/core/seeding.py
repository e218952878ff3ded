"""Local random streams: code that needs torch's global generator (module initializers) runs under `seeded`, which
restores the caller's random state afterwards, so convscope never changes the user's global seed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Inside: torch's CPU generator seeded with `seed` (so `nn.Module` initializers are deterministic); outside:
    the generator's state is what it was before."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
