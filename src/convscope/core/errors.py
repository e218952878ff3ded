"""Errors that reach the user as one clear line (the CLI prints them without a traceback)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ConvscopeError(Exception):
    """Base class: a problem with the user's input or environment, explained in one line."""


class UnknownModelError(ConvscopeError):
    """The model spec does not name a model convscope can build (`zoo.load`: an unknown spec, timm or
    torchvision name, or a `file:` path that is missing or neither a checkpoint nor TorchScript)."""


class WeightsError(ConvscopeError):
    """Weights are missing, unreadable or do not fit the architecture (`zoo.load`, `weights.read_state_dict`,
    `weights.load_weights`, the fc6 generator)."""


class UnknownLayerError(ConvscopeError):
    """A layer name is not one of the model's `named_modules()` paths (or `logits`)."""


class ChannelError(ConvscopeError):
    """A channel index outside a layer's channel range 0..C-1 (`Subject.check_channels`)."""


class UnitSyntaxError(ConvscopeError, ValueError):
    """A unit written wrongly (`LAYER:UNIT`, `LAYER:UNIT:Z1:Z2`; `units.parse_unit`, `units.parse_unit_range`).

    Also a ValueError, so that a spec field checked with the parser reports it at the field's location like any other
    validation error.
    """


class ImageError(ConvscopeError):
    """A file that is not a readable image, is truncated, or is too large (`images.open_image`,
    `images.max_pixels`); datasets record it per file in `ImageDataset.skipped`."""


class Cancelled(ConvscopeError):
    """A run stopped because its cancel token was set (a clean stop: nothing half-written is kept)."""


class UploadError(ConvscopeError):
    """An upload refused (`execution.models.ModelLibrary.add`, `execution.datasets.DatasetLibrary.add`): `field`
    names the part of the request at fault (`name`, `arch`, `weights`, `labels`, `files`); `status` is the HTTP
    status a server answers with (404: no such upload, 409: the name is taken, 413: too large, 422: otherwise)."""

    def __init__(self, field: str, message: str, status: int = 422):
        super().__init__(message)
        self.field, self.status = field, status


class ConvscopeWarning(UserWarning):
    """Something the user should know about a result that is still given (the CLI prints it as one line)."""


class SizeError(ConvscopeError):
    """An image size too small for a layer: its feature map would be empty (`Subject.check_size`; the message
    names the smallest size). `works_at` is set when the model works only at its own input size."""


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """The ' (did you mean `a`, `b`?)' suffix of an error message.

    Args:
        name: the name that was not found.
        candidates: the valid names.
        n: at most this many suggestions (difflib's closest, similarity cutoff 0.6).
    Returns:
        ' (did you mean `a`, `b`?)', or '' when no candidate is close.
    """
    close = difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.6)
    return f" (did you mean {', '.join(f'`{c}`' for c in close)}?)" if close else ""
