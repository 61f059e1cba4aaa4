"""Validation rules and the answer policy, on the small test questionnaire."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from scoring import (
    AnswerState,
    InputError,
    Questionnaire,
    Reason,
    Severity,
    Validation,
    validate_document,
)
from tests.conftest import AS_OF, mini_document


def _check(mini: Questionnaire, **changes: Any) -> Validation:
    return validate_document(mini_document(**changes), mini, as_of=AS_OF)


def _reasons(result: Validation, question_id: str) -> set[str]:
    rows = result.issues[result.issues["question_id"] == question_id]
    return set(rows["reason"])


def test_a_complete_response_is_valid_without_issues(mini: Questionnaire) -> None:
    result = _check(mini)
    assert result.is_valid
    assert result.issues.empty
    assert result.answers.loc[0, "beds"] == 120
    assert (result.states.iloc[0] == AnswerState.ANSWERED).sum() == len(mini.questions) - 1


def test_a_blank_control_is_its_worst_answer_and_flagged(mini: Questionnaire) -> None:
    result = _check(mini, backup_level="", patch_days=None)
    assert result.is_valid
    assert result.answers.loc[0, "backup_level"] == "none"
    assert result.answers.loc[0, "patch_days"] == 365
    flagged = result.issues[result.issues["reason"] == Reason.TREATED_AS_WORST.value]
    assert set(flagged["question_id"]) == {"backup_level", "patch_days"}
    assert set(flagged["severity"]) == {Severity.WARNING.value}
    assert result.states.loc[0, "backup_level"] == AnswerState.UNANSWERED


def test_without_warnings_the_issues_are_the_errors_and_nothing_else_changes(
    mini: Questionnaire,
) -> None:
    from scoring import synthetic_responses, validate
    from scoring.responses.reading import RawResponses

    table = synthetic_responses(mini, 300, seed=3, as_of=AS_OF, blank_share=0.1)
    beds = table.column("beds").to_pylist()
    beds[7] = "many"  # an error among the warnings
    table = table.set_column(table.schema.get_field_index("beds"), "beds", pa.array(beds))
    raw = RawResponses(table=table, source="book.csv", first_row=2)
    full = validate(raw, mini, as_of=AS_OF)
    errors_only = validate(raw, mini, as_of=AS_OF, warnings=False)
    assert (full.issues["severity"] == Severity.WARNING.value).any()
    expected = full.issues[full.issues["severity"] == Severity.ERROR.value]
    assert errors_only.issues.equals(expected.reset_index(drop=True))
    assert errors_only.answers.equals(full.answers)
    assert errors_only.states.equals(full.states)
    assert (errors_only.valid == full.valid).all()
    assert not full.valid[7]


def test_an_unknown_date_control_is_one_staleness_period_old(mini: Questionnaire) -> None:
    result = _check(mini, last_restore_test="unknown")
    assert result.is_valid
    day = result.answers.loc[0, "last_restore_test"].date()
    assert (AS_OF - day).days == 366  # ceil(1 year x 365.25 days)


def test_a_required_exposure_left_blank_is_an_error(mini: Questionnaire) -> None:
    result = _check(mini, beds=None)
    assert not result.is_valid
    assert _reasons(result, "beds") == {Reason.REQUIRED.value}


def test_unknown_is_refused_where_the_question_does_not_allow_it(mini: Questionnaire) -> None:
    result = _check(mini, beds="unknown")
    assert _reasons(result, "beds") == {Reason.UNKNOWN_REFUSED.value}


def test_unknown_exposure_stays_missing_where_allowed(mini: Questionnaire) -> None:
    result = _check(mini, records="Unknown")
    assert result.is_valid
    assert result.answers["records"].isna().all()
    assert result.states.loc[0, "records"] == AnswerState.UNKNOWN


def test_not_applicable_is_accepted_only_where_declared(mini: Questionnaire) -> None:
    allowed = _check(mini, backup_level="n/a")
    assert allowed.is_valid
    assert allowed.answers["backup_level"].isna().all()
    refused = _check(mini, patch_days="N/A")
    assert _reasons(refused, "patch_days") == {Reason.NOT_APPLICABLE_REFUSED.value}


def test_skip_logic_hides_questions_and_refuses_contradictions(mini: Questionnaire) -> None:
    hidden = _check(
        mini, has_pacs="no", pacs_exposed=None, modality_count=None, unsupported_modalities=None
    )
    assert hidden.is_valid
    assert hidden.states.loc[0, "pacs_exposed"] == AnswerState.NOT_RELEVANT
    contradicting = _check(mini, has_pacs="no", modality_count=None, unsupported_modalities=None)
    assert _reasons(contradicting, "pacs_exposed") == {Reason.NOT_RELEVANT_ANSWERED.value}
    message = contradicting.issues.loc[0, "message"]
    assert "has_pacs = 'yes'" in message


def test_a_child_of_an_unknown_control_is_hidden(mini: Questionnaire) -> None:
    result = _check(mini, mdm_in_use="unknown", mdm_wipe=None)
    assert result.is_valid
    assert result.answers.loc[0, "mdm_in_use"] == "no"
    assert result.states.loc[0, "mdm_wipe"] == AnswerState.NOT_RELEVANT


def test_constraints_across_questions(mini: Questionnaire) -> None:
    result = _check(mini, modality_count=2, unsupported_modalities=3)
    assert _reasons(result, "unsupported_modalities") == {Reason.CONSTRAINT.value}
    assert "cannot exceed" in result.issues.loc[0, "message"]


def test_dates_after_the_assessment_are_refused(mini: Questionnaire) -> None:
    result = _check(mini, last_restore_test="2026-06-02")
    assert _reasons(result, "last_restore_test") == {Reason.FUTURE_DATE.value}


def test_assessed_on_sets_the_as_of_date_per_facility(mini: Questionnaire) -> None:
    document = mini_document()
    document["assessed_on"] = "2026-02-01"
    result = validate_document(document, mini, as_of=AS_OF)
    assert _reasons(result, "last_restore_test") == {Reason.FUTURE_DATE.value}
    document["assessed_on"] = "2026-07-01"
    later = validate_document(document, mini, as_of=AS_OF)
    assert _reasons(later, "assessed_on") == {Reason.FUTURE_DATE.value}


def test_all_problems_are_collected_at_once(mini: Questionnaire) -> None:
    result = _check(
        mini, beds="many", revenue="-1", has_pacs="perhaps", edr_share="120%", phone_uses="fax"
    )
    assert {"beds", "revenue", "has_pacs", "edr_share", "phone_uses"} <= set(
        result.issues["question_id"]
    )
    first = result.issue_list(Severity.ERROR)[0]
    assert first.value == "many"
    assert first.allowed == "a whole number from 0 to 5,000"


def test_unknown_question_ids_suggest_the_nearest(mini: Questionnaire) -> None:
    document = mini_document()
    document["answers"]["pacs_exposd"] = "no"
    with pytest.raises(InputError, match="did you mean 'pacs_exposed'") as caught:
        validate_document(document, mini, as_of=AS_OF)
    assert caught.value.issues[0].reason is Reason.UNKNOWN_COLUMN


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("questionnaire", "other", "answers questionnaire 'other'"),
        (
            "questionnaire_version",
            "2.0.0",
            "answers version 2.0.0 of mini; this engine expects "
            "version 1.0.0 and has migrations from: none",
        ),
        ("questionnaire_version", None, "'questionnaire_version' is missing"),
    ],
)
def test_other_questionnaires_and_versions_are_refused(
    mini: Questionnaire, key: str, value: str | None, message: str
) -> None:
    document = mini_document()
    if value is None:
        del document[key]
    else:
        document[key] = value
    with pytest.raises(InputError, match=message):
        validate_document(document, mini, as_of=AS_OF)


def test_a_declared_migration_renames_and_recodes(mini: Questionnaire) -> None:
    from scoring import Migration

    migration = Migration(
        from_version="0.9.0",
        renamed={"patch_lag": "patch_days"},
        recoded={"backup_level": {"tape": "offline"}},
        removed=("fax",),
    )
    migrating = mini.model_copy(update={"migrations": (migration,)})
    document = mini_document(patch_days=None, backup_level="tape")
    document["questionnaire_version"] = "0.9.0"
    document["answers"]["patch_lag"] = 21
    document["answers"]["fax"] = "yes"
    result = validate_document(document, migrating, as_of=AS_OF)
    assert result.is_valid
    assert result.migrated_from == "0.9.0"
    assert result.answers.loc[0, "patch_days"] == 21
    assert result.answers.loc[0, "backup_level"] == "offline"
    assert _reasons(result, "fax") == {Reason.MIGRATED.value}


@pytest.mark.parametrize(
    "document",
    [
        [],
        "text",
        {"questionnaire": "mini", "answers": []},
        {"questionnaire": "mini", "questionnaire_version": "1.0.0", "answers": {"beds": {"a": 1}}},
        {"questionnaire": "mini", "questionnaire_version": "1.0.0", "answerz": {}},
    ],
)
def test_malformed_documents_raise_input_error(mini: Questionnaire, document: Any) -> None:
    with pytest.raises(InputError, match=r"\S"):
        validate_document(document, mini, as_of=AS_OF)


def test_never_answers_a_date_control_as_its_worst_without_a_flag(mini: Questionnaire) -> None:
    result = _check(mini, last_restore_test="Never")
    assert result.is_valid
    assert result.issues.empty
    assert result.states.loc[0, "last_restore_test"] == AnswerState.ANSWERED
    assert (AS_OF - result.answers.loc[0, "last_restore_test"].date()).days == 366


def test_unquoted_yaml_no_answers_a_choice_whose_code_is_no(mini: Questionnaire) -> None:
    from scoring import response_from_mapping, validate

    document = mini_document()
    document["answers"]["has_pacs"] = False  # what YAML makes of an unquoted `no`
    for key in ("pacs_exposed", "modality_count", "unsupported_modalities"):
        del document["answers"][key]
    result = validate(response_from_mapping(document), mini, as_of=AS_OF)
    assert result.is_valid
    assert result.answers.loc[0, "has_pacs"] == "no"
