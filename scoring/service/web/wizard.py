"""The self-assessment wizard: a questionnaire's sections as forms, and back.

Nothing here is a second rule: which questions show is the validator's verdict
(a question the skip logic turns off is ``NOT_RELEVANT``), every message is an issue
the validator found, and an answer goes into the stored document as the text the
facility typed, for the validator to read as it reads a YAML file.

A form names each answer ``a.<question id>``; for a question that takes a number, a
date or several choices and allows "don't know" or "not applicable", ``s.<question
id>`` says so (a choice question offers them among its choices).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scoring.errors import Issue
from scoring.questionnaire.definition import Question, Questionnaire, Section
from scoring.responses.intake import validate_document
from scoring.responses.validation import Validation
from scoring.vocabulary import AnswerKind, AnswerState, Reason, Severity

UNKNOWN, NOT_APPLICABLE = "unknown", "n/a"
_YES_NO = (("yes", "Yes"), ("no", "No"))
_MOST_SETTLING = 50
"""Answers the skip logic turned off are removed at most this many times in a row
(each pass removes at least one, and a questionnaire has fewer questions)."""


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    checked: bool


@dataclass(frozen=True)
class FieldView:
    """One question as the page shows it."""

    question: Question
    name: str
    kind: str
    """``radio``, ``checkbox``, ``number``, ``date``, ``text`` or ``textarea``."""
    text: str
    """What the input holds (a number, a date, a text)."""
    options: tuple[Option, ...]
    state: str
    """``unknown``, ``n/a`` or '' for a number, date, text or several-choice question."""
    offers_state: bool
    visible: bool
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    meanings: tuple[str, ...]
    """What "don't know" and "not applicable" mean for the price, where offered."""

    @property
    def id(self) -> str:
        return self.question.id


@dataclass(frozen=True)
class SectionView:
    section: Section
    number: int
    fields: tuple[FieldView, ...]


@dataclass(frozen=True)
class Problem:
    """An issue as the page lists it: plain words and a link to its question."""

    text: str
    href: str | None
    question_id: str | None
    section_id: str | None
    severity: str
    reason: str


@dataclass
class Draft:
    """A document as the facility is answering it, with the validator's verdict."""

    document: dict[str, Any]
    validation: Validation
    removed: list[str] = field(default_factory=list)
    """Answers removed because an earlier answer turned their question off."""


def section_of(questionnaire: Questionnaire) -> dict[str, Section]:
    """Each question id's section."""
    return {q.id: s for s in questionnaire.sections for q in s.questions}


def blank_document(questionnaire: Questionnaire) -> dict[str, Any]:
    return {
        "questionnaire": questionnaire.id,
        "questionnaire_version": questionnaire.version,
        "answers": {},
    }


def read_section(form: Mapping[str, Sequence[str]], section: Section) -> dict[str, Any]:
    """The answers a section's form holds: each as typed (a list for several choices),
    ``unknown`` / ``n/a`` where chosen; a question left empty is left out."""
    answers: dict[str, Any] = {}
    for question in section.questions:
        values = [v.strip() for v in form.get(f"a.{question.id}", []) if v.strip()]
        state = next(iter(form.get(f"s.{question.id}", [])), "").strip()
        if state in (UNKNOWN, NOT_APPLICABLE):
            answers[question.id] = state
        elif question.kind is AnswerKind.MULTIPLE_CHOICE:
            if values:
                answers[question.id] = values
        elif values:
            answers[question.id] = values[0]
    return answers


def with_section(
    document: Mapping[str, Any], section: Section, answers: Mapping[str, Any]
) -> dict[str, Any]:
    """The document with a section's answers replaced by ``answers``."""
    merged = dict(document)
    kept = dict(merged.get("answers") or {})
    for question in section.questions:
        kept.pop(question.id, None)
    kept.update(answers)
    merged["answers"] = kept
    return merged


def settle(document: Mapping[str, Any], questionnaire: Questionnaire, *, as_of: dt.date) -> Draft:
    """Validate the document, removing answers to questions that an earlier answer has
    turned off (a facility that says it has no PACS is not asked about its PACS, and
    what it said of it before is dropped) until none is left."""
    current = dict(document)
    removed: list[str] = []
    for _ in range(_MOST_SETTLING):
        validation = validate_document(current, questionnaire, as_of=as_of)
        off = [
            issue.question_id
            for issue in validation.issue_list(Severity.ERROR)
            if issue.reason is Reason.NOT_RELEVANT_ANSWERED and issue.question_id
        ]
        if not off:
            return Draft(current, validation, removed)
        answers = dict(current.get("answers") or {})
        for question_id in off:
            answers.pop(question_id, None)
        removed.extend(off)
        current = {**current, "answers": answers}
    return Draft(current, validate_document(current, questionnaire, as_of=as_of), removed)


def visible(validation: Validation) -> set[str]:
    """The questions the skip logic shows for these answers."""
    states = validation.states.iloc[0]
    return {
        str(question_id)
        for question_id, state in states.items()
        if int(state) != AnswerState.NOT_RELEVANT
    }


def unanswered(questionnaire: Questionnaire, validation: Validation) -> set[str]:
    """The questions shown but answered with something invalid, or left blank where
    the questionnaire requires an answer (an optional question may stay blank)."""
    states = validation.states.iloc[0]
    invalid, blank = int(AnswerState.INVALID), int(AnswerState.UNANSWERED)
    return {
        str(question_id)
        for question_id, state in states.items()
        if int(state) == invalid
        or (int(state) == blank and questionnaire.by_id[str(question_id)].required)
    }


def section_view(
    questionnaire: Questionnaire,
    number: int,
    document: Mapping[str, Any],
    validation: Validation,
    *,
    show_required: bool,
) -> SectionView:
    """A section's questions as the page shows them, filled in from the document."""
    section = questionnaire.sections[number - 1]
    shown = visible(validation)
    issues = _by_question(validation)
    answers = document.get("answers") or {}
    fields = []
    for question in section.questions:
        given = answers.get(question.id)
        found = issues.get(question.id, [])
        errors = tuple(
            plain(i, question)
            for i in found
            if i.is_error and (show_required or i.reason is not Reason.REQUIRED)
        )
        warnings = tuple(plain(i, question) for i in found if not i.is_error)
        fields.append(_field(question, given, question.id in shown, errors, warnings))
    return SectionView(section, number, tuple(fields))


def _field(
    question: Question,
    given: Any,
    shown: bool,
    errors: tuple[str, ...],
    warnings: tuple[str, ...],
) -> FieldView:
    texts = [str(v) for v in given] if isinstance(given, list) else []
    text = "" if given is None or isinstance(given, list) else _text(given)
    state = text if text in (UNKNOWN, NOT_APPLICABLE) else ""
    if state:
        text = ""
    choices = _choices(question)
    offers = question.allow_unknown or question.allow_not_applicable
    single = question.kind in (AnswerKind.YES_NO, AnswerKind.SINGLE_CHOICE)
    options: tuple[Option, ...] = ()
    if single:
        pairs = list(choices)
        if question.allow_unknown:
            pairs.append((UNKNOWN, "Don't know"))
        if question.allow_not_applicable:
            pairs.append((NOT_APPLICABLE, "Not applicable"))
        chosen = state or text
        options = tuple(Option(v, label, v == chosen) for v, label in pairs)
    elif question.kind is AnswerKind.MULTIPLE_CHOICE:
        options = tuple(Option(v, label, v in texts) for v, label in choices)
    return FieldView(
        question=question,
        name=f"a.{question.id}",
        kind=_input_kind(question),
        text=text,
        options=options,
        state=state,
        offers_state=offers and not single,
        visible=shown,
        errors=errors,
        warnings=warnings,
        meanings=meanings(question),
    )


def _input_kind(question: Question) -> str:
    kind = question.kind
    if kind in (AnswerKind.YES_NO, AnswerKind.SINGLE_CHOICE):
        return "radio"
    if kind is AnswerKind.MULTIPLE_CHOICE:
        return "checkbox"
    if kind is AnswerKind.DATE:
        return "date"
    if kind in (AnswerKind.INTEGER, AnswerKind.NUMBER, AnswerKind.PERCENT):
        return "number"
    return "textarea" if question.max_length > 200 else "text"


def _choices(question: Question) -> list[tuple[str, str]]:
    if question.choices:
        return [(c.code, c.label) for c in question.choices]
    return list(_YES_NO) if question.kind is AnswerKind.YES_NO else []


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def meanings(question: Question) -> tuple[str, ...]:
    """What "don't know" and "not applicable" mean for the price of this question, as
    the answer policy treats them (README, "Unanswered, unknown and not applicable")."""
    said = []
    if question.allow_unknown:
        if question.control is not None:
            said.append(
                "Don't know: priced as the weakest answer until you find out - finding "
                "out is often the cheapest saving."
            )
        else:
            said.append("Don't know: priced as a typical facility like yours.")
    if question.allow_not_applicable:
        if question.control is not None:
            said.append("Not applicable: the risk this guards against is taken as absent for you.")
        else:
            said.append("Not applicable: left out of the price.")
    return tuple(said)


def _by_question(validation: Validation) -> dict[str, list[Issue]]:
    found: dict[str, list[Issue]] = {}
    for issue in validation.issue_list():
        if issue.question_id:
            found.setdefault(issue.question_id, []).append(issue)
    return found


_PLAIN = {
    Reason.REQUIRED: "Please answer this question.",
    Reason.NOT_A_CHOICE: "Please choose one of the answers offered.",
    Reason.NOT_YES_NO: "Please choose yes or no.",
    Reason.NOT_AN_INTEGER: "Please enter a whole number, like 12.",
    Reason.NOT_A_NUMBER: "Please enter a number, like 2500000.",
    Reason.NOT_A_DATE: "Please enter a date, like 2026-03-31.",
    Reason.AMBIGUOUS: "Please write the date as year-month-day, like 2026-03-31.",
    Reason.FUTURE_DATE: "This date is after the assessment date: please check it.",
    Reason.UNKNOWN_REFUSED: 'This question needs an answer: "don\'t know" is not accepted.',
    Reason.NOT_APPLICABLE_REFUSED: "This question applies to every facility.",
}


def plain(issue: Issue, question: Question | None = None) -> str:
    """An issue in plain words for the person answering (the validator's own message
    where it says more than a fixed sentence would, e.g. a range or a rule)."""
    if issue.reason is Reason.OUT_OF_RANGE and question is not None:
        low = "" if question.min is None else f"{question.min:g}"
        high = "" if question.max is None else f"{question.max:g}"
        if low and high:
            return f"Please enter a number from {low} to {high}."
    if issue.reason is Reason.TREATED_AS_WORST:
        return (
            "Not answered yet: until it is, this safeguard is priced as missing."
            if issue.value is None
            else "Priced as the weakest answer until you find out."
        )
    fixed = _PLAIN.get(issue.reason)
    if fixed is not None:
        return fixed
    return issue.message[:1].upper() + issue.message[1:]


def problems(
    questionnaire: Questionnaire,
    validation: Validation,
    link: Any,
    *,
    severity: Severity | None = None,
) -> list[Problem]:
    """Every issue of a validation as the review page lists it, in questionnaire order;
    ``link(section_number, question_id)`` gives each one's address."""
    sections = section_of(questionnaire)
    numbers = {s.id: n for n, s in enumerate(questionnaire.sections, start=1)}
    questions = {q.id: q for q in questionnaire.questions}
    order = {q.id: n for n, q in enumerate(questionnaire.questions)}
    found = [
        i
        for i in validation.issue_list(severity)
        if severity is not None or i.reason is not Reason.MIGRATED
    ]
    found.sort(key=lambda i: order.get(i.question_id or "", -1))
    listed = []
    for issue in found:
        qid = issue.question_id
        question = questions.get(qid) if qid else None
        section = sections.get(qid) if qid else None
        words = plain(issue, question)
        text = f"{question.label} - {words}" if question is not None else words
        href = link(numbers[section.id], qid) if section is not None and qid else None
        listed.append(
            Problem(
                text=text,
                href=href,
                question_id=qid,
                section_id=section.id if section is not None else None,
                severity=issue.severity.value,
                reason=issue.reason.value,
            )
        )
    return listed
