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
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from scoring.questionnaire.definition import Question
from scoring.rating.engine import Rating, RatingEngine
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


def factors(engine: RatingEngine, applicant: Applicant, rating: Rating) -> tuple[Factor, ...]:
    """Every answer that moves expected loss, with its relativity and effects."""
    x = applicant.features
    class_x = np.where(engine.is_class, x, engine.means)
    expenses = engine.plan.expenses
    loads = 1 - expenses.variable_ratio - expenses.profit_provision
    relative = float(rating.relative_risk[0])
    schedule = float(rating.schedule_factor[0])
    passed_on = 1.0 if relative == 1 else (schedule - 1) / (relative - 1)
    premium_per_loss = (
        float(rating.class_layer_loss[0].sum())
        / (float(rating.class_expected_loss[0].sum()) * loads)
        * passed_on
    )
    ids, _ = _membership(engine)
    found: list[Factor] = []
    parts: tuple[tuple[Literal["class", "risk"], np.ndarray, np.ndarray, float | None], ...] = (
        ("class", class_x, engine.means, None),
        ("risk", x, class_x, premium_per_loss),
    )
    for part, target, reference, per_loss in parts:
        by_question, reference_loss, growth = _split(engine, target, reference)
        effects = by_question @ (reference_loss * growth)
        relativities = np.exp(by_question) @ reference_loss / reference_loss.sum()
        for i in np.flatnonzero(np.any(by_question != 0, axis=1)):
            question = engine.questionnaire.by_id[ids[i]]
            effect = float(effects[i])
            found.append(
                Factor.model_construct(  # values of known types: validation skipped (hot path)
                    question_id=question.id,
                    question=question.label,
                    answer=answer_text(question, applicant.answers.get(question.id)),
                    part=part,
                    relativity=float(f"{relativities[i]:.6g}"),
                    loss_effect=round(effect, 2),
                    premium_effect=None if per_loss is None else round(effect * per_loss, 2),
                )
            )
    return tuple(sorted(found, key=lambda f: (f.part, -abs(f.loss_effect), f.question_id)))
