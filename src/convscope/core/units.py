"""One parser for the unit spellings of every surface: `LAYER:UNIT` (a unit of a layer, `logits:285`),
`LAYER:UNIT:Z1:Z2` (a unit and an activation range, `logits:3:4.0:6.0`) and the attribution target (`parse_target`:
a class index, `LAYER:CHANNEL` or `LAYER:CHANNEL@Y,X`). The layer may itself contain colons.

Numbers are read in ASCII only: a unit is `-?[0-9]+` (at most 18 digits), a bound a plain decimal number
such as `4`, `-0.5`, `1e3` (`inf` and `nan` are read to be refused as not finite). Python's `int` and `float`
also take other scripts' digits (`٣`), underscores (`1_000`) and surrounding spaces, and `str.isdigit` calls
`²` a digit that `int` then refuses: none of them is a unit here, so each spelling has exactly one meaning
(and one result-store key). `ascii_int` is the same rule for ids in headers, query strings and paths.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import UnitSyntaxError

#: the most digits an integer may have (beyond int64 nothing is an index, and Python refuses > 4300 digits)
MAX_DIGITS = 18
_INTEGER = re.compile(rf"-?[0-9]{{1,{MAX_DIGITS}}}")
_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?|inf|infinity|nan)", re.I)


def ascii_int(text: str | bytes | None, digits: int = MAX_DIGITS) -> int | None:
    """A non-negative integer written with 1 to `digits` ASCII digits and nothing else.

    Args:
        text: str, bytes (read as latin-1) or None.
        digits: most digits accepted (default MAX_DIGITS = 18).
    Returns:
        The integer, or None for anything else (`²`, `٣`, `1_000`, ` 3`, `+3`, `-1`, `inf`, empty or over-long).
    """
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    if text is None or not 0 < len(text) <= digits or not re.fullmatch(r"[0-9]+", text):
        return None
    return int(text)


def parse_unit(text: str, field: str = "unit") -> tuple[str, int]:
    """`LAYER:UNIT` -> (layer, unit index); the layer may contain colons (split at the last one).

    Args:
        text: e.g. `logits:285`; UNIT is `-?[0-9]{1,18}` (a negative index is parsed here, refused by range checks).
        field: the name the error message gives the value.
    Returns:
        (layer, unit).
    Raises:
        UnitSyntaxError: no layer, or a UNIT that is not an ASCII integer.
    """
    layer, _, unit = str(text).rpartition(":")
    if not layer or not _INTEGER.fullmatch(unit):
        raise UnitSyntaxError(f"{field} must be LAYER:UNIT such as logits:285, got `{text}`")
    return layer, int(unit)


def parse_unit_range(text: str, field: str = "constraint") -> tuple[str, int, float, float]:
    """`LAYER:UNIT:Z1:Z2` -> (layer, unit, z1, z2), a unit and an activation range.

    Args:
        text: e.g. `logits:3:4.0:6.0`; Z1, Z2 plain decimal numbers in the unit's activation units.
        field: the name the error message gives the value.
    Returns:
        (layer, unit, z1, z2) with finite z1 < z2.
    Raises:
        UnitSyntaxError: a malformed spelling, non-numeric or non-finite bounds, or z1 >= z2.
    """
    parts = str(text).rsplit(":", 2)
    if len(parts) != 3 or ":" not in parts[0]:
        raise UnitSyntaxError(f"{field} `{text}` is not LAYER:UNIT:Z1:Z2 (e.g. logits:3:4.0:6.0)")
    head, low, high = parts
    try:
        layer, unit = parse_unit(head, field)
        if not (_NUMBER.fullmatch(low) and _NUMBER.fullmatch(high)):
            raise ValueError
        z1, z2 = float(low), float(high)
    except ValueError:  # parse_unit (a UnitSyntaxError is a ValueError) and the numbers
        raise UnitSyntaxError(f"{field} `{text}`: LAYER:UNIT:Z1:Z2 needs an integer UNIT and numbers Z1, Z2") from None
    if not (math.isfinite(z1) and math.isfinite(z2)) or z1 >= z2:
        raise UnitSyntaxError(f"{field} `{text}`: the range needs finite Z1 < Z2, got [{low}, {high}]")
    return layer, unit, z1, z2


@dataclass(frozen=True)
class HiddenUnit:
    """A hidden unit to explain: channel `channel` of layer `layer`, as a whole (its spatial mean activation) or at
    one `position` (row y, column x) of its map. `str()` gives its spelling, `LAYER:CHANNEL` or `LAYER:CHANNEL@Y,X`."""

    layer: str
    channel: int
    position: tuple[int, int] | None = None  # (y, x)

    def __str__(self) -> str:
        where = "" if self.position is None else f"@{self.position[0]},{self.position[1]}"
        return f"{self.layer}:{self.channel}{where}"


def parse_target(value: int | str | HiddenUnit | None, field: str = "target") -> int | HiddenUnit | None:
    """An attribution target: a class index (an int, or a string of ASCII digits), `LAYER:CHANNEL` (a hidden channel,
    explained by its spatial mean activation) or `LAYER:CHANNEL@Y,X` (one position of the channel's map, row Y and
    column X, 0-based). Syntax only: the layer, channel and position are checked against a model by
    `techniques.attribution.result.resolve_target`.

    Args:
        value: the spelling (None: the predicted class; an int or a HiddenUnit is returned as it is).
        field: the name the error message gives the value.
    Returns:
        The class index (int), a HiddenUnit, or None.
    Raises:
        UnitSyntaxError: anything else (`blocks.3`, `blocks.3:x`, `blocks.3:4@1`, `-1`), naming `field`.
    """
    if value is None or isinstance(value, (int, HiddenUnit)) and not isinstance(value, bool):
        return value
    text = str(value)
    if ascii_int(text) is not None:
        return int(text)
    head, at, where = text.partition("@")
    position = None
    if at:
        parts = where.split(",")
        if len(parts) != 2 or any(ascii_int(p) is None for p in parts):
            raise UnitSyntaxError(
                f"{field} `{text}`: the position after @ must be Y,X (row, column), e.g. blocks.3:12@4,5"
            )
        position = (int(parts[0]), int(parts[1]))
    try:
        layer, channel = parse_unit(head, field)
    except UnitSyntaxError:
        raise UnitSyntaxError(
            f"{field} must be a class index, LAYER:CHANNEL or LAYER:CHANNEL@Y,X (e.g. 285, blocks.3:12, "
            f"blocks.3:12@4,5), got `{text}`"
        ) from None
    if channel < 0:
        raise UnitSyntaxError(f"{field} `{text}`: the channel must be 0 or more")
    return HiddenUnit(layer, channel, position)
