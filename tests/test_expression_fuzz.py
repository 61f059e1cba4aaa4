"""Fuzzing the expression language: any text parses to a tree or to the parser's own error.

Strings of every kind (arbitrary text, strings built from the grammar's tokens,
deep nesting, long inputs) either give a tree or raise ``ExpressionError`` -
never another exception, never a ``RecursionError``. A tree that passes the type
check against a small questionnaire evaluates over a small table of its answers
without error, to one boolean a row.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import Questionnaire
from scoring.questionnaire import expression as ex
from scoring.questionnaire.typecheck import type_problems
from scoring.rating.engine import RatingEngine
from scoring.rating.score import default_engine
from scoring.responses.intake import validate_file
from scoring.responses.reading import response_from_mapping
from scoring.responses.validation import validate
from tests.conftest import EXAMPLES, EXAMPLES_AS_OF

FUZZ = settings(max_examples=150, deadline=None, derandomize=True)

QUESTIONNAIRE = Questionnaire.model_validate(
    {
        "id": "fuzz",
        "version": "1.0.0",
        "title": "Fuzz",
        "sections": [
            {
                "id": "s",
                "title": "S",
                "questions": [
                    {"id": "yn", "type": "yes_no", "label": "yn"},
                    {
                        "id": "sc",
                        "type": "single_choice",
                        "label": "sc",
                        "choices": [{"code": c, "label": c.upper()} for c in ("a", "b", "c")],
                    },
                    {
                        "id": "m",
                        "type": "multiple_choice",
                        "label": "m",
                        "choices": [{"code": c, "label": c.upper()} for c in ("a", "b")],
                    },
                    {"id": "n", "type": "integer", "label": "n"},
                    {"id": "x", "type": "number", "label": "x"},
                    {"id": "p", "type": "percent", "label": "p"},
                    {"id": "d", "type": "date", "label": "d"},
                    {"id": "t", "type": "text", "label": "t"},
                ],
            }
        ],
    }
)
ROWS = 4
COLUMNS: dict[str, Any] = {
    "yn": pa.array(["yes", "no", None, "yes"]),
    "sc": pa.array(["a", "c", None, "b"]),
    "m": pa.array(["a;b", "a", None, ""]),
    "n": pa.array([3, 0, None, 12], pa.int64()),
    "x": pa.array([1.5, None, 2.0, -4.0]),
    "p": pa.array([50.0, None, 100.0, 0.0]),
    "d": pa.array([dt.date(2024, 1, 1), None, dt.date(2020, 5, 5), dt.date(2026, 2, 28)]),
    "t": pa.array(["hello", None, "", "a;b"]),
}

_REFS = st.sampled_from(["${yn}", "${sc}", "${m}", "${n}", "[x]", "${p}", "${d}", "[t]", "${zz}"])
_LITERALS = st.sampled_from(
    [
        "'yes'",
        "'no'",
        "'a'",
        "'b'",
        "'zz'",
        '"a;b"',
        "'2024-01-01'",
        "'2024-02-30'",
        "'soon'",
        "''",
        "0",
        "1",
        "2.5",
        "100",
        "9" * 400,
        "true",
        "false",
    ]
)
_OPS = st.sampled_from(["=", "==", "!=", "<>", "<", "<=", ">", ">="])


_NUMBERS = st.sampled_from(["${n}", "[x]", "${p}", "count-selected(${m})", "0", "2.5", "."])
_DATES = st.sampled_from(["${d}", "'2024-01-01'", "'2026-02-28'", "."])
_STRINGS = st.sampled_from(["${sc}", "${yn}", "'a'", "'yes'", "[t]", "${m}", "'b'", "."])
_COMPARISONS = st.one_of(
    st.builds("{} {} {}".format, _NUMBERS, _OPS, _NUMBERS),
    st.builds("{} {} {}".format, _DATES, _OPS, _DATES),
    st.builds("{} {} {}".format, _STRINGS, st.sampled_from(["=", "!=", "<>"]), _STRINGS),
)
"""Comparisons that mostly type-check, so that evaluation is exercised often."""


def _operand() -> st.SearchStrategy[str]:
    return st.one_of(
        _COMPARISONS,
        _REFS,
        _LITERALS,
        st.just("."),
        st.builds("selected({}, {})".format, _REFS, _LITERALS),
        st.builds("count-selected({})".format, _REFS),
        st.builds("count_selected({})".format, _REFS),
    )


def _combined(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds("{} {} {}".format, inner, _OPS, inner),
        st.builds("{} and {}".format, inner, inner),
        st.builds("{} or {}".format, inner, inner),
        st.builds("not({})".format, inner),
        st.builds("not {}".format, inner),
        st.builds("({})".format, inner),
    )


GRAMMAR = st.recursive(_operand(), _combined, max_leaves=10)
TOKENS = st.lists(
    st.one_of(_REFS, _LITERALS, _OPS, st.sampled_from(["(", ")", ",", ".", "and", "or", "not"])),
    max_size=30,
).map(" ".join)


def parsed(text: str) -> ex.Node | None:
    """The tree of ``text``, or None when the parser refuses it with its own error."""
    try:
        return ex.parse(text)
    except ex.ExpressionError:
        return None


def evaluates_cleanly(node: ex.Node, self_id: str | None) -> None:
    """A tree that type-checks evaluates to one boolean a row, without error."""
    self_question = QUESTIONNAIRE.by_id[self_id] if self_id else None
    if type_problems(node, QUESTIONNAIRE.by_id, self_question=self_question):
        return
    result = ex.evaluate(
        node, COLUMNS, length=ROWS, self_column=COLUMNS[self_id] if self_id else None
    )
    assert pa.types.is_boolean(result.type)
    assert len(result) == ROWS
    assert result.null_count == 0


@FUZZ
@given(st.text(max_size=200))
def test_any_text_parses_or_raises_the_parsers_own_error(text: str) -> None:
    node = parsed(text)
    assert node is None or isinstance(
        node, ex.Ref | ex.SelfRef | ex.Literal | ex.Compare | ex.BoolOp | ex.Not | ex.Call
    )


@FUZZ
@given(TOKENS)
def test_any_sequence_of_tokens_parses_or_raises_the_parsers_own_error(text: str) -> None:
    parsed(text)


@FUZZ
@given(GRAMMAR, st.sampled_from([None, "n", "d", "sc", "m"]))
def test_a_tree_that_type_checks_evaluates_on_a_table_without_error(
    text: str, self_id: str | None
) -> None:
    node = parsed(text)
    if node is not None:
        evaluates_cleanly(node, self_id)


@FUZZ
@given(
    st.sampled_from(["(", "not ", "not(", "count-selected(", "selected("]),
    st.integers(min_value=0, max_value=1000),
)
def test_any_nesting_depth_gives_a_tree_or_a_parse_error_never_recursion(
    opening: str, depth: int
) -> None:
    closing = ")" if "(" in opening else ""
    text = opening * depth + "${n} > 1" + closing * depth
    node = parsed(text)
    levels = depth * (2 if opening == "not(" else 1)
    if levels <= ex.MAX_EXPRESSION_DEPTH and opening in ("(", "not ", "not("):
        assert node is not None
        evaluates_cleanly(node, None)
    if depth > ex.MAX_EXPRESSION_DEPTH:
        assert node is None


@FUZZ
@given(st.integers(min_value=1, max_value=400), st.sampled_from([" or ", " and ", " = "]))
def test_long_expressions_parse_up_to_the_limit_and_are_refused_beyond(
    repeats: int, joint: str
) -> None:
    text = joint.join(["${n} > 1"] * repeats)
    node = parsed(text)
    if len(text) > ex.MAX_EXPRESSION_LENGTH:
        with pytest.raises(ex.ExpressionError, match="longer than 2000 characters"):
            ex.parse(text)
    elif joint != " = " or repeats == 1:
        assert node is not None
        evaluates_cleanly(node, None)


def _with_question(field: str, text: str) -> Questionnaire:
    """The fuzz questionnaire with one more yes/no question using ``text`` as ``field``."""
    document = QUESTIONNAIRE.model_dump(mode="json", exclude_none=True)
    section = document["sections"][0]
    extra = {"id": "z", "type": "yes_no", "label": "z", field: text}
    document["sections"] = [{**section, "questions": [*section["questions"], extra]}]
    return Questionnaire.model_validate(document)


ANSWERS = {
    "yn": "yes",
    "sc": "b",
    "m": "a;b",
    "n": "3",
    "x": "1.5",
    "p": "50",
    "d": "2024-01-01",
    "t": "hi",
    "z": "no",
}


@FUZZ
@given(
    GRAMMAR,
    st.sampled_from(["relevant", "constraint"]),
    st.sets(st.sampled_from(sorted(ANSWERS))),
)
def test_a_definition_expression_that_type_checks_validates_a_response_without_error(
    text: str, field: str, blanks: set[str]
) -> None:
    node = parsed(text)
    if node is None:
        return
    questionnaire = _with_question(field, text)
    own = questionnaire.by_id["z"] if field == "constraint" else None
    if type_problems(node, questionnaire.by_id, self_question=own):
        return
    answers = {k: v for k, v in ANSWERS.items() if k not in blanks}
    document = {"questionnaire": "fuzz", "questionnaire_version": "1.0.0", "answers": answers}
    result = validate(
        response_from_mapping({"facility_id": "F-1", **document}),
        questionnaire,
        as_of=dt.date(2026, 6, 1),
    )
    assert len(result.answers) == 1


_RULE_REFS = st.sampled_from(
    [
        "${uses_msp}",
        "${facility_type}",
        "${phones_used_for}",
        "${beds_or_residents}",
        "${net_patient_revenue}",
        "${edr_coverage_servers}",
        "${last_restore_test}",
    ]
)
_RULE_LITERALS = st.sampled_from(
    ["'yes'", "'hospice'", "'images'", "'2025-06-30'", "'2025-02-30'", "0", "75", "true"]
)
_RULE_OPERAND = st.one_of(
    st.builds("{} {} {}".format, _RULE_REFS, _OPS, st.one_of(_RULE_REFS, _RULE_LITERALS)),
    st.builds("selected({}, {})".format, _RULE_REFS, _RULE_LITERALS),
    st.builds("count-selected({}) > 1".format, _RULE_REFS),
)
RULES = st.recursive(_RULE_OPERAND, _combined, max_leaves=6)


@pytest.fixture(scope="module")
def rated_answers() -> tuple[RatingEngine, Any]:
    engine = default_engine()
    book = validate_file(EXAMPLES / "portfolio.csv", as_of=EXAMPLES_AS_OF)
    return engine, book.answers


@FUZZ
@given(RULES)
def test_a_rating_rule_that_type_checks_is_evaluated_on_a_book_without_error(
    rated_answers: tuple[RatingEngine, Any], text: str
) -> None:
    engine, answers = rated_answers
    node = parsed(text)
    if node is None or type_problems(node, engine.questionnaire.by_id):
        return
    questions = SimpleNamespace(rule_questions=tuple(ex.references(node)))
    env = RatingEngine.rule_env(questions, answers)  # type: ignore[arg-type]
    hits = ex.evaluate(node, env, length=len(answers))
    assert len(hits) == len(answers)
    assert hits.null_count == 0
