"""The explanation of a rating: every answer's relativity, loss effect and premium effect.

Two parts, each split exactly:

* **class** answers (the plan's ``class_questions``) move the average facility of
  the applicant's class away from the training book's average facility;
* **risk** answers (controls, vendors, prior incidents ...) move the applicant away
  from its class average.

Per peril, the log of expected loss is a sum over features, so the log ratio of
two facilities' losses splits exactly by question: D_pq. A question's dollar
effect is sum_p L_p * g(D_p) * D_pq, with L_p the reference's expected loss,
D_p = sum_q D_pq and g(D) = expm1(D) / D; the effects of one part add up to its
whole difference in expected loss. A risk answer's premium effect is its loss
effect times the gross premium the schedule passes on per dollar of expected loss,
so risk effects add up to the gross premium minus the class premium.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from scoring.questionnaire.definition import Question
from scoring.rating._rounding import money, significant
from scoring.rating.engine import Rating, RatingEngine, peril_total
from scoring.rating.result import Factor
from scoring.vocabulary import AnswerKind

if TYPE_CHECKING:
    from scoring.rating.score import Applicant


_TEXTS: dict[tuple[str, Any], str] = {}
_MAX_TEXTS = 50_000


def answer_text(question: Question, value: Any) -> str:
    """An answer in the questionnaire's own words (memoised per question id and answer)."""
    key = (question.id, value)
    text = _TEXTS.get(key)
    if text is None:
        if len(_TEXTS) > _MAX_TEXTS:
            _TEXTS.clear()
        text = _TEXTS[key] = _words(question, value)
    return text


def _words(question: Question, value: Any) -> str:
    if value is None:
        return "does not apply"
    if question.is_choice:
        labels = dict(question.choice_items)
        if question.kind is AnswerKind.MULTIPLE_CHOICE:
            return "; ".join(labels.get(code, code) for code in str(value).split(";") if code)
        return labels.get(str(value), str(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = f"{value:,}" if isinstance(value, int | float) else str(value)
    return f"{text} {question.unit}" if question.unit else text


@cache
def _membership(engine: RatingEngine) -> tuple[tuple[str, ...], np.ndarray]:
    """Question ids with features, and the (questions, features) 0/1 matrix."""
    ids = tuple(dict.fromkeys(str(q) for q in engine.feature_questions))
    position = {qid: i for i, qid in enumerate(ids)}
    matrix = np.zeros((len(ids), len(engine.feature_questions)))
    for j, qid in enumerate(engine.feature_questions):
        matrix[position[str(qid)], j] = 1.0
    return ids, matrix


def _split(
    engine: RatingEngine, target: np.ndarray, reference: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-question log effects (questions, perils), the reference's loss per peril, g(D_p)."""
    _, membership = _membership(engine)
    beta = engine.freq_beta + engine.sev_beta
    by_question = membership @ ((target - reference)[:, None] * beta)
    reference_loss = np.exp(engine.freq_intercept + engine.sev_intercept + reference @ beta)
    total = by_question.sum(axis=0)
    growth = np.ones_like(total)
    moved = total != 0
    growth[moved] = np.expm1(total[moved]) / total[moved]
    return by_question, reference_loss, growth


def premium_per_loss(engine: RatingEngine, rating: Rating) -> np.ndarray:
    """Gross premium the schedule passes on per dollar of expected loss above the class
    average, row by row: risk answers' premium effects are their loss effects times this."""
    expenses = engine.plan.expenses
    loads = 1 - expenses.variable_ratio - expenses.profit_provision
    relative, schedule = rating.relative_risk, rating.schedule_factor
    at_average = relative == 1
    passed_on = np.where(at_average, 1.0, (schedule - 1) / np.where(at_average, 2.0, relative - 1))
    return np.asarray(
        peril_total(rating.class_layer_loss)
        / (peril_total(rating.class_expected_loss) * loads)
        * passed_on,
        dtype=np.float64,
    )


def risk_effects(engine: RatingEngine, features: np.ndarray, rating: Rating) -> np.ndarray:
    """Premium effect of every question, (rows, questions in ``question_ids`` order).

    Risk answers only (class answers have none). The same split as :func:`factors`,
    for many rows at once: with delta = features - class average and w = (L g) beta^T,
    a question's loss effect is the sum over its features of delta * w. Only the risk
    features are worked on, and a question's features are summed as the adjacent
    columns they are.
    """
    layout = _risk_layout(engine)
    effects = np.zeros((len(features), len(layout.ids)))
    effects[:, layout.columns] = _risk_loss_effects(engine, features)
    return np.asarray(effects * premium_per_loss(engine, rating)[:, None], dtype=np.float64)


def risk_question_effects(
    engine: RatingEngine, features: np.ndarray, rating: Rating, per_loss: np.ndarray
) -> np.ndarray:
    """The premium effects of :func:`risk_effects` of the risk questions only, (rows,
    questions in :func:`risk_columns` order), given :func:`premium_per_loss`."""
    return np.asarray(_risk_loss_effects(engine, features) * per_loss[:, None], dtype=np.float64)


def risk_columns(engine: RatingEngine) -> np.ndarray:
    """Where the risk questions are among :func:`question_ids` (increasing)."""
    return _risk_layout(engine).columns


def _risk_loss_effects(engine: RatingEngine, features: np.ndarray) -> np.ndarray:
    """(rows, risk questions) loss effects (see :func:`risk_effects`)."""
    layout = _risk_layout(engine)
    beta = engine.freq_beta + engine.sev_beta
    risk_beta = beta[layout.risk]
    delta = features[:, layout.risk] - engine.means[layout.risk]
    total = delta @ risk_beta
    reference_loss = np.exp(layout.intercept + features[:, layout.classes] @ beta[layout.classes])
    growth = np.ones_like(total)
    moved = total != 0
    growth[moved] = np.expm1(total[moved]) / total[moved]
    weights = (reference_loss * growth) @ risk_beta.T
    # row by row in memory from here: the sums run along rows (the same sums either way)
    delta = np.multiply(delta, weights, order="C")
    return np.asarray(np.add.reduceat(delta, layout.starts, axis=1), dtype=np.float64)


@dataclass(frozen=True)
class _RiskLayout:
    ids: tuple[str, ...]
    risk: np.ndarray
    """Indices of the risk features (controls and the other non-class answers)."""
    classes: np.ndarray
    """Indices of the class features."""
    starts: np.ndarray
    """Where each risk question's features start, among the risk features."""
    columns: np.ndarray
    """Each risk question's position in ``ids``."""
    intercept: np.ndarray
    """Per peril: frequency and severity intercepts plus the book mean's risk terms."""


@cache
def _risk_layout(engine: RatingEngine) -> _RiskLayout:
    ids, _ = _membership(engine)
    risk = np.flatnonzero(~engine.is_class)
    questions = engine.feature_questions[risk]
    starts = np.flatnonzero(np.r_[True, questions[1:] != questions[:-1]])
    if len(starts) != len(set(questions)):
        raise ValueError("the encoder must give each question's features side by side")
    position = {qid: i for i, qid in enumerate(ids)}
    beta = engine.freq_beta + engine.sev_beta
    return _RiskLayout(
        ids=ids,
        risk=risk,
        classes=np.flatnonzero(engine.is_class),
        starts=starts,
        columns=np.array([position[str(q)] for q in questions[starts]], dtype=np.intp),
        intercept=engine.freq_intercept + engine.sev_intercept + engine.means[risk] @ beta[risk],
    )


def question_ids(engine: RatingEngine) -> tuple[str, ...]:
    """The questions with features, in the order of :func:`risk_effects`' columns."""
    return _membership(engine)[0]


def factors(engine: RatingEngine, applicant: Applicant, rating: Rating) -> tuple[Factor, ...]:
    """Every answer that moves expected loss, with its relativity and effects."""
    x = applicant.features
    class_x = np.where(engine.is_class, x, engine.means)
    ids, _ = _membership(engine)
    found: list[Factor] = []
    parts: tuple[tuple[Literal["class", "risk"], np.ndarray, np.ndarray, float | None], ...] = (
        ("class", class_x, engine.means, None),
        ("risk", x, class_x, float(premium_per_loss(engine, rating)[0])),
    )
    for part, target, reference, per_loss in parts:
        by_question, reference_loss, growth = _split(engine, target, reference)
        effects = by_question @ (reference_loss * growth)
        moved = np.flatnonzero(np.any(by_question != 0, axis=1))
        relativities = significant(
            np.exp(by_question[moved]) @ reference_loss / reference_loss.sum()
        )
        loss_effects = money(effects[moved])
        premium_effects = money(effects[moved] * per_loss) if per_loss is not None else None
        for n, i in enumerate(moved.tolist()):
            question = engine.questionnaire.by_id[ids[i]]
            found.append(
                Factor(
                    question_id=question.id,
                    question=question.label,
                    answer=answer_text(question, applicant.answers.get(question.id)),
                    part=part,
                    relativity=float(relativities[n]),
                    loss_effect=float(loss_effects[n]),
                    premium_effect=None if premium_effects is None else float(premium_effects[n]),
                )
            )
    return tuple(sorted(found, key=lambda f: (f.part, -abs(f.loss_effect), f.question_id)))
