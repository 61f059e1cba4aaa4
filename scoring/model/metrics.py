"""Actuarial evaluation of a loss model: deviances, Lorenz curve and Gini, calibration.

Every function takes 1-D arrays of equal length (one entry per facility), checks
them, and returns plain numbers, arrays or a small table; nothing is printed or
written. ``y`` is the observed loss (a claim count or an amount), ``mu`` and
``prediction`` the model's expected loss for the same period, and ``exposure``
the facility's exposure (for example facility-years), so ``prediction /
exposure`` is the predicted rate by which facilities are ranked.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
Bound = Literal["any", "non-negative", "positive"]
CALIBRATION_COLUMNS = ("group", "observed", "predicted", "ratio", "count")


def _refuse(name: str, rule: str, array: NDArray[np.generic], bad: NDArray[np.bool_]) -> None:
    """Raise a ValueError naming the first entry of ``array`` that is ``bad``, if any."""
    if bad.any():
        where = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must {rule}; got {array[where]} at position {where}")


def _vector(name: str, values: ArrayLike, bound: Bound = "any") -> FloatArray:
    """``values`` as a finite 1-D float array within ``bound``, or a ValueError naming ``name``."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array; got {array.ndim} dimensions")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty; got 0 values")
    _refuse(name, "be finite", array, ~np.isfinite(array))
    if bound == "positive":
        _refuse(name, "be > 0", array, array <= 0)
    elif bound == "non-negative":
        _refuse(name, "be >= 0", array, array < 0)
    return array


def _same_length(**arrays: NDArray[np.generic]) -> None:
    """Raise a ValueError unless every array has the length of the first."""
    (first, reference), *others = arrays.items()
    for name, array in others:
        if len(array) != len(reference):
            raise ValueError(
                f"{first} and {name} must have the same length; "
                f"got {len(reference)} and {len(array)}"
            )


def _deviance_inputs(
    y: ArrayLike, mu: ArrayLike, weights: ArrayLike | None, y_bound: Bound
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    y_ = _vector("y", y, y_bound)
    mu_ = _vector("mu", mu, "positive")
    _same_length(y=y_, mu=mu_)
    if weights is None:
        return y_, mu_, None
    w = _vector("weights", weights, "positive")
    _same_length(y=y_, weights=w)
    return y_, mu_, w


def poisson_deviance(y: ArrayLike, mu: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Mean (weighted) unit Poisson deviance ``2 * (y * log(y / mu) - (y - mu))``.

    ``y * log(y / mu)`` is taken as 0 where ``y`` is 0. Requires ``y >= 0``,
    ``mu > 0`` and, if given, ``weights > 0``.

    Examples
    --------
    >>> poisson_deviance([0.0, 1.0, 2.0], [0.5, 1.0, 2.0])
    0.3333333333333333
    """
    y_, mu_, w = _deviance_inputs(y, mu, weights, "non-negative")
    log_ratio = np.log(np.divide(y_, mu_), out=np.zeros_like(y_), where=y_ > 0)
    return float(np.average(2.0 * (y_ * log_ratio - y_ + mu_), weights=w))


def gamma_deviance(y: ArrayLike, mu: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Mean (weighted) unit gamma deviance ``2 * (-log(y / mu) + (y - mu) / mu)``.

    Requires ``y > 0``, ``mu > 0`` and, if given, ``weights > 0``.

    Examples
    --------
    >>> round(gamma_deviance([1.0, 2.0], [1.0, 1.0]), 6)
    0.306853
    """
    y_, mu_, w = _deviance_inputs(y, mu, weights, "positive")
    return float(np.average(2.0 * (np.log(mu_ / y_) + y_ / mu_ - 1.0), weights=w))


def tweedie_deviance(
    y: ArrayLike, mu: ArrayLike, power: float, weights: ArrayLike | None = None
) -> float:
    """Mean (weighted) unit Tweedie deviance for ``1 < power < 2`` (compound Poisson-gamma).

    The distribution of a pure premium: a point mass at zero (no claim) and a
    continuous amount otherwise. Requires ``y >= 0``, ``mu > 0`` and, if given,
    ``weights > 0``.

    Examples
    --------
    >>> round(tweedie_deviance([0.0, 3.0], [1.0, 2.0], power=1.5), 6)
    2.142865
    """
    if not 1.0 < power < 2.0:
        raise ValueError(f"power must be strictly between 1 and 2; got {power}")
    y_, mu_, w = _deviance_inputs(y, mu, weights, "non-negative")
    unit = 2.0 * (
        y_ ** (2.0 - power) / ((1.0 - power) * (2.0 - power))
        - y_ * mu_ ** (1.0 - power) / (1.0 - power)
        + mu_ ** (2.0 - power) / (2.0 - power)
    )
    return float(np.average(unit, weights=w))


def null_prediction(y: ArrayLike, exposure: ArrayLike) -> FloatArray:
    """The null model: the book's overall rate ``sum(y) / sum(exposure)`` times each exposure.

    Examples
    --------
    >>> null_prediction([0.0, 3.0], [1.0, 2.0]).tolist()
    [1.0, 2.0]
    """
    y_ = _vector("y", y, "non-negative")
    exposure_ = _vector("exposure", exposure, "positive")
    _same_length(y=y_, exposure=exposure_)
    rate = float(y_.sum() / exposure_.sum())
    return rate * exposure_


def d_squared(deviance_model: float, deviance_null: float) -> float:
    """The fraction of deviance explained, ``1 - deviance_model / deviance_null``.

    ``deviance_null`` is the deviance of :func:`null_prediction`; 0 means the
    model does no better than the book's average rate, 1 a perfect fit.

    Examples
    --------
    >>> d_squared(0.5, 0.8)
    0.375
    """
    if not (np.isfinite(deviance_model) and deviance_model >= 0):
        raise ValueError(f"deviance_model must be finite and >= 0; got {deviance_model}")
    if not (np.isfinite(deviance_null) and deviance_null > 0):
        raise ValueError(f"deviance_null must be finite and > 0; got {deviance_null}")
    return 1.0 - deviance_model / deviance_null


def _rate_order(prediction: FloatArray, exposure: FloatArray) -> NDArray[np.intp]:
    """Positions sorted by predicted rate, ascending; ties keep their original order."""
    return np.argsort(prediction / exposure, kind="stable")


def lorenz_curve(
    y: ArrayLike, prediction: ArrayLike, exposure: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """The ordered Lorenz curve: cumulative shares of exposure and of losses.

    Facilities are sorted by predicted rate ``prediction / exposure``, lowest
    first (ties in their original order). Both returned arrays start at 0, end
    at 1 and have one more entry than ``y``.

    Examples
    --------
    >>> x, share = lorenz_curve([0.0, 1.0, 3.0], [1.0, 2.0, 3.0], [1.0, 1.0, 2.0])
    >>> x.tolist(), share.tolist()
    ([0.0, 0.25, 0.75, 1.0], [0.0, 0.0, 0.75, 1.0])
    """
    y_ = _vector("y", y, "non-negative")
    prediction_ = _vector("prediction", prediction, "non-negative")
    exposure_ = _vector("exposure", exposure, "positive")
    _same_length(y=y_, prediction=prediction_, exposure=exposure_)
    if not y_.sum() > 0:
        raise ValueError(f"y must have a positive total; got {y_.sum()}")
    order = _rate_order(prediction_, exposure_)
    x = np.concatenate(([0.0], np.cumsum(exposure_[order])))
    share = np.concatenate(([0.0], np.cumsum(y_[order])))
    return x / x[-1], share / share[-1]


def gini(y: ArrayLike, prediction: ArrayLike, exposure: ArrayLike) -> float:
    """Gini index of the ordered Lorenz curve: ``1 - 2 * area`` under it (trapezoid rule).

    Positive when the model ranks facilities by risk (low predicted rates
    carry few losses), about 0 for a random ranking. Scaling the predictions
    by a positive constant does not change it.

    Examples
    --------
    >>> gini([0.0, 1.0, 3.0], [1.0, 2.0, 3.0], [1.0, 1.0, 2.0])
    0.1875
    """
    x, share = lorenz_curve(y, prediction, exposure)
    area = float(np.sum(np.diff(x) * (share[1:] + share[:-1])) / 2.0)
    return 1.0 - 2.0 * area


def decile_groups(prediction: ArrayLike, exposure: ArrayLike, n: int = 10) -> NDArray[np.int64]:
    """Split facilities into ``n`` groups of near-equal total exposure, by predicted rate.

    Group 0 holds the lowest predicted rates. A facility joins the group in
    which the midpoint of its exposure falls on the cumulative exposure scale;
    ties in predicted rate keep their original order, so the result is
    deterministic.

    Examples
    --------
    >>> decile_groups([4.0, 1.0, 3.0, 2.0], [1.0, 1.0, 1.0, 1.0], n=2).tolist()
    [1, 0, 1, 0]
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    prediction_ = _vector("prediction", prediction, "non-negative")
    exposure_ = _vector("exposure", exposure, "positive")
    _same_length(prediction=prediction_, exposure=exposure_)
    order = _rate_order(prediction_, exposure_)
    sorted_exposure = exposure_[order]
    midpoint = (np.cumsum(sorted_exposure) - sorted_exposure / 2.0) / sorted_exposure.sum()
    groups = np.empty(len(order), dtype=np.int64)
    groups[order] = np.minimum(np.floor(midpoint * n).astype(np.int64), n - 1)
    return groups


def calibration_table(y: ArrayLike, prediction: ArrayLike, groups: ArrayLike) -> pd.DataFrame:
    """Observed and predicted totals per group, their ratio and the number of facilities.

    Columns ``group``, ``observed``, ``predicted``, ``ratio`` (observed over
    predicted; NaN where predicted is 0) and ``count``, sorted by group.
    ``groups`` holds any labels, for example :func:`decile_groups`.

    Examples
    --------
    >>> calibration_table([1.0, 0.0, 3.0], [0.5, 0.5, 2.0], ["a", "a", "b"])
      group  observed  predicted  ratio  count
    0     a       1.0        1.0    1.0      2
    1     b       3.0        2.0    1.5      1
    """
    y_ = _vector("y", y, "non-negative")
    prediction_ = _vector("prediction", prediction, "non-negative")
    labels = np.asarray(groups)
    if labels.ndim != 1:
        raise ValueError(f"groups must be a 1-D array; got {labels.ndim} dimensions")
    _same_length(y=y_, prediction=prediction_, groups=labels)
    _refuse("groups", "not have missing labels", labels, np.asarray(pd.isna(labels)))
    frame = pd.DataFrame({"group": labels, "observed": y_, "predicted": prediction_})
    grouped = frame.groupby("group", sort=True)
    table = grouped.sum().join(grouped.size().rename("count")).reset_index()
    table["ratio"] = table["observed"] / table["predicted"].where(table["predicted"] > 0)
    return table[list(CALIBRATION_COLUMNS)]
