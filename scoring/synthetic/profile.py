"""The profile of a synthetic care facility: its type, size, revenue, records, prior
claims and imaging, drawn by facility type, and the maturity shift they give it.

The size profiles are illustrative (not calibrated claims figures; see the loss
model). Under a market (:mod:`scoring.synthetic.market`) a facility's latent
maturity shifts with its type and with its revenue; :func:`shift_mixture` gives the
book's distribution of that shift, which the market's thresholds are solved on.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from scoring._arrow import to_numpy
from scoring.synthetic.market import Market, Mixture

Draw = Callable[[np.random.Generator, dict[str, pa.Array], int], pa.Array]
"""Draws one profile answer for ``n`` facilities from the answers drawn so far."""

# Illustrative size profiles by facility type: (share of book, median beds or patients,
# revenue per bed or patient in USD). Not calibrated claims figures; see the loss model.
_PROFILES: dict[str, tuple[float, float, float]] = {
    "skilled_nursing": (0.40, 110.0, 105_000.0),
    "assisted_living": (0.25, 60.0, 70_000.0),
    "home_health": (0.12, 300.0, 28_000.0),
    "hospice": (0.08, 110.0, 60_000.0),
    "continuing_care_community": (0.07, 350.0, 85_000.0),
    "imaging_centre": (0.06, 1.0, 0.0),
    "other": (0.02, 50.0, 60_000.0),
}
_BEDS_SPREAD = 0.55
"""Log-sd of beds or patients around a type's median."""
_REVENUE_SPREAD = 0.25
"""Log-sd of revenue per bed or patient."""
_IMAGING_REVENUE = (9e6, 0.6)
"""Median revenue of an imaging centre and its log-sd."""


def maturity_shift(market: Market, typed: dict[str, pa.Array], n: int) -> np.ndarray:
    """Each facility's maturity shift by its type and its size (revenue)."""
    shift = np.zeros(n)
    maturity = market.maturity
    if "facility_type" in typed:
        types = to_numpy(typed["facility_type"], object)
        shift += np.asarray([maturity.by_type.get(t, 0.0) for t in types], dtype=np.float64)
    if "net_patient_revenue" in typed:
        revenue = np.nan_to_num(to_numpy(typed["net_patient_revenue"], float), nan=1.0)
        doublings = np.log2(np.maximum(revenue, 1.0) / maturity.reference_revenue)
        shift += maturity.per_doubling * doublings
    return shift


_MIXTURES: dict[tuple[str, str], Mixture] = {}


def shift_mixture(market: Market) -> Mixture:
    """The book's maturity shift by facility type, from the size profiles (see _PROFILES)."""
    key = (market.id, market.version)
    found = _MIXTURES.get(key)
    if found is None:
        maturity = market.maturity
        names = list(_PROFILES)
        weights = np.asarray([_PROFILES[t][0] for t in names])
        median, spread = [], []
        for name in names:
            _, size, per_unit = _PROFILES[name]
            if name == "imaging_centre":
                median.append(_IMAGING_REVENUE[0])
                spread.append(_IMAGING_REVENUE[1])
            else:
                median.append(max(size * per_unit, 250_000.0))
                spread.append(math.hypot(_BEDS_SPREAD, _REVENUE_SPREAD))
        slope = maturity.per_doubling / math.log(2.0)
        means = np.asarray(
            [
                maturity.by_type.get(t, 0.0) + slope * math.log(m / maturity.reference_revenue)
                for t, m in zip(names, median, strict=True)
            ]
        )
        found = Mixture(weights, means, (slope * np.asarray(spread)) ** 2)
        _MIXTURES[key] = found
    return found


def _facility_type(rng: np.random.Generator, typed: dict[str, pa.Array], n: int) -> pa.Array:
    names = list(_PROFILES)
    shares = np.asarray([_PROFILES[k][0] for k in names])
    return pa.array(
        np.asarray(names, dtype=object)[rng.choice(len(names), size=n, p=shares / shares.sum())]
    )


def _types(typed: dict[str, pa.Array]) -> np.ndarray:
    return to_numpy(typed["facility_type"], object)


def _beds(rng: np.random.Generator, typed: dict[str, pa.Array], n: int) -> pa.Array:
    median = np.asarray([_PROFILES[t][1] for t in _types(typed)])
    beds = np.rint(median * rng.lognormal(0.0, _BEDS_SPREAD, size=n)).astype(np.int64)
    imaging = _types(typed) == "imaging_centre"
    beds[imaging] = 0
    return pa.array(np.maximum(beds, np.where(imaging, 0, 4)))


def _sites(rng: np.random.Generator, typed: dict[str, pa.Array], n: int) -> pa.Array:
    beds = to_numpy(typed["beds_or_residents"], float)
    return pa.array(1 + rng.poisson(np.maximum(beds, 50.0) / 400.0, size=n).astype(np.int64))


def _revenue(rng: np.random.Generator, typed: dict[str, pa.Array], n: int) -> pa.Array:
    types = _types(typed)
    beds = to_numpy(typed["beds_or_residents"], float)
    per_bed = np.asarray([_PROFILES[t][2] for t in types])
    revenue = beds * per_bed * rng.lognormal(0.0, _REVENUE_SPREAD, size=n)
    imaging = types == "imaging_centre"
    revenue[imaging] = rng.lognormal(
        math.log(_IMAGING_REVENUE[0]), _IMAGING_REVENUE[1], size=int(imaging.sum())
    )
    return pa.array(np.rint(np.maximum(revenue, 250_000.0)))


def _records(rng: np.random.Generator, typed: dict[str, pa.Array], n: int) -> pa.Array:
    revenue = to_numpy(typed["net_patient_revenue"], float)
    records = revenue / 1_000.0 * rng.lognormal(0.0, 0.5, size=n)
    return pa.array(np.rint(np.maximum(records, 100.0)).astype(np.int64))


def _small_count(scale: float):  # type: ignore[no-untyped-def]
    def draw(rng: np.random.Generator, typed: dict[str, pa.Array], n: int) -> pa.Array:
        return pa.array(rng.poisson(scale, size=n).astype(np.int64))

    return draw


def _claims_amount(rng: np.random.Generator, typed: dict[str, pa.Array], n: int) -> pa.Array:
    count = to_numpy(typed["prior_claims_count"], float)
    amount = np.nan_to_num(count) * rng.lognormal(math.log(80_000.0), 1.0, size=n)
    return pa.array(np.rint(amount))


def _has_imaging(rng: np.random.Generator, typed: dict[str, pa.Array], n: int) -> pa.Array:
    types = _types(typed)
    chance = np.where(
        types == "imaging_centre",
        1.0,
        np.where(np.isin(types, ["skilled_nursing", "continuing_care_community"]), 0.25, 0.03),
    )
    return pa.array(np.where(rng.random(n) < chance, "yes", "no").astype(object), pa.string())


def _modalities(rng: np.random.Generator, typed: dict[str, pa.Array], n: int) -> pa.Array:
    types = _types(typed)
    count = np.where(
        types == "imaging_centre", 4 + rng.poisson(6, size=n), 1 + rng.poisson(1, size=n)
    )
    return pa.array(count.astype(np.int64))


def _unsupported(rng: np.random.Generator, typed: dict[str, pa.Array], n: int) -> pa.Array:
    total = np.nan_to_num(to_numpy(typed["modality_count"], float)).astype(np.int64)
    return pa.array(rng.binomial(total, 0.4).astype(np.int64))


PROFILE_DRAWS: dict[str, Draw] = {
    "facility_type": _facility_type,
    "beds_or_residents": _beds,
    "sites": _sites,
    "net_patient_revenue": _revenue,
    "records_held": _records,
    "prior_incidents_5y": _small_count(0.3),
    "prior_claims_count": _small_count(0.08),
    "prior_claims_amount": _claims_amount,
    "has_imaging": _has_imaging,
    "modality_count": _modalities,
    "unsupported_modality_count": _unsupported,
}
