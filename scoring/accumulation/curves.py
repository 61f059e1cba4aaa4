"""What simulated years say: exceedance curves, PML and TVaR, each source's part of
the tail, and how the 1-in-200 figure settles as years are added.

The probable maximum loss at 1-in-T years is the loss exceeded with probability 1/T
in a year - the (1 - 1/T) quantile of the simulated years, taken as the empirical
quantile (numpy's ``higher`` method: a loss some simulated year reached). TVaR at
1-in-T is the mean of the years at or beyond it. On the aggregate (AEP) curve a year
counts its total loss; on the occurrence (OEP) curve its largest single occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.accumulation.simulation import YearLosses

RETURN_PERIODS: tuple[int, ...] = (10, 50, 100, 200, 250)
"""The return periods reported (years)."""


@dataclass(frozen=True)
class TailFigure:
    """PML and TVaR at one return period on one curve."""

    curve: str
    return_period: int
    pml: float
    tvar: float


def pml(losses: np.ndarray, return_period: float) -> float:
    """The loss exceeded with probability 1/return_period in a year."""
    return float(np.quantile(losses, 1 - 1 / return_period, method="higher"))


def tvar(losses: np.ndarray, return_period: float) -> float:
    """The mean loss of the years at or beyond the 1-in-return_period loss."""
    threshold = pml(losses, return_period)
    return float(losses[losses >= threshold].mean())


def tail_figures(years: YearLosses, periods: tuple[int, ...] = RETURN_PERIODS) -> list[TailFigure]:
    """PML and TVaR at each return period on the AEP and the OEP curve."""
    return [
        TailFigure(name, t, pml(losses, t), tvar(losses, t))
        for name, losses in (("aep", years.aggregate), ("oep", years.occurrence))
        for t in periods
    ]


def exceedance_curve(losses: np.ndarray, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(return periods, losses) of a curve: at most ``points`` return periods spaced
    evenly in log from 1 year to the number of simulated years."""
    n = len(losses)
    periods = np.unique(np.geomspace(1, n, num=min(points, n)).round(6))
    return periods, np.array([pml(losses, t) for t in periods])


def tail_contributions(years: YearLosses, return_period: int = 200) -> np.ndarray:
    """Each source's share of the tail: its mean loss in the years whose aggregate is at
    or beyond the 1-in-``return_period`` loss, divided by those years' mean aggregate
    (co-TVaR); the attritional part is the rest."""
    threshold = pml(years.aggregate, return_period)
    tail = years.aggregate >= threshold
    total = float(years.aggregate[tail].mean())
    if total <= 0:
        return np.zeros(years.by_source.shape[1])
    return np.asarray(years.by_source[tail].mean(axis=0) / total)


def group_contributions(
    years: YearLosses, source: int, groups: int, return_period: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """For a source by name (each MSP apart): each group's mean loss a year and its
    share of the 1-in-``return_period`` TVaR, as :func:`tail_contributions` gives the
    source's (the groups' shares add up to the source's)."""
    mine = years.event_source == source
    group, loss = years.event_group[mine], years.event_loss[mine]
    mean = np.bincount(group, loss, minlength=groups) / len(years.aggregate)
    threshold = pml(years.aggregate, return_period)
    tail = years.aggregate >= threshold
    total = float(years.aggregate[tail].mean())
    if total <= 0:
        return mean, np.zeros(groups)
    in_tail = tail[years.event_year[mine]]
    share = np.bincount(group[in_tail], loss[in_tail], minlength=groups) / tail.sum() / total
    return mean, share


@dataclass(frozen=True)
class ConvergencePoint:
    """The 1-in-T loss on the first ``years`` simulated years, with its standard error
    estimated from batches of those years."""

    years: int
    pml: float
    standard_error: float


def convergence(losses: np.ndarray, return_period: int = 200) -> list[ConvergencePoint]:
    """How the 1-in-``return_period`` AEP loss settles as simulated years are added:
    the figure on the first 1/8, 1/4, 1/2 and all of the years, each with the spread of
    that figure over 8 disjoint batches of the same years divided by sqrt(8)."""
    n = len(losses)
    points = []
    for size in sorted({max(n // 8, 1), max(n // 4, 1), max(n // 2, 1), n}):
        head = losses[:size]
        batches = np.array_split(head, 8) if size >= 8 * return_period else []
        spread = float(np.std([pml(b, return_period) for b in batches], ddof=1)) if batches else 0.0
        points.append(ConvergencePoint(size, pml(head, return_period), spread / np.sqrt(8)))
    return points
