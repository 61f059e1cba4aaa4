"""A book's advice: one row per facility and fix, what an underwriter sends back to a broker.

The fixes are a book's best fixes (:func:`scoring.portfolio.batch.best_fixes`: each
actionable control moved to its best answer, ranked as one applicant's advice is);
each is then rated in full with its answer changed - features through the encoder's
level of the best answer, rules through their own expressions - by
:meth:`RatingEngine.rate`, so the tier and outcome a fix reaches are those
``carescore score`` gives for the same facility (tested). Answers are in the
questionnaire's words; one given as "unknown" reads as
:data:`~scoring.rating.result.DONT_KNOW`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from scoring.questionnaire.definition import Question
from scoring.rating._rounding import money
from scoring.rating.engine import Rating, RatingEngine
from scoring.rating.explain import answer_text
from scoring.rating.plan import OUTCOMES
from scoring.rating.result import DONT_KNOW
from scoring.vocabulary import AnswerKind, AnswerState

ADVICE_SCHEMA = pa.schema(
    [
        pa.field("facility_id", pa.string()),
        pa.field("facility_name", pa.string()),
        pa.field("rank", pa.int64()),
        pa.field("question_id", pa.string()),
        pa.field("question", pa.string()),
        pa.field("answer", pa.string()),
        pa.field("advised_answer", pa.string()),
        pa.field("premium", pa.float64()),
        pa.field("premium_after", pa.float64()),
        pa.field("technical_premium", pa.float64()),
        pa.field("technical_premium_after", pa.float64()),
        pa.field("saving", pa.float64()),
        pa.field("tier", pa.string()),
        pa.field("tier_after", pa.string()),
        pa.field("outcome", pa.string()),
        pa.field("outcome_after", pa.string()),
        pa.field("cost_low", pa.float64()),
        pa.field("cost_high", pa.float64()),
        pa.field("size_band", pa.string()),
        pa.field("hicp", pa.string()),
        pa.field("cpg", pa.string()),
        pa.field("cis", pa.string()),
    ]
)
"""The columns of a book's advice file, in order: a facility's fixes in rank order,
each with the answer now and the answer advised, the premium offered now and after the
fix, the technical premium now and after it (what the fix is worth before the plan's
caps: ``saving``), the tier and outcome now and after, the indicative cost band for the
facility's size, and the frameworks the control cites (ids joined by ``, ``)."""


def best_answer(engine: RatingEngine, question: Question, as_of: dt.date) -> Any:
    """A control's best answer, the one a book's fixes move it to (a date control:
    done on the assessment date ``as_of``)."""
    control = question.control
    assert control is not None
    if question.kind is AnswerKind.DATE:
        return as_of
    if control.order is not None:
        return control.order[-1]
    steps = engine.remediation.controls[question.id].steps or ()
    return int(steps[-1]) if question.kind is AnswerKind.INTEGER else float(steps[-1])


def _value(column: pd.Series, row: int) -> Any:
    value = column.iat[row]
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, np.generic):
        return value.item()
    return value


def advice_table(
    engine: RatingEngine,
    answers: pd.DataFrame,
    states: pd.DataFrame,
    facilities: pd.DataFrame,
    features: np.ndarray,
    rating: Rating,
    limits: np.ndarray,
    retentions: np.ndarray,
    fixes: tuple[list[str | None], np.ndarray, np.ndarray],
) -> pa.Table:
    """The advice rows of scored facilities (see the module docstring).

    ``fixes`` is what the book's best fixes are: the fixes' question ids (``None`` for
    no fix), each row's positions among them by rank, and the technical premium saved.
    """
    names, picks, savings = fixes
    by_id = engine.questionnaire.by_id
    tiers = [t.tier for t in engine.plan.tiers]
    as_of = pd.to_datetime(facilities["assessed_on"]).dt.date.to_numpy()
    revenue_id = engine.plan.exposure_base.question
    revenue = answers[revenue_id].astype("Float64").fillna(0.0).to_numpy(dtype=np.float64)
    catalogue = engine.remediation
    columns: dict[str, list[Any]] = {field.name: [] for field in ADVICE_SCHEMA}
    order: list[int] = []  # each advice row's facility, to put them in book order
    none = len(names) - 1
    for rank in range(picks.shape[1]):
        rows = np.flatnonzero(picks[:, rank] != none)
        if not rows.size:
            continue
        after = _rate_fixed(engine, answers, features, rows, picks[rows, rank], names, as_of)
        after_rating = engine.rate(after[0], after[1], limits[rows], retentions[rows])
        for i, row in enumerate(rows.tolist()):
            question = by_id[str(names[picks[row, rank]])]
            control = question.control
            assert control is not None
            unknown = states[question.id].iat[row] == AnswerState.UNKNOWN
            current = _value(answers[question.id], row)
            low, high = catalogue.cost(question.id, float(revenue[row]))
            values = {
                "facility_id": facilities["facility_id"].iat[row],
                "facility_name": _value(facilities["facility_name"], row),
                "rank": rank + 1,
                "question_id": question.id,
                "question": question.label,
                "answer": DONT_KNOW if unknown else answer_text(question, current),
                "advised_answer": answer_text(question, best_answer(engine, question, as_of[row])),
                "premium": float(rating.premium[row]),
                "premium_after": float(after_rating.premium[i]),
                "technical_premium": money(float(rating.technical_premium[row])),
                "technical_premium_after": money(float(after_rating.technical_premium[i])),
                "saving": float(savings[row, rank]),
                "tier": tiers[int(rating.tier[row])],
                "tier_after": tiers[int(after_rating.tier[i])],
                "outcome": OUTCOMES[int(rating.outcome[row])],
                "outcome_after": OUTCOMES[int(after_rating.outcome[i])],
                "cost_low": low,
                "cost_high": high,
                "size_band": catalogue.size_band(float(revenue[row])).band,
                "hicp": ", ".join(control.frameworks.hicp),
                "cpg": ", ".join(control.frameworks.cpg),
                "cis": ", ".join(control.frameworks.cis),
            }
            for name, value in values.items():
                columns[name].append(value)
            order.append(int(row))
    table = pa.Table.from_arrays(
        [pa.array(columns[field.name], field.type) for field in ADVICE_SCHEMA],
        schema=ADVICE_SCHEMA,
    )
    # by facility in book order, then by rank (rows were added rank by rank)
    return table.take(pa.array(np.argsort(np.array(order, dtype=np.int64), kind="stable")))


def _rate_fixed(
    engine: RatingEngine,
    answers: pd.DataFrame,
    features: np.ndarray,
    rows: np.ndarray,
    picked: np.ndarray,
    names: list[str | None],
    as_of: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The features and rule hits of ``rows`` with each row's picked fix made."""
    fixed = features[rows].copy()
    changed = answers.iloc[rows].reset_index(drop=True).copy()
    for position in np.unique(picked):
        question = engine.questionnaire.by_id[str(names[position])]
        mine = picked == position
        column = engine.feature_index[question.id]
        anchor = dt.date(2000, 1, 1)  # a date control's best: done on the assessment date
        best = best_answer(engine, question, anchor)
        fixed[mine, column] = engine.control_level(question.id, best, anchor)
        values = changed[question.id].copy()
        if question.kind is AnswerKind.DATE:
            days = np.array(list(as_of[rows][mine]), dtype="datetime64[D]")
            values[mine] = pd.Series(days, dtype="datetime64[s]").astype(values.dtype).to_numpy()
        else:
            values[mine] = best
        changed[question.id] = values
    hits = engine.rule_hits(engine.rule_env(changed), len(rows))
    return fixed, hits
