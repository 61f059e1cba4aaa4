"""Deterministic scenarios: one named vendor struck by one event type for a given
duration ("clearinghouse X down 30 days": losses and facilities hit).

Each client's chance of being hit is the event's mean share times its control
factor (at most 1); its expected payment is the layer's limited expected value of
the loss model's lognormal claim, scaled by duration and controls, computed by the
rating engine's own :func:`~scoring.rating.engine.lognormal_lev`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.accumulation.catalogue import EventType
from scoring.accumulation.exposure import BookExposure
from scoring.rating.engine import PERILS, lognormal_lev


@dataclass(frozen=True)
class ScenarioResult:
    """The expected outcome of one event striking one vendor's clients."""

    event: str
    vendor: str
    duration_days: float
    clients: int
    facilities_hit: float
    """Expected number of clients hit."""
    loss: float
    """Expected loss in the layer over the book."""
    limits_exposed: float
    """The clients' policy limits added up."""


def scenario(
    exposure: BookExposure, event: EventType, vendor: str, duration_days: float | None = None
) -> ScenarioResult:
    """``event`` striking the clients of ``vendor`` for ``duration_days`` (the
    catalogue's median when not given); for a category by name (the MSP), ``vendor``
    is an MSP's key (:func:`~scoring.accumulation.msp.msp_key`).

    Raises
    ------
    ValueError
        The vendor is not in the event's category.
    """
    use = exposure.vendors[event.category]
    codes = list(use.keys) if use.category.by_name else [v.code for v in use.category.vendors]
    if vendor not in codes:
        listed = ", ".join(codes[:10]) + (f" ... ({len(codes)} in all)" if len(codes) > 10 else "")
        raise ValueError(f"vendor must be one of {listed} for {event.code}; got {vendor!r}")
    days = event.duration_days.median if duration_days is None else float(duration_days)
    clients = np.flatnonzero(use.index == codes.index(vendor))
    p = PERILS.index(event.peril)
    chance = np.minimum(event.hit_share.mean * exposure.hit_factor[event.code][clients], 1.0)
    mean = (
        exposure.mean_claim[clients, p]
        * exposure.loss_factor[event.code][clients]
        * (days / event.reference_days)
    )
    sigma = np.full(clients.size, exposure.sigma[p])
    retention = exposure.retention[clients]
    top = retention + exposure.peril_limit[clients, p]
    paid = np.maximum(lognormal_lev(top, mean, sigma) - lognormal_lev(retention, mean, sigma), 0)
    return ScenarioResult(
        event=event.code,
        vendor=vendor,
        duration_days=days,
        clients=int(clients.size),
        facilities_hit=float(chance.sum()),
        loss=float((chance * paid).sum()),
        limits_exposed=float(exposure.limit[clients].sum()),
    )
