"""The rating engine: features and answers -> expected loss, tier, score, premium, outcome.

:meth:`RatingEngine.rate` is the one implementation of the rating plan. It works
column-wise on any number of rows - one applicant, the variants of one applicant
that remediation advice compares, or a chunk of a book - so every path prices by
the same rules. The formulas are in the rating plan file's header and in
ARCHITECTURE.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import ndtr

from scoring._arrow import to_mask
from scoring._files import file_sha256
from scoring.errors import InputError, Issue
from scoring.features.encoding import AnswerEncoder
from scoring.model.loss_model import MODEL_FILE, LossModel, load_model
from scoring.questionnaire import expression as ex
from scoring.questionnaire.definition import Questionnaire
from scoring.questionnaire.loader import bundled_questionnaire_reading
from scoring.rating.plan import OUTCOMES, PLAN_FILE, RatingPlan, load_rating_plan
from scoring.rating.remediation import (
    RemediationCatalogue,
    bundled_remediation_path,
    load_remediation,
)
from scoring.vocabulary import AnswerState, Peril, Reason

PERILS = tuple(Peril)
_BLOCK = 256
"""Rows per block of the matrix product (see RatingEngine.linear)."""
_VERDICT_CACHE = 100_000
"""Memoised rule verdicts kept before the memo is cleared."""


def lognormal_lev(limit: np.ndarray, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Limited expected value E[min(X, limit)] of a lognormal claim with this mean and shape.

    LEV(u) = exp(mu + s^2/2) Phi((ln u - mu - s^2)/s) + u (1 - Phi((ln u - mu)/s)),
    with mu = ln(mean) - s^2/2 (shared/domain/calibration.md, rating formulas).
    """
    mu = np.log(mean) - sigma**2 / 2
    with np.errstate(divide="ignore"):
        log_u = np.log(limit)
    return np.asarray(
        mean * ndtr((log_u - mu - sigma**2) / sigma) + limit * (1 - ndtr((log_u - mu) / sigma)),
        dtype=np.float64,
    )


def peril_total(by_peril: np.ndarray) -> np.ndarray:
    """Row totals of a (rows, perils) array, added peril by peril in peril order.

    Every total of the rating (expected loss, the class average's, the layer's) is
    added this one way, so the single applicant, its scenarios and a book agree to
    the last bit; it is also faster than numpy's reduction over five columns.
    """
    return _added(list(by_peril.T))


def _added(columns: list[np.ndarray]) -> np.ndarray:
    """The columns added one after another, in order (see :func:`peril_total`)."""
    total = columns[0].copy()
    for column in columns[1:]:
        total += column
    return total


@dataclass(frozen=True)
class Rating:
    """The rating of n rows; every array has n rows (perils along axis 1)."""

    linear: np.ndarray
    """The linear predictors the rating comes from (see RatingEngine.linear)."""

    expected_claims: np.ndarray
    """Claims a year per peril, (n, perils)."""
    mean_claim: np.ndarray
    expected_loss: np.ndarray
    """Ground-up expected loss a year per peril, (n, perils)."""
    class_frequency: np.ndarray
    """Claims a year per peril of the average facility of the row's class, (n, perils)."""
    class_mean_claim: np.ndarray
    class_expected_loss: np.ndarray
    """Ground-up expected loss of the average facility of the row's class, (n, perils)."""
    relative_risk: np.ndarray
    tier: np.ndarray
    """Index into the plan's tiers (0 = best)."""
    score: np.ndarray
    class_layer_loss: np.ndarray
    """Expected loss in the layer for the average facility of the class, (n, perils)."""
    schedule_factor: np.ndarray
    pure_premium: np.ndarray
    gross_premium: np.ndarray
    premium: np.ndarray
    """The offered premium: the schedule-rated one, at least the minimum and (unless the
    plan allows it) the cost floor, rounded to the dollar."""
    layer_loss: np.ndarray
    """The facility's own expected loss a year in the layer, (n, perils)."""
    technical_premium: np.ndarray
    """The facility's own layer loss plus expenses and profit, before any cap or minimum."""
    premium_cap: np.ndarray
    """Index into PREMIUM_CAPS: what holds the offered premium away from the schedule's
    uncapped figure (0: nothing)."""
    rule_hits: np.ndarray
    """(n, rules) booleans, in the plan's rule order."""
    outcome: np.ndarray
    """Index into OUTCOMES (0 = quote, 1 = refer, 2 = decline)."""

    def take(self, rows: np.ndarray | slice) -> Rating:
        """The rating of some rows, in the order given."""
        return Rating(**{k: v[rows] for k, v in self.__dict__.items()})


@dataclass(frozen=True)
class ControlChange:
    """Some rated rows after one control's change (see ControlPricing.price)."""

    premium: np.ndarray
    expected_loss: np.ndarray
    """Ground-up expected loss a year, all perils (see :func:`peril_total`)."""
    technical_premium: np.ndarray
    relative_risk: np.ndarray


PREMIUM_CAPS: tuple[str, ...] = (
    "",
    "schedule_debit_cap",
    "schedule_credit_cap",
    "minimum_premium",
    "cost_floor",
)
"""What can hold the offered premium away from the schedule's uncapped figure: nothing;
the schedule's largest debit (a facility riskier than the cap is priced at it); its
largest credit; the plan's minimum premium; the cost floor (the facility's own layer
loss plus expenses, which the offered premium never falls below unless the plan says
``floor_at_cost: false``)."""


@dataclass(frozen=True)
class Premiums:
    """The premiums of rated rows (see :meth:`RatingEngine.premiums`)."""

    pure: np.ndarray
    gross: np.ndarray
    offered: np.ndarray
    technical: np.ndarray
    cap: np.ndarray


class RatingEngine:
    """A loss model, a rating plan and a remediation catalogue, checked against each other.

    Build it with :meth:`load` (verifies the model's hashes and every file against
    the questionnaire). It holds no per-facility state, so one engine serves any
    number of threads or requests.
    """

    def __init__(
        self,
        model: LossModel,
        plan: RatingPlan,
        questionnaire: Questionnaire,
        remediation: RemediationCatalogue,
        *,
        model_sha256: str = "",
        plan_sha256: str = "",
    ) -> None:
        self.model = model
        self.plan = plan
        self.questionnaire = questionnaire
        self.remediation = remediation
        self.model_sha256 = model_sha256
        self.plan_sha256 = plan_sha256
        self.encoder: AnswerEncoder = model.encoder(questionnaire)
        info = self.encoder.feature_info
        self.feature_questions: np.ndarray = info["question_id"].to_numpy(dtype=object)
        self.is_class: np.ndarray = np.isin(self.feature_questions, list(plan.class_questions))
        self.means = np.asarray(model.feature_means, dtype=np.float64)
        freq = [model.perils[p].frequency for p in PERILS]
        sev = [model.perils[p].severity for p in PERILS]
        self.freq_beta = np.column_stack([np.asarray(g.coefficients) for g in freq])
        self.sev_beta = np.column_stack([np.asarray(g.coefficients) for g in sev])
        self.freq_intercept = np.array([g.intercept for g in freq])
        self.sev_intercept = np.array([g.intercept for g in sev])
        self.sigma = np.array([model.perils[p].claim_sigma for p in PERILS])
        # four linear predictors per peril, side by side: frequency, severity, and the
        # same for the class average (class features as given, every other feature at
        # the book mean)
        other = ~self.is_class
        self.coefficients = np.hstack(
            [
                self.freq_beta,
                self.sev_beta,
                self.freq_beta * self.is_class[:, None],
                self.sev_beta * self.is_class[:, None],
            ]
        )
        self.intercepts = np.concatenate(
            [
                self.freq_intercept,
                self.sev_intercept,
                self.freq_intercept + self.means[other] @ self.freq_beta[other],
                self.sev_intercept + self.means[other] @ self.sev_beta[other],
            ]
        )
        bounds = [t.below for t in plan.tiers[:-1]]
        self._tier_bounds = np.asarray(bounds, dtype=np.float64)
        self._tier_outcome = np.array(
            [OUTCOMES.index(t.outcome) if t.outcome else 0 for t in plan.tiers]
        )
        self._rule_outcome = np.array([OUTCOMES.index(r.outcome) for r in plan.rules], dtype=int)
        self.rule_questions: tuple[str, ...] = tuple(
            dict.fromkeys(q for rule in plan.rules for q in rule.questions)
        )

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        model_dir: Path,
        plan_path: Path | None = None,
        *,
        questionnaire: Questionnaire | None = None,
        remediation_path: Path | None = None,
    ) -> RatingEngine:
        """Load and verify a model folder, its rating plan and the remediation catalogue.

        The plan defaults to ``rating-plan.yaml`` in the model folder, the
        questionnaire to the newest bundled one that reads the model's (the one it
        was trained for, or a later version declaring a migration from it), the
        catalogue to the
        questionnaire's bundled one.

        Raises
        ------
        InputError
            The model folder fails verification.
        RatingPlanError
            The plan or catalogue fails its checks.
        """
        model = load_model(model_dir, questionnaire)
        questionnaire = questionnaire or bundled_questionnaire_reading(
            model.questionnaire.id, model.questionnaire.version
        )
        plan_path = plan_path or model_dir / PLAN_FILE
        plan = load_rating_plan(plan_path, questionnaire)
        remediation_path = remediation_path or bundled_remediation_path(questionnaire)
        remediation = load_remediation(remediation_path, questionnaire)
        return cls(
            model,
            plan,
            questionnaire,
            remediation,
            model_sha256=file_sha256(model_dir / MODEL_FILE),
            plan_sha256=file_sha256(plan_path),
        )

    def cover_code(self, what: str, text: str) -> str:
        """The code of a limit or retention (``what``) written as a person writes it.

        The text is read by the reader's own rule for the questionnaire's
        ``requested_<what>`` question - its code or its label, any case, spaces around
        ignored - and must be an option of the rating plan.

        Raises
        ------
        InputError
            The text is neither a code nor a label of that question, or the plan does
            not offer it; the issue lists what is allowed.

        Examples
        --------
        >>> from scoring import default_engine
        >>> default_engine().cover_code("limit", "$2 Million")
        'limit_2m'
        """
        from scoring.responses.coercion import coerce  # the reader's rule for a choice

        question_id = f"requested_{what}"
        question = self.questionnaire.by_id[question_id]
        coerced = coerce(pa.array([text], pa.string()), question)
        code = coerced.values[0].as_py()
        if coerced.failures or coerced.states[0] != AnswerState.ANSWERED or code is None:
            allowed = "; ".join(f"{c.code} ({c.label})" for c in question.choices or ())
            raise InputError(
                [
                    Issue(
                        Reason.NOT_A_CHOICE,
                        f"not a {what} this questionnaire offers",
                        question_id=question_id,
                        value=text,
                        allowed=allowed,
                    )
                ]
            )
        options = self.plan.limits if what == "limit" else self.plan.retentions
        if not any(option.code == code for option in options):
            offered = ", ".join(option.code for option in options)
            raise InputError(
                [
                    Issue(
                        Reason.NOT_A_CHOICE,
                        f"this {what} is not offered by the rating plan",
                        question_id=question_id,
                        value=text,
                        allowed=offered,
                    )
                ]
            )
        return str(code)

    # -- the rating plan, column-wise ------------------------------------------------------
    def rule_env(self, answers: pd.DataFrame) -> dict[str, pa.Array]:
        """The answers the rules read, as typed arrays."""
        env: dict[str, pa.Array] = {}
        for qid in self.rule_questions:
            column = answers[qid]
            if pd.api.types.is_datetime64_any_dtype(column.dtype):
                env[qid] = pa.array(
                    column.to_numpy(dtype="datetime64[D]"),
                    pa.date32(),
                    mask=column.isna().to_numpy(),
                )
            else:
                env[qid] = pa.array(column, from_pandas=True)
        return env

    def rule_hits(self, env: Mapping[str, pa.Array], length: int) -> np.ndarray:
        """(rows, rules) booleans: which rules each row triggers."""
        hits = np.zeros((length, len(self.plan.rules)), dtype=np.bool_)
        for j, rule in enumerate(self.plan.rules):
            hits[:, j] = to_mask(ex.evaluate(rule.condition, env, length=length))
        return hits

    def applicant_rule_hits(self, env: Mapping[str, pa.Array]) -> np.ndarray:
        """(1, rules) booleans for one applicant, through the memo of :meth:`rule_verdicts`."""
        values = {qid: column[0].as_py() for qid, column in env.items()}
        hits = np.zeros((1, len(self.plan.rules)), dtype=np.bool_)
        for j, rule in enumerate(self.plan.rules):
            answers = [tuple(values[q] for q in rule.questions)]
            hits[0, j] = self.rule_verdicts(j, answers, env)[0]
        return hits

    def rule_verdicts(
        self, rule_index: int, answers: Sequence[tuple[Any, ...]], types: Mapping[str, pa.Array]
    ) -> np.ndarray:
        """One rule's verdict on each tuple of answers (to the rule's questions, in order).

        Verdicts are memoised per distinct tuple; new tuples are evaluated together,
        column-wise, by the same expression code as :meth:`rule_hits`.
        """
        rule = self.plan.rules[rule_index]
        cache = self._verdicts
        missing = list(dict.fromkeys(a for a in answers if (rule_index, a) not in cache))
        if missing:
            if len(cache) > _VERDICT_CACHE:
                cache.clear()
            env = {
                qid: pa.array([a[k] for a in missing], type=types[qid].type)
                for k, qid in enumerate(rule.questions)
            }
            verdicts = to_mask(ex.evaluate(rule.condition, env, length=len(missing)))
            cache.update(((rule_index, a), bool(v)) for a, v in zip(missing, verdicts, strict=True))
        return np.array([cache[(rule_index, a)] for a in answers], dtype=np.bool_)

    @cached_property
    def _verdicts(self) -> dict[tuple[int, tuple[Any, ...]], bool]:
        return {}

    def layer_loss(
        self,
        expected_claims: np.ndarray,
        mean_claim: np.ndarray,
        limit: np.ndarray,
        retention: np.ndarray,
        perils: np.ndarray | None = None,
    ) -> np.ndarray:
        """Expected loss in the layer (retention, retention + limit] per peril, (n, perils);
        of the ``perils`` given (indices, in that order) when the columns are only theirs."""
        columns = np.arange(len(PERILS)) if perils is None else np.asarray(perils)
        limit = np.broadcast_to(np.asarray(limit, dtype=np.float64), expected_claims.shape[:1])
        retention = np.broadcast_to(
            np.asarray(retention, dtype=np.float64), expected_claims.shape[:1]
        )
        peril_limit = self.peril_limits(limit, columns)
        top = retention[:, None] + peril_limit
        sigma = np.broadcast_to(self.sigma[columns], expected_claims.shape)
        layer = lognormal_lev(top, mean_claim, sigma) - lognormal_lev(
            np.broadcast_to(retention[:, None], top.shape), mean_claim, sigma
        )
        return np.asarray(expected_claims * np.maximum(layer, 0.0), dtype=np.float64)

    def peril_limits(self, limit: np.ndarray, perils: np.ndarray | None = None) -> np.ndarray:
        """Each peril's limit in the layer, (n, perils): the policy limit, or the plan's
        sublimit of the peril when lower; of the ``perils`` given (indices) when only
        theirs. A claim X pays min(max(X - retention, 0), this)."""
        columns = np.arange(len(PERILS)) if perils is None else np.asarray(perils)
        limit = np.asarray(limit, dtype=np.float64)
        return np.column_stack(
            [
                np.minimum(limit, self._sublimit(PERILS[p], limit))
                if PERILS[p] in self.plan.sublimits
                else limit
                for p in columns
            ]
        )

    def _sublimit(self, peril: Peril, limit: np.ndarray) -> np.ndarray:
        sub = self.plan.sublimits[peril]
        if sub.amount is not None:
            return np.full_like(limit, sub.amount)
        return limit * float(sub.share_of_limit or 1.0)

    def premium_from(self, class_layer: np.ndarray, schedule: np.ndarray) -> tuple[np.ndarray, ...]:
        """Pure, gross and final premium from the class average's layer loss (in total,
        see :func:`peril_total`) and the schedule factor."""
        expenses = self.plan.expenses
        pure = class_layer * schedule
        gross = (pure + expenses.fixed_per_policy) / (
            1 - expenses.variable_ratio - expenses.profit_provision
        )
        premium = np.maximum(self.plan.minimum_premium, np.round(gross))
        return pure, gross, premium

    def premiums(
        self, class_layer: np.ndarray, relative: np.ndarray, own_layer: np.ndarray
    ) -> Premiums:
        """Every premium of rated rows, from the class average's layer loss, the relative
        risk and the facility's own layer loss (totals over perils, see
        :func:`peril_total`).

        * pure and gross: the class average's layer loss times the schedule factor (the
          relative risk within the plan's caps), then expenses and profit;
        * technical: the facility's own layer loss, then expenses and profit, with no cap;
        * offered: the gross premium rounded, at least the minimum premium and, unless the
          plan's schedule says ``floor_at_cost: false``, at least the cost floor (own layer
          loss plus expenses, no profit): a quote never prices below what it costs;
        * cap: what binds (an index into :data:`PREMIUM_CAPS`).
        """
        expenses = self.plan.expenses
        schedule = self.schedule_factor(relative)
        pure, gross, premium = self.premium_from(class_layer, schedule)
        technical = (own_layer + expenses.fixed_per_policy) / (
            1 - expenses.variable_ratio - expenses.profit_provision
        )
        cap = np.zeros(len(premium), dtype=np.int64)
        limits = self.plan.schedule
        cap[relative > 1 + limits.max_debit] = 1
        cap[relative < 1 - limits.max_credit] = 2
        cap[premium > np.round(gross)] = 3
        if limits.floor_at_cost:
            floor = np.round(
                (own_layer + expenses.fixed_per_policy) / (1 - expenses.variable_ratio)
            )
            below = premium < floor
            premium = np.where(below, floor, premium)
            cap[below] = 4
        return Premiums(pure=pure, gross=gross, offered=premium, technical=technical, cap=cap)

    def linear(self, features: np.ndarray) -> np.ndarray:
        """Linear predictors, (n, 4 x perils): frequency, severity, class frequency, class severity.

        Rows are multiplied in blocks of a fixed size (the last one padded), so that a
        row's figures do not depend on how many rows are rated with it: a matrix
        product over another number of rows may sum in another order, and the single
        applicant and the book must agree to the last bit.
        """
        n = len(features)
        out = np.empty((n, self.coefficients.shape[1]))
        for start in range(0, n, _BLOCK):
            block = features[start : start + _BLOCK]
            if len(block) < _BLOCK:
                padded = np.zeros((_BLOCK, features.shape[1]))
                padded[: len(block)] = block
                block = padded
            out[start : start + _BLOCK] = (block @ self.coefficients)[: min(_BLOCK, n - start)]
        out += self.intercepts
        return out

    def change(
        self, columns: int | np.ndarray, levels: np.ndarray, current: np.ndarray
    ) -> np.ndarray:
        """The change of the linear predictors, (n, 4 x perils), when controls move from
        their ``current`` levels to ``levels``: row i moves feature ``columns[i]`` (or
        every row the one feature ``columns``), and only its own coefficients act."""
        return np.asarray(
            (levels - current)[:, None] * self.coefficients[columns], dtype=np.float64
        )

    def rate(
        self,
        features: np.ndarray,
        rule_hits: np.ndarray,
        limit: np.ndarray | float,
        retention: np.ndarray | float,
    ) -> Rating:
        """Rate n rows of features under per-row (or one) limit and retention amounts."""
        return self.rate_linear(self.linear(features), rule_hits, limit, retention)

    def rate_linear(
        self,
        linear: np.ndarray,
        rule_hits: np.ndarray,
        limit: np.ndarray | float,
        retention: np.ndarray | float,
        *,
        class_layer: np.ndarray | None = None,
    ) -> Rating:
        """Rate n rows given their linear predictors (see :meth:`linear`).

        ``class_layer`` may pass the class average's layer loss of the same rows (or of
        one row, for all) when it is already known - scenarios change only controls,
        never class answers - so it is not priced again.
        """
        k = len(PERILS)
        n = len(linear)
        freq = np.exp(linear[:, :k])
        sev = np.exp(linear[:, k : 2 * k])
        class_freq = np.exp(linear[:, 2 * k : 3 * k])
        class_sev = np.exp(linear[:, 3 * k :])
        loss = freq * sev
        class_loss = class_freq * class_sev
        if class_layer is None:
            layer = self.layer_loss(
                class_freq,
                class_sev,
                np.asarray(limit, np.float64),
                np.asarray(retention, np.float64),
            )
        else:
            layer = np.broadcast_to(class_layer, (n, k)).copy()
        own_layer = self.layer_loss(
            freq, sev, np.asarray(limit, np.float64), np.asarray(retention, np.float64)
        )
        relative = peril_total(loss) / peril_total(class_loss)
        tier = self.tier_of(relative)
        points = self.plan.points
        score = np.clip(np.round(points.base - points.pdo * np.log2(relative)), 0, 1000)
        schedule = self.schedule_factor(relative)
        priced = self.premiums(peril_total(layer), relative, peril_total(own_layer))
        outcome = self.outcome_of(rule_hits, tier)
        return Rating(
            linear=linear,
            expected_claims=freq,
            mean_claim=sev,
            expected_loss=loss,
            class_frequency=class_freq,
            class_mean_claim=class_sev,
            class_expected_loss=class_loss,
            relative_risk=relative,
            tier=tier,
            score=score.astype(np.int64),
            class_layer_loss=layer,
            schedule_factor=schedule,
            pure_premium=priced.pure,
            gross_premium=priced.gross,
            premium=priced.offered,
            layer_loss=own_layer,
            technical_premium=priced.technical,
            premium_cap=priced.cap,
            rule_hits=rule_hits,
            outcome=outcome,
        )

    def tier_of(self, relative: np.ndarray) -> np.ndarray:
        """Each row's tier (an index into the plan's tiers) from its relative risk."""
        return np.asarray(np.searchsorted(self._tier_bounds, relative, side="right"))

    def outcome_of(self, rule_hits: np.ndarray, tier: np.ndarray) -> np.ndarray:
        """Each row's outcome (an index into OUTCOMES): the worst of its rules' and its
        tier's."""
        return self.outcome_from(self.rule_outcome(rule_hits), tier)

    def rule_outcome(self, rule_hits: np.ndarray) -> np.ndarray:
        """Each row's worst outcome among the rules it triggers (0, quote, for none)."""
        return np.asarray(np.where(rule_hits, self._rule_outcome, 0).max(axis=1, initial=0))

    def outcome_from(self, rule_outcome: np.ndarray, tier: np.ndarray) -> np.ndarray:
        """:meth:`outcome_of` from the rows' :meth:`rule_outcome` and tiers."""
        return np.asarray(np.maximum(rule_outcome, self._tier_outcome[tier]))

    def schedule_factor(self, relative: np.ndarray) -> np.ndarray:
        """The schedule factor: relative risk within the plan's credit and debit caps."""
        schedule = self.plan.schedule
        return np.asarray(
            np.clip(relative, 1 - schedule.max_credit, 1 + schedule.max_debit), dtype=np.float64
        )

    def control_pricing(
        self, base: Rating, limit: np.ndarray | float, retention: np.ndarray | float
    ) -> ControlPricing:
        """Rated rows (under these limits and retentions) prepared for pricing one
        control's change at a time."""
        return ControlPricing(self, base, limit, retention)

    # -- controls as levels ----------------------------------------------------------------
    @cached_property
    def feature_index(self) -> dict[str, int]:
        return {str(name): i for i, name in enumerate(self.encoder.feature_names)}

    def control_level(self, question_id: str, answer: Any, as_of: dt.date) -> float:
        """The feature value (0 worst .. 1 best) the model reads for one control answer."""
        return self._level(question_id, answer, as_of)

    def _level(self, question_id: str, answer: Any, as_of: dt.date) -> float:
        key = (question_id, answer, as_of)
        cache = self._level_cache
        if key not in cache:
            cache[key] = self.encoder.control_level(
                self.questionnaire.by_id[question_id], answer, as_of
            )
        return cache[key]

    @cached_property
    def _level_cache(self) -> dict[tuple[str, Any, dt.date], float]:
        return {}


class ControlPricing:
    """Rated rows prepared for pricing one control's change at a time, for many rows.

    :meth:`price` gives the premium and expected loss that :meth:`RatingEngine.rate_linear`
    gives for the base's linear predictors plus :meth:`RatingEngine.change`, to the
    last bit: only the perils whose coefficients of the control are not zero are
    recomputed, the others keep the base's values (which adding a change of zero
    reproduces); rules, tiers and the class average, which a control does not move
    or which do not enter the premium, are left out. A book's best fixes are priced
    with it (``scoring.portfolio.batch.best_fixes``).
    """

    def __init__(
        self,
        engine: RatingEngine,
        base: Rating,
        limit: np.ndarray | float,
        retention: np.ndarray | float,
    ) -> None:
        self.engine = engine
        # columns as contiguous rows: each price() gathers a few of them
        self._linear = np.ascontiguousarray(base.linear.T)
        self._loss = np.ascontiguousarray(base.expected_loss.T)
        self._layer = np.ascontiguousarray(base.layer_loss.T)
        self._class_loss = peril_total(base.class_expected_loss)
        self._class_layer = peril_total(base.class_layer_loss)
        self._limit = np.asarray(limit, dtype=np.float64)
        self._retention = np.asarray(retention, dtype=np.float64)

    def price(
        self, rows: np.ndarray, column: int, levels: np.ndarray | float, current: np.ndarray
    ) -> ControlChange:
        """Premium and expected loss of ``rows`` when feature ``column`` (a control)
        moves from its ``current`` levels to ``levels`` (per row, or one for all)."""
        engine = self.engine
        k = len(PERILS)
        beta = engine.coefficients[column]
        delta = levels - current
        loss = [self._loss[p][rows] for p in range(k)]
        layer = [self._layer[p][rows] for p in range(k)]
        moved = np.flatnonzero((beta[:k] != 0) | (beta[k : 2 * k] != 0))
        if moved.size:
            frequency = np.exp(self._linear[moved][:, rows] + np.outer(beta[moved], delta))
            severity = np.exp(self._linear[k + moved][:, rows] + np.outer(beta[k + moved], delta))
            limit = self._limit if self._limit.ndim == 0 else self._limit[rows]
            retention = self._retention if self._retention.ndim == 0 else self._retention[rows]
            in_layer = engine.layer_loss(frequency.T, severity.T, limit, retention, moved)
            for j, p in enumerate(moved):
                loss[p] = frequency[j] * severity[j]
                layer[p] = in_layer[:, j]
        total = _added(loss)
        relative = total / self._class_loss[rows]
        priced = engine.premiums(self._class_layer[rows], relative, _added(layer))
        return ControlChange(
            premium=priced.offered,
            expected_loss=total,
            technical_premium=priced.technical,
            relative_risk=relative,
        )
