"""The questionnaire definition: pydantic models of the YAML format.

A questionnaire file is data (``questionnaires/<id>-<version>.yaml``). These
models check its structure and refuse unknown keys; the semantic checks that
need the whole questionnaire (references, cycles, dead branches, framework ids)
live in :mod:`scoring.questionnaire.lint`.
"""

from __future__ import annotations

from functools import cached_property
from itertools import pairwise
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scoring.vocabulary import (
    CHOICE_KINDS,
    NUMERIC_KINDS,
    AnswerKind,
    Better,
    Encoding,
    Peril,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

SNAKE_ID = r"^[a-z][a-z0-9_]*$"
SEMVER = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"

QuestionId = Annotated[str, Field(pattern=SNAKE_ID, max_length=64)]
ChoiceCode = Annotated[str, Field(pattern=SNAKE_ID, max_length=64)]

YES_NO_CHOICES: tuple[tuple[str, str], ...] = (("yes", "Yes"), ("no", "No"))
"""The implicit choices of a yes/no question."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Choice(_Strict):
    """One coded answer of a choice question."""

    code: str = Field(max_length=64)
    label: str = Field(min_length=1)


class FrameworkRefs(_Strict):
    """Recognised practices a control maps to (ids checked against frameworks.yaml)."""

    hicp: tuple[str, ...] = ()
    """HHS 405(d) HICP sub-practices, e.g. ``7.S.A`` (Volume 1) or ``7.M.A``."""
    cpg: tuple[str, ...] = ()
    """HHS HPH Cybersecurity Performance Goals, e.g. ``mfa``."""
    cis: tuple[str, ...] = ()
    """CIS Controls v8 safeguards, e.g. ``6.4``."""

    def is_empty(self) -> bool:
        return not (self.hicp or self.cpg or self.cis)


class Control(_Strict):
    """Marks a question as a security control and says which way is better."""

    order: tuple[str, ...] | None = None
    """Choice codes from worst to best (choice questions)."""
    better: Better | None = None
    """Direction of improvement (numeric and date questions)."""
    stale_after_years: float | None = Field(default=None, gt=0)
    """Date controls: an age at or beyond this counts as the worst level."""
    perils: tuple[Peril, ...] = Field(min_length=1)
    frameworks: FrameworkRefs = FrameworkRefs()
    actionable: bool = True
    """False for controls a facility cannot change by a fix (e.g. prior incidents)."""
    why: str | None = None
    """One plain-language sentence on why this matters for a care facility."""


class Transform(_Strict):
    """How a number's answer becomes a bounded model feature (scoring/features/encoding.py).

    A number that is not a control is put on its encoding's scale (log, log1p, share
    ...) and then capped at two quantiles of the training book, learned by training
    and stored in the model: an answer beyond what the book holds is priced as the
    book's extreme, never extrapolated. A numeric control's level (0 worst .. 1 best)
    runs through its ``knots``. Training bounds every coefficient so that no answer
    within the form's range moves a peril's expected loss by more than
    ``max_relativity``.
    """

    cap: tuple[float, float] = (0.0, 0.995)
    """Quantiles of the training book (0 .. 1) the feature is capped at (numbers that
    are not controls)."""
    knots: tuple[float, ...] | None = None
    """Numeric controls: answers, ascending from the worst end's side as the question's
    unit reads (e.g. days 7, 14, 30, 90), at which the level steps evenly from one end to
    the other; the level is straight between knots. Without knots the level is
    straight from ``min`` to ``max``."""
    max_relativity: float = Field(default=10.0, gt=1.0, le=10_000.0)
    """The most one answer, against any other answer in the form's range, may multiply a
    peril's expected loss by (frequency and claim size together)."""

    @field_validator("cap")
    @classmethod
    def _quantiles(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(f"cap must be two quantiles 0 <= low < high <= 1; got {list(value)}")
        return value

    @field_validator("knots")
    @classmethod
    def _ascending(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is not None and (len(value) < 2 or any(b <= a for a, b in pairwise(value))):
            raise ValueError(f"knots must be at least two ascending answers; got {list(value)}")
        return value


class Question(_Strict):
    """One question; its id is the feature key and the table column name."""

    id: QuestionId
    kind: AnswerKind = Field(alias="type")
    label: str = Field(min_length=1)
    help: str | None = None
    required: bool = False
    relevant: str | None = None
    """Skip logic over earlier answers, e.g. ``${has_pacs} = 'yes'``."""
    constraint: str | None = None
    """A condition the answer must meet; ``.`` is the answer itself."""
    constraint_message: str | None = None
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    max_length: int = Field(default=2000, gt=0, le=100_000)
    choices: tuple[Choice, ...] | None = None
    allow_unknown: bool = False
    allow_not_applicable: bool = False
    control: Control | None = None
    encoding: Encoding | None = None
    """How the answer becomes features; derived from the kind when omitted."""
    transform: Transform = Transform()
    """How a number is bounded as a feature (numbers, percents and dates only)."""
    history: bool = False
    """A loss-history question (prior claims, incidents, regulatory action): a larger
    number, or "yes", is a worse history, which never lowers expected loss."""
    cover: bool = False
    """The answer chooses the cover (limit, retention), not the risk: it is never a
    model feature; the rating plan prices the layer."""

    @field_validator("relevant", "constraint")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must be an expression or left out; got an empty string")
        return value

    @property
    def is_control(self) -> bool:
        return self.control is not None

    @property
    def is_choice(self) -> bool:
        return self.kind in CHOICE_KINDS

    @property
    def is_numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    @property
    def choice_items(self) -> tuple[tuple[str, str], ...]:
        """(code, label) pairs, including the implicit yes/no."""
        if self.kind is AnswerKind.YES_NO:
            return YES_NO_CHOICES
        return tuple((c.code, c.label) for c in self.choices or ())

    @property
    def choice_codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.choice_items)

    @property
    def effective_encoding(self) -> Encoding:
        """The declared encoding, or the default for the question's kind."""
        if self.cover:
            return Encoding.NONE
        if self.encoding is not None:
            return self.encoding
        if self.control is not None and self.kind is not AnswerKind.MULTIPLE_CHOICE:
            return Encoding.YEARS_SINCE if self.kind is AnswerKind.DATE else Encoding.ORDINAL
        return _DEFAULT_ENCODING[self.kind]


_DEFAULT_ENCODING: dict[AnswerKind, Encoding] = {
    AnswerKind.YES_NO: Encoding.ONE_HOT,
    AnswerKind.SINGLE_CHOICE: Encoding.ONE_HOT,
    AnswerKind.MULTIPLE_CHOICE: Encoding.INDICATORS,
    AnswerKind.INTEGER: Encoding.LOG1P,
    AnswerKind.NUMBER: Encoding.LINEAR,
    AnswerKind.PERCENT: Encoding.SHARE,
    AnswerKind.DATE: Encoding.YEARS_SINCE,
    AnswerKind.TEXT: Encoding.NONE,
}


class Section(_Strict):
    """A group of questions shown together (a page of a form, a block of columns)."""

    id: QuestionId
    title: str = Field(min_length=1)
    intro: str | None = None
    questions: tuple[Question, ...] = Field(min_length=1)


class Migration(_Strict):
    """How answers given to an earlier version map onto this one."""

    from_version: str = Field(pattern=SEMVER)
    renamed: dict[str, str] = Field(default_factory=dict)
    """Old question id -> new question id."""
    recoded: dict[str, dict[str, str]] = Field(default_factory=dict)
    """New question id -> {old code: new code}."""
    removed: tuple[str, ...] = ()
    """Old question ids whose answers no longer have a place (reported as flags)."""
    note: str | None = None


class Questionnaire(_Strict):
    """A versioned questionnaire: sections of questions, plus migrations."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: QuestionId
    version: str = Field(pattern=SEMVER)
    title: str = Field(min_length=1)
    description: str | None = None
    sections: tuple[Section, ...] = Field(min_length=1)
    migrations: tuple[Migration, ...] = ()

    @cached_property
    def questions(self) -> tuple[Question, ...]:
        """All questions in form order."""
        return tuple(q for s in self.sections for q in s.questions)

    @cached_property
    def by_id(self) -> dict[str, Question]:
        """Questions keyed by id (the first one wins if the linter found duplicates)."""
        found: dict[str, Question] = {}
        for q in self.questions:
            found.setdefault(q.id, q)
        return found

    @cached_property
    def controls(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.control is not None)

    @property
    def key(self) -> str:
        """``id@version``, as written in outputs and audit trails."""
        return f"{self.id}@{self.version}"

    @property
    def versions_read(self) -> tuple[str, ...]:
        """Its own version, then each version it declares a migration from, newest
        first: where a bundled file made for a version (a catalogue, a market, a
        ground truth) is looked for, in this order."""
        earlier = sorted(
            {m.from_version for m in self.migrations} - {self.version},
            key=lambda v: tuple(int(p) for p in v.split(".")),
            reverse=True,
        )
        return (self.version, *earlier)

    def file_read(self, path_of: Callable[[str], Path]) -> Path:
        """The bundled file made for this questionnaire, ``path_of(version)``: for its
        own version if there is one, else for the newest version it reads
        (:attr:`versions_read`), else (none exists) its own version's path. This is
        how a catalogue, a market or a ground truth made for 1.0.0 serves 1.1.0; each
        file's own checks then run against this questionnaire."""
        for version in self.versions_read:
            path = path_of(version)
            if path.is_file():
                return path
        return path_of(self.version)

    def reads(self, questionnaire_id: str, version: str) -> bool:
        """Whether what was written for ``questionnaire_id`` at ``version`` (answers, a
        model, a rating plan, a catalogue) is read by this questionnaire: its own
        version, or one it declares a migration from. What the newer version renamed or
        removed is then found by the content checks of each reader.

        Examples
        --------
        >>> from scoring.questionnaire.loader import bundled_questionnaire
        >>> q = bundled_questionnaire("care_cyber", "1.1.0")
        >>> q.reads("care_cyber", "1.0.0"), q.reads("care_cyber", "0.9.0")
        (True, False)
        """
        return questionnaire_id == self.id and version in self.versions_read

    def refusal(self, what: str, questionnaire_id: str, version: str) -> str | None:
        """The sentence refusing ``what`` (e.g. "the plan") written for another
        questionnaire, or None when this one reads it (:meth:`reads`)."""
        if self.reads(questionnaire_id, version):
            return None
        declared = ", ".join(m.from_version for m in self.migrations)
        also = f" (and reads {declared})" if declared else ""
        return f"{what} is for {questionnaire_id}@{version}; the questionnaire is {self.key}{also}"
