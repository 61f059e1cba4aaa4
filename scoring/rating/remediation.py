"""The remediation catalogue: what each fix costs, and which answers to advise.

A catalogue is data (``questionnaires/remediation/<questionnaire>.yaml``): cost
classes with indicative first-year cost ranges per facility size band, and for
every actionable control its cost class and, for number controls, the answers to
advise (``steps``, worst to best). Loading checks it against the questionnaire:
every actionable control has an entry, steps lie within the question's range and
improve in the control's direction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scoring._resources import data_dir
from scoring.errors import RatingPlanError
from scoring.model import bounds
from scoring.questionnaire.definition import Question, Questionnaire
from scoring.rating.plan import read_definition
from scoring.vocabulary import AnswerKind, Better

Cost = Annotated[float, Field(ge=0, le=bounds.MAX_MONEY, allow_inf_nan=False)]
"""A cost in dollars, at most :data:`~scoring.model.bounds.MAX_MONEY`."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SizeBand(_Strict):
    band: Literal["small", "medium", "large"]
    below: float | None = Field(default=None, gt=0, le=bounds.MAX_MONEY, allow_inf_nan=False)
    description: str


class CostClass(_Strict):
    description: str
    small: tuple[Cost, Cost]
    medium: tuple[Cost, Cost]
    large: tuple[Cost, Cost]
    source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _ordered(self) -> CostClass:
        for band in ("small", "medium", "large"):
            low, high = getattr(self, band)
            if low > high:
                raise ValueError(f"{band}: the low cost {low} is above the high cost {high}")
        return self


class ControlRemedy(_Strict):
    cost: str
    steps: tuple[float, ...] | None = None
    steps_source: str | None = None


class QuestionnaireRef(_Strict):
    id: str
    version: str


class RemediationCatalogue(_Strict):
    id: str
    version: str
    questionnaire: QuestionnaireRef
    currency: Literal["USD"]
    size_bands: tuple[SizeBand, ...] = Field(min_length=1)
    cost_classes: dict[str, CostClass] = Field(min_length=1)
    controls: dict[str, ControlRemedy]

    @model_validator(mode="after")
    def _consistent(self) -> RemediationCatalogue:
        problems = [
            f"control {qid}: unknown cost class {remedy.cost!r}"
            for qid, remedy in self.controls.items()
            if remedy.cost not in self.cost_classes
        ]
        bounds = [b.below for b in self.size_bands]
        if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            problems.append("every size band but the last needs `below`; the last has none")
        elif bounds[:-1] != sorted(set(bounds[:-1])):  # type: ignore[type-var]
            problems.append("size bands overlap or are out of order")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def size_band(self, revenue: float) -> SizeBand:
        """The size band of a facility with this net patient revenue."""
        for band in self.size_bands:
            if band.below is None or revenue < band.below:
                return band
        return self.size_bands[-1]

    def cost(self, control_id: str, revenue: float) -> tuple[float, float]:
        """Indicative first-year cost range of improving a control, for this size."""
        cost_class = self.cost_classes[self.controls[control_id].cost]
        low, high = getattr(cost_class, self.size_band(revenue).band)
        return float(low), float(high)

    def targets(self, question: Question, answer: object, as_of: dt.date) -> list[object]:
        """The answers to advise for a control, better than ``answer``: [next, best].

        Empty when the answer is already at its best; one element when the next
        step is the best. Choice controls step along their order; number controls
        along their ``steps``; date controls are advised as done on ``as_of``.
        """
        control = question.control
        assert control is not None
        if control.order is not None:
            order = list(control.order)
            position = order.index(str(answer)) if answer in order else 0
            better = order[position + 1 :]
            return _next_and_best(better)
        if question.kind is AnswerKind.DATE:
            done = answer if isinstance(answer, dt.date) else None
            return [] if done is not None and done >= as_of else [as_of]
        steps = self.controls[question.id].steps or ()
        value = float(answer) if isinstance(answer, int | float) else None
        lower = control.better is Better.LOWER
        better_steps = [s for s in steps if value is None or (s < value if lower else s > value)]
        cast = int if question.kind is AnswerKind.INTEGER else float
        return _next_and_best([cast(s) for s in better_steps])

    def check_against(self, questionnaire: Questionnaire, source: str) -> None:
        """Refuse a catalogue that does not cover the questionnaire's actionable controls."""
        problems: list[str] = []
        refusal = questionnaire.refusal(
            "the catalogue", self.questionnaire.id, self.questionnaire.version
        )
        if refusal:
            problems.append(refusal)
        known = {q.id: q for q in questionnaire.questions}
        for qid in self.controls:
            if qid not in known or not known[qid].is_control:
                problems.append(f"{qid!r} is not a control of {questionnaire.key}")
        for question in questionnaire.controls:
            assert question.control is not None
            if not question.control.actionable:
                continue
            remedy = self.controls.get(question.id)
            if remedy is None:
                problems.append(f"actionable control {question.id!r} has no entry")
                continue
            numeric = question.is_numeric and question.kind is not AnswerKind.DATE
            if numeric and not remedy.steps:
                problems.append(f"number control {question.id!r} needs `steps`")
            if not numeric and remedy.steps:
                problems.append(f"{question.id!r} is not a number control; drop its `steps`")
            if numeric and remedy.steps:
                problems += _check_steps(question, remedy.steps)
        if problems:
            raise RatingPlanError(source, problems)


def _next_and_best(better: Sequence[object]) -> list[object]:
    if not better:
        return []
    return [better[0]] if len(better) == 1 else [better[0], better[-1]]


def _check_steps(question: Question, steps: tuple[float, ...]) -> list[str]:
    assert question.control is not None
    problems = []
    low = question.min if question.min is not None else float("-inf")
    high = question.max if question.max is not None else float("inf")
    if any(not low <= s <= high for s in steps):
        problems.append(f"{question.id}: steps {list(steps)} leave the range {low}..{high}")
    ordered = sorted(steps, reverse=question.control.better is Better.LOWER)
    if list(steps) != ordered or len(set(steps)) != len(steps):
        problems.append(f"{question.id}: steps {list(steps)} must improve from first to last")
    return problems


def load_remediation(
    path: Path, questionnaire: Questionnaire | None = None
) -> RemediationCatalogue:
    """Read and check a remediation catalogue (YAML or JSON; never executed)."""
    catalogue = read_definition(path, RemediationCatalogue)
    if questionnaire is not None:
        catalogue.check_against(questionnaire, str(path))
    return catalogue


def bundled_remediation_path(questionnaire: Questionnaire) -> Path:
    """The bundled catalogue for a questionnaire (``care_cyber`` 1.0.0 ->
    care-cyber-1.0.0.yaml), or for the newest version it reads
    (:meth:`Questionnaire.file_read`); the catalogue's checks run when it is loaded."""
    folder = data_dir("questionnaires") / "remediation"
    stem = questionnaire.id.replace("_", "-")
    return questionnaire.file_read(lambda version: folder / f"{stem}-{version}.yaml")
