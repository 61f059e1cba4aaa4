"""The questionnaire linter finds every kind of defect it promises to."""

from __future__ import annotations

from typing import Any

import pytest

from scoring import (
    Questionnaire,
    QuestionnaireError,
    bundled_questionnaire,
    default_catalog,
    lint,
    load_questionnaire,
)
from tests.conftest import DATA

CONTROL = {
    "order": ["no", "yes"],
    "perils": ["ransomware"],
    "frameworks": {"cis": ["6.4"]},
    "why": "Because.",
}


def _questionnaire(*questions: dict[str, Any]) -> Questionnaire:
    return Questionnaire.model_validate(
        {
            "id": "t",
            "version": "1.0.0",
            "title": "T",
            "sections": [{"id": "s", "title": "S", "questions": list(questions)}],
        }
    )


def _codes(*questions: dict[str, Any]) -> list[str]:
    return [f.code for f in lint(_questionnaire(*questions), default_catalog()) if f.is_error]


def _yes_no(qid: str, **extra: Any) -> dict[str, Any]:
    return {"id": qid, "type": "yes_no", "label": qid, **extra}


def test_the_bundled_questionnaire_is_clean() -> None:
    findings = lint(bundled_questionnaire(), default_catalog())
    assert [f.describe() for f in findings] == []


def test_bundled_questionnaire_covers_the_domains_and_size() -> None:
    questionnaire = bundled_questionnaire()
    assert 60 <= len(questionnaire.questions) <= 90
    titles = " ".join(s.title.lower() for s in questionnaire.sections)
    for word in (
        "profile",
        "imaging",
        "backups",
        "email",
        "network",
        "vendors",
        "phones",
        "training",
        "incident",
    ):
        assert word in titles


@pytest.mark.parametrize(
    ("questions", "code"),
    [
        ((_yes_no("a"), _yes_no("a")), "duplicate-id"),
        ((_yes_no("a", relevant="${zz} = 'yes'"),), "unknown-reference"),
        ((_yes_no("a", relevant="${b} = 'yes'"), _yes_no("b")), "forward-reference"),
        ((_yes_no("a", relevant="${a} = 'yes'"),), "cycle"),
        ((_yes_no("a"), _yes_no("b", relevant="${a} = 'maybe'")), "dead-branch"),
        (
            (
                _yes_no("a"),
                _yes_no("b", relevant="${a} = 'maybe'"),
                _yes_no("c", relevant="${b} = 'yes'"),
            ),
            "dead-branch",
        ),
        ((_yes_no("a", relevant="false"),), "dead-branch"),
        ((_yes_no("a", relevant="${a} ="),), "bad-expression"),
        (({"id": "a", "type": "single_choice", "label": "A"},), "no-choices"),
        (
            (
                {
                    "id": "a",
                    "type": "single_choice",
                    "label": "A",
                    "choices": [{"code": "", "label": "x"}, {"code": "b", "label": "y"}],
                },
            ),
            "choice-without-code",
        ),
        (
            (
                {
                    "id": "a",
                    "type": "single_choice",
                    "label": "A",
                    "choices": [{"code": "b", "label": "x"}, {"code": "b", "label": "y"}],
                },
            ),
            "duplicate-choice",
        ),
        ((_yes_no("a", control={**CONTROL, "order": None}),), "control-without-order"),
        ((_yes_no("a", control={**CONTROL, "order": ["no", "maybe"]}),), "order-mismatch"),
        ((_yes_no("a", control={**CONTROL, "frameworks": {}}),), "control-without-framework"),
        (
            (_yes_no("a", control={**CONTROL, "frameworks": {"cis": ["99.9"]}}),),
            "unknown-framework-ref",
        ),
        (
            (
                {
                    "id": "a",
                    "type": "integer",
                    "label": "A",
                    "control": {**CONTROL, "order": None, "better": "lower"},
                },
            ),
            "control-without-range",
        ),
        (
            (
                {
                    "id": "a",
                    "type": "multiple_choice",
                    "label": "A",
                    "control": CONTROL,
                    "choices": [{"code": "b", "label": "x"}, {"code": "c", "label": "y"}],
                },
            ),
            "control-kind",
        ),
        (({"id": "a", "type": "integer", "label": "A", "min": 5, "max": 1},), "empty-range"),
    ],
)
def test_each_defect_is_found(questions: tuple[dict[str, Any], ...], code: str) -> None:
    assert code in _codes(*questions)


def test_a_questionnaire_with_lint_errors_is_refused_at_load(tmp_path: Any) -> None:
    text = (
        (DATA / "mini-1.0.0.yaml")
        .read_text()
        .replace(
            "relevant: \"${has_pacs} = 'yes'\"\n        control",
            "relevant: \"${zz} = 'yes'\"\n        control",
            1,
        )
    )
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(QuestionnaireError, match="unknown question 'zz'"):
        load_questionnaire(path)


def test_unknown_keys_in_a_questionnaire_are_refused(tmp_path: Any) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: t\nversion: 1.0.0\ntitle: T\nsections: []\ncolour: red\n")
    with pytest.raises(QuestionnaireError, match="colour: Extra inputs are not permitted"):
        load_questionnaire(path)


def test_an_impossible_alternative_does_not_kill_the_whole_branch() -> None:
    codes = _codes(_yes_no("a"), _yes_no("b", relevant="${a} = 'maybe' or ${a} = 'yes'"))
    assert "unknown-code" in codes
    assert "dead-branch" not in codes


def test_an_unknown_code_with_not_equal_is_always_true_not_dead() -> None:
    findings = lint(_questionnaire(_yes_no("a"), _yes_no("b", relevant="${a} != 'maybe'")))
    assert [f.code for f in findings] == ["unknown-code"]
    assert "always true" in findings[0].message


def _number(qid: str, **extra: Any) -> dict[str, Any]:
    return {"id": qid, "type": "integer", "label": qid, **extra}


def _multiple(qid: str, **extra: Any) -> dict[str, Any]:
    choices = [{"code": "a", "label": "A"}, {"code": "b", "label": "B"}]
    return {"id": qid, "type": "multiple_choice", "label": qid, "choices": choices, **extra}


def _date(qid: str, **extra: Any) -> dict[str, Any]:
    return {"id": qid, "type": "date", "label": qid, **extra}


@pytest.mark.parametrize(
    ("questions", "code", "message"),
    [
        (
            (_number("n"), _yes_no("b", relevant="count-selected(${n}) > 1")),
            "count-selected-on-single",
            "count-selected() needs a multiple choice question; n (integer)",
        ),
        (
            (_yes_no("a"), _yes_no("b", relevant="${a} = 2")),
            "incompatible-comparison",
            "compares a (yes_no) with the number 2",
        ),
        (
            (_date("d"), _yes_no("b", relevant="${d} < '2024-02-30'")),
            "bad-date",
            "'2024-02-30' is not a date",
        ),
        (
            (_date("d"), _yes_no("b", relevant="${d} < 2024")),
            "incompatible-comparison",
            "compares d (date) with the number 2024",
        ),
        (
            (_yes_no("a"), _yes_no("b", relevant="${a} > 'no'")),
            "ordering-of-non-number",
            "only numbers and dates have an order",
        ),
        (
            (_multiple("m"), _yes_no("b", relevant="selected(${m}, 1)")),
            "selected-without-code",
            "must be a choice code in quotes",
        ),
        (
            (_multiple("m"), _yes_no("b", relevant="selected(${m}, 'c')")),
            "unknown-code",
            "compares m with 'c', which is not one of its codes",
        ),
        (
            (_number("n", constraint=". = 'many'"),),
            "type-mismatch",
            "compares the number n",
        ),
    ],
)
def test_ill_typed_skip_logic_and_constraints_are_lint_errors(
    questions: tuple[dict[str, Any], ...], code: str, message: str
) -> None:
    findings = [f for f in lint(_questionnaire(*questions), default_catalog()) if f.is_error]
    assert [f.code for f in findings].count(code) == 1
    assert any(message in f.message for f in findings if f.code == code)


def test_a_constraint_may_compare_its_own_answer_with_an_earlier_number() -> None:
    questions = (_number("n"), _number("m", constraint=". <= ${n}"), _multiple("x"))
    findings = lint(_questionnaire(*questions), default_catalog())
    assert not [f for f in findings if f.is_error]


def test_selected_of_a_single_choice_is_reported_once() -> None:
    findings = lint(_questionnaire(_yes_no("a"), _yes_no("b", relevant="selected(${a}, 'yes')")))
    assert [f.code for f in findings if f.is_error] == ["selected-on-single"]


def test_a_relevance_nested_hundreds_deep_is_a_lint_error_not_a_recursion_error() -> None:
    deep = "(" * 400 + "${a} = 'yes'" + ")" * 400
    findings = lint(_questionnaire(_yes_no("a"), _yes_no("b", relevant=deep)))
    assert [f.code for f in findings] == ["bad-expression"]
    assert "nested more than 32 levels deep" in findings[0].message
