"""One parser for the unit spellings of every surface: `LAYER:UNIT` (a unit of a layer, `logits:285`) and
`LAYER:UNIT:Z1:Z2` (a unit and an activation range, `logits:3:4.0:6.0`). The layer may itself contain colons.

Numbers are read in ASCII only: a unit is `-?[0-9]+` (at most 18 digits), a bound a plain decimal number
such as `4`, `-0.5`, `1e3` (`inf` and `nan` are read to be refused as not finite). Python's `int` and `float`
also take other scripts' digits (`٣`), underscores (`1_000`) and surrounding spaces, and `str.isdigit` calls
`²` a digit that `int` then refuses: none of them is a unit here, so each spelling has exactly one meaning
(and one result-store key). `ascii_int` is the same rule for ids in headers, query strings and paths.
"""

from __future__ import annotations

import math
import re

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
