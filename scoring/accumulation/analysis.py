"""A book's accumulation in one call: concentration (by catalogued vendor, and by MSP),
how many vendors were answered or allocated, simulated years, curves, tail figures,
tail contributions, convergence and the scenarios of the catalogue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring.accumulation.catalogue import NOT_EXPOSED, EventCatalogue
from scoring.accumulation.curves import (
    ConvergencePoint,
    TailFigure,
    convergence,
    exceedance_curve,
    group_contributions,
    tail_contributions,
    tail_figures,
)
from scoring.accumulation.exposure import BookExposure
from scoring.accumulation.msp import NOT_NAMED, msp_table
from scoring.accumulation.scenarios import ScenarioResult, scenario
from scoring.accumulation.simulation import Simulator, YearLosses, simulate

MSP_SCENARIOS = 5
"""The MSPs with most clients whose compromise is a scenario of the report."""


@dataclass(frozen=True)
class Accumulation:
    """Every figure of a book's accumulation report."""

    facilities: int
    years: int
    seed: int
    expected_layer_loss: float
    """The book's expected attritional loss in the layer (the loss model's)."""
    simulated_mean: float
    simulated_attritional_mean: float
    concentration: pd.DataFrame
    vendor_answers: pd.DataFrame
    """Per category: facilities exposed, answered, allocated, not named, not exposed."""
    msps: pd.DataFrame
    """Per MSP (by name): facilities, limits, premium, expected loss, its events' mean
    loss a year and share of the 1-in-200 TVaR; a last row for those not named."""
    tail: list[TailFigure]
    curve: pd.DataFrame
    contributions: pd.DataFrame
    convergence: list[ConvergencePoint]
    scenarios: list[ScenarioResult]
    losses: YearLosses


def concentration(exposure: BookExposure) -> pd.DataFrame:
    """Per category and vendor: facilities, those allocated by market share, limits,
    premium, ground-up expected loss and expected loss in the layer."""
    rows = []
    for code, use in exposure.vendors.items():
        if use.category.by_name:
            continue  # one row per MSP: see msp_concentration
        frame = pd.DataFrame(
            {
                "vendor": use.code,
                "answered": use.answered,
                "allocated": use.allocated,
                "limit": exposure.limit,
                "premium": exposure.premium,
                "expected_loss": exposure.expected_loss,
                "layer_loss": exposure.layer_loss,
            }
        )
        grouped = frame.groupby("vendor", sort=True).agg(
            facilities=("limit", "size"),
            answered=("answered", "sum"),
            allocated=("allocated", "sum"),
            limits=("limit", "sum"),
            premium=("premium", "sum"),
            expected_loss=("expected_loss", "sum"),
            layer_loss=("layer_loss", "sum"),
        )
        grouped.insert(0, "category", code)
        grouped["share_of_facilities"] = grouped["facilities"] / len(exposure)
        rows.append(grouped.reset_index())
    return pd.concat(rows, ignore_index=True)[
        [
            "category",
            "vendor",
            "facilities",
            "share_of_facilities",
            "answered",
            "allocated",
            "limits",
            "premium",
            "expected_loss",
            "layer_loss",
        ]
    ]


def vendor_answers(exposure: BookExposure) -> pd.DataFrame:
    """Per category: the question asked (blank when the questionnaire does not ask),
    the facilities depending on it, of which answered (the vendor named, a catalogued
    one or another), allocated by market share, and not named (an MSP's name left
    blank or unknown), and the facilities not depending on it."""
    rows = []
    for code, use in exposure.vendors.items():
        exposed = use.code != NOT_EXPOSED
        not_named = use.code == NOT_NAMED
        rows.append(
            {
                "category": code,
                "question": use.category.question or "",
                "exposed": int(exposed.sum()),
                "answered": int(use.answered.sum()),
                "allocated": int(use.allocated.sum()),
                "not_named": int(not_named.sum()),
                "not_exposed": int((~exposed).sum()),
            }
        )
    return pd.DataFrame(rows)


MSP_COLUMNS = (
    "msp",
    "name",
    "spellings",
    "facilities",
    "limits",
    "premium",
    "expected_loss",
    "layer_loss",
    "mean_annual_loss",
    "share_of_1_in_200_tvar",
)
"""The columns of the MSP table."""


def msp_concentration(
    exposure: BookExposure, simulator: Simulator | None = None, losses: YearLosses | None = None
) -> pd.DataFrame:
    """Per MSP of each category by name (:data:`MSP_COLUMNS`), largest first; the
    facilities whose MSP is not named in one last row (each its own MSP in the
    simulation). With the simulated years, each MSP's events' mean loss a year and
    share of the 1-in-200 TVaR (0 without)."""
    tables = []
    amounts = pd.DataFrame(
        {
            "limits": exposure.limit,
            "premium": exposure.premium,
            "expected_loss": exposure.expected_loss,
            "layer_loss": exposure.layer_loss,
        }
    )
    for code, use in exposure.vendors.items():
        if not use.category.by_name:
            continue
        table = msp_table(use.index, use.code, use.keys, use.labels, use.spellings, amounts)
        mean = np.zeros(len(table))
        share = np.zeros(len(table))
        named = len(use.keys)
        sources = simulator.sources if simulator is not None else []
        for s, source in enumerate(sources):
            if source.category != code or source.groups is None or losses is None:
                continue
            groups = len(source.groups) - 1
            group_mean, group_share = group_contributions(losses, s, groups)
            mean[:named] += group_mean[:named]
            share[:named] += group_share[:named]
            if groups > named:  # the facilities not named, each its own MSP
                mean[named] += group_mean[named:].sum()
                share[named] += group_share[named:].sum()
        table["mean_annual_loss"] = mean
        table["share_of_1_in_200_tvar"] = share
        tables.append(table)
    if not tables:
        return pd.DataFrame({c: [] for c in MSP_COLUMNS})
    whole = pd.concat(tables, ignore_index=True)[list(MSP_COLUMNS)]
    whole["last"] = whole["name"] == NOT_NAMED
    ordered = whole.sort_values(["last", "facilities", "msp"], ascending=[True, False, True])
    return ordered.drop(columns="last").reset_index(drop=True)


def _scenarios(
    exposure: BookExposure, events: EventCatalogue, days: float | None
) -> list[ScenarioResult]:
    """Each event at each catalogued vendor of its category; at the
    :data:`MSP_SCENARIOS` MSPs with most clients for a category by name."""
    results = []
    for event in events.events:
        use = exposure.vendors[event.category]
        if use.category.by_name:
            clients = np.bincount(use.index[use.index >= 0], minlength=len(use.keys))
            largest = sorted(range(len(use.keys)), key=lambda k: (-clients[k], use.keys[k]))
            vendors = [use.keys[k] for k in largest[:MSP_SCENARIOS]]
        else:
            vendors = [v.code for v in use.category.vendors]
        results += [scenario(exposure, event, vendor, days) for vendor in vendors]
    return sorted(results, key=lambda r: (-r.loss, r.event, r.vendor))


def accumulate(
    exposure: BookExposure,
    events: EventCatalogue,
    *,
    years: int = 10_000,
    seed: int = 0,
    workers: int = 1,
    scenario_days: float | None = None,
    draw: Callable[[Simulator, int, int], YearLosses] | None = None,
) -> Accumulation:
    """Simulate ``years`` years of the book and gather every figure of the report.

    The years are drawn by ``draw(simulator, years, seed)`` when given (e.g.
    :func:`~scoring.accumulation.distributed.simulate_on_dask` bound to a client),
    else by :func:`~scoring.accumulation.simulation.simulate` on ``workers`` threads;
    both give the same years for a seed. The scenarios are each event type striking
    each vendor of its category (the largest MSPs for the MSP compromise), for
    ``scenario_days`` (the catalogue's median duration when not given).
    """
    simulator = Simulator(exposure, events)
    if draw is None:
        losses = simulate(simulator, years, seed, workers=workers)
    else:
        losses = draw(simulator, years, seed)
    periods, aep = exceedance_curve(losses.aggregate)
    _, oep = exceedance_curve(losses.occurrence)
    shares = tail_contributions(losses)
    contributions = pd.DataFrame(
        {
            "event": [s.event.code for s in simulator.sources],
            "category": [s.category for s in simulator.sources],
            "vendor": [s.vendor for s in simulator.sources],
            "clients": [s.clients.size for s in simulator.sources],
            "mean_annual_loss": losses.by_source.mean(axis=0),
            "share_of_1_in_200_tvar": shares,
        }
    ).sort_values(["share_of_1_in_200_tvar", "event", "vendor"], ascending=[False, True, True])
    return Accumulation(
        facilities=len(exposure),
        years=years,
        seed=seed,
        expected_layer_loss=float(exposure.layer_loss.sum()),
        simulated_mean=float(losses.aggregate.mean()),
        simulated_attritional_mean=float(losses.attritional.mean()),
        concentration=concentration(exposure),
        vendor_answers=vendor_answers(exposure),
        msps=msp_concentration(exposure, simulator, losses),
        tail=tail_figures(losses),
        curve=pd.DataFrame({"return_period": periods, "aep": aep, "oep": oep}),
        contributions=contributions.reset_index(drop=True),
        convergence=convergence(losses.aggregate),
        scenarios=_scenarios(exposure, events, scenario_days),
        losses=losses,
    )


def standard_error(values: np.ndarray) -> float:
    """The standard error of the mean of simulated years."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))
