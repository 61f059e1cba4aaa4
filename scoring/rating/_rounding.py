"""How figures are rounded in results: one rule for one applicant and for a book."""

from __future__ import annotations

import numpy as np

SIGNIFICANT = 6
"""Significant digits of ratios (relativities, relative risk, factors)."""


def money(values: np.ndarray | float) -> np.ndarray:
    """Dollars to the cent."""
    return np.round(np.asarray(values, dtype=np.float64), 2)


def significant(values: np.ndarray | float, digits: int = SIGNIFICANT) -> np.ndarray:
    """Round to ``digits`` significant digits."""
    array = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        magnitude = np.floor(np.log10(np.abs(array)))
    scale = np.where(np.isfinite(magnitude), 10.0 ** (digits - 1 - magnitude), 1.0)
    return np.asarray(np.round(array * scale) / scale, dtype=np.float64)
