"""A book's accumulation in one call: concentration, simulated years, curves, tail
figures, tail contributions, convergence and the scenarios of the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring.accumulation.catalogue import EventCatalogue
from scoring.accumulation.curves import (
    ConvergencePoint,
    TailFigure,
    convergence,
    exceedance_curve,
    tail_contributions,
    tail_figures,
)
from scoring.accumulation.exposure import BookExposure
from scoring.accumulation.scenarios import ScenarioResult, scenario
from scoring.accumulation.simulation import Simulator, YearLosses, simulate


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
        frame = pd.DataFrame(
            {
                "vendor": use.code,
                "allocated": use.allocated,
                "limit": exposure.limit,
                "premium": exposure.premium,
                "expected_loss": exposure.expected_loss,
                "layer_loss": exposure.layer_loss,
            }
        )
        grouped = frame.groupby("vendor", sort=True).agg(
            facilities=("limit", "size"),
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
            "allocated",
            "limits",
            "premium",
            "expected_loss",
            "layer_loss",
        ]
    ]


def accumulate(
    exposure: BookExposure,
    events: EventCatalogue,
    *,
    years: int = 10_000,
    seed: int = 0,
    workers: int = 1,
    scenario_days: float | None = None,
) -> Accumulation:
    """Simulate ``years`` years of the book and gather every figure of the report.

    The scenarios are each event type striking each vendor of its category, for
    ``scenario_days`` (the catalogue's median duration when not given).
    """
    simulator = Simulator(exposure, events)
    losses = simulate(simulator, years, seed, workers=workers)
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
    results = [
        scenario(exposure, event, vendor.code, scenario_days)
        for event in events.events
        for vendor in exposure.vendors[event.category].category.vendors
    ]
    return Accumulation(
        facilities=len(exposure),
        years=years,
        seed=seed,
        expected_layer_loss=float(exposure.layer_loss.sum()),
        simulated_mean=float(losses.aggregate.mean()),
        simulated_attritional_mean=float(losses.attritional.mean()),
        concentration=concentration(exposure),
        tail=tail_figures(losses),
        curve=pd.DataFrame({"return_period": periods, "aep": aep, "oep": oep}),
        contributions=contributions.reset_index(drop=True),
        convergence=convergence(losses.aggregate),
        scenarios=sorted(results, key=lambda r: (-r.loss, r.event, r.vendor)),
        losses=losses,
    )


def standard_error(values: np.ndarray) -> float:
    """The standard error of the mean of simulated years."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))
