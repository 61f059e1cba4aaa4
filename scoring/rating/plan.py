"""The rating plan: how expected losses become an outcome, a tier, a score and a premium.

A rating plan is data (``models/<model>/rating-plan.yaml``): limits and
retentions offered, per-peril sublimits, expense and profit loads, the minimum
premium, schedule caps, tier bands, the points scale and the knockout and
referral rules, each with its source. The file's header comment and
ARCHITECTURE.md give the formulas. Loading checks the plan against itself and
against the questionnaire; a plan that fails is refused with every reason.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scoring._files import read_document
from scoring.errors import InputError, Issue, RatingPlanError
from scoring.model import bounds
from scoring.questionnaire import expression as ex
from scoring.questionnaire.definition import Questionnaire
from scoring.questionnaire.typecheck import type_problems
from scoring.vocabulary import AnswerKind, Peril, Reason

PLAN_FILE = "rating-plan.yaml"
DefinitionT = TypeVar("DefinitionT", bound=BaseModel)

Money = Annotated[float, Field(ge=0, le=bounds.MAX_MONEY, allow_inf_nan=False)]
"""An amount in dollars, at most :data:`~scoring.model.bounds.MAX_MONEY`."""
Ratio = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]
Source = Annotated[str, Field(min_length=3)]
Outcome = Literal["quote", "refer", "decline"]
OUTCOMES: tuple[Outcome, ...] = ("quote", "refer", "decline")
"""Outcomes from best to worst."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuestionnaireRef(_Strict):
    id: str
    version: str


class ExposureBase(_Strict):
    question: str
    description: str


class Option(_Strict):
    """A limit or retention on offer; ``code`` is the questionnaire's answer code."""

    code: str = Field(min_length=1)
    amount: float = Field(gt=0, le=bounds.MAX_MONEY, allow_inf_nan=False)


class Sublimit(_Strict):
    """A peril's limit: a fixed amount, or a share of the policy limit."""

    amount: float | None = Field(default=None, gt=0, le=bounds.MAX_MONEY, allow_inf_nan=False)
    share_of_limit: float | None = Field(default=None, gt=0, le=1)
    source: Source

    @model_validator(mode="after")
    def _one_of(self) -> Sublimit:
        if (self.amount is None) == (self.share_of_limit is None):
            raise ValueError("give exactly one of amount and share_of_limit")
        return self

    def limit(self, policy_limit: float) -> float:
        """The peril's limit under a policy limit (never more than the policy limit)."""
        cap = self.amount if self.amount is not None else policy_limit * (self.share_of_limit or 1)
        return min(policy_limit, cap)


class LayerPricing(_Strict):
    method: Literal["lognormal_limited_expected_value"]
    source: Source


class Expenses(_Strict):
    fixed_per_policy: Money
    fixed_source: Source
    variable_ratio: Ratio
    variable_source: Source
    profit_provision: Ratio
    profit_source: Source

    @model_validator(mode="after")
    def _loads_below_one(self) -> Expenses:
        if self.variable_ratio + self.profit_provision >= 1:
            raise ValueError(
                f"variable_ratio ({self.variable_ratio}) plus profit_provision "
                f"({self.profit_provision}) must be below 1: the premium would be infinite"
            )
        return self


class Schedule(_Strict):
    """Caps on the schedule factor (the controls' effect on the premium)."""

    max_credit: float = Field(ge=0, lt=1)
    max_debit: float = Field(ge=0, le=bounds.MAX_SCHEDULE_DEBIT)
    source: Source
    floor_at_cost: bool = True
    """The offered premium is never below the facility's own expected loss in the layer
    plus expenses (the cost floor), whatever the schedule's caps; ``false`` lets the
    debit cap price a facility below its cost, and must be said in the plan."""


class Tier(_Strict):
    tier: str = Field(pattern=r"^[A-Z]$")
    below: float | None = Field(default=None, gt=0, le=bounds.MAX_TIER_BOUND, allow_inf_nan=False)
    """Upper bound of the band's relative risk; none for the last band."""
    description: str
    outcome: Literal["refer", "decline"] | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _reason_with_outcome(self) -> Tier:
        if (self.outcome is None) != (self.reason is None):
            raise ValueError(f"tier {self.tier}: give an outcome and its reason together")
        return self


class Points(_Strict):
    base: float = Field(ge=0, le=1000)
    pdo: float = Field(gt=0, le=1000)
    source: Source


class Rule(_Strict):
    """A knockout (decline) or referral, declared as a condition on the answers."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    outcome: Literal["refer", "decline"]
    when: str = Field(min_length=1)
    reason: str = Field(min_length=3)
    source: Source

    @cached_property
    def condition(self) -> ex.Node:
        return ex.parse(self.when)

    @cached_property
    def questions(self) -> tuple[str, ...]:
        return tuple(ex.references(self.condition))


class RatingPlan(_Strict):
    """A validated rating plan (see the module docstring)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: str = Field(min_length=1)
    questionnaire: QuestionnaireRef
    currency: Literal["USD"]
    exposure_base: ExposureBase
    class_questions: tuple[str, ...] = Field(min_length=1)
    limits: tuple[Option, ...] = Field(min_length=1)
    default_limit: str
    basic_limit: str
    basic_limit_source: Source
    retentions: tuple[Option, ...] = Field(min_length=1)
    default_retention: str
    sublimits: dict[Peril, Sublimit] = {}
    layer_pricing: LayerPricing
    expenses: Expenses
    minimum_premium: float = Field(gt=0, le=bounds.MAX_MONEY, allow_inf_nan=False)
    minimum_premium_source: Source
    schedule: Schedule
    tiers: tuple[Tier, ...] = Field(min_length=2)
    points: Points
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> RatingPlan:
        problems: list[str] = []
        for name, options in (("limits", self.limits), ("retentions", self.retentions)):
            codes = [o.code for o in options]
            if len(set(codes)) != len(codes):
                problems.append(f"{name}: codes repeat ({', '.join(codes)})")
            amounts = [o.amount for o in options]
            if amounts != sorted(set(amounts)):
                problems.append(f"{name}: amounts must rise strictly ({amounts})")
        limit_codes = {o.code for o in self.limits}
        for field in ("default_limit", "basic_limit"):
            if getattr(self, field) not in limit_codes:
                problems.append(f"{field} {getattr(self, field)!r} is not one of the limits")
        if self.default_retention not in {o.code for o in self.retentions}:
            problems.append(f"default_retention {self.default_retention!r} is not a retention")
        names = [t.tier for t in self.tiers]
        if names != sorted(set(names)):
            problems.append(f"tiers must be distinct letters from best to worst ({names})")
        bounds = [t.below for t in self.tiers]
        if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            problems.append("every tier but the last needs `below`; the last has none")
        elif bounds[:-1] != sorted(set(bounds[:-1])):  # type: ignore[type-var]
            problems.append(f"tier bands overlap or are out of order (below: {bounds[:-1]})")
        ids = [r.id for r in self.rules]
        if len(set(ids)) != len(ids):
            problems.append("rule ids repeat")
        for rule in self.rules:
            try:
                _ = rule.condition
            except ex.ExpressionError as exc:
                problems.append(f"rule {rule.id}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def limit(self, code: str | None) -> Option:
        """The limit offered under ``code`` (the default when None)."""
        return _option(self.limits, code or self.default_limit, "limit")

    def retention(self, code: str | None) -> Option:
        """The retention offered under ``code`` (the default when None)."""
        return _option(self.retentions, code or self.default_retention, "retention")

    def check_against(self, questionnaire: Questionnaire, source: str) -> None:
        """Refuse a plan whose questions, codes or rules the questionnaire does not know.

        Every rule's condition is type-checked against the questionnaire
        (:func:`~scoring.questionnaire.typecheck.type_problems`), so a rule that
        could fail when a facility is scored cannot load.
        """
        problems: list[str] = []
        refusal = questionnaire.refusal(
            "the plan", self.questionnaire.id, self.questionnaire.version
        )
        if refusal:
            problems.append(refusal)
        known = {q.id: q for q in questionnaire.questions}
        base = known.get(self.exposure_base.question)
        if base is None or not base.is_numeric:
            problems.append(
                f"exposure_base.question {self.exposure_base.question!r} is not a number question"
            )
        for qid in self.class_questions:
            if qid not in known:
                problems.append(f"class question {qid!r} is not in the questionnaire")
            elif known[qid].is_control:
                problems.append(f"class question {qid!r} is a control, not a class fact")
        for field, options in (
            ("requested_limit", self.limits),
            ("requested_retention", self.retentions),
        ):
            question = known.get(field)
            if question is not None and not question.cover:
                problems.append(
                    f"{field} chooses the cover the plan prices, so the questionnaire must mark "
                    "it `cover: true` (a cover question is never a risk feature)"
                )
            if question is not None and question.kind is AnswerKind.SINGLE_CHOICE:
                unknown = [o.code for o in options if o.code not in question.choice_codes]
                if unknown:
                    problems.append(f"{field} has no choice(s) {', '.join(unknown)}")
        for rule in self.rules:
            missing = [q for q in rule.questions if q not in known]
            if missing:
                problems.append(
                    f"rule {rule.id} refers to unknown question(s) {', '.join(missing)}"
                )
            problems += [
                f"rule {rule.id}: {problem.message}, in {rule.when!r}"
                for problem in type_problems(rule.condition, known)
                if problem.code != "unknown-reference"
            ]
        if problems:
            raise RatingPlanError(source, problems)


def _option(options: tuple[Option, ...], code: str, what: str) -> Option:
    for option in options:
        if option.code == code:
            return option
    offered = ", ".join(f"{o.code} (${o.amount:,.0f})" for o in options)
    raise InputError(
        [
            Issue(
                Reason.NOT_A_CHOICE,
                f"this {what} is not offered by the rating plan",
                question_id=f"requested_{what}",
                value=code,
                allowed=offered,
            )
        ]
    )


def load_rating_plan(path: Path, questionnaire: Questionnaire | None = None) -> RatingPlan:
    """Read and check a rating plan file (YAML or JSON; never executed).

    Raises
    ------
    RatingPlanError
        With every problem found: unreadable file, unknown fields, overlapping
        tier bands, loads summing to 1 or more, unknown perils, rules that do not
        parse or refer to unknown questions, another questionnaire.
    """
    plan = read_definition(path, RatingPlan)
    if questionnaire is not None:
        plan.check_against(questionnaire, str(path))
    return plan


def _shown(value: object) -> str:
    """A value as given in a file, shortened to a readable length."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_definition(path: Path, kind: type[DefinitionT]) -> DefinitionT:
    """Read a rating definition file (YAML or JSON, never executed) into ``kind``.

    Raises
    ------
    RatingPlanError
        With every problem: an unreadable file, or each field that fails ``kind``.
    """
    source = str(path)
    try:
        document = read_document(path)
    except InputError as exc:
        raise RatingPlanError(source, [i.message for i in exc.issues]) from exc
    try:
        return kind.model_validate(document)
    except ValidationError as exc:
        raise RatingPlanError(
            source,
            [
                f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}"
                + ("" if isinstance(e["input"], dict | list) else f" (given {_shown(e['input'])})")
                for e in exc.errors()
            ],
        ) from exc
