"""The skip-logic language: parsing, evaluation on columns, and refusal of anything else."""

from __future__ import annotations

import contextlib

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.questionnaire import expression as ex
from scoring.questionnaire.typecheck import type_problems
from tests.test_expression_fuzz import COLUMNS, QUESTIONNAIRE, ROWS


def _eval(text: str, **columns: list[object]) -> list[bool]:
    arrays = {k: pa.array(v) for k, v in columns.items()}
    length = len(next(iter(columns.values()))) if columns else 1
    return ex.evaluate(ex.parse(text), arrays, length=length).to_pylist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${a} = 'yes'", [True, False, False]),
        ("[a] = 'yes'", [True, False, False]),
        ("${a} != 'yes'", [False, True, True]),  # a blank answer is not 'yes'
        ("${n} > 2", [True, False, False]),
        ("${n} >= 2 and ${a} = 'no'", [False, True, False]),
        ("${a} = 'yes' or ${n} = 2", [True, True, False]),
        ("not(${a} = 'yes')", [False, True, True]),
        ("selected(${m}, 'b')", [True, False, False]),
        ("count-selected(${m}) = 2", [True, False, False]),
        ("count_selected(${m}) = 0", [False, False, True]),
        ("true", [True, True, True]),
    ],
)
def test_expressions_evaluate_column_wise(text: str, expected: list[bool]) -> None:
    got = _eval(text, a=["yes", "no", None], n=[3, 2, None], m=["a;b", "a", None])
    assert got == expected


def test_self_reference_is_the_answer_being_checked() -> None:
    node = ex.parse(". <= ${total}")
    result = ex.evaluate(node, {"total": pa.array([5, 5])}, length=2, self_column=pa.array([4, 6]))
    assert result.to_pylist() == [True, False]


def test_date_columns_compare_with_iso_literals() -> None:
    import datetime as dt

    dates = pa.array([dt.date(2024, 1, 1), dt.date(2026, 1, 1)], pa.date32())
    assert _eval_dates(dates) == [False, True]


def _eval_dates(dates: pa.Array) -> list[bool]:
    return ex.evaluate(ex.parse("${d} > '2025-01-01'"), {"d": dates}, length=2).to_pylist()


def test_references_lists_question_ids_in_order() -> None:
    node = ex.parse("${b} = 'x' and (${a} > 1 or selected(${b}, 'y'))")
    assert ex.references(node) == ["b", "a"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${a} = ", "expected a value"),
        ("${a} = 'x' and", "expected a value"),
        ("__import__('os')", "unexpected"),
        ("${a} + 1", "unexpected character"),
        ("selected(${a})", "takes 2 argument"),
        ("selected('a', 'b')", "must be a question reference"),
        ("(${a} = 'x'", "expected rpar"),
        ("", "empty expression"),
    ],
)
def test_malformed_expressions_are_refused_with_position(text: str, message: str) -> None:
    with pytest.raises(ex.ExpressionError, match=message):
        ex.parse(text)


def test_overlong_expression_is_refused() -> None:
    with pytest.raises(ex.ExpressionError, match="longer than"):
        ex.parse("${a} = 'x' or " * 300 + "${a} = 'y'")


@given(st.text(max_size=60))
def test_parser_never_fails_other_than_with_expression_error(text: str) -> None:
    with contextlib.suppress(ex.ExpressionError):
        ex.parse(text)


@given(
    st.lists(
        st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", "a.b", "c+"]), max_size=3)),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["a", "b", "a.b", "c+", "x"]),
)
def test_selected_finds_a_code_among_the_codes_of_each_row(
    rows: list[list[str] | None], code: str
) -> None:
    texts = [None if row is None else ";".join(row) for row in rows]
    expected = [text is not None and code in text.split(";") for text in texts]
    half = len(texts) // 2
    for column in (
        pa.array(texts, pa.string()),
        pa.chunked_array([texts[:half], texts[half:]], pa.string()),
    ):
        node = ex.parse(f"selected(${{m}}, '{code}')")
        assert ex.evaluate(node, {"m": column}, length=len(texts)).to_pylist() == expected


@pytest.mark.parametrize(
    "text",
    [
        "${sc} = 3",
        "${n} = 'many'",
        "${d} < 'soon'",
        "${d} < 2024",
        "selected(${n}, 'a')",
        "count-selected(${n}) > 1",
        "selected(${m}, 1)",
        ". = 1",
        "${zz} = 1",
    ],
)
def test_every_expression_that_fails_when_evaluated_fails_the_type_check(text: str) -> None:
    node = ex.parse(text)
    assert type_problems(node, QUESTIONNAIRE.by_id)
    with pytest.raises((pa.ArrowException, KeyError, TypeError), match=r".+"):
        ex.evaluate(node, COLUMNS, length=ROWS)


@pytest.mark.parametrize("opening", ["(", "not ", "count-selected("])
def test_nesting_beyond_the_depth_limit_is_a_parse_error(opening: str) -> None:
    closing = ")" if opening.endswith("(") else ""
    ok = opening * ex.MAX_EXPRESSION_DEPTH + "${m}" + closing * ex.MAX_EXPRESSION_DEPTH
    too_deep = "(" + ok + ")"
    if opening != "count-selected(":
        assert ex.parse(ok)
    with pytest.raises(ex.ExpressionError, match=r"nested more than 32 levels deep at position"):
        ex.parse(too_deep)
