"""How far one answer may move a peril's expected loss: each coefficient's bounds.

Declared once here; training fits within them (glum's coefficient bounds) and a model
is checked against them when it is loaded (:mod:`scoring.model.checks`):

* a **control**'s coefficient is at most 0: a better answer never raises expected loss;
* a **history** question's (``history: true``) is at least 0: a larger number is a
  worse history and never lowers expected loss; of a yes/no history question, "yes"
  is at least 0 and "no" at most 0 (one of the two is the pinned base level);
* a **number** (a number, percent or date question's value feature, capped at the
  training book's quantiles; a numeric or date control's level; a number's "unknown"
  flag) is bounded in size: its frequency and severity coefficients together, times
  the range of values the feature takes, are at most ``log(max_relativity)`` of its
  question's transform. So no answer, against any other in the form's range, moves
  a peril's expected loss (frequency times claim size) by more than that factor.
  Frequency is fitted first and severity may use what frequency left.

A choice that is not a control or history has no bound but the plausible ranges of
:mod:`scoring.model.bounds`: it takes one of a few fixed answers, each a relativity
the model card shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scoring.features.encoding import AnswerEncoder
from scoring.vocabulary import AnswerKind, Encoding

TOLERANCE = 1e-6
"""Relative slack of the size check on a loaded model: coefficients are stored to
eight significant digits, so a bound met by the fit may be missed by a few units in
the eighth."""


@dataclass(frozen=True)
class FeatureLimits:
    """The sign and size limits of every feature of one encoder, in feature order."""

    names: tuple[str, ...]
    questions: tuple[str, ...]
    lower: np.ndarray
    """Sign bound below: 0 for a history feature that may only raise; else -inf."""
    upper: np.ndarray
    """Sign bound above: 0 for a control, or a history feature that may only lower."""
    span: np.ndarray
    """The range of values the feature takes (NaN for a feature not bounded in size, or a
    capped feature whose cap was never learned)."""
    budget: np.ndarray
    """``log(max_relativity)`` of the feature's question (NaN when not bounded in size)."""

    def bounds(self, used: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Coefficient bounds of a fit: the sign bounds, narrowed to what the size budget
        leaves once ``used`` (log-scale effect already spent per feature, by the
        frequency fit) is taken from it. A feature whose range is 0 is pinned at 0."""
        spent = np.zeros(len(self.names)) if used is None else np.asarray(used, np.float64)
        sized = ~np.isnan(self.budget)
        room = np.full(len(self.names), np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            left = np.maximum(self.budget - spent, 0.0)
            room[sized] = np.where(self.span[sized] > 0, left[sized] / self.span[sized], 0.0)
        return np.maximum(self.lower, -room), np.minimum(self.upper, room)

    def problems(self, part: str, frequency: np.ndarray, severity: np.ndarray) -> list[str]:
        """The ways a peril's fitted coefficients break these limits, in words."""
        found: list[str] = []
        for k, name in enumerate(self.names):
            for which, beta in (("frequency", frequency[k]), ("severity", severity[k])):
                if beta > self.upper[k]:
                    found.append(
                        f"{part}.{which}.coefficients.{name} is {beta:.6g}; a better "
                        "answer would raise expected loss (at most 0 is allowed)"
                    )
                if beta < self.lower[k]:
                    found.append(
                        f"{part}.{which}.coefficients.{name} is {beta:.6g}; a worse history "
                        "would lower expected loss (at least 0 is allowed)"
                    )
            if math.isnan(self.budget[k]):
                continue
            if math.isnan(self.span[k]):
                found.append(
                    f"features.{name}: no cap learned from the training book; "
                    "retrain the model with this version of carescore"
                )
                continue
            moved = (abs(frequency[k]) + abs(severity[k])) * self.span[k]
            if moved > self.budget[k] * (1 + TOLERANCE) + 1e-12:
                found.append(
                    f"{part}: {name} moves expected loss by up to {_times(moved)} "
                    f"over its range; its question allows at most "
                    f"x{math.exp(self.budget[k]):.4g}"
                )
        return found


def _times(log_factor: float) -> str:
    """A factor given by its log, as ``x12.5`` (or beyond what a float holds)."""
    if log_factor > math.log(1e300):
        return "more than x1e300"
    return f"x{math.exp(log_factor):.4g}"


def feature_limits(encoder: AnswerEncoder) -> FeatureLimits:
    """The limits of every feature ``encoder`` produces, its learned caps included."""
    info = encoder.feature_info
    questionnaire = encoder.questionnaire
    capped = encoder.capped_features
    n = len(info)
    lower, upper = np.full(n, -np.inf), np.full(n, np.inf)
    span, budget = np.full(n, np.nan), np.full(n, np.nan)
    for k, (name, qid, encoding) in enumerate(
        zip(info["feature"], info["question_id"], info["encoding"], strict=True)
    ):
        question = questionnaire.by_id[str(qid)]
        name = str(name)
        if question.control is not None:
            upper[k] = 0.0
        if question.history:
            if question.kind is AnswerKind.YES_NO:
                if name.endswith("=no"):
                    upper[k] = 0.0
                else:
                    lower[k] = 0.0
            elif not name.endswith("__unknown"):
                lower[k] = 0.0
        numeric = question.is_numeric or question.kind is AnswerKind.DATE
        if numeric or (question.control is not None and encoding == Encoding.ORDINAL.value):
            budget[k] = math.log(question.transform.max_relativity)
            if name in capped:
                cap = encoder.caps.get(name)
                span[k] = math.nan if cap is None else cap[1] - cap[0]
            else:  # a control's level, or an "unknown" flag
                span[k] = 1.0
    return FeatureLimits(
        names=tuple(str(f) for f in info["feature"]),
        questions=tuple(str(q) for q in info["question_id"]),
        lower=lower,
        upper=upper,
        span=span,
        budget=budget,
    )
