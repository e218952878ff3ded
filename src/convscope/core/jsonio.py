"""Strict JSON for every result convscope prints or writes: NaN and ±Infinity are not JSON, so a non-finite float
becomes `null` and is reported (a warning naming its place), never written as a bare `NaN`."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np

from .errors import ConvscopeWarning


class NonFiniteWarning(ConvscopeWarning):
    """A result held NaN or ±Infinity; it was written as null."""


def finite(value, path: str = "$", found: list[str] | None = None):
    """A copy of `value` that JSON can hold strictly (dicts, lists, tuples, numbers, numpy scalars, paths).

    Args:
        value: the result to copy; dict keys become str, tuples lists, paths str, numpy scalars Python numbers.
        path: the JSONPath-like place of `value` (for reports), '$' at the top.
        found: when given, the places of non-finite floats ('$.layers[3].relevance_sum') are appended to it.
    Returns:
        The copy, NaN and ±Infinity replaced by None; other objects are returned as they are.
    """
    if isinstance(value, dict):
        return {str(k): finite(v, f"{path}.{k}", found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if math.isfinite(value):
            return float(value)
        if found is not None:
            found.append(path)
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def dumps(value, indent: int | None = 1) -> str:
    """Strict JSON text of `value` (`json.dumps(finite(value), allow_nan=False)`).

    Args:
        value: the result (see `finite`).
        indent: as json.dumps (default 1).
    Returns:
        The JSON text. Warns NonFiniteWarning listing the places of non-finite numbers written as null.
    """
    found: list[str] = []
    text = json.dumps(finite(value, found=found), indent=indent, allow_nan=False)
    if found:
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        warnings.warn(
            f"non-finite numbers written as null at {', '.join(found[:3])}{more}", NonFiniteWarning, stacklevel=2
        )
    return text
