"""The vendor and event catalogues: data files, checked on load.

The vendor catalogue (``models/accumulation/vendors-<version>.yaml``) lists, per
category of shared dependency (EHR, PACS, firewall/VPN, MSP tool, clearinghouse,
email, cloud), the common vendors with their aliases and market shares, and the
question naming the vendor; a category ``by_name`` (the MSP itself) has no
catalogued vendors: each name the facilities give is a vendor of its own
(:mod:`scoring.accumulation.msp`). The event
catalogue (``models/accumulation/events-<version>.yaml``) lists the events that hit
many clients of one vendor at once: rate, share of clients hit, duration, the peril
whose severity the loss model gives, and how a facility's controls change its chance
of being hit and its loss. Every figure is cited or marked as an assumption; the
loader refuses a figure that is neither.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scoring._resources import data_dir
from scoring.errors import DefinitionError, RatingPlanError
from scoring.questionnaire.definition import Questionnaire
from scoring.rating.plan import read_definition
from scoring.vocabulary import AnswerKind, Peril

OTHER = "other"
"""The vendor code of a name the catalogue does not know (a small vendor)."""
NOT_EXPOSED = "none"
"""The vendor code of a facility that does not depend on the category."""
UNSURE_ANSWERS = frozenset({"", "unknown", "not_sure", "not sure", "dont know", "don't know"})
"""Answers that say nothing of the vendor: allocated by market share."""


_UNSURE = frozenset(re.sub(r"[^a-z0-9]+", "_", u).strip("_") for u in UNSURE_ANSWERS)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Vendor(_Strict):
    """One vendor of a category."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    aliases: tuple[str, ...] = ()
    market_share: float = Field(ge=0, le=1)


class Exposure(_Strict):
    """The answers that make a facility depend on a category at all."""

    question: str
    answers: tuple[str, ...]


class Category(_Strict):
    """A kind of shared dependency and its vendors."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    question: str | None = None
    """The question naming the vendor (its codes, or free text), if the questionnaire asks."""
    vendors: tuple[Vendor, ...]
    by_name: bool = False
    """The vendors are the names the answers give (free text, normalised), not a list."""
    exposed_when: Exposure | None = None
    assumption: bool = False
    reason: str = ""
    source: str = ""

    @model_validator(mode="after")
    def _shares(self) -> Category:
        total = sum(v.market_share for v in self.vendors)
        if total > 1 + 1e-9:
            raise ValueError(f"market shares of {self.code} add up to {total:g}, more than 1")
        codes = [v.code for v in self.vendors]
        if len(set(codes)) != len(codes) or OTHER in codes or NOT_EXPOSED in codes:
            raise ValueError(f"vendor codes of {self.code} must be unique, not 'other' or 'none'")
        if not (self.source or (self.assumption and self.reason)):
            raise ValueError(f"{self.code}: cite a source or say `assumption: true` and why")
        if self.by_name and (self.vendors or not self.question):
            raise ValueError(
                f"{self.code}: a category by_name names its question and lists no vendors"
            )
        return self

    @cached_property
    def names(self) -> dict[str, str]:
        """Every normalised code, label and alias -> vendor code."""
        names: dict[str, str] = {}
        for vendor in self.vendors:
            for name in (vendor.code, vendor.label, *vendor.aliases):
                names[normalised(name)] = vendor.code
        return names

    def vendor_code(self, answer: object) -> str | None:
        """The vendor code of an answer; ``None`` when the answer says nothing (blank,
        unknown, not sure), ``other`` for a name the catalogue does not know."""
        text = normalised(answer) if isinstance(answer, str) else ""
        if text in _UNSURE:
            return None
        if text in {NOT_EXPOSED, "no", "paper_only", "n_a"}:
            return NOT_EXPOSED
        return self.names.get(text, OTHER)


def normalised(name: str) -> str:
    """A vendor name as the catalogue compares it: lower case, runs of anything but
    letters and digits as one ``_``, none at the ends."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


class VendorCatalogue(_Strict):
    """The vendor catalogue file."""

    id: str
    version: str
    categories: tuple[Category, ...]

    @cached_property
    def by_code(self) -> dict[str, Category]:
        return {c.code: c for c in self.categories}


class Distribution(_Strict):
    mean: float = Field(gt=0, lt=1)
    concentration: float = Field(gt=0)


class Duration(_Strict):
    median: float = Field(gt=0)
    sigma: float = Field(ge=0, le=3)


class ControlEffect(_Strict):
    """How one answer changes a facility's chance of being hit and its loss."""

    question: str
    answers: tuple[str, ...]
    hit_factor: float = Field(ge=0, le=10)
    loss_factor: float = Field(ge=0, le=10)
    source: str = ""
    assumption: bool = False
    reason: str = ""

    @model_validator(mode="after")
    def _cited(self) -> ControlEffect:
        if not (self.source or (self.assumption and self.reason)):
            raise ValueError(f"{self.question}: cite a source or say `assumption: true` and why")
        return self


class EventType(_Strict):
    """One kind of correlated event."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    category: str
    peril: Peril
    kind: Literal["outage", "compromise"]
    annual_rate: float = Field(ge=0, le=10)
    """Events a year for each vendor of the category."""
    rate_assumption: bool = False
    rate_reason: str = ""
    hit_share: Distribution
    hit_share_assumption: str = ""
    duration_days: Duration
    duration_assumption: str = ""
    reference_days: float = Field(gt=0)
    """The outage length the loss model's severity of the peril stands for."""
    source: str = ""
    controls: tuple[ControlEffect, ...] = ()

    @model_validator(mode="after")
    def _cited(self) -> EventType:
        if not self.rate_reason:
            raise ValueError(f"{self.code}: say where annual_rate comes from (rate_reason)")
        for figure, why in (
            ("hit_share", self.hit_share_assumption),
            ("duration_days", self.duration_assumption),
        ):
            if not (self.source or why):
                raise ValueError(
                    f"{self.code}: cite a source or say why {figure} is assumed "
                    f"({figure.split('_days')[0]}_assumption)"
                )
        return self


class EventCatalogue(_Strict):
    """The event catalogue file, with the vendor catalogue it names."""

    id: str
    version: str
    vendors: str
    events: tuple[EventType, ...]


EVENTS_FILE = "events-1.1.0.yaml"
"""The bundled event catalogue (``events-1.0.0.yaml``, for questionnaire 1.0.0, stays
beside it for reports made before)."""


def bundled_events_path() -> Path:
    """The bundled event catalogue."""
    return data_dir("models") / "accumulation" / EVENTS_FILE


def _question_problems(vendors: VendorCatalogue, questionnaire: Questionnaire) -> list[str]:
    """What a category says of its question that the questionnaire contradicts: a
    catalogued vendor that is not one of the question's choices (no answer could name
    it), or a category by name whose question is not free text."""
    problems = []
    for category in vendors.categories:
        question = questionnaire.by_id.get(category.question or "")
        if question is None:
            continue
        if category.by_name:
            if question.kind is not AnswerKind.TEXT:
                problems.append(
                    f"category {category.code}: grouped by name, so question "
                    f"{question.id!r} must be free text; it is {question.kind.value}"
                )
            continue
        if not question.choice_codes:
            continue
        absent = [v.code for v in category.vendors if v.code not in question.choice_codes]
        if absent:
            problems.append(
                f"category {category.code}: vendor(s) {', '.join(absent)} are not choices "
                f"of {question.id!r} ({', '.join(question.choice_codes)})"
            )
    return problems


_T = TypeVar("_T", bound=BaseModel)


def _read(path: Path, kind: type[_T]) -> _T:
    try:
        return read_definition(path, kind)
    except RatingPlanError as exc:
        raise DefinitionError(exc.source, exc.problems) from exc


def load_catalogues(
    events_path: Path | None = None, questionnaire: Questionnaire | None = None
) -> tuple[EventCatalogue, VendorCatalogue]:
    """Read the event catalogue and the vendor catalogue it names (beside it), checked
    against each other and, when given, against the questionnaire.

    Raises
    ------
    DefinitionError
        With every problem: unreadable files, unknown fields, a figure neither cited
        nor marked as an assumption, an event of an unknown category, a question the
        questionnaire does not ask.
    """
    events_path = events_path or bundled_events_path()
    events = _read(events_path, EventCatalogue)
    vendors_path = events_path.parent / Path(events.vendors).name
    vendors = _read(vendors_path, VendorCatalogue)
    problems = [
        f"event {e.code}: unknown category {e.category!r}"
        for e in events.events
        if e.category not in vendors.by_code
    ]
    if questionnaire is not None:
        asked = questionnaire.by_id
        named = [(f"event {e.code}", c.question) for e in events.events for c in e.controls]
        named += [(f"category {c.code}", c.question) for c in vendors.categories if c.question]
        named += [
            (f"category {c.code}", c.exposed_when.question)
            for c in vendors.categories
            if c.exposed_when is not None
        ]
        problems += [
            f"{where}: question {q!r} is not in {questionnaire.id}@{questionnaire.version}"
            for where, q in named
            if q not in asked
        ]
        problems += _question_problems(vendors, questionnaire)
    if problems:
        raise DefinitionError(str(events_path), problems)
    return events, vendors
