"""The technical premium beside the offered one, the cost floor, and advice valued on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import default_engine, score, synthetic_responses, validate
from scoring.rating.engine import PREMIUM_CAPS, RatingEngine, peril_total
from scoring.rating.result import ScoreResult
from scoring.responses.reading import RawResponses
from tests.conftest import EXAMPLES, EXAMPLES_AS_OF


@pytest.fixture(scope="module")
def engine() -> RatingEngine:
    return default_engine()


def _cost_floor(engine: RatingEngine, own_layer: np.ndarray) -> np.ndarray:
    expenses = engine.plan.expenses
    return (own_layer + expenses.fixed_per_policy) / (1 - expenses.variable_ratio)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**31 - 1), layer=st.data())
def test_no_premium_is_below_the_layers_expected_loss_plus_expenses(
    engine: RatingEngine, seed: int, layer: st.DataObject
) -> None:
    """For synthetic applicants of every kind (400 a draw, 20 draws) under any limit and
    retention on offer: the offered premium is at least the facility's own expected loss
    in the layer plus expenses, rounded; the technical premium adds the profit to it; and
    the binding cap is the one that explains the difference."""
    plan = engine.plan
    limit = layer.draw(st.sampled_from([o.amount for o in plan.limits]))
    retention = layer.draw(st.sampled_from([o.amount for o in plan.retentions]))
    table = synthetic_responses(engine.questionnaire, 400, seed=seed, as_of=EXAMPLES_AS_OF)
    result = validate(
        RawResponses(table=table, source="synthetic", first_row=2),
        engine.questionnaire,
        as_of=EXAMPLES_AS_OF,
    )
    features = engine.encoder.transform(result.table[result.valid])
    hits = engine.rule_hits(engine.rule_env(result.answers[result.valid]), len(features))
    rating = engine.rate(features, hits, limit, retention)
    own = peril_total(rating.layer_loss)
    floor = np.round(_cost_floor(engine, own))
    assert (rating.premium >= floor).all()
    assert (rating.premium >= plan.minimum_premium).all()
    expenses = plan.expenses
    technical = (own + expenses.fixed_per_policy) / (
        1 - expenses.variable_ratio - expenses.profit_provision
    )
    assert np.allclose(rating.technical_premium, technical, rtol=1e-12)
    assert (rating.technical_premium >= _cost_floor(engine, own)).all()
    caps = np.asarray(PREMIUM_CAPS)[rating.premium_cap]
    schedule = np.round(rating.gross_premium)
    uncapped = caps == ""
    assert np.array_equal(rating.premium[uncapped], schedule[uncapped])
    raised = caps == "cost_floor"
    assert np.array_equal(rating.premium[raised], floor[raised])
    assert (schedule[raised] < floor[raised]).all()
    relative = rating.relative_risk
    assert (relative[caps == "schedule_debit_cap"] > 1 + plan.schedule.max_debit).all()
    assert (relative[caps == "schedule_credit_cap"] < 1 - plan.schedule.max_credit).all()


def _scored(name: str, tmp_path: Path, **answers: Any) -> ScoreResult:
    document = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))
    document["answers"].update(answers)
    return score(document, as_of=EXAMPLES_AS_OF)


def test_the_riskiest_nursing_home_is_priced_above_its_expected_loss(tmp_path: Path) -> None:
    """A rural nursing home with RDP open, no MFA anywhere, ransomware last year without a
    written fix and no offline backup: the schedule's debit cap would price it below its
    own expected loss; the offered premium is raised to the cost floor and says so, with
    the technical premium beside it."""
    result = _scored(
        "rural-snf-no-mfa",
        tmp_path,
        prior_ransomware_24m="yes",
        ransomware_remediation_documented="no",
        offline_or_immutable_backup="no",
    )
    own = sum(p.own_layer_loss for p in result.perils)
    assert result.relative_risk > 3
    assert result.premium >= own + 250
    assert result.premium_cap == "cost_floor"
    assert result.premium_cap_note is not None
    assert "cost floor" in result.premium_cap_note
    assert result.technical_premium > result.premium > result.class_premium * 3


def test_closing_rdp_is_worth_what_it_saves_before_the_cap(tmp_path: Path) -> None:
    """The fix that closes RDP carries the expected loss it avoids and the technical
    premium it saves; both are large (before, the cap held its saving at $298)."""
    result = _scored("rural-snf-no-mfa", tmp_path)
    assert result.advice is not None
    (rdp,) = [f for f in result.advice.fixes if f.question_id == "rdp_exposed"]
    target = rdp.best or rdp.next
    assert rdp.loss_saving > 0.15 * result.expected_loss
    assert target.technical_saving > 0.15 * result.technical_premium
    assert "rdp_exposed" in rdp.clears


def test_fixes_that_clear_a_referral_come_first_when_savings_tie(tmp_path: Path) -> None:
    """hospice-msp-gap is referred; the fixes that make it quotable rank above every fix
    that does not, then those that move its tier, whatever they save."""
    result = _scored("hospice-msp-gap", tmp_path)
    assert result.outcome == "refer"
    assert result.advice is not None
    fixes = result.advice.fixes
    classes = [(f.makes_quotable, f.moves_tier) for f in fixes]
    assert classes == sorted(classes, reverse=True)
    savings = [
        (f.best or f.next).technical_saving for f in fixes if not (f.makes_quotable or f.moves_tier)
    ]
    assert savings == sorted(savings, reverse=True)
    insurable = result.advice.insurable
    assert insurable is not None
    if len(insurable.fixes) == 1:
        assert fixes[0].question_id == insurable.fixes[0]
        assert fixes[0].makes_quotable


def test_a_fix_that_changes_nothing_is_not_advice(tmp_path: Path) -> None:
    """Every listed fix lowers the expected loss or clears a rule (well-run-snf-group once
    listed two whose expected loss did not move at all)."""
    for path in sorted(EXAMPLES.glob("*.yaml")):
        result = score(path, as_of=EXAMPLES_AS_OF)
        assert result.advice is not None
        for fix in result.advice.fixes:
            assert fix.loss_saving > 0 or fix.clears, (path.stem, fix.question_id)


def test_an_msp_without_mfa_is_priced_as_risk_not_only_referred(tmp_path: Path) -> None:
    """A small hospice whose IT company connects without MFA: its ransomware expected loss
    is well above the same hospice's with MFA (about x1.5 or more), not 1 % above."""
    without = _scored("hospice-msp-gap", tmp_path, msp_mfa="no")
    with_mfa = _scored("hospice-msp-gap", tmp_path, msp_mfa="yes")
    ransomware = {
        name: next(p.expected_loss for p in result.perils if p.peril.value == "ransomware")
        for name, result in (("without", without), ("with", with_mfa))
    }
    assert ransomware["without"] > 1.4 * ransomware["with"]
    assert without.expected_loss > 1.1 * with_mfa.expected_loss


def test_a_plan_may_let_the_debit_cap_price_below_cost_only_by_saying_so(
    engine: RatingEngine,
) -> None:
    """``floor_at_cost: false`` is the plan's explicit word; then the offered premium is the
    schedule's, below the cost floor for the riskiest facilities."""
    plan = engine.plan.model_copy(
        update={"schedule": engine.plan.schedule.model_copy(update={"floor_at_cost": False})}
    )
    loose = RatingEngine(engine.model, plan, engine.questionnaire, engine.remediation)
    table = synthetic_responses(engine.questionnaire, 2000, seed=3, as_of=EXAMPLES_AS_OF)
    result = validate(
        RawResponses(table=table, source="synthetic", first_row=2),
        engine.questionnaire,
        as_of=EXAMPLES_AS_OF,
    )
    features = engine.encoder.transform(result.table[result.valid])
    hits = np.zeros((len(features), len(plan.rules)), dtype=np.bool_)
    strict = engine.rate(features, hits, 1_000_000.0, 25_000.0)
    lax = loose.rate(features, hits, 1_000_000.0, 25_000.0)
    raised = strict.premium_cap == PREMIUM_CAPS.index("cost_floor")
    assert raised.any()
    assert (lax.premium[raised] < strict.premium[raised]).all()
    assert not (lax.premium_cap == PREMIUM_CAPS.index("cost_floor")).any()
    assert np.array_equal(lax.technical_premium, strict.technical_premium)
