"""Local random streams: code that needs torch's global generator (module initializers) runs under `seeded`, which
restores the caller's random state afterwards, so convscope never changes the user's global seed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Context manager: inside, torch's CPU generator is seeded with `seed` (so `nn.Module` initializers are
    deterministic); on exit the generator's state is what it was before (`torch.random.fork_rng`)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
