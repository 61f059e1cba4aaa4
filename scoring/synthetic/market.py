"""The synthetic market: how common each answer is among care-facility applicants.

The market is data (``models/synthetic-truth/<questionnaire>-market-<version>.yaml``),
one file per questionnaire version, each figure with its source. It declares

* a **latent maturity** per facility: ``z = Phi^-1(u) + shift``, with ``u`` uniform
  (a facility's own standing) and a ``shift`` by facility type and size (larger
  organisations are more mature);
* for each answer, its **marginal distribution** over the book: shares of the choices
  (worst first for a control) or quantiles of a number or of a date's age in days;
* the **targets** a synthetic sample must show (shares of answers and of outcomes),
  each a range with its justification; a test checks them on a large sample.

An answer is drawn from ``y = loading * z + sqrt(1 - loading^2) * e`` with ``e``
standard normal: the thresholds on ``y`` are solved so that each answer's share over
the whole book is the declared one, while answers to different controls stay
positively correlated through ``z`` (a probit threshold model). A loading of 0 draws
the answer independently of maturity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import ndtr, ndtri

from scoring.errors import QuestionnaireError
from scoring.questionnaire.definition import Question, Questionnaire
from scoring.synthetic.truth import read_definition, synthetic_file
from scoring.vocabulary import AnswerKind, Better


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MarketRef(_Strict):
    id: str
    version: str


class Maturity(_Strict):
    """How the latent maturity shifts with facility type and size."""

    by_type: dict[str, float]
    """Shift of the latent maturity by facility type (standard-normal units)."""
    per_doubling: float = Field(ge=0, le=1)
    """Shift for each doubling of net patient revenue above ``reference_revenue``."""
    reference_revenue: float = Field(gt=0)
    loading: float = Field(ge=0, lt=1)
    """Default weight of maturity in each answer's latent (the rest is noise)."""
    source: str = Field(min_length=1)


class Shares(_Strict):
    """The book's shares of a choice question's answers (a control's worst first)."""

    shares: dict[str, float]
    loading: float | None = Field(default=None, ge=0, lt=1)
    source: str = Field(min_length=1)


class Quantiles(_Strict):
    """The book's distribution of a number (or of a date's age in days), by quantiles.

    Pairs ``[probability, value]`` from probability 0 to 1; values in between are
    interpolated linearly. Better answers go with higher maturity, in the direction
    of the question's control.
    """

    quantiles: tuple[tuple[float, float], ...] = Field(min_length=2)
    loading: float | None = Field(default=None, ge=0, lt=1)
    source: str = Field(min_length=1)


class Target(_Strict):
    """A share a large synthetic sample must show, with why it is right."""

    id: str
    question: str | None = None
    """The share of these ``answers`` among the facilities asked ``question`` ..."""
    answers: tuple[str, ...] = ()
    outcome: Literal["quote", "refer", "decline"] | None = None
    """... or the share of applicants with this outcome under the bundled engine."""
    low: float = Field(ge=0, le=1)
    high: float = Field(ge=0, le=1)
    why: str = Field(min_length=1)


class Market(_Strict):
    """A market file: the answers of the applicants a synthetic book is drawn from."""

    id: str
    version: str
    questionnaire: MarketRef
    maturity: Maturity
    answers: dict[str, Shares | Quantiles]
    targets: tuple[Target, ...]


def market_path(questionnaire_id: str, version: str) -> Path:
    """The bundled market file of a questionnaire version (it may not exist)."""
    return synthetic_file(questionnaire_id, version, "market")


def load_market(path: Path) -> Market:
    """Read and validate a market file (its own structure; see :func:`check_market`).

    Raises
    ------
    QuestionnaireError
        If the file cannot be read or does not follow the market's structure.
    """
    return read_definition(path, Market)


def check_market(market: Market, questionnaire: Questionnaire, *, drawn: Sequence[str]) -> None:
    """Check a market against a questionnaire that reads it (its own, or a later version
    declaring a migration from it: :meth:`Questionnaire.reads`); every problem is listed.

    ``drawn`` names the questions drawn from the facility profile, which the market
    must not declare.

    Raises
    ------
    QuestionnaireError
        If the questionnaire does not read the market's, an entry names an unknown
        question or answer, its shares do not add up to one, its quantiles are not
        increasing or leave the question's range, or a target is empty or inverted.
    """
    problems: list[str] = []
    ref = market.questionnaire
    refusal = questionnaire.refusal("the market", ref.id, ref.version)
    if refusal:
        problems.append(refusal)
    questions = {q.id: q for q in questionnaire.questions}
    for qid, entry in market.answers.items():
        question = questions.get(qid)
        if question is None:
            problems.append(f"answers.{qid}: no such question")
        elif qid in drawn:
            problems.append(f"answers.{qid}: drawn from the facility profile, not the market")
        else:
            problems.extend(f"answers.{qid}: {p}" for p in _entry_problems(entry, question))
    types = questions.get("facility_type")
    if types is not None and set(market.maturity.by_type) != set(types.choice_codes):
        problems.append(
            f"maturity.by_type: must name every facility type {sorted(types.choice_codes)}; "
            f"got {sorted(market.maturity.by_type)}"
        )
    for target in market.targets:
        problems.extend(f"targets.{target.id}: {p}" for p in _target_problems(target, questions))
    if problems:
        raise QuestionnaireError(market.id, problems)


def _entry_problems(entry: Shares | Quantiles, question: Question) -> list[str]:
    if isinstance(entry, Shares):
        if question.kind not in (AnswerKind.YES_NO, AnswerKind.SINGLE_CHOICE):
            return [f"shares need a yes/no or single-choice question; got {question.kind.value}"]
        problems = []
        if set(entry.shares) != set(question.choice_codes):
            problems.append(
                f"shares must name every answer {sorted(question.choice_codes)}; "
                f"got {sorted(entry.shares)}"
            )
        if min(entry.shares.values(), default=0.0) < 0 or not math.isclose(
            sum(entry.shares.values()), 1.0, abs_tol=1e-9
        ):
            problems.append(f"shares must be at least 0 and add up to 1; got {entry.shares}")
        return problems
    if not (question.is_numeric or question.kind is AnswerKind.DATE):
        return [f"quantiles need a number or date question; got {question.kind.value}"]
    probabilities = [p for p, _ in entry.quantiles]
    values = [v for _, v in entry.quantiles]
    problems = []
    if probabilities[0] != 0.0 or probabilities[-1] != 1.0 or np.any(np.diff(probabilities) <= 0):
        problems.append(f"probabilities must rise from 0 to 1; got {probabilities}")
    if np.any(np.diff(values) < 0):
        problems.append(f"values must not fall; got {values}")
    low = question.min if question.kind is not AnswerKind.DATE else 0.0
    high = question.max if question.kind is not AnswerKind.DATE else None
    if (low is not None and values[0] < low) or (high is not None and values[-1] > high):
        problems.append(f"values must lie in [{low}, {high}]; got {values[0]} .. {values[-1]}")
    return problems


def _target_problems(target: Target, questions: dict[str, Question]) -> list[str]:
    problems = []
    if target.low > target.high:
        problems.append(f"low must not exceed high; got {target.low} > {target.high}")
    if (target.question is None) == (target.outcome is None):
        problems.append("give either a question and its answers or an outcome")
    elif target.question is not None:
        question = questions.get(target.question)
        if question is None:
            problems.append(f"no such question {target.question!r}")
        elif not target.answers or not set(target.answers) <= set(question.choice_codes):
            problems.append(
                f"answers must be some of {sorted(question.choice_codes)}; got {target.answers}"
            )
    return problems


@cache
def bundled_market(questionnaire_id: str, version: str) -> Market | None:
    """The bundled market of a questionnaire version, or None when there is none."""
    path = market_path(questionnaire_id, version)
    return load_market(path) if path.is_file() else None


def bundled_market_reading(questionnaire: Questionnaire) -> Market | None:
    """The bundled market of the newest version the questionnaire reads (its own, else
    one it migrates from, as for the remediation catalogue), or None when there is none.

    Examples
    --------
    >>> from scoring.questionnaire.loader import bundled_questionnaire
    >>> market = bundled_market_reading(bundled_questionnaire("care_cyber", "1.1.0"))
    >>> market.questionnaire.version if market else None
    '1.0.0'
    """
    path = questionnaire.file_read(lambda version: market_path(questionnaire.id, version))
    return load_market(path) if path.is_file() else None


# --- drawing ---------------------------------------------------------------------------


class Mixture:
    """The book's distribution of the maturity shift: per facility type, a normal.

    Built from each type's share and the mean and variance of its shift (type and
    size); the latent ``z`` of a type is normal with that mean and one plus that
    variance.
    """

    def __init__(self, weights: np.ndarray, means: np.ndarray, variances: np.ndarray) -> None:
        self.weights = weights / weights.sum()
        self.means = means
        self.variances = variances
        self.key = b"".join(a.tobytes() for a in (self.weights, means, variances))

    def latent_cdf(self, values: np.ndarray, loading: float) -> np.ndarray:
        """P(y <= value) over the book for ``y = loading z + sqrt(1 - loading^2) e``."""
        scale = np.sqrt(loading**2 * (1.0 + self.variances) + 1.0 - loading**2)
        standard = (values[..., None] - loading * self.means) / scale
        return np.asarray(ndtr(standard) @ self.weights, dtype=np.float64)

    def thresholds(self, cumulative: np.ndarray, loading: float) -> np.ndarray:
        """Values of ``y`` below which lie the given shares of the book (by bisection)."""
        low = np.full(cumulative.shape, -12.0)
        high = np.full(cumulative.shape, 12.0)
        for _ in range(60):
            middle = (low + high) / 2
            below = self.latent_cdf(middle, loading) < cumulative
            low = np.where(below, middle, low)
            high = np.where(below, high, middle)
        return np.asarray((low + high) / 2, dtype=np.float64)


def latent(rng: np.random.Generator, maturity: np.ndarray, loading: float) -> np.ndarray:
    """One answer's latent ``y`` for facilities of latent maturity ``maturity`` (z)."""
    noise = rng.standard_normal(maturity.size)
    return np.asarray(loading * maturity + math.sqrt(1.0 - loading**2) * noise)


def maturity_z(percentile: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """The latent maturity from a facility's own percentile and its type-and-size shift."""
    return np.asarray(ndtri(np.clip(percentile, 1e-4, 1 - 1e-4)) + shift, dtype=np.float64)


def draw(
    entry: Shares | Quantiles,
    question: Question,
    market: Market,
    mixture: Mixture,
    rng: np.random.Generator,
    z: np.ndarray,
) -> np.ndarray:
    """One answer for facilities of latent maturity ``z``, to the entry's declared shares.

    Choice codes (worst answers at low ``z``) for :class:`Shares`; numbers, or ages in
    days of a date (better values at high ``z``), for :class:`Quantiles`.
    """
    loading = market.maturity.loading if entry.loading is None else entry.loading
    y = latent(rng, z, loading)
    control = question.control
    if isinstance(entry, Shares):
        order = list(control.order) if control is not None and control.order else list(entry.shares)
        cumulative = np.cumsum([entry.shares[code] for code in order])[:-1]
        cuts = _thresholds(mixture, tuple(cumulative), loading)
        return np.asarray(order, dtype=object)[np.searchsorted(cuts, y)]
    share = mixture.latent_cdf(y, loading)
    if control is not None and control.better in (Better.LOWER, Better.MORE_RECENT):
        share = 1.0 - share  # more mature, smaller number or younger date
    probabilities = [p for p, _ in entry.quantiles]
    values = [v for _, v in entry.quantiles]
    return np.asarray(np.interp(share, probabilities, values), dtype=np.float64)


def share_cut(mixture: Mixture, share: float, loading: float) -> float:
    """The value of an answer's latent ``y`` below which lie ``share`` of the book:
    ``y < share_cut(...)`` picks that share, more of it among facilities of low maturity
    the higher the loading."""
    return float(_thresholds(mixture, (share,), loading)[0])


_THRESHOLDS: dict[tuple[bytes, tuple[float, ...], float], np.ndarray] = {}


def _thresholds(mixture: Mixture, cumulative: tuple[float, ...], loading: float) -> np.ndarray:
    key = (mixture.key, cumulative, loading)
    found = _THRESHOLDS.get(key)
    if found is None:
        if len(_THRESHOLDS) > 4096:
            _THRESHOLDS.clear()
        found = mixture.thresholds(np.asarray(cumulative, dtype=np.float64), loading)
        _THRESHOLDS[key] = found
    return found
