"""What a scored book says about each facility's answers: the answers priced as worst,
the warnings, and the validated answers themselves (as text and as a hash).

A book written from a CSV and the same book written from an XLSX hold the same
validated answers although their cells differ (``12`` and ``12.0``, ``2025-09-15``
and an Excel serial day, ``85%`` and ``0.85`` in a percent cell): :func:`answer_texts`
writes each answer in one canonical form, so that :mod:`scoring.portfolio.compare`
matches facilities by what they answered, not by how the cells were typed.

The canonical text of a facility's answers is ``question_id=answer`` for each
question answered, ``unknown`` or ``n/a``, in the questionnaire's order, joined by
``;``:

* choices by their codes (a multiple choice's codes joined by ``+``), numbers as
  the shortest text that reads back as the same number, dates as ISO dates;
* "unknown" as ``%unknown`` and "not applicable" as ``%n/a`` (a written ``%`` is
  ``%25`` and a written ``;`` is ``%3B``, so no answer reads as either);
* a blank answer, or a question that does not apply, is left out (a blank control
  is in ``priced_as_worst``).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from scoring.questionnaire.definition import Question, Questionnaire
from scoring.vocabulary import AnswerKind, AnswerState, Severity

UNKNOWN_TEXT = "%unknown"
NOT_APPLICABLE_TEXT = "%n/a"
_NULL = pa.scalar(None, pa.string())


def priced_as_worst(questionnaire: Questionnaire, states: pd.DataFrame) -> pa.Array:
    """Each row's controls left blank or answered "unknown" where they apply - the
    answers validation priced as their worst - as question ids joined by ``;`` in the
    questionnaire's order; null for a row with none.

    Worked out from the answer states validation keeps (no issue is needed).
    """
    parts = []
    for question in questionnaire.questions:
        if question.control is None or question.id not in states.columns:
            continue
        state = states[question.id].to_numpy()
        worst = (state == AnswerState.UNANSWERED) | (state == AnswerState.UNKNOWN)
        if worst.any():
            parts.append(pc.if_else(pa.array(worst), question.id, _NULL))
    return join_present(parts, len(states))


def warning_counts(issues: pd.DataFrame, facilities: pd.DataFrame) -> np.ndarray:
    """How many warnings validation found on each facility's row (int64, in the order
    of ``facilities``), from its issues (the rows are matched by their row number)."""
    warned = issues.loc[issues["severity"] == Severity.WARNING.value, "row"]
    counts = np.zeros(len(facilities), dtype=np.int64)
    if warned.empty:
        return counts
    position = pd.Index(facilities["row"]).get_indexer(warned.to_numpy())
    position = position[position >= 0]
    np.add.at(counts, position, 1)
    return counts


def _canonical(question: Question, column: pd.Series) -> pa.Array:
    """One question's validated answers as canonical text (null where missing)."""
    values = pa.array(column, from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_timestamp(values.type):
        values = values.cast(pa.date32())
    if pa.types.is_integer(values.type) and question.kind is AnswerKind.DATE:
        values = values.cast(pa.int32()).cast(pa.date32())
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    if question.kind is AnswerKind.TEXT:
        text = pc.replace_substring(pc.replace_substring(text, "%", "%25"), ";", "%3B")
    elif question.kind is AnswerKind.MULTIPLE_CHOICE:
        text = pc.replace_substring(text, ";", "+")
    return text


def answer_texts(
    questionnaire: Questionnaire, answers: pd.DataFrame, states: pd.DataFrame
) -> pa.Array:
    """Each row's validated answers as one canonical text (the module docstring)."""
    parts = []
    for question in questionnaire.questions:
        if question.id not in answers.columns:
            continue
        state = states[question.id].to_numpy()
        answered = state == AnswerState.ANSWERED
        text = _canonical(question, answers[question.id])
        unknown = state == AnswerState.UNKNOWN
        not_applicable = state == AnswerState.NOT_APPLICABLE
        if not answered.all():
            text = pc.if_else(pa.array(answered), text, _NULL)
        if unknown.any():
            text = pc.if_else(pa.array(unknown), UNKNOWN_TEXT, text)
        if not_applicable.any():
            text = pc.if_else(pa.array(not_applicable), NOT_APPLICABLE_TEXT, text)
        parts.append(pc.binary_join_element_wise(f"{question.id}=", text, ""))
    return join_present(parts, len(answers))


def answer_hashes(texts: pa.Array) -> list[str]:
    """sha256 of each row's canonical answers (an empty text for a row with none)."""
    filled = pc.fill_null(texts, "").cast(pa.binary())
    return [hashlib.sha256(value).hexdigest() for value in filled.to_pylist()]


def written_text(answer: str) -> str:
    """A free-text answer as the facility wrote it, from its canonical text (the
    inverse of the escaping above: ``%3B`` is ``;``, ``%25`` is ``%``).

    Examples
    --------
    >>> written_text("Smith %26 Co%3B IT at 100%25")
    'Smith %26 Co; IT at 100%'
    """
    return answer.replace("%3B", ";").replace("%25", "%")


def answer_items(text: object) -> dict[str, str]:
    """A canonical answers text as ``{question_id: answer}``.

    Examples
    --------
    >>> answer_items("mfa_email=yes;staff_count=120;backup_tested=%unknown")
    {'mfa_email': 'yes', 'staff_count': '120', 'backup_tested': '%unknown'}
    >>> answer_items(None)
    {}
    """
    if not isinstance(text, str):
        return {}
    items = {}
    for part in text.split(";"):
        question, _, answer = part.partition("=")
        if question:
            items[question] = answer
    return items


def changed_answers(before: object, after: object) -> tuple[str, ...]:
    """The questions whose canonical answers differ between two answers texts, in the
    order they appear (before's questions first).

    Examples
    --------
    >>> changed_answers("a=yes;b=3", "a=no;b=3;c=%n/a")
    ('a', 'c')
    """
    old, new = answer_items(before), answer_items(after)
    order = list(old) + [q for q in new if q not in old]
    return tuple(q for q in order if old.get(q) != new.get(q))


def join_present(parts: list[pa.Array], length: int) -> pa.Array:
    """Join the non-null texts of each of ``length`` rows with ``;``; null for a row
    with none (and for every row when there are no parts).

    pyarrow's ``null_handling="skip"`` drops a row whose parts are all null (pyarrow
    26), so an empty text is joined last to every row and its separator cut off.
    """
    if not parts:
        return pa.nulls(length, pa.string())
    last = pa.repeat(pa.scalar("", pa.string()), length)
    joined = pc.binary_join_element_wise(*parts, last, ";", null_handling="skip")
    trimmed = pc.utf8_slice_codeunits(joined, 0, -1)
    return pc.if_else(pc.equal(trimmed, ""), _NULL, trimmed)
