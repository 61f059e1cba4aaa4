"""Load-time checks of a rating plan: money bounds, expression limits, rules type-checked.

Each bad plan is the bundled plan with one change, written to tmp_path; loading
must refuse it with a message naming the field or rule and the value, so that
nothing that loads can overflow or fail when a facility is scored. The CLI turns
a bad model or plan into exit 1 without a traceback.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from scoring import Questionnaire
from scoring._files import file_sha256
from scoring.cli import app
from scoring.errors import RatingPlanError
from scoring.model import bounds
from scoring.model.loss_model import default_model_dir
from scoring.questionnaire.expression import MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_LENGTH
from scoring.rating.plan import PLAN_FILE, load_rating_plan
from scoring.rating.remediation import bundled_remediation_path, load_remediation
from tests.conftest import EXAMPLES

PLAN = default_model_dir() / PLAN_FILE
Change = Callable[[dict[str, Any]], None]


def plan_document() -> dict[str, Any]:
    document = yaml.safe_load(PLAN.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def written(tmp_path: Path, change: Change) -> Path:
    document = plan_document()
    change(document)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def rule(when: str, rule_id: str = "extra") -> Change:
    def change(document: dict[str, Any]) -> None:
        document["rules"].append({**document["rules"][0], "id": rule_id, "when": when})

    return change


def test_the_bundled_plan_passes_every_check(care: Questionnaire) -> None:
    assert len(load_rating_plan(PLAN, care).rules) > 10


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["limits"][-1].update(amount=1e308), r"limits\.5\.amount: .*given 1e\+308"),
        (lambda d: d["retentions"][0].update(amount=2e10), r"retentions\.0\.amount"),
        (
            lambda d: d["sublimits"].update(
                ransomware={"amount": 9e307, "source": "made up figure"}
            ),
            r"sublimits\.ransomware\.amount",
        ),
        (lambda d: d.update(minimum_premium=1e300), r"minimum_premium: .*given 1e\+300"),
        (lambda d: d["expenses"].update(fixed_per_policy=1e200), r"expenses\.fixed_per_policy"),
        (lambda d: d["tiers"][0].update(below=1e300), r"tiers\.0\.below"),
        (lambda d: d["schedule"].update(max_debit=1e9), r"schedule\.max_debit"),
    ],
)
def test_money_and_factors_beyond_their_bounds_are_refused(
    care: Questionnaire, tmp_path: Path, change: Change, message: str
) -> None:
    with pytest.raises(RatingPlanError, match=message):
        load_rating_plan(written(tmp_path, change), care)


def test_money_at_the_bound_still_loads(care: Questionnaire, tmp_path: Path) -> None:
    def change(document: dict[str, Any]) -> None:
        document["limits"][-1]["amount"] = bounds.MAX_MONEY

    assert load_rating_plan(written(tmp_path, change), care).limits[-1].amount == bounds.MAX_MONEY


def test_an_infinite_amount_in_yaml_is_refused(care: Questionnaire, tmp_path: Path) -> None:
    path = written(tmp_path, lambda d: d.update(minimum_premium=12345.5))
    path.write_text(path.read_text(encoding="utf-8").replace("12345.5", ".inf"), encoding="utf-8")
    with pytest.raises(RatingPlanError, match=r"minimum_premium: .*finite"):
        load_rating_plan(path, care)


@pytest.mark.parametrize("deep", ["(" * 300 + "${rdp_exposed} = 'yes'" + ")" * 300, "not " * 400])
def test_a_rule_nested_hundreds_deep_is_refused_without_recursion_error(
    care: Questionnaire, tmp_path: Path, deep: str
) -> None:
    with pytest.raises(RatingPlanError, match=f"nested more than {MAX_EXPRESSION_DEPTH} levels"):
        load_rating_plan(written(tmp_path, rule(deep)), care)


def test_a_rule_longer_than_the_limit_is_refused(care: Questionnaire, tmp_path: Path) -> None:
    long = " or ".join(["${rdp_exposed} = 'yes'"] * 200)
    assert len(long) > MAX_EXPRESSION_LENGTH
    with pytest.raises(RatingPlanError, match=r"rule extra: expression longer than 2000"):
        load_rating_plan(written(tmp_path, rule(long)), care)


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (
            "selected(${uses_msp}, 'yes')",
            r"selected\(\) needs a multiple choice question; uses_msp \(yes_no\)",
        ),
        ("count-selected(${beds_or_residents}) > 1", r"count-selected\(\) needs a multiple"),
        ("${mfa_email} = .", r"'\.' \(the answer being checked\) is only meaningful"),
        ("${beds_or_residents} = 'many'", r"compares the number beds_or_residents"),
        ("${facility_type} = 3", r"compares facility_type \(single_choice\) with the number 3"),
        ("${last_restore_test} < '2026-13-01'", r"'2026-13-01' is not a date"),
        ("${last_restore_test} < 5", r"compares last_restore_test \(date\) with the number 5"),
        ("${mfa_email} = 'nope'", r"'nope' is not a code of mfa_email"),
        ("selected(${phones_used_for}, 'fax')", r"'fax' is not a code of phones_used_for"),
        ("selected(${phones_used_for}, 3)", r"must be a choice code in quotes"),
        ("${mfa_email} < 'mfa_all'", r"only numbers and dates have an order"),
        ("${rdp_exposed} = 'yes' and ${sites} = true", r"compares the number sites"),
        ("selected(${phones_used_for}, 'images') = 1", r"compares a boolean with the number 1"),
    ],
)
def test_an_ill_typed_rule_is_refused_at_load_naming_rule_and_expression(
    care: Questionnaire, tmp_path: Path, when: str, message: str
) -> None:
    with pytest.raises(RatingPlanError, match=message) as caught:
        load_rating_plan(written(tmp_path, rule(when)), care)
    assert any(
        problem.startswith("rule extra: ") and repr(when) in problem
        for problem in caught.value.problems
    )


def test_well_typed_rules_of_every_kind_load(care: Questionnaire, tmp_path: Path) -> None:
    rules = [
        "count-selected(${phones_used_for}) >= 2",
        "${last_restore_test} < '2025-01-31'",
        "${sites} > ${beds_or_residents}",
        "not(selected(${phones_used_for}, 'images')) and ${uses_msp} != 'no'",
        "(${rdp_exposed} = 'yes') = true",
    ]

    def change(document: dict[str, Any]) -> None:
        for number, when in enumerate(rules):
            rule(when, f"extra_{number}")(document)

    assert len(load_rating_plan(written(tmp_path, change), care).rules) == 17 + len(rules)


def test_every_ill_typed_rule_is_listed(care: Questionnaire, tmp_path: Path) -> None:
    def change(document: dict[str, Any]) -> None:
        rule("${facility_type} = 3", "first")(document)
        rule("${last_restore_test} < 'soon'", "second")(document)

    with pytest.raises(RatingPlanError, match=r"rule first: .*rule second: "):
        load_rating_plan(written(tmp_path, change), care)


runner = CliRunner()


def test_cli_score_refuses_a_bad_model_and_a_bad_plan_with_exit_1(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(default_model_dir(), folder)
    document = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    document["perils"]["ransomware"]["frequency"]["intercept"] += 45
    (folder / "model.json").write_text(json.dumps(document), encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["sha256"]["model.json"] = file_sha256(folder / "model.json")
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    facility = str(EXAMPLES / "well-run-snf-group.yaml")

    bad_model = runner.invoke(app, ["score", facility, "-m", str(folder)])
    assert bad_model.exit_code == 1, bad_model.output
    assert "ransomware.frequency: the average facility's frequency" in bad_model.output
    assert "Traceback" not in bad_model.output

    plan = written(tmp_path, rule("${facility_type} = 3"))
    bad_plan = runner.invoke(app, ["score", facility, "--rating-plan", str(plan)])
    assert bad_plan.exit_code == 1, bad_plan.output
    assert "rule extra: compares facility_type" in bad_plan.output
    assert "Traceback" not in bad_plan.output


def test_a_remediation_cost_beyond_the_money_bound_is_refused(
    care: Questionnaire, tmp_path: Path
) -> None:
    document = yaml.safe_load(bundled_remediation_path(care).read_text(encoding="utf-8"))
    document["cost_classes"]["procedure"]["large"] = [2500, 1e300]
    path = tmp_path / "remediation.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(RatingPlanError, match=r"cost_classes\.procedure\.large\.1: .*1e\+300"):
        load_remediation(path, care)
