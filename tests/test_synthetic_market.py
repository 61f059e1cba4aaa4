"""The synthetic market: its declared targets hold on 100,000 applicants, controls are
correlated through maturity, and a market that does not fit its questionnaire is refused.
Questionnaire 1.1.0 draws every 1.0.0 answer as 1.0.0 does, and names its vendors at
the vendor catalogue's market shares (an IT company roster, "not sure" as declared).

Drawing, validating and rating the 100,000 applicants takes about 4 seconds.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring import QuestionnaireError, default_engine, default_model_dir, synthetic_responses
from scoring.accumulation.catalogue import VendorCatalogue
from scoring.questionnaire.definition import Questionnaire
from scoring.questionnaire.loader import bundled_questionnaire
from scoring.rating.engine import Rating
from scoring.rating.plan import OUTCOMES
from scoring.responses.reading import RawResponses
from scoring.responses.validation import validate
from scoring.synthetic.market import (
    Market,
    MarketRef,
    Shares,
    Target,
    bundled_market,
    check_market,
    load_market,
    market_path,
)
from scoring.synthetic.profile import shift_mixture
from scoring.synthetic.responses import draw_answers, draw_maturity, market_of
from scoring.synthetic.vendors import (
    NOT_SURE,
    VendorAnswers,
    VendorMarket,
    check_vendor_market,
    companies,
    load_vendor_market,
    vendors_of,
    vendors_path,
)

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


# --- questionnaire 1.1.0: the market it reads, and the vendors it asks -------------------

VENDOR_QUESTIONS = ("msp_name", "msp_rmm_tool", "clearinghouse_vendor", "email_platform")
VENDOR_QUESTIONS += ("cloud_platform",)
SIGMAS = 4.0
"""Sampling bounds are this many standard errors wide (a false alarm about once in
16,000 checks)."""


@pytest.fixture(scope="module")
def care_1_0_0() -> Questionnaire:
    return bundled_questionnaire("care_cyber", "1.0.0")


@pytest.fixture(scope="module")
def vendor_market(care: Questionnaire) -> tuple[VendorMarket, VendorCatalogue]:
    found = vendors_of(care)
    assert found is not None
    return found


def _binomial_bound(share: float, n: int) -> float:
    """The half-width of the sampling range of a share observed on ``n`` draws."""
    return SIGMAS * math.sqrt(share * (1.0 - share) / n)


def test_questionnaire_1_1_0_draws_from_the_market_of_1_0_0_it_reads(
    care: Questionnaire, market: Market
) -> None:
    assert care.version == "1.1.0"
    assert market.questionnaire.version == "1.0.0"
    assert market == bundled_market("care_cyber", "1.0.0")


def test_a_market_for_a_version_the_questionnaire_does_not_read_is_refused(
    market: Market, care: Questionnaire
) -> None:
    older = market.model_copy(update={"questionnaire": MarketRef(id="care_cyber", version="0.9.0")})
    with pytest.raises(QuestionnaireError, match=r"the market is for care_cyber@0\.9\.0"):
        check_market(older, care, drawn=())


@pytest.mark.parametrize("blank_share", [0.0, 0.02])
def test_a_1_1_0_draw_and_a_1_0_0_draw_with_one_seed_agree_on_every_1_0_0_column(
    care: Questionnaire, care_1_0_0: Questionnaire, blank_share: float
) -> None:
    new = synthetic_responses(care, 2_000, seed=31, as_of=AS_OF, blank_share=blank_share)
    old = synthetic_responses(care_1_0_0, 2_000, seed=31, as_of=AS_OF, blank_share=blank_share)
    assert set(new.column_names) - set(old.column_names) == set(VENDOR_QUESTIONS)
    moved = [c for c in old.column_names if not old[c].equals(new[c])]
    assert moved == ["questionnaire_version"]


def test_year_after_year_a_1_1_0_book_answers_every_1_0_0_question_as_under_1_0_0(
    care: Questionnaire, care_1_0_0: Questionnaire
) -> None:
    """The training book's path: last year's answers kept, controls redrawn."""
    drawn = []
    for questionnaire in (care, care_1_0_0):
        rng = np.random.default_rng(5)
        maturity = draw_maturity(questionnaire, rng, 500)
        days = np.full(500, np.datetime64(AS_OF, "D"))
        first = draw_answers(questionnaire, rng, maturity, days)
        second = draw_answers(questionnaire, rng, maturity, days, previous=first, change_share=0.1)
        drawn.append((first, second, rng.random(3)))
    (new_first, new_second, new_after), (old_first, old_second, old_after) = drawn
    for qid in old_first:
        assert new_first[qid].equals(old_first[qid]), qid
        assert new_second[qid].equals(old_second[qid]), qid
    np.testing.assert_array_equal(new_after, old_after)  # the stream goes on the same
    for qid in ("msp_name", "clearinghouse_vendor"):  # facts about the facility stay
        kept = new_first[qid].is_valid()
        assert new_second[qid].filter(kept).equals(new_first[qid].filter(kept)), qid


def test_the_bundled_vendor_market_fits_questionnaire_1_1_0_and_the_catalogue(
    vendor_market: tuple[VendorMarket, VendorCatalogue], care_1_0_0: Questionnaire
) -> None:
    vendors, catalogue = vendor_market
    assert vendors.questions == set(VENDOR_QUESTIONS)
    assert catalogue.id == vendors.catalogue
    assert vendors_of(care_1_0_0) is None  # 1.0.0 does not ask


def _sure_answers(answers: pd.DataFrame, qid: str) -> pd.Series:
    asked = answers[qid].dropna()
    return asked[asked != NOT_SURE]


@pytest.mark.parametrize("qid", ["clearinghouse_vendor", "email_platform", "cloud_platform"])
def test_platforms_are_named_at_the_catalogues_market_shares(
    qid: str,
    vendor_market: tuple[VendorMarket, VendorCatalogue],
    sample: tuple[pd.DataFrame, np.ndarray],
) -> None:
    vendors, catalogue = vendor_market
    platform = vendors.platforms[qid]
    category = catalogue.by_code[platform.category]
    sure = _sure_answers(sample[0], qid)
    observed = sure.value_counts(normalize=True)
    rest = 1.0 - sum(v.market_share for v in category.vendors)
    expected = {v.code: v.market_share for v in category.vendors}
    expected |= {code: rest * share for code, share in platform.rest.items()}
    assert len(sure) > 20_000
    for code, share in expected.items():
        bound = _binomial_bound(share, len(sure))
        assert abs(observed.get(code, 0.0) - share) <= bound, (code, observed.get(code), share)


@pytest.mark.parametrize("qid", ["clearinghouse_vendor", "email_platform", "msp_rmm_tool"])
def test_not_sure_is_answered_at_the_declared_share(
    qid: str,
    vendor_market: tuple[VendorMarket, VendorCatalogue],
    sample: tuple[pd.DataFrame, np.ndarray],
) -> None:
    """Asked of everyone, or of the facilities using an IT company (a choice drawn
    independently of maturity): the share among those asked is the declared one."""
    vendors, _ = vendor_market
    declared = vendors.msp.tool.not_sure if vendors.msp and qid == "msp_rmm_tool" else None
    declared = declared or vendors.platforms[qid].not_sure
    asked = sample[0][qid].dropna()
    observed = float((asked == NOT_SURE).mean())
    assert abs(observed - declared.share) <= _binomial_bound(declared.share, len(asked))


def test_not_sure_is_more_common_at_facilities_of_low_maturity(
    sample: tuple[pd.DataFrame, np.ndarray],
) -> None:
    answers, _ = sample
    weak = answers["mfa_email"] == "no_mfa"
    strong = answers["mfa_email"] == "all_accounts"
    for qid in ("clearinghouse_vendor", "cloud_platform", "msp_rmm_tool"):
        unsure = answers[qid] == NOT_SURE
        asked = answers[qid].notna()
        assert unsure[weak & asked].mean() > unsure[strong & asked].mean() + 0.03, qid


def test_vendor_questions_follow_the_questionnaires_skip_logic(
    sample: tuple[pd.DataFrame, np.ndarray],
) -> None:
    answers, _ = sample
    msp = answers["uses_msp"] == "yes"
    hosted = answers["ehr_hosting"].isin(["cloud_vendor", "mixed"])
    for qid, applies in (("msp_name", msp), ("msp_rmm_tool", msp), ("cloud_platform", hosted)):
        assert (answers[qid].notna() == applies).all(), qid
    for qid in ("clearinghouse_vendor", "email_platform"):
        assert answers[qid].notna().all(), qid


def _company(name: str, roster: set[str]) -> str:
    """The roster company a written name stands for (its variants undone)."""
    plain = re.sub(r"(, inc\.| llc)$", "", name.lower())
    found = {n for n in roster if n.lower() == plain}
    assert len(found) == 1, name
    return found.pop()


@pytest.fixture(scope="module")
def clients(
    vendor_market: tuple[VendorMarket, VendorCatalogue], sample: tuple[pd.DataFrame, np.ndarray]
) -> pd.DataFrame:
    """Each facility using an IT company: the name written, the company, the tool."""
    vendors, catalogue = vendor_market
    assert vendors.msp is not None
    roster = companies(vendors.msp, catalogue.by_code[vendors.msp.tool.category])
    names = set(roster.names)
    answers = sample[0]
    using = answers[answers["uses_msp"] == "yes"]
    written = using["msp_name"].astype(str)
    return pd.DataFrame(
        {
            "written": written,
            "company": [_company(n, names) for n in written],
            "tool": using["msp_rmm_tool"].astype(str),
        }
    )


def test_the_it_company_roster_is_heavy_tailed(clients: pd.DataFrame) -> None:
    counts = clients["company"].value_counts()
    assert len(counts) > 200
    assert counts.iloc[0] >= 20 * counts.median(), (counts.iloc[0], counts.median())
    assert counts.iloc[:5].sum() > 0.25 * len(clients)  # a few companies serve many


def test_every_client_of_a_company_answers_its_tool_or_not_sure(clients: pd.DataFrame) -> None:
    sure = clients[clients["tool"] != NOT_SURE]
    tools = sure.groupby("company")["tool"].nunique()
    assert (tools == 1).all(), tools[tools > 1].head()


def test_a_small_share_write_their_companys_name_another_way(
    vendor_market: tuple[VendorMarket, VendorCatalogue], clients: pd.DataFrame
) -> None:
    vendors, _ = vendor_market
    assert vendors.msp is not None
    share = vendors.msp.variants.share
    varied = clients["written"] != clients["company"]
    assert abs(float(varied.mean()) - share) <= _binomial_bound(share, len(clients))
    assert clients.loc[varied, "written"].str.isupper().any()
    assert clients.loc[varied, "written"].str.endswith(", Inc.").any()


def test_remote_management_tools_are_drawn_per_company_at_the_catalogues_shares(
    vendor_market: tuple[VendorMarket, VendorCatalogue], clients: pd.DataFrame
) -> None:
    """Among the roster's companies, and among their clients: a client's tool is its
    company's, so the clients' share varies as much as a sample of 1 / sum(share^2)
    companies (the roster's concentration), the bound used for it."""
    vendors, catalogue = vendor_market
    assert vendors.msp is not None
    category = catalogue.by_code[vendors.msp.tool.category]
    roster = companies(vendors.msp, category)
    effective = 1.0 / float(np.sum(roster.shares**2))
    sure = clients.loc[clients["tool"] != NOT_SURE, "tool"].value_counts(normalize=True)
    for vendor in category.vendors:
        p = vendor.market_share
        among_companies = float(np.mean(roster.tools == vendor.code))
        assert abs(among_companies - p) <= _binomial_bound(p, roster.names.size), vendor.code
        assert abs(sure.get(vendor.code, 0.0) - p) <= _binomial_bound(p, int(effective))


def test_the_vendor_shares_are_the_catalogues_not_a_copy(
    vendor_market: tuple[VendorMarket, VendorCatalogue], market: Market
) -> None:
    """Change a share in the catalogue and the draw follows it."""
    vendors, catalogue = vendor_market
    document = catalogue.model_dump(mode="json")
    for category in document["categories"]:
        if category["code"] == "email":
            for vendor in category["vendors"]:
                vendor["market_share"] = {"microsoft_365": 0.1, "google_workspace": 0.8}.get(
                    vendor["code"], vendor["market_share"]
                )
    edited = VendorCatalogue.model_validate(document)
    drawn = VendorAnswers(vendors, edited, shift_mixture(market), np.random.default_rng(3))
    email = pd.Series(drawn.answer("email_platform", np.zeros(20_000)).to_pylist())
    sure = email[email != NOT_SURE].value_counts(normalize=True)
    assert abs(sure["google_workspace"] - 0.8) <= _binomial_bound(0.8, len(email))


def test_a_1_1_0_book_with_blank_controls_validates_without_an_error(care: Questionnaire) -> None:
    table = synthetic_responses(care, 3_000, seed=8, as_of=AS_OF, blank_share=0.01)
    result = validate(
        RawResponses(table=table, source="vendor book", first_row=2), care, as_of=AS_OF
    )
    errors = result.issues[result.issues["severity"] == "error"]
    assert errors.empty, errors.head()
    assert result.valid.all()
    for qid in VENDOR_QUESTIONS:
        assert result.answers[qid].notna().any(), qid


def test_a_vendor_market_that_does_not_fit_lists_every_problem(
    vendor_market: tuple[VendorMarket, VendorCatalogue], care: Questionnaire
) -> None:
    vendors, catalogue = vendor_market
    assert vendors.msp is not None
    email = vendors.platforms["email_platform"]
    platforms = dict(vendors.platforms)
    platforms["email_platform"] = email.model_copy(update={"rest": {"aws": 0.5, "other": 0.4}})
    platforms["cloud_platform"] = email.model_copy(update={"category": "no_such_category"})
    platforms["facility_type"] = email
    roster = vendors.msp.roster.model_copy(update={"size": 10_000})
    variants = vendors.msp.variants.model_copy(update={"forms": ("Acme IT",)})
    msp = vendors.msp.model_copy(update={"roster": roster, "variants": variants})
    broken = vendors.model_copy(update={"platforms": platforms, "msp": msp, "catalogue": "x"})
    with pytest.raises(QuestionnaireError, match="the vendor catalogue is care_vendors") as caught:
        check_vendor_market(broken, care, catalogue)
    problems = "\n".join(caught.value.problems)
    assert "email_platform: rest must be answers that are no vendor of email" in problems
    assert "email_platform: rest's shares must be at least 0 and add up to 1" in problems
    assert "cloud_platform: no category 'no_such_category'" in problems
    assert "facility_type: answers must include not_sure and the vendors of email" in problems
    assert "msp.roster: 384 names for 10000 companies" in problems
    assert "msp.variants: form 'Acme IT' must write the name once" in problems


def test_a_vendor_market_file_with_an_unknown_field_is_refused(tmp_path: Path) -> None:
    text = vendors_path("care_cyber", "1.1.0").read_text(encoding="utf-8")
    path = tmp_path / "vendors.yaml"
    path.write_text(text.replace("platforms:\n", "platforms:\n  surprise: 1\n", 1), "utf-8")
    with pytest.raises(QuestionnaireError, match="surprise"):
        load_vendor_market(path)
