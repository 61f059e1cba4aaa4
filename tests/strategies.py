"""Hypothesis strategies: cells and whole responses for any questionnaire."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from scoring import AnswerKind, Question, Questionnaire

_WORDS = st.sampled_from(
    ["", " ", "unknown", "N/A", "=1+1", "-", "@x", "yes", "no", "12", "1,5", "nan", "1e400"]
)


# a NUL byte makes a CSV binary and a lone surrogate cannot be written to a file at all:
# both are refused by the readers (tests/test_reading.py), so they are left out here
_TEXT = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=20
)


def cell(question: Question) -> st.SearchStrategy[str]:
    """Text a user might put in this question's cell: mostly valid, sometimes not."""
    kind = question.kind
    valid: st.SearchStrategy[str]
    if question.is_choice:
        codes = list(question.choice_codes)
        labels = [label for _, label in question.choice_items]
        if kind is AnswerKind.MULTIPLE_CHOICE:
            valid = st.lists(st.sampled_from(codes), min_size=1, max_size=len(codes)).map(";".join)
        else:
            valid = st.one_of(st.sampled_from(codes), st.sampled_from(labels).map(str.upper))
    elif question.is_numeric:
        low = question.min if question.min is not None else 0.0
        high = question.max if question.max is not None else 1e7
        if kind is AnswerKind.INTEGER:
            valid = st.integers(int(low), int(high)).map(str)
        else:
            valid = st.floats(low, high, allow_nan=False).map(lambda x: f"{x:.2f}")
    elif kind is AnswerKind.DATE:
        valid = st.dates().map(lambda d: d.isoformat())
    else:
        valid = _TEXT
    return st.one_of(valid, valid, valid, _WORDS, _TEXT.map(lambda t: t[:8]))


def responses(
    questionnaire: Questionnaire, max_rows: int = 6
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Lists of one-facility documents (answers as text)."""
    row = st.fixed_dictionaries({q.id: cell(q) for q in questionnaire.questions})
    return st.lists(row, min_size=1, max_size=max_rows)
