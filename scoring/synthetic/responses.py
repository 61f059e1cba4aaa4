"""Synthetic responses: plausible facilities answering any questionnaire.

Used for the example portfolio, the peers reference, the training book and the
benchmarks. For a questionnaire with a bundled market - the market of the newest
version it reads (:mod:`scoring.synthetic.market`, e.g.
``models/synthetic-truth/care-cyber-market-1.0.0.yaml`` for 1.0.0 and 1.1.0) - each
answer is drawn to the market's declared share of the book, from a latent
maturity that rises with facility type and size, so controls are positively
correlated the way real books are (a facility with offline backups usually also has
MFA) while each control keeps its cited prevalence. The facility profile (type,
size, revenue, records, prior claims, imaging) is drawn by type.

The questions a later version adds to its market's (1.1.0's vendors and platforms)
are drawn from a random stream of their own, a child of the draw's: the same seed
gives the same answers to every question of the market's version, byte for byte,
whichever version is answered. The vendor questions are answered from the vendor
market (:mod:`scoring.synthetic.vendors`: the vendor catalogue's market shares, an IT
company roster), the other added questions generically.

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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scoring._arrow import to_mask
from scoring.errors import QuestionnaireError
from scoring.questionnaire import expression as ex
from scoring.questionnaire.definition import Question, Questionnaire
from scoring.questionnaire.loader import bundled_questionnaire
from scoring.synthetic.market import (
    Market,
    Quantiles,
    Shares,
    bundled_market_reading,
    check_market,
    draw,
    maturity_z,
)
from scoring.synthetic.profile import PROFILE_DRAWS, maturity_shift, shift_mixture
from scoring.synthetic.vendors import VendorAnswers, vendors_of
from scoring.vocabulary import AnswerKind, Better

_CONTROL_NOISE = 0.22


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
    """The questionnaire's bundled market, or None when there is none that fits it.

    The market is the bundled one of the newest version the questionnaire reads
    (:meth:`Questionnaire.reads`: its own, or one it declares a migration from). A
    questionnaire that carries a bundled id and version but was edited (a question
    or answer the market does not know) has no market: it is answered generically.
    ``tests/test_synthetic_market.py`` checks that the bundled market fits the
    bundled questionnaire.
    """
    market = bundled_market_reading(questionnaire)
    if market is None:
        return None
    try:
        check_market(market, questionnaire, drawn=tuple(PROFILE_DRAWS))
    except QuestionnaireError:
        return None
    return market


def added_questions(questionnaire: Questionnaire, market: Market | None) -> frozenset[str]:
    """The questions the questionnaire asks beyond its market's version (none when the
    market is its own, or when there is no market)."""
    ref = None if market is None else market.questionnaire
    if ref is None or (ref.id, ref.version) == (questionnaire.id, questionnaire.version):
        return frozenset()
    asked = {q.id for q in bundled_questionnaire(ref.id, ref.version).questions}
    return frozenset(q.id for q in questionnaire.questions if q.id not in asked)


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

    The questions added beyond the market's version, and those of the vendor market,
    draw from a child of ``rng`` (:meth:`numpy.random.Generator.spawn`), which leaves
    the draws of every other question as they were.
    """
    if not 0.0 <= blank_share < 1.0:
        raise ValueError(f"blank_share must be in [0, 1); got {blank_share}")
    n = maturity.size
    market = market_of(questionnaire)
    own = _own_stream(questionnaire, market, rng)
    typed: dict[str, pa.Array] = {}
    z: np.ndarray | None = None
    for question in questionnaire.questions:
        if question.relevant is None:
            applies = np.ones(n, dtype=np.bool_)
        else:
            applies = ex.applies(question.relevant, typed, length=n)
        entry = None if market is None else market.answers.get(question.id)
        drawn_on_z = entry is not None or own.asks(question.id)
        if market is not None and drawn_on_z and z is None:  # the profile comes first
            z = maturity_z(maturity, maturity_shift(market, typed, n))
        if own.asks(question.id):
            values = own.answer(question, z, maturity, typed, as_of_days)
        elif market is not None and entry is not None:
            assert z is not None
            values = _draw_market(question, entry, market, rng, z, as_of_days)
        else:
            values = _draw(question, rng, maturity, typed, as_of_days)
        stream = own.rng if own.rng is not None and own.asks(question.id) else rng
        if previous is not None:
            old = previous[question.id]
            stays = stream.random(n) >= change_share if question.control is not None else True
            keep = to_mask(old.is_valid()) & stays
            values = pc.if_else(pa.array(keep), old, values)
        if question.control is not None and blank_share > 0.0:
            blank = stream.random(n) < blank_share
            values = pc.if_else(pa.array(blank), pa.scalar(None, values.type), values)
        typed[question.id] = pc.if_else(pa.array(applies), values, pa.scalar(None, values.type))
    return typed


class _OwnStream:
    """The answers drawn from a stream of their own: the questions added beyond the
    market's version and those of the vendor market."""

    def __init__(
        self,
        questions: frozenset[str],
        rng: np.random.Generator | None,
        vendors: VendorAnswers | None,
    ) -> None:
        self.questions = questions
        self.rng = rng
        self.vendors = vendors

    def asks(self, question_id: str) -> bool:
        return question_id in self.questions

    def answer(
        self,
        question: Question,
        z: np.ndarray | None,
        maturity: np.ndarray,
        typed: dict[str, pa.Array],
        as_of_days: np.ndarray,
    ) -> pa.Array:
        assert self.rng is not None
        if self.vendors is not None and z is not None and self.vendors.asks(question.id):
            return self.vendors.answer(question.id, z)
        return _draw(question, self.rng, maturity, typed, as_of_days)


def _own_stream(
    questionnaire: Questionnaire, market: Market | None, rng: np.random.Generator
) -> _OwnStream:
    questions = added_questions(questionnaire, market)
    found = None if market is None else vendors_of(questionnaire)
    if found is not None:
        questions |= found[0].questions
    if not questions:
        return _OwnStream(questions, None, None)
    child = rng.spawn(1)[0]
    vendors = None
    if market is not None and found is not None:
        vendors = VendorAnswers(*found, shift_mixture(market), child)
    return _OwnStream(questions, child, vendors)


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
    special = PROFILE_DRAWS.get(question.id)
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
    mixture = shift_mixture(market)
    if isinstance(entry, Shares):
        return pa.array(draw(entry, question, market, mixture, rng, z), pa.string())
    values = draw(entry, question, market, mixture, rng, z)
    if question.kind is AnswerKind.DATE:
        days = np.rint(values).astype("timedelta64[D]")
        return pa.array((as_of_days - days).astype("datetime64[D]"), pa.date32())
    return _numeric(values, question)


def _numeric(values: np.ndarray, question: Question) -> pa.Array:
    if question.kind is AnswerKind.INTEGER:
        return pa.array(np.rint(values).astype(np.int64))
    return pa.array(values.astype(np.float64))
