"""Synthetic responses: plausible facilities answering any questionnaire.

Used for the example portfolio, the peers reference, the training book and the
benchmarks. For a questionnaire with a bundled market
(:mod:`scoring.synthetic.market`, e.g. ``models/synthetic-truth/care-cyber-market-1.0.0.yaml``)
each answer is drawn to the market's declared share of the book, from a latent
maturity that rises with facility type and size, so controls are positively
correlated the way real books are (a facility with offline backups usually also has
MFA) while each control keeps its cited prevalence. The facility profile (type,
size, revenue, records, prior claims, imaging) is drawn by type.

Any other questionnaire, and any question its market does not name, is answered
generically: every control's answer is drawn around one latent maturity
(Beta(2, 2)) plus noise, and other answers uniformly. Skip logic is followed: a
question that does not apply is left blank.

The output is a table of text cells in the questionnaire's column format,
exactly what a user would upload. Rows are valid by construction except where a
questionnaire constraint is not known to the generator; the caller validates.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scoring._arrow import to_mask, to_numpy
from scoring.questionnaire import expression as ex
from scoring.questionnaire.definition import Question, Questionnaire
from scoring.synthetic.market import (
    Market,
    Mixture,
    Quantiles,
    Shares,
    bundled_market,
    check_market,
    draw_choice,
    draw_quantiles,
    maturity_z,
)
from scoring.vocabulary import AnswerKind, Better

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
_CONTROL_NOISE = 0.22
_BEDS_SPREAD = 0.55
"""Log-sd of beds or patients around a type's median."""
_REVENUE_SPREAD = 0.25
"""Log-sd of revenue per bed or patient."""
_IMAGING_REVENUE = (9e6, 0.6)
"""Median revenue of an imaging centre and its log-sd."""


def synthetic_responses(
    questionnaire: Questionnaire,
    n: int,
    *,
    seed: int,
    as_of: dt.date,
    id_prefix: str = "SYN",
    blank_share: float = 0.0,
) -> pa.Table:
    """``n`` synthetic facilities' responses as text columns (the table format).

    Parameters
    ----------
    questionnaire : Questionnaire
        The questionnaire to answer.
    n : int
        Number of facilities.
    seed : int
        Random seed; the same seed gives the same table.
    as_of : datetime.date
        Assessment date written to ``assessed_on``; dates answered lie before it.
    id_prefix : str
        Facility ids are ``<id_prefix>-<number>``.
    blank_share : float
        Share of control cells left blank, as real applications have them (the
        validator flags them and treats them as the worst answer).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}")
    rng = np.random.default_rng(seed)
    maturity = draw_maturity(questionnaire, rng, n)
    as_of_days = np.full(n, np.datetime64(as_of, "D"))
    typed = draw_answers(questionnaire, rng, maturity, as_of_days, blank_share=blank_share)
    width = len(str(n))
    ids = pa.array([f"{id_prefix}-{i:0{width}d}" for i in range(1, n + 1)])
    return answers_table(questionnaire, typed, ids, as_of_days)


def market_of(questionnaire: Questionnaire) -> Market | None:
    """The questionnaire's bundled market, checked against it (None when there is none).

    Raises
    ------
    QuestionnaireError
        If the bundled market does not fit the questionnaire.
    """
    market = bundled_market(questionnaire.id, questionnaire.version)
    if market is not None:
        check_market(market, questionnaire, drawn=tuple(_PROFILE_DRAWS))
    return market


def draw_maturity(questionnaire: Questionnaire, rng: np.random.Generator, n: int) -> np.ndarray:
    """Each facility's own security maturity, between 0 and 1.

    Under a market it is a percentile (uniform), to which the facility's type and size
    add their shift; otherwise Beta(2, 2), around which every control is drawn.
    """
    if market_of(questionnaire) is not None:
        return rng.random(n)
    return rng.beta(2.0, 2.0, size=n)


def draw_answers(
    questionnaire: Questionnaire,
    rng: np.random.Generator,
    maturity: np.ndarray,
    as_of_days: np.ndarray,
    *,
    previous: dict[str, pa.Array] | None = None,
    change_share: float = 1.0,
    blank_share: float = 0.0,
) -> dict[str, pa.Array]:
    """Typed answers for facilities of the given maturity, following skip logic.

    With ``previous`` (last year's answers of the same facilities), facts about the
    facility stay as they were and each control is redrawn with probability
    ``change_share``, so answers change a little from year to year.
    """
    if not 0.0 <= blank_share < 1.0:
        raise ValueError(f"blank_share must be in [0, 1); got {blank_share}")
    n = maturity.size
    market = market_of(questionnaire)
    typed: dict[str, pa.Array] = {}
    z: np.ndarray | None = None
    for question in questionnaire.questions:
        if question.relevant is None:
            applies = np.ones(n, dtype=np.bool_)
        else:
            applies = ex.applies(question.relevant, typed, length=n)
        entry = None if market is None else market.answers.get(question.id)
        if market is not None and entry is not None:
            if z is None:  # the profile questions come first
                z = maturity_z(maturity, _maturity_shift(market, typed, n))
            values = _draw_market(question, entry, market, rng, z, as_of_days)
        else:
            values = _draw(question, rng, maturity, typed, as_of_days)
        if previous is not None:
            old = previous[question.id]
            stays = rng.random(n) >= change_share if question.control is not None else True
            keep = to_mask(old.is_valid()) & stays
            values = pc.if_else(pa.array(keep), old, values)
        if question.control is not None and blank_share > 0.0:
            blank = rng.random(n) < blank_share
            values = pc.if_else(pa.array(blank), pa.scalar(None, values.type), values)
        typed[question.id] = pc.if_else(pa.array(applies), values, pa.scalar(None, values.type))
    return typed


def answers_table(
    questionnaire: Questionnaire,
    typed: dict[str, pa.Array],
    facility_ids: pa.Array,
    as_of_days: np.ndarray,
) -> pa.Table:
    """Typed answers as the questionnaire's table format (text cells)."""
    n = len(facility_ids)
    columns: dict[str, pa.Array] = {
        "facility_id": facility_ids,
        "facility_name": pa.nulls(n, pa.string()),
        "questionnaire": pa.array([questionnaire.id] * n),
        "questionnaire_version": pa.array([questionnaire.version] * n),
        "assessed_on": pc.cast(
            pa.array(as_of_days.astype("datetime64[D]"), pa.date32()), pa.string()
        ),
        "answered_by": pa.nulls(n, pa.string()),
    }
    for question in questionnaire.questions:
        columns[question.id] = _as_text(typed[question.id])
    return pa.table(columns)


def _as_text(values: pa.Array) -> pa.Array:
    if pa.types.is_floating(values.type):
        values = pc.round(values, 2)
    return pc.cast(values, pa.string())


def _level(rng: np.random.Generator, maturity: np.ndarray) -> np.ndarray:
    """A control's quality between 0 and 1, centred on the facility's maturity."""
    return np.clip(maturity + rng.normal(0.0, _CONTROL_NOISE, size=maturity.size), 0.0, 1.0)


def _draw(
    question: Question,
    rng: np.random.Generator,
    maturity: np.ndarray,
    typed: dict[str, pa.Array],
    as_of_days: np.ndarray,
) -> pa.Array:
    n = maturity.size
    special = _PROFILE_DRAWS.get(question.id)
    if special is not None:
        return special(rng, typed, n)
    control = question.control
    if control is not None and control.order is not None:
        steps = len(control.order) - 1
        index = np.rint(_level(rng, maturity) * steps).astype(int)
        return pa.array(np.asarray(control.order, dtype=object)[index], pa.string())
    if control is not None and control.better is Better.MORE_RECENT:
        years = (1.0 - _level(rng, maturity)) * 2.0 * (control.stale_after_years or 1.0)
        days = (years * 365.25).astype("timedelta64[D]")
        return pa.array((as_of_days - days).astype("datetime64[D]"), pa.date32())
    if control is not None and question.is_numeric:
        low, high = float(question.min or 0.0), float(question.max or 100.0)
        level = _level(rng, maturity)
        share = level if control.better is Better.HIGHER else 1.0 - level
        if control.better is Better.LOWER:  # delays are skewed: most are short
            share = share**2.5
        values = low + share * (high - low)
        return _numeric(values, question)
    if question.kind in (AnswerKind.YES_NO, AnswerKind.SINGLE_CHOICE):
        codes = np.asarray(question.choice_codes, dtype=object)
        return pa.array(codes[rng.integers(0, len(codes), size=n)], pa.string())
    if question.kind is AnswerKind.MULTIPLE_CHOICE:
        names = question.choice_codes
        picks = rng.random((n, len(names))) < 0.5
        picks[np.arange(n), rng.integers(0, len(names), size=n)] = True
        return pa.array(
            [";".join(c for c, keep in zip(names, row, strict=True) if keep) for row in picks],
            pa.string(),
        )
    if question.is_numeric:
        low = float(question.min or 0.0)
        high = float(question.max) if question.max is not None else low + 1000.0
        values = low + rng.exponential(scale=max((high - low) / 50.0, 1.0), size=n)
        return _numeric(np.minimum(values, high), question)
    if question.kind is AnswerKind.DATE:
        days = rng.integers(30, 3 * 365, size=n).astype("timedelta64[D]")
        return pa.array((as_of_days - days).astype("datetime64[D]"), pa.date32())
    return pa.nulls(n, pa.string())


def _draw_market(
    question: Question,
    entry: Shares | Quantiles,
    market: Market,
    rng: np.random.Generator,
    z: np.ndarray,
    as_of_days: np.ndarray,
) -> pa.Array:
    mixture = _mixture(market)
    if isinstance(entry, Shares):
        return pa.array(draw_choice(entry, question, market, mixture, rng, z), pa.string())
    values = draw_quantiles(entry, question, market, mixture, rng, z)
    if question.kind is AnswerKind.DATE:
        days = np.rint(values).astype("timedelta64[D]")
        return pa.array((as_of_days - days).astype("datetime64[D]"), pa.date32())
    return _numeric(values, question)


def _maturity_shift(market: Market, typed: dict[str, pa.Array], n: int) -> np.ndarray:
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


def _mixture(market: Market) -> Mixture:
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


def _numeric(values: np.ndarray, question: Question) -> pa.Array:
    if question.kind is AnswerKind.INTEGER:
        return pa.array(np.rint(values).astype(np.int64))
    return pa.array(values.astype(np.float64))


# --- care_cyber profile questions --------------------------------------------------------


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


_PROFILE_DRAWS = {
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
