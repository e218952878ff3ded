"""One parser for the unit spellings of every surface: `LAYER:UNIT` (a unit of a layer, `logits:285`) and
`LAYER:UNIT:Z1:Z2` (a unit and an activation range, `logits:3:4.0:6.0`). The layer may itself contain colons."""

from __future__ import annotations

import math

from .errors import UnitSyntaxError


def parse_unit(text: str, field: str = "unit") -> tuple[str, int]:
    """`LAYER:UNIT` -> (layer, unit index). Raises ConvscopeError naming `field`."""
    layer, _, unit = str(text).rpartition(":")
    if not layer or not unit.lstrip("-").isdigit():
        raise UnitSyntaxError(f"{field} must be LAYER:UNIT such as logits:285, got `{text}`")
    return layer, int(unit)


def parse_unit_range(text: str, field: str = "constraint") -> tuple[str, int, float, float]:
    """`LAYER:UNIT:Z1:Z2` -> (layer, unit, z1, z2) with finite z1 < z2. Raises ConvscopeError naming `field`."""
    parts = str(text).rsplit(":", 2)
    if len(parts) != 3 or ":" not in parts[0]:
        raise UnitSyntaxError(f"{field} `{text}` is not LAYER:UNIT:Z1:Z2 (e.g. logits:3:4.0:6.0)")
    head, low, high = parts
    try:
        layer, unit = parse_unit(head, field)
        z1, z2 = float(low), float(high)
    except ValueError:  # float() and parse_unit (a UnitSyntaxError is a ValueError)
        raise UnitSyntaxError(f"{field} `{text}`: LAYER:UNIT:Z1:Z2 needs an integer UNIT and numbers Z1, Z2") from None
    if not (math.isfinite(z1) and math.isfinite(z2)) or z1 >= z2:
        raise UnitSyntaxError(f"{field} `{text}`: the range needs finite Z1 < Z2, got [{low}, {high}]")
    return layer, unit, z1, z2
