"""How figures are rounded in results: one rule for one applicant and for a book.

Arrays (a book) and single numbers (one applicant) go through the same float
operations - scale, round half to even, unscale - so both give the same figures.
"""

from __future__ import annotations

import math
from typing import overload

import numpy as np

SIGNIFICANT = 6
"""Significant digits of ratios (relativities, relative risk, factors)."""


@overload
def money(values: float) -> float: ...
@overload
def money(values: np.ndarray) -> np.ndarray: ...
def money(values: np.ndarray | float) -> np.ndarray | float:
    """Dollars to the cent."""
    if isinstance(values, np.ndarray):
        return np.asarray(np.rint(values * 100.0) / 100.0, dtype=np.float64)
    return round(float(values) * 100.0) / 100.0


_POWERS = np.array([float(f"1e{k}") for k in range(0, 309)])
"""10**k, correctly rounded (a table, so that arrays and single numbers agree)."""


@overload
def significant(values: float, digits: int = SIGNIFICANT) -> float: ...
@overload
def significant(values: np.ndarray, digits: int = SIGNIFICANT) -> np.ndarray: ...
def significant(values: np.ndarray | float, digits: int = SIGNIFICANT) -> np.ndarray | float:
    """Round to ``digits`` significant digits (a number k digits long is scaled by 10^k)."""
    if isinstance(values, np.ndarray):
        with np.errstate(divide="ignore", invalid="ignore"):
            magnitude = np.floor(np.log10(np.abs(values)))
        shift = np.where(np.isfinite(magnitude), digits - 1 - magnitude, 0).astype(np.int64)
        power = _POWERS[np.clip(np.abs(shift), 0, 308)]
        up = np.rint(values * power) / power
        down = np.rint(values / power) * power
        return np.asarray(np.where(shift >= 0, up, down), dtype=np.float64)
    value = float(values)
    if value == 0 or not math.isfinite(value):
        return value
    places = digits - 1 - math.floor(math.log10(abs(value)))
    power = float(_POWERS[min(abs(places), 308)])
    if places >= 0:
        return round(value * power) / power
    return round(value / power) * power
