"""Every documented coercion is accepted; everything ambiguous is refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import AnswerState, Question, Reason, Severity
from scoring.responses.coercion import coerce, describe_allowed, number_text


def _question(kind: str, **extra: Any) -> Question:
    data: dict[str, Any] = {"id": "q", "type": kind, "label": "Q", **extra}
    return Question.model_validate(data)


def _one(question: Question, cell: str | None) -> tuple[Any, AnswerState, set[Reason]]:
    result = coerce(pa.array([cell], pa.string()), question)
    reasons = {f.reason for f in result.failures}
    return result.values.to_pylist()[0], AnswerState(result.states[0]), reasons


YES_NO = _question("yes_no")
CHOICE = _question(
    "single_choice",
    choices=[
        {"code": "offline", "label": "Offline copy"},
        {"code": "unknown", "label": "Not sure"},
    ],
)
INTEGER = _question("integer", min=0, max=10_000_000)
MONEY = _question("number", unit="USD", min=0)
PERCENT = _question("percent")
DATE = _question("date")


@pytest.mark.parametrize("cell", ["yes", "Y", " TRUE ", "t", "1", "Yes"])
def test_yes_words(cell: str) -> None:
    assert _one(YES_NO, cell)[0] == "yes"


@pytest.mark.parametrize("cell", ["no", "N", "false", "F", "0", " No "])
def test_no_words(cell: str) -> None:
    assert _one(YES_NO, cell)[0] == "no"


@pytest.mark.parametrize("cell", ["yess", "2", "maybe", "=1=1", "+1"])
def test_other_yes_no_cells_are_errors(cell: str) -> None:
    value, state, reasons = _one(YES_NO, cell)
    assert (value, state, reasons) == (None, AnswerState.INVALID, {Reason.NOT_YES_NO})


@pytest.mark.parametrize(
    ("cell", "state"),
    [
        ("", AnswerState.UNANSWERED),
        ("   ", AnswerState.UNANSWERED),
        (None, AnswerState.UNANSWERED),
        ("Unknown", AnswerState.UNKNOWN),
        ("don't know", AnswerState.UNKNOWN),
        ("N/A", AnswerState.NOT_APPLICABLE),
        ("not applicable", AnswerState.NOT_APPLICABLE),
    ],
)
def test_blank_unknown_and_not_applicable_are_distinct_states(
    cell: str | None, state: AnswerState
) -> None:
    assert _one(YES_NO, cell)[1] == state


def test_a_choice_code_wins_over_the_unknown_word() -> None:
    assert _one(CHOICE, "unknown")[:2] == ("unknown", AnswerState.ANSWERED)


@pytest.mark.parametrize("cell", ["offline", "OFFLINE", "Offline copy", " offline copy "])
def test_choices_accept_code_or_label_in_any_case(cell: str) -> None:
    assert _one(CHOICE, cell)[0] == "offline"


@pytest.mark.parametrize(
    ("cell", "number"),
    [
        ("1234", 1234),
        ("1,234", 1234),
        ("1,234,567", 1_234_567),
        ("12.0", 12),
        ("0", 0),
    ],
)
def test_integers(cell: str, number: int) -> None:
    assert _one(INTEGER, cell)[0] == number


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("1,5", Reason.AMBIGUOUS),
        ("12,34", Reason.AMBIGUOUS),
        ("1.5", Reason.NOT_AN_INTEGER),
        ("-3", Reason.OUT_OF_RANGE),
        ("10000001", Reason.OUT_OF_RANGE),
        ("nan", Reason.NOT_AN_INTEGER),
        ("inf", Reason.NOT_AN_INTEGER),
        ("1e3", Reason.NOT_AN_INTEGER),
        ("=A1*2", Reason.NOT_AN_INTEGER),
        ("12,34,567", Reason.NOT_AN_INTEGER),
        ("9" * 20, Reason.OUT_OF_RANGE),
    ],
)
def test_integer_refusals(cell: str, reason: Reason) -> None:
    value, state, reasons = _one(INTEGER, cell)
    assert value is None
    assert state is AnswerState.INVALID
    assert reason in reasons


@pytest.mark.parametrize(
    ("cell", "number"),
    [
        ("$1,200,000", 1_200_000.0),
        ("1200000.50", 1_200_000.5),
        ("1.5e6", 1_500_000.0),
        (".5", 0.5),
        ("$ 12", 12.0),
    ],
)
def test_amounts(cell: str, number: float) -> None:
    assert _one(MONEY, cell)[0] == pytest.approx(number, rel=1e-12)


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("NaN", Reason.NOT_A_NUMBER),
        ("Infinity", Reason.NOT_A_NUMBER),
        ("1e999", Reason.OUT_OF_RANGE),
        ("-5", Reason.OUT_OF_RANGE),
        ("1,5", Reason.AMBIGUOUS),
        ("@SUM(A1)", Reason.NOT_A_NUMBER),
        ("€12", Reason.NOT_A_NUMBER),
    ],
)
def test_amount_refusals(cell: str, reason: Reason) -> None:
    assert reason in _one(MONEY, cell)[2]


@pytest.mark.parametrize(("cell", "number"), [("85", 85.0), ("85%", 85.0), ("0.5 %", 0.5)])
def test_percentages(cell: str, number: float) -> None:
    assert _one(PERCENT, cell)[0] == pytest.approx(number, rel=1e-12)


def test_percentages_over_100_are_refused() -> None:
    assert _one(PERCENT, "101")[2] == {Reason.OUT_OF_RANGE}


@pytest.mark.parametrize(
    ("cell", "day"),
    [
        ("2024-02-29", dt.date(2024, 2, 29)),
        ("2024-02-29T10:30:00", dt.date(2024, 2, 29)),
        ("2024-02-29 00:00:00", dt.date(2024, 2, 29)),
        ("45351", dt.date(2024, 2, 29)),
        ("45351.0", dt.date(2024, 2, 29)),
    ],
)
def test_dates(cell: str, day: dt.date) -> None:
    assert _one(DATE, cell)[0] == day


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("03/04/2025", Reason.AMBIGUOUS),
        ("2025-02-30", Reason.NOT_A_DATE),
        ("12345", Reason.NOT_A_DATE),
        ("yesterday", Reason.NOT_A_DATE),
        ("4.3.2025", Reason.AMBIGUOUS),
    ],
)
def test_date_refusals(cell: str, reason: Reason) -> None:
    assert reason in _one(DATE, cell)[2]


def test_text_is_kept_as_given_even_when_it_looks_like_a_formula() -> None:
    text = _question("text")
    assert _one(text, '=HYPERLINK("http://x")')[0] == '=HYPERLINK("http://x")'


def test_overlong_cells_are_refused_without_copying_them() -> None:
    value, state, reasons = _one(YES_NO, "y" * 10_000)
    assert (value, state, reasons) == (None, AnswerState.INVALID, {Reason.TOO_LONG})


MULTI = _question(
    "multiple_choice",
    choices=[{"code": "charting", "label": "Charting"}, {"code": "images", "label": "Images"}],
)


@pytest.mark.parametrize(
    ("cell", "canonical"),
    [
        ("images;charting", "charting;images"),
        ("Images", "images"),
        ("charting; charting", "charting"),
    ],
)
def test_multiple_choice_is_canonical(cell: str, canonical: str) -> None:
    assert _one(MULTI, cell)[0] == canonical


@pytest.mark.parametrize("cell", ["charting;;images", "charting;fax", ";"])
def test_multiple_choice_refusals(cell: str) -> None:
    assert _one(MULTI, cell)[2] == {Reason.NOT_A_CHOICE}


@given(st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=1, max_size=20))
def test_any_cells_give_a_state_for_each_and_never_raise(cells: list[str | None]) -> None:
    for question in (YES_NO, CHOICE, INTEGER, MONEY, PERCENT, DATE, MULTI):
        result = coerce(pa.array(cells, pa.string()), question)
        assert len(result.values) == len(cells) == len(result.states)
        invalid = result.states == AnswerState.INVALID
        failed = sum((f.mask for f in result.failures), start=invalid * 0) > 0
        assert (invalid == failed).all()
        assert all(
            v is None for v, bad in zip(result.values.to_pylist(), invalid, strict=True) if bad
        )


def test_control_characters_are_refused() -> None:
    value, state, reasons = _one(_question("text"), "ab\x00c")
    assert (value, state, reasons) == (None, AnswerState.INVALID, {Reason.UNREADABLE_FILE})


def _same(first: Any, second: Any) -> bool:
    failures = [(f.mask.tolist(), f.reason, f.message, f.allowed) for f in first.failures]
    return (
        first.values.equals(second.values)
        and first.states.tolist() == second.states.tolist()
        and failures == [(f.mask.tolist(), f.reason, f.message, f.allowed) for f in second.failures]
        and (first.never is None) == (second.never is None)
        and (first.never is None or first.never.tolist() == second.never.tolist())
    )


@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), min_size=1, max_size=20))
def test_a_remembered_coercion_equals_a_fresh_one(cells: list[str | None]) -> None:
    """A column's distinct texts are coerced once per question; later chunks reuse it."""
    from scoring.responses import coercion

    never = _question(
        "date", control={"perils": ["ransomware"], "better": "more_recent", "stale_after_years": 1}
    )
    for question in (YES_NO, CHOICE, INTEGER, MONEY, PERCENT, DATE, MULTI, never):
        coercion._memo.clear()
        fresh = coerce(pa.array(cells, pa.string()), question)
        again = coerce(pa.array(list(reversed(cells)) + cells, pa.string()), question)
        assert _same(fresh, coerce(pa.array(cells, pa.string()), question))
        assert again.values.to_pylist()[len(cells) :] == fresh.values.to_pylist()


@given(
    st.lists(st.sampled_from([None, "yes", "No", " n/a ", "3", "x"]), max_size=12),
    st.lists(st.sampled_from([None, "yes", "no", "unknown", "3", "y"]), max_size=12),
)
def test_a_column_looked_up_among_the_last_column_s_texts_is_coerced_as_alone(
    first: list[str | None], second: list[str | None]
) -> None:
    """A chunk whose texts are looked up among the previous chunk's (which may hold
    texts it does not) is coerced exactly as when it comes first."""
    from scoring.responses import coercion

    for question in (YES_NO, CHOICE, INTEGER, DATE, MULTI):
        coercion._memo.clear()
        coercion._known_texts.clear()
        alone = coerce(pa.array(second, pa.string()), question)
        coerce(pa.array(first, pa.string()), question)
        assert _same(alone, coerce(pa.array(second, pa.string()), question))


def test_remembered_coercions_are_told_apart_by_question() -> None:
    cells = pa.array(["yes", "unknown", " Not sure ", None], pa.string())
    for _ in range(2):
        assert coerce(cells, YES_NO).values.to_pylist() == ["yes", None, None, None]
        assert coerce(cells, CHOICE).values.to_pylist() == [None, "unknown", "unknown", None]
        twin = _question("yes_no")  # an equal question: its own entry, the same answers
        assert coerce(cells, twin).values.to_pylist() == ["yes", None, None, None]


CELLS = ["yes", "no", "", " yes", "YES", "unknown", "offline", "Not sure", "7", "1,5", "$3", "9%"]


@given(
    st.lists(
        st.one_of(
            st.none(),
            st.sampled_from(CELLS),
            st.text(max_size=8),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_a_column_is_coerced_as_each_of_its_cells_alone(cells: list[str | None]) -> None:
    """Whether the column as read is kept (every value its own text) or values are
    spread from the distinct texts, each row holds its own cell's answer."""
    for question in (YES_NO, CHOICE, MULTI, INTEGER, MONEY, PERCENT, _question("text")):
        column = coerce(pa.array(cells, pa.string()), question)
        alone = [coerce(pa.array([cell], pa.string()), question) for cell in cells]
        assert column.values.to_pylist() == [a.values.to_pylist()[0] for a in alone]
        assert column.states.tolist() == [a.states[0] for a in alone]


def test_a_column_without_a_character_is_told_so_from_its_bytes() -> None:
    from scoring.responses.coercion import _CONTROL_CHARACTERS, _may_contain

    cells = pa.array(["1,234", "$5", None, "ñ", ""], pa.string())
    assert _may_contain(cells, ",")
    assert _may_contain(cells, "$%")
    assert not _may_contain(cells, "%")
    assert not _may_contain(cells, _CONTROL_CHARACTERS)
    assert not _may_contain(pa.array([None, ""], pa.string()), ",")
    assert _may_contain(pa.array(["a\x1fb", "\t"], pa.string()), _CONTROL_CHARACTERS)
    assert not _may_contain(pa.array(["tab\tand\r\nlines"], pa.string()), _CONTROL_CHARACTERS)
    assert _may_contain(cells.slice(2), ",")  # bytes outside a slice may answer yes, never no


# --- a fraction written for a percentage, slash dates, numbers in messages ---------


@pytest.mark.parametrize(("cell", "meant"), [("0.85", "85"), ("1", "100"), (".5", "50")])
def test_a_fraction_in_a_percent_cell_is_kept_and_flagged_with_both_readings(
    cell: str, meant: str
) -> None:
    result = coerce(pa.array([cell], pa.string()), PERCENT)
    assert result.values.to_pylist() == [pytest.approx(float(cell), rel=1e-12)]
    assert AnswerState(result.states[0]) is AnswerState.ANSWERED
    assert result.failures == []
    (warning,) = result.warnings
    assert (warning.reason, warning.severity) == (Reason.PERCENT_OR_FRACTION, Severity.WARNING)
    assert f"% or {meant} %: read as" in warning.message


@pytest.mark.parametrize("cell", ["0.85%", "0.5 %", "0", "85", "1.5"])
def test_a_percentage_written_with_its_sign_or_above_1_is_not_flagged(cell: str) -> None:
    assert coerce(pa.array([cell], pa.string()), PERCENT).warnings == []


def test_a_fraction_warning_is_spread_over_the_rows_that_hold_it() -> None:
    result = coerce(pa.array(["0.85", "85", "0.85", None], pa.string()), PERCENT)
    assert [w.mask.tolist() for w in result.warnings] == [[True, False, True, False]]


def test_many_distinct_fractions_share_one_message_past_the_named_ones() -> None:
    cells = [f"0.{i:03d}" for i in range(1, 41)]
    result = coerce(pa.array(cells, pa.string()), PERCENT)
    assert sum(int(w.mask.sum()) for w in result.warnings) == 40
    assert len(result.warnings) == 21
    assert "if a fraction was meant" in result.warnings[-1].message


def test_a_fraction_in_a_number_question_is_not_flagged() -> None:
    assert coerce(pa.array(["0.85"], pa.string()), MONEY).warnings == []


@pytest.mark.parametrize(
    ("cell", "day"),
    [
        ("09/15/2025", dt.date(2025, 9, 15)),
        ("9/15/2025", dt.date(2025, 9, 15)),
        ("15/09/2025", dt.date(2025, 9, 15)),
        ("15.09.2025", dt.date(2025, 9, 15)),
        ("2025/09/15", dt.date(2025, 9, 15)),
        ("05/05/2025", dt.date(2025, 5, 5)),
        ("29/02/2024", dt.date(2024, 2, 29)),
    ],
)
def test_a_slash_date_with_one_valid_order_is_read(cell: str, day: dt.date) -> None:
    assert _one(DATE, cell)[:3] == (day, AnswerState.ANSWERED, set())


@pytest.mark.parametrize("cell", ["03/04/2025", "12/11/2024", "2025/03/04", "1.2.2025"])
def test_a_slash_date_with_two_valid_orders_is_refused_as_ambiguous(cell: str) -> None:
    result = coerce(pa.array([cell], pa.string()), DATE)
    (failure,) = result.failures
    assert failure.reason is Reason.AMBIGUOUS
    assert "both orders are dates" in failure.message


@pytest.mark.parametrize("cell", ["9/15/25", "15/9/202"])
def test_a_slash_date_without_a_four_digit_year_is_refused_as_ambiguous(cell: str) -> None:
    (failure,) = coerce(pa.array([cell], pa.string()), DATE).failures
    assert failure.reason is Reason.AMBIGUOUS
    assert "the year needs four digits" in failure.message


@pytest.mark.parametrize("cell", ["31/31/2025", "02/29/2023", "13/13/2025", "00/01/2025"])
def test_a_slash_date_in_neither_order_is_not_a_date(cell: str) -> None:
    assert _one(DATE, cell)[1:] == (AnswerState.INVALID, {Reason.NOT_A_DATE})


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1e10, "10,000,000,000"),
        (10_000_000.0, "10,000,000"),
        (5000, "5,000"),
        (0, "0"),
        (0.85, "0.85"),
        (-1234.5, "-1,234.5"),
        (1e-9, "1e-09"),
        (2e15, "2e+15"),
    ],
)
def test_numbers_in_messages_read_as_a_person_writes_them(number: float, text: str) -> None:
    assert number_text(number) == text


def test_allowed_ranges_and_range_errors_use_thousands_separators() -> None:
    big = _question("number", min=0, max=1e10)
    result = coerce(pa.array(["2e10"], pa.string()), big)
    (failure,) = result.failures
    assert failure.message == "above the maximum 10,000,000,000"
    assert failure.allowed == "a number from 0 to 10,000,000,000"
    assert "e+" not in describe_allowed(INTEGER)


@given(st.lists(st.sampled_from(["0.85", "85", "1", None, "0.5%", "x"]), min_size=1, max_size=20))
def test_a_remembered_coercion_keeps_its_warnings(cells: list[str | None]) -> None:
    from scoring.responses import coercion

    coercion._memo.clear()
    coercion._known_texts.clear()
    fresh = coerce(pa.array(cells, pa.string()), PERCENT)
    again = coerce(pa.array(cells, pa.string()), PERCENT)
    shown = [[(w.mask.tolist(), w.message) for w in c.warnings] for c in (fresh, again)]
    assert shown[0] == shown[1]
    flagged = sum((w.mask for w in fresh.warnings), start=np.zeros(len(cells), dtype=np.bool_))
    assert flagged.tolist() == [c in ("0.85", "1") for c in cells]
