"""Errors that reach the user as one clear line (the CLI prints them without a traceback)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ConvscopeError(Exception):
    """Base class: a problem with the user's input or environment, explained in one line."""


class UnknownModelError(ConvscopeError):
    """The model spec does not name a model convscope can build."""


class WeightsError(ConvscopeError):
    """Weights are missing, unreadable or do not fit the architecture."""


class UnknownLayerError(ConvscopeError):
    """A layer name is not one of the model's `named_modules()` paths (or `logits`)."""


class ChannelError(ConvscopeError):
    """A channel index outside a layer's channel range."""


class UnitSyntaxError(ConvscopeError, ValueError):
    """A unit written wrongly (`LAYER:UNIT`, `LAYER:UNIT:Z1:Z2`). Also a ValueError, so that a spec field checked
    with the parser reports it at the field's location like any other validation error."""


class ImageError(ConvscopeError):
    """A file that is not a readable image, is truncated, or is too large."""


class Cancelled(ConvscopeError):
    """A run stopped because its cancel token was set (a clean stop: nothing half-written is kept)."""


class ConvscopeWarning(UserWarning):
    """Something the user should know about a result that is still given (the CLI prints it as one line)."""


class SizeError(ConvscopeError):
    """An image size too small for a layer: its feature map would be empty (the message names the smallest size)."""


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """Return ' (did you mean a, b?)' for the closest candidates, or '' when none is close."""
    close = difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.6)
    return f" (did you mean {', '.join(f'`{c}`' for c in close)}?)" if close else ""
