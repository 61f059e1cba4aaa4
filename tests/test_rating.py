"""Rating and advice: the plan as data, one applicant's score, its explanation and advice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate
from typer.testing import CliRunner

from scoring import (
    InputError,
    RatingEngine,
    RatingPlanError,
    ScoreResult,
    applicants,
    default_engine,
    load_rating_plan,
    load_remediation,
    score,
    score_applicant,
    synthetic_responses,
)
from scoring.cli.app import app
from scoring.rating.engine import lognormal_lev
from scoring.rating.plan import OUTCOMES
from scoring.rating.remediation import bundled_remediation_path
from scoring.responses.reading import RawResponses
from scoring.responses.validation import validate
from tests.conftest import EXAMPLES, EXAMPLES_AS_OF, ROOT

GOLDEN = Path(__file__).parent / "golden" / "score"
PLAN = ROOT / "models" / "care-cyber-default" / "rating-plan.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def engine() -> RatingEngine:
    return default_engine()


def _plan_document() -> dict[str, Any]:
    document = yaml.safe_load(PLAN.read_text())
    assert isinstance(document, dict)
    return document


def _write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _synthetic(engine: RatingEngine, seed: int, n: int = 1) -> list[Any]:
    table = synthetic_responses(
        engine.questionnaire, n, seed=seed, as_of=EXAMPLES_AS_OF, blank_share=0.05
    )
    raw = RawResponses(table=table, source="synthetic", first_row=None if n == 1 else 2)
    return applicants(engine, validate(raw, engine.questionnaire, as_of=EXAMPLES_AS_OF))


# -- the rating plan ---------------------------------------------------------------------------


def test_the_bundled_plan_and_catalogue_load_and_cite_every_rule(engine: RatingEngine) -> None:
    plan = load_rating_plan(PLAN, engine.questionnaire)
    assert plan.key == "care_cyber_plan@2026.2.0"
    assert {r.outcome for r in plan.rules} == {"refer", "decline"}
    assert all(len(rule.source) > 10 for rule in plan.rules)
    declines = {r.id for r in plan.rules if r.outcome == "decline"}
    assert declines == {"no_mfa_remote_access", "no_mfa_email", "no_mfa_privileged"}
    catalogue = load_remediation(
        bundled_remediation_path(engine.questionnaire), engine.questionnaire
    )
    actionable = {q.id for q in engine.questionnaire.controls if q.control and q.control.actionable}
    assert set(catalogue.controls) == actionable


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["tiers"][1].update(below=0.4), "tier bands overlap"),
        (
            lambda d: d["expenses"].update(variable_ratio=0.7, profit_provision=0.3),
            "must be below 1",
        ),
        (
            lambda d: d["sublimits"].update(flood={"amount": 1, "source": "made up"}),
            "sublimits.flood",
        ),
        (
            lambda d: d["rules"].append({**d["rules"][0], "id": "x", "when": "${nope} = 'a'"}),
            "unknown question",
        ),
        (
            lambda d: d["rules"].append({**d["rules"][0], "id": "y", "when": "${mfa_email} = "}),
            "rule y",
        ),
        (lambda d: d["class_questions"].append("mfa_email"), "is a control"),
        (lambda d: d["limits"].append({"code": "limit_9m", "amount": 9_000_000}), "limit_9m"),
        (lambda d: d.update(default_limit="limit_7m"), "default_limit"),
        (lambda d: d.update(surprise=1), "surprise"),
    ],
)
def test_a_bad_plan_is_refused_at_load_with_the_reason(
    engine: RatingEngine, tmp_path: Path, change: Any, message: str
) -> None:
    document = _plan_document()
    change(document)
    with pytest.raises(RatingPlanError, match=message):
        load_rating_plan(_write(tmp_path, document), engine.questionnaire)


def test_a_catalogue_missing_a_control_or_with_bad_steps_is_refused(
    engine: RatingEngine, tmp_path: Path
) -> None:
    path = bundled_remediation_path(engine.questionnaire)
    document = yaml.safe_load(path.read_text())
    del document["controls"]["mfa_email"]
    document["controls"]["days_to_patch_critical"]["steps"] = [7, 30]
    document["controls"]["dmarc_policy"]["steps"] = [1]
    bad = tmp_path / "remediation.yaml"
    bad.write_text(yaml.safe_dump(document))
    with pytest.raises(RatingPlanError) as caught:
        load_remediation(bad, engine.questionnaire)
    problems = " ".join(caught.value.problems)
    assert "'mfa_email' has no entry" in problems
    assert "must improve from first to last" in problems
    assert "drop its `steps`" in problems


def test_cli_refuses_a_bad_plan_with_exit_1_and_no_traceback(tmp_path: Path) -> None:
    document = _plan_document()
    document["tiers"][2]["below"] = 0.1
    result = runner.invoke(
        app,
        [
            "score",
            str(EXAMPLES / "well-run-snf-group.yaml"),
            "--rating-plan",
            str(_write(tmp_path, document)),
        ],
    )
    assert result.exit_code == 1
    assert "tier bands overlap" in result.output
    assert "Traceback" not in result.output


# -- pricing formulas ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mean", "sigma", "limit"), [(50_000, 1.2, 100_000), (600_000, 1.5, 1e6), (1e5, 0.5, 3e4)]
)
def test_lognormal_limited_expected_value_matches_integration(
    mean: float, sigma: float, limit: float
) -> None:
    mu = np.log(mean) - sigma**2 / 2

    def survival(x: float) -> float:
        from scipy.stats import lognorm

        return float(lognorm.sf(x, s=sigma, scale=np.exp(mu)))

    expected, _ = integrate.quad(survival, 0, limit, limit=200)  # LEV(u) = int_0^u S(x) dx
    got = lognormal_lev(np.array([limit]), np.array([mean]), np.array([sigma]))[0]
    assert got == pytest.approx(expected, rel=1e-6)
    unlimited = lognormal_lev(np.array([1e15]), np.array([mean]), np.array([sigma]))[0]
    assert unlimited == pytest.approx(mean, rel=1e-9)


# -- one applicant: the examples, pinned ------------------------------------------------------


EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_examples_score_as_their_golden_files(path: Path) -> None:
    result = score(path, as_of=EXAMPLES_AS_OF)
    golden = (GOLDEN / f"{path.stem}.json").read_text(encoding="utf-8")
    assert result.model_dump_json(indent=2) + "\n" == golden, (
        "the score changed; if deliberate, run scripts/make_golden_scores.py and review the diff"
    )


def test_examples_are_sensible() -> None:
    results = {p.stem: score(p, as_of=EXAMPLES_AS_OF) for p in EXAMPLE_FILES}
    well_run = results["well-run-snf-group"]
    assert well_run.outcome == "quote"
    assert well_run.tier in {"A", "B"}
    dangerous = results["rural-snf-no-mfa"]
    assert dangerous.outcome == "decline"
    assert "no_mfa_remote_access" in {r.id for r in dangerous.rules}
    assert results["imaging-centre-exposed-pacs"].outcome == "refer"
    assert "pacs_internet_exposed" in {r.id for r in results["imaging-centre-exposed-pacs"].rules}
    assert results["hospice-msp-gap"].outcome == "refer"
    for result in results.values():
        assert result.premium >= 1000
        assert result.versions.model_sha256
        assert result.versions.rating_plan_sha256


def test_the_same_input_gives_byte_identical_json(engine: RatingEngine) -> None:
    path = EXAMPLES / "imaging-centre-exposed-pacs.yaml"
    first = score(path, as_of=EXAMPLES_AS_OF).model_dump_json()
    second = score(
        path, as_of=EXAMPLES_AS_OF, engine=RatingEngine.load(ROOT / "models" / "care-cyber-default")
    ).model_dump_json()
    assert first == second


def test_explanation_effects_add_up_to_the_differences() -> None:
    for path in EXAMPLE_FILES:
        result = score(path, as_of=EXAMPLES_AS_OF)
        risk = [f for f in result.factors if f.part == "risk"]
        assert sum(f.loss_effect for f in risk) == pytest.approx(
            result.expected_loss - result.class_expected_loss, abs=0.02 * len(risk) + 0.05
        )
        gross_gap = sum(f.premium_effect or 0.0 for f in risk)
        # the premium is rounded to dollars, and a minimum or the cost floor may hold it
        if result.premium_cap not in ("minimum_premium", "cost_floor"):
            assert gross_gap == pytest.approx(
                result.premium - result.class_premium, abs=1.0 + 0.01 * len(risk)
            )
        assert all(f.question for f in result.factors)


# -- advice -----------------------------------------------------------------------------------


def _full_premium(path: Path, answers: dict[str, str], result: ScoreResult) -> ScoreResult:
    """Score the example again from its file with some answers changed (the full path)."""
    document = yaml.safe_load(path.read_text())
    document["answers"].update(answers)
    return score(
        document,
        as_of=EXAMPLES_AS_OF,
        limit=result.layer.limit,
        retention=result.layer.retention,
        advise=False,
    )


@pytest.mark.parametrize(
    "name", ["small-assisted-living-paper", "imaging-centre-exposed-pacs", "home-health-mobile"]
)
def test_each_saving_is_the_difference_of_two_full_scorings(name: str) -> None:
    path = EXAMPLES / f"{name}.yaml"
    result = score(path, as_of=EXAMPLES_AS_OF)
    assert result.advice is not None
    assert result.advice.fixes
    for fix in result.advice.fixes:
        for scenario in (fix.next, fix.best):
            if scenario is None:
                continue
            again = _full_premium(path, scenario.answers, result)
            assert result.premium - again.premium == scenario.saving, fix.question_id
            assert again.tier == scenario.tier
            assert again.outcome == scenario.outcome
    for fix_set in (result.advice.next_tier, result.advice.insurable):
        if fix_set is not None and fix_set.scenario is not None:
            again = _full_premium(path, fix_set.scenario.answers, result)
            assert again.premium == fix_set.scenario.premium
            assert again.tier == fix_set.scenario.tier


def test_advice_lists_only_controls_not_at_their_best(engine: RatingEngine) -> None:
    controls = {q.id for q in engine.questionnaire.controls}
    for path in EXAMPLE_FILES:
        result = score(path, as_of=EXAMPLES_AS_OF)
        assert result.advice is not None
        document = yaml.safe_load(path.read_text())["answers"]
        for fix in result.advice.fixes:
            assert fix.question_id in controls
            question = engine.questionnaire.by_id[fix.question_id]
            assert question.control is not None
            if question.control.order is not None:
                assert document.get(fix.question_id) != question.control.order[-1]
            assert fix.why
            assert fix.cost_high >= fix.cost_low
        assert sorted(result.advice.by_value) == sorted(f.question_id for f in result.advice.fixes)


def test_fix_sets_reach_their_goal_and_need_every_fix() -> None:
    path = EXAMPLES / "small-assisted-living-paper.yaml"
    result = score(path, as_of=EXAMPLES_AS_OF)
    assert result.advice is not None
    insurable = result.advice.insurable
    assert insurable is not None
    assert insurable.reached
    assert insurable.scenario is not None
    assert insurable.scenario.outcome == "quote"
    for dropped in insurable.fixes:
        answers = {k: v for k, v in insurable.scenario.answers.items() if k != dropped}
        assert _full_premium(path, answers, result).outcome != "quote", dropped
    next_tier = result.advice.next_tier
    assert next_tier is not None
    assert next_tier.scenario is not None
    assert "ABCDE".index(next_tier.scenario.tier) < "ABCDE".index(result.tier)


def test_an_applicant_no_fix_can_make_insurable_says_why() -> None:
    result = score(EXAMPLES / "rural-snf-no-mfa.yaml", as_of=EXAMPLES_AS_OF)
    assert result.advice is not None
    insurable = result.advice.insurable
    assert insurable is not None
    assert not insurable.reached
    assert "ransomware in the last 24 months without documented remediation" in insurable.note


# -- invariants over many applicants ---------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1))
def test_rating_invariants_hold_for_any_applicant(seed: int) -> None:
    engine = default_engine()
    (applicant,) = _synthetic(engine, seed)
    result = score_applicant(engine, applicant)
    rank = {t.tier: i for i, t in enumerate(engine.plan.tiers)}
    assert result.premium >= engine.plan.minimum_premium
    if result.outcome != "quote":
        assert result.rules
    assert result.advice is not None
    for fix in result.advice.fixes:  # improving one control never makes anything worse
        for scenario in (fix.next, fix.best):
            if scenario is None:
                continue
            assert scenario.saving >= 0
            assert rank[scenario.tier] <= rank[result.tier]
            assert OUTCOMES.index(scenario.outcome) <= OUTCOMES.index(result.outcome)
        if fix.best is not None:
            assert fix.best.saving >= fix.next.saving
    requested = result.layer
    by_limit = [o for o in result.options if o.layer.retention == requested.retention]
    by_retention = [o for o in result.options if o.layer.limit == requested.limit]
    assert [o.premium for o in by_limit] == sorted(o.premium for o in by_limit)
    by_retention.sort(key=lambda o: o.layer.retention_amount)
    assert [o.premium for o in by_retention] == sorted(
        (o.premium for o in by_retention), reverse=True
    )
    credits = [o.retention_credit for o in by_retention]
    assert credits[0] == 0.0
    assert credits == sorted(credits)
    assert score_applicant(engine, applicant).model_dump_json() == result.model_dump_json()


def test_the_column_wise_rating_of_a_book_equals_one_by_one(engine: RatingEngine) -> None:
    people = _synthetic(engine, seed=3, n=60)
    features = np.stack([a.features for a in people])
    env = {qid: pa.concat_arrays([a.env[qid] for a in people]) for qid in engine.rule_questions}
    together = engine.rate(features, engine.rule_hits(env, len(people)), 1e6, 1e4)
    for i, applicant in enumerate(people):
        alone = score_applicant(
            engine, applicant, limit="limit_1m", retention="ret_10k", advise=False
        )
        assert alone.premium == together.premium[i]
        assert alone.outcome == OUTCOMES[int(together.outcome[i])]
        assert alone.score == together.score[i]


# -- bad input and the command line ----------------------------------------------------------------


def test_an_invalid_response_is_never_partly_scored(tmp_path: Path) -> None:
    document = yaml.safe_load((EXAMPLES / "well-run-snf-group.yaml").read_text())
    document["answers"]["mfa_email"] = "sometimes"
    with pytest.raises(InputError) as caught:
        score(document, as_of=EXAMPLES_AS_OF)
    assert caught.value.issues[0].question_id == "mfa_email"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    result = runner.invoke(app, ["score", str(bad), "--as-of", "2026-11-29", "--json"])
    assert result.exit_code == 1
    assert "mfa_email" in result.output
    assert '"premium"' not in result.output


def test_a_limit_not_offered_lists_what_is() -> None:
    with pytest.raises(InputError) as caught:
        score(EXAMPLES / "well-run-snf-group.yaml", as_of=EXAMPLES_AS_OF, limit="limit_10m")
    issue = caught.value.issues[0]
    assert issue.value == "limit_10m"
    assert issue.allowed is not None
    assert "limit_1m ($1,000,000)" in issue.allowed
    result = runner.invoke(
        app, ["score", str(EXAMPLES / "well-run-snf-group.yaml"), "--retention", "ret_1"]
    )
    assert result.exit_code == 2  # a usage error: the option names what is allowed
    assert "--retention: given 'ret_1'" in result.output
    assert "ret_10k" in result.output


def test_cli_scores_as_text_json_and_html(tmp_path: Path) -> None:
    path = EXAMPLES / "imaging-centre-exposed-pacs.yaml"
    text = runner.invoke(app, ["score", str(path), "--as-of", "2026-11-29"])
    assert text.exit_code == 0, text.output
    assert "REFER" in text.output
    assert "tier D" in text.output
    as_json = runner.invoke(app, ["score", str(path), "--as-of", "2026-11-29", "--json"])
    assert as_json.exit_code == 0
    assert as_json.output == (GOLDEN / "imaging-centre-exposed-pacs.json").read_text(
        encoding="utf-8"
    )
    report = tmp_path / "report.html"
    html = runner.invoke(app, ["score", str(path), "--as-of", "2026-11-29", "--html", str(report)])
    assert html.exit_code == 0, html.output
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list(tmp_path.glob("*.partial"))


def test_cli_scores_one_facility_of_a_spreadsheet() -> None:
    book = EXAMPLES / "portfolio.csv"
    many = runner.invoke(app, ["score", str(book), "--as-of", "2026-11-29"])
    assert many.exit_code == 1
    assert "--facility" in many.output
    one = runner.invoke(
        app, ["score", str(book), "--facility", "CF-001", "--as-of", "2026-11-29", "--json"]
    )
    assert one.exit_code == 0, one.output
    assert json.loads(one.output)["facility_id"] == "CF-001"


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1))
def test_advised_savings_match_full_scorings_for_any_applicant(seed: int) -> None:
    """Each scenario's premium equals scoring the edited response from its text."""
    engine = default_engine()
    table = synthetic_responses(engine.questionnaire, 1, seed=seed, as_of=EXAMPLES_AS_OF)
    raw = RawResponses(table=table, source="synthetic", first_row=None)
    (applicant,) = applicants(engine, validate(raw, engine.questionnaire, as_of=EXAMPLES_AS_OF))
    result = score_applicant(engine, applicant)
    assert result.advice is not None
    for fix in result.advice.fixes:
        for scenario in (fix.next, fix.best):
            if scenario is None:
                continue
            edited = table
            for qid, answer in scenario.answers.items():
                position = edited.schema.get_field_index(qid)
                edited = edited.set_column(position, qid, pa.array([answer], pa.string()))
            again = score(
                validate(
                    RawResponses(table=edited, source="edited", first_row=None),
                    engine.questionnaire,
                    as_of=EXAMPLES_AS_OF,
                ),
                as_of=EXAMPLES_AS_OF,
                limit=result.layer.limit,
                retention=result.layer.retention,
                advise=False,
            )
            assert result.premium - again.premium == scenario.saving, fix.question_id
            assert (again.tier, again.outcome) == (scenario.tier, scenario.outcome)


def test_pricing_one_control_change_equals_rating_the_changed_rows(engine: RatingEngine) -> None:
    """ControlPricing (a book's fixes) gives rate_linear's premium and loss to the last bit."""
    from scoring.rating.engine import peril_total

    table = synthetic_responses(engine.questionnaire, 300, seed=5, as_of=EXAMPLES_AS_OF)
    raw = RawResponses(table=table, source="synthetic", first_row=2)
    validation = validate(raw, engine.questionnaire, as_of=EXAMPLES_AS_OF)
    features = engine.encoder.transform(validation.table)
    rows = len(features)
    hits = np.zeros((rows, len(engine.plan.rules)), dtype=np.bool_)
    base = engine.rate(features, hits, 1_000_000.0, 10_000.0)
    pricing = engine.control_pricing(base, 1_000_000.0, 10_000.0)
    rng = np.random.default_rng(0)
    checked = 0
    for question in engine.questionnaire.controls:
        column = engine.feature_index[question.id]
        chosen = np.flatnonzero(rng.random(rows) < 0.5)
        levels = rng.random(chosen.size)
        after = pricing.price(chosen, column, levels, features[chosen, column])
        change = engine.change(column, levels, features[chosen, column])
        full = engine.rate_linear(
            base.linear[chosen] + change,
            hits[chosen],
            1_000_000.0,
            10_000.0,
            class_layer=base.class_layer_loss[chosen],
        )
        assert np.array_equal(after.premium, full.premium)
        assert np.array_equal(after.expected_loss, peril_total(full.expected_loss))
        assert np.array_equal(after.technical_premium, full.technical_premium)
        assert np.array_equal(after.relative_risk, full.relative_risk)
        checked += int(np.any(after.premium != base.premium[chosen]))
    assert checked > 20  # most controls move some premium
