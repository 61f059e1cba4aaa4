"""Questionnaire 1.1.0 beside 1.0.0: every 1.0.0 response, book, model, plan and
catalogue still works, and the two versions give the same price."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from scoring import InputError, bundled_questionnaire, default_engine, validate_file
from scoring.cli.app import app
from scoring.errors import RatingPlanError
from scoring.portfolio.run import score_book
from scoring.questionnaire.loader import bundled_questionnaire_reading
from scoring.rating.plan import load_rating_plan
from scoring.rating.remediation import bundled_remediation_path
from tests.conftest import ADDED_IN_1_1_0, EXAMPLES, EXAMPLES_AS_OF, ROOT, example_portfolio_as

runner = CliRunner()
ADDED = ADDED_IN_1_1_0


def test_1_1_0_is_1_0_0_with_the_vendor_questions_added_and_no_feature_more() -> None:
    old = bundled_questionnaire("care_cyber", "1.0.0")
    new = bundled_questionnaire("care_cyber", "1.1.0")
    assert [q.id for q in new.questions if q.id not in old.by_id] == list(ADDED)
    assert all(new.by_id[q.id] == q for q in old.questions)
    assert all(not new.by_id[qid].required for qid in ADDED)
    assert new.reads("care_cyber", "1.0.0")
    assert not old.reads("care_cyber", "1.1.0")
    assert not new.reads("mini", "1.0.0")
    engine = default_engine()
    assert engine.questionnaire.key == "care_cyber@1.1.0"
    assert engine.model.questionnaire.version == "1.0.0"


def test_the_newest_bundled_questionnaire_reads_a_model_made_for_the_older() -> None:
    assert bundled_questionnaire_reading("care_cyber", "1.0.0").version == "1.1.0"
    assert bundled_questionnaire_reading("care_cyber", "1.1.0").version == "1.1.0"
    new = bundled_questionnaire("care_cyber", "1.1.0")
    assert bundled_remediation_path(new).name == "care-cyber-1.0.0.yaml"


def test_a_plan_for_a_version_the_questionnaire_does_not_read_is_refused(tmp_path: Path) -> None:
    plan = ROOT / "models" / "care-cyber-default" / "rating-plan.yaml"
    text = plan.read_text(encoding="utf-8")
    edited = tmp_path / "rating-plan.yaml"
    edited.write_text(
        text.replace(
            "questionnaire: {id: care_cyber, version: 1.0.0}",
            "questionnaire: {id: care_cyber, version: 0.9.0}",
        ),
        encoding="utf-8",
    )
    new = bundled_questionnaire("care_cyber", "1.1.0")
    load_rating_plan(plan, new)  # written for 1.0.0, which 1.1.0 reads
    with pytest.raises(
        RatingPlanError,
        match=r"the plan is for care_cyber@0\.9\.0; the questionnaire is care_cyber@1\.1\.0 "
        r"\(and reads 1\.0\.0\)",
    ):
        load_rating_plan(edited, new)


def test_a_book_answering_1_0_0_and_the_same_book_answering_1_1_0_price_the_same(
    tmp_path: Path,
) -> None:
    engine = default_engine()
    scored = {}
    for version in ("1.0.0", "1.1.0"):
        out = tmp_path / f"scored-{version}.csv"
        summary = score_book(
            example_portfolio_as(version, tmp_path), out, engine, as_of=EXAMPLES_AS_OF
        )
        assert summary.rows_read == summary.rows_scored + summary.rows_rejected
        assert summary.rows_rejected == 0
        scored[version] = pacsv.read_csv(out)
    old, new = scored["1.0.0"], scored["1.1.0"]
    assert old.num_rows == new.num_rows >= 200
    for name in ("facility_id", "outcome", "tier", "premium", "technical_premium"):
        assert old[name].equals(new[name]), name


def test_a_1_0_0_response_is_migrated_and_the_added_questions_stay_unanswered() -> None:
    validation = validate_file(EXAMPLES / "rural-snf-no-mfa.yaml", as_of=EXAMPLES_AS_OF)
    assert validation.is_valid
    answers = validation.answers.iloc[0]
    assert answers[list(ADDED)].isna().all()


def test_an_example_answering_1_1_0_names_its_vendors_and_prices_as_without_them(
    tmp_path: Path,
) -> None:
    from scoring import score

    path = EXAMPLES / "hospice-msp-gap.yaml"
    validation = validate_file(path, as_of=EXAMPLES_AS_OF)
    assert validation.is_valid
    answers = validation.answers.iloc[0]
    assert answers["msp_rmm_tool"] == "connectwise"
    assert answers["msp_name"] == "Tri-County Tech Partners"
    text = path.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if not line.lstrip().startswith(ADDED)]
    as_1_0_0 = tmp_path / "hospice-1.0.0.yaml"
    as_1_0_0.write_text(
        "\n".join(kept).replace('questionnaire_version: "1.1.0"', 'questionnaire_version: "1.0.0"'),
        encoding="utf-8",
    )
    engine = default_engine()
    with_vendors = score(path, engine=engine, as_of=EXAMPLES_AS_OF)
    without = score(as_1_0_0, engine=engine, as_of=EXAMPLES_AS_OF)
    assert with_vendors.model_dump_json() == without.model_dump_json()


def test_a_version_without_a_declared_migration_is_refused_with_the_versions_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.json"
    path.write_text(
        json.dumps(
            {"questionnaire": "care_cyber", "questionnaire_version": "0.9.0", "answers": {}}
        ),
        encoding="utf-8",
    )
    with pytest.raises(
        InputError, match=r"answers version 0\.9\.0 of care_cyber; .* migrations from: 1\.0\.0"
    ):
        validate_file(path, as_of=EXAMPLES_AS_OF)


def test_templates_of_either_version_by_id_and_version() -> None:
    newest = runner.invoke(app, ["questionnaire", "template", "--format", "csv"])
    older = runner.invoke(
        app, ["questionnaire", "template", "--format", "csv", "-q", "care_cyber@1.0.0"]
    )
    assert newest.exit_code == older.exit_code == 0
    new_header, new_row = newest.output.splitlines()[:2]
    old_header, old_row = older.output.splitlines()[:2]
    assert new_header.split(",") == old_header.split(",") + list(ADDED)
    assert ",1.1.0," in new_row
    assert ",1.0.0," in old_row
    missing = runner.invoke(
        app, ["questionnaire", "template", "--format", "csv", "-q", "care_cyber@9.0.0"]
    )
    assert missing.exit_code == 1
    assert "version 9.0.0 is not bundled (bundled: 1.0.0, 1.1.0)" in missing.output


def test_the_json_schema_takes_a_response_to_either_version() -> None:
    import jsonschema

    result = runner.invoke(app, ["questionnaire", "template", "--format", "json-schema"])
    assert result.exit_code == 0
    validator = jsonschema.Draft202012Validator(json.loads(result.output))
    for version in ("1.0.0", "1.1.0"):
        document = {
            "questionnaire": "care_cyber",
            "questionnaire_version": version,
            "answers": {"uses_msp": "yes"},
        }
        assert list(validator.iter_errors(document)) == [], version
    newer = {"questionnaire": "care_cyber", "questionnaire_version": "1.2.0", "answers": {}}
    assert list(validator.iter_errors(newer))
    vendors = {
        "questionnaire": "care_cyber",
        "questionnaire_version": "1.1.0",
        "answers": {"msp_rmm_tool": "kaseya", "email_platform": "carrier pigeon"},
    }
    assert [e.path[-1] for e in validator.iter_errors(vendors)] == ["email_platform"]
