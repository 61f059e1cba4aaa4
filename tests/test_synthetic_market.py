"""The synthetic market: its declared targets hold on 100,000 applicants, controls are
correlated through maturity, and a market that does not fit its questionnaire is refused.

Drawing, validating and rating the 100,000 applicants takes about 4 seconds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring import QuestionnaireError, default_engine, default_model_dir, synthetic_responses
from scoring.questionnaire.definition import Questionnaire
from scoring.rating.engine import Rating
from scoring.rating.plan import OUTCOMES
from scoring.responses.reading import RawResponses
from scoring.responses.validation import validate
from scoring.synthetic.market import (
    Market,
    Shares,
    Target,
    bundled_market,
    check_market,
    load_market,
    market_path,
)
from scoring.synthetic.responses import market_of

APPLICANTS = 100_000
SEED = 14
AS_OF = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def market(care: Questionnaire) -> Market:
    found = market_of(care)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def rated(care: Questionnaire) -> tuple[pd.DataFrame, Rating]:
    """100,000 synthetic applicants' answers and their rating under the bundled engine."""
    engine = default_engine()
    table = synthetic_responses(engine.questionnaire, APPLICANTS, seed=SEED, as_of=AS_OF)
    result = validate(
        RawResponses(table=table, source="market sample", first_row=2),
        engine.questionnaire,
        as_of=AS_OF,
        warnings=False,
    )
    assert result.valid.all()
    features = engine.encoder.transform(result.table)
    hits = engine.rule_hits(engine.rule_env(result.answers), APPLICANTS)
    rating = engine.rate(
        features, hits, engine.plan.limit(None).amount, engine.plan.retention(None).amount
    )
    return result.answers, rating


@pytest.fixture(scope="module")
def sample(rated: tuple[pd.DataFrame, Rating]) -> tuple[pd.DataFrame, np.ndarray]:
    """The applicants' answers and their outcomes."""
    answers, rating = rated
    return answers, np.asarray(OUTCOMES, dtype=object)[rating.outcome]


def test_every_tier_of_the_bundled_plan_holds_a_share_of_applicants(
    rated: tuple[pd.DataFrame, Rating],
) -> None:
    _, rating = rated
    tiers = default_engine().plan.tiers
    shares = np.bincount(rating.tier, minlength=len(tiers)) / len(rating.tier)
    # the plan's comment: about 17 %, 30 %, 32 %, 16 % and 6 %
    assert all(0.03 <= share <= 0.45 for share in shares), dict(
        zip([t.tier for t in tiers], shares.round(3), strict=True)
    )
    assert shares[-1] <= 0.10  # the referred tier stays a minority


def _observed(target: Target, answers: pd.DataFrame, outcomes: np.ndarray) -> float:
    if target.outcome is not None:
        return float(np.mean(outcomes == target.outcome))
    assert target.question is not None
    asked = answers[target.question].dropna()
    return float(asked.isin(target.answers).mean())


def _bundled_targets() -> list[Target]:
    found = bundled_market("care_cyber", "1.0.0")
    assert found is not None
    return list(found.targets)


@pytest.mark.parametrize("target", _bundled_targets(), ids=lambda t: t.id)
def test_a_hundred_thousand_applicants_show_each_declared_target(
    target: Target, sample: tuple[pd.DataFrame, np.ndarray]
) -> None:
    observed = _observed(target, *sample)
    assert target.low <= observed <= target.high, (target.id, observed)


def test_the_targets_cover_rdp_pacs_mfa_and_every_outcome(market: Market) -> None:
    questions = {t.question for t in market.targets}
    assert {"rdp_exposed", "pacs_internet_exposed", "mfa_remote_access"} <= questions
    assert {t.outcome for t in market.targets} >= {"quote", "refer", "decline"}
    quote = next(t for t in market.targets if t.outcome == "quote")
    decline = next(t for t in market.targets if t.outcome == "decline")
    assert quote.low > 0.5  # a majority quoted
    assert decline.high < 0.1  # few declined


def test_the_market_declares_every_control_of_the_questionnaire(
    market: Market, care: Questionnaire
) -> None:
    assert {q.id for q in care.controls} <= set(market.answers)


def test_choices_asked_of_everyone_have_the_declared_shares(
    market: Market, care: Questionnaire, sample: tuple[pd.DataFrame, np.ndarray]
) -> None:
    answers, _ = sample
    relevant = {q.id: q.relevant for q in care.questions}
    checked = 0
    for qid, entry in market.answers.items():
        if not isinstance(entry, Shares) or relevant[qid] is not None:
            continue
        shares = answers[qid].value_counts(normalize=True)
        for code, share in entry.shares.items():
            assert abs(shares.get(code, 0.0) - share) < 0.015, (qid, code, shares.get(code))
        checked += 1
    assert checked > 40


def test_numbers_and_dates_follow_their_declared_medians(
    market: Market, sample: tuple[pd.DataFrame, np.ndarray]
) -> None:
    answers, _ = sample
    for qid in ("days_to_patch_critical", "edr_coverage_workstations"):
        entry = market.answers[qid]
        assert not isinstance(entry, Shares)
        declared = float(np.interp(0.5, *zip(*entry.quantiles, strict=True)))
        assert abs(float(answers[qid].median()) - declared) <= 2.0, qid
    restore = market.answers["last_restore_test"]
    assert not isinstance(restore, Shares)
    age = (pd.Timestamp(AS_OF) - answers["last_restore_test"]).dt.days
    declared_age = float(np.interp(0.5, *zip(*restore.quantiles, strict=True)))
    assert abs(float(age.median()) - declared_age) <= 10.0


def test_controls_are_positively_correlated_through_maturity(
    sample: tuple[pd.DataFrame, np.ndarray],
) -> None:
    answers, _ = sample
    good = pd.DataFrame(
        {
            "mfa_email": answers["mfa_email"] == "all_accounts",
            "offline_backup": answers["offline_or_immutable_backup"] == "yes",
            "rdp_closed": answers["rdp_exposed"] == "no",
            "dmarc": answers["dmarc_policy"].isin(["p_quarantine", "p_reject"]),
            "training": answers["security_training"].isin(
                ["all_employees_yearly", "all_staff_incl_agency"]
            ),
            "patched_in_a_week": answers["days_to_patch_critical"] <= 7,
        }
    ).astype(float)
    correlation = good.corr().to_numpy()
    pairs = correlation[np.triu_indices_from(correlation, k=1)]
    assert (pairs > 0).all()
    assert pairs.mean() > 0.05


def test_larger_facilities_are_more_mature(sample: tuple[pd.DataFrame, np.ndarray]) -> None:
    answers, _ = sample
    revenue = answers["net_patient_revenue"]
    small = answers[revenue <= revenue.quantile(0.25)]
    large = answers[revenue >= revenue.quantile(0.75)]
    for qid, best in (("mfa_email", "all_accounts"), ("offline_or_immutable_backup", "yes")):
        assert (large[qid] == best).mean() > (small[qid] == best).mean() + 0.03, qid


def test_a_questionnaire_without_a_market_is_answered_generically(mini: Questionnaire) -> None:
    assert market_of(mini) is None
    one = synthetic_responses(mini, 50, seed=2, as_of=AS_OF)
    two = synthetic_responses(mini, 50, seed=2, as_of=AS_OF)
    assert one.equals(two)


def test_an_edited_questionnaire_under_a_bundled_id_is_answered_generically(
    mini: Questionnaire,
) -> None:
    edited = mini.model_copy(update={"id": "care_cyber", "version": "1.0.0"})
    assert bundled_market("care_cyber", "1.0.0") is not None
    assert market_of(edited) is None
    table = synthetic_responses(edited, 50, seed=2, as_of=AS_OF)
    assert table.num_rows == 50


def test_the_same_seed_draws_the_same_market_sample(care: Questionnaire) -> None:
    one = synthetic_responses(care, 300, seed=9, as_of=AS_OF)
    assert one.equals(synthetic_responses(care, 300, seed=9, as_of=AS_OF))
    assert not one.equals(synthetic_responses(care, 300, seed=10, as_of=AS_OF))


def test_a_market_that_does_not_fit_its_questionnaire_lists_every_problem(
    market: Market, care: Questionnaire
) -> None:
    answers = dict(market.answers)
    answers["no_such_question"] = Shares(shares={"yes": 1.0}, source="test")
    answers["rdp_exposed"] = Shares(shares={"yes": 0.5, "maybe": 0.6}, source="test")
    answers["beds_or_residents"] = Shares(shares={"yes": 1.0}, source="test")
    answers["days_to_patch_critical"] = market.answers["days_to_patch_critical"].model_copy(
        update={"quantiles": ((0.0, 30.0), (0.5, 10.0), (1.0, 900.0))}
    )
    inverted = Target(id="inverted", outcome="quote", low=0.9, high=0.1, why="test")
    broken = market.model_copy(update={"answers": answers, "targets": (inverted,)})
    with pytest.raises(QuestionnaireError, match="no such question") as caught:
        check_market(broken, care, drawn=("beds_or_residents",))
    problems = "\n".join(caught.value.problems)
    assert "answers.rdp_exposed: shares must name every answer" in problems
    assert "answers.rdp_exposed: shares must be at least 0 and add up to 1" in problems
    assert "answers.beds_or_residents: drawn from the facility profile" in problems
    assert "answers.days_to_patch_critical: values must not fall" in problems
    assert "answers.days_to_patch_critical: values must lie in [0.0, 365.0]" in problems
    assert "targets.inverted: low must not exceed high" in problems


def test_a_market_file_with_an_unknown_field_is_refused(tmp_path: Path) -> None:
    text = market_path("care_cyber", "1.0.0").read_text(encoding="utf-8")
    path = tmp_path / "market.yaml"
    path.write_text(text.replace("maturity:\n", "maturity:\n  surprise: 1\n", 1), "utf-8")
    with pytest.raises(QuestionnaireError, match="surprise"):
        load_market(path)


def test_facility_types_differ_in_maturity_as_declared(
    market: Market, sample: tuple[pd.DataFrame, np.ndarray]
) -> None:
    """Continuing care communities (large campuses, shifted up) are more mature than
    assisted living homes (small, shifted down): more MFA on email, fewer RDP exposed."""
    answers, _ = sample
    shifts = market.maturity.by_type
    assert shifts["continuing_care_community"] > shifts["assisted_living"]
    campus = answers[answers["facility_type"] == "continuing_care_community"]
    homes = answers[answers["facility_type"] == "assisted_living"]
    assert (campus["mfa_email"] == "all_accounts").mean() > (
        homes["mfa_email"] == "all_accounts"
    ).mean() + 0.1
    assert (campus["rdp_exposed"] == "yes").mean() < (homes["rdp_exposed"] == "yes").mean()


def test_the_default_models_card_names_its_market_and_every_target(market: Market) -> None:
    card = (default_model_dir() / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"market `{market.id}` version {market.version}" in card
    for target in market.targets:
        assert " ".join(target.why.split()).replace("|", "/") in card
