"""Portfolio accumulation: catalogues, a book's exposure, the simulation's checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from scoring import DefinitionError, InputError, RatingEngine, default_engine
from scoring.accumulation import exposure as exposure_module
from scoring.accumulation.analysis import accumulate, standard_error
from scoring.accumulation.book import read_scored_book
from scoring.accumulation.catalogue import (
    EventCatalogue,
    VendorCatalogue,
    bundled_events_path,
    load_catalogues,
)
from scoring.accumulation.curves import convergence, pml, tail_contributions, tvar
from scoring.accumulation.exposure import (
    BookExposure,
    VendorUse,
    allocation_draw,
    scored_book_exposure,
)
from scoring.accumulation.scenarios import scenario
from scoring.accumulation.simulation import (
    YEARS_PER_BLOCK,
    Simulator,
    simulate,
)
from scoring.portfolio.run import score_book
from scoring.rating.engine import PERILS
from tests.conftest import EXAMPLES, EXAMPLES_AS_OF


@pytest.fixture(scope="module")
def engine() -> RatingEngine:
    return default_engine()


@pytest.fixture(scope="module")
def catalogues(engine: RatingEngine) -> tuple[EventCatalogue, VendorCatalogue]:
    return load_catalogues(questionnaire=engine.questionnaire)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory, engine: RatingEngine) -> Path:
    out = tmp_path_factory.mktemp("book") / "scored.csv"
    score_book(EXAMPLES / "portfolio.csv", out, engine, as_of=EXAMPLES_AS_OF)
    return out


@pytest.fixture(scope="module")
def exposure(
    scored: Path, engine: RatingEngine, catalogues: tuple[EventCatalogue, VendorCatalogue]
) -> BookExposure:
    events, vendors = catalogues
    return scored_book_exposure(
        read_scored_book(scored), engine, events, vendors, as_of=EXAMPLES_AS_OF
    )


# -- catalogues ---------------------------------------------------------------------------


def test_the_bundled_catalogues_load_against_the_questionnaire(
    catalogues: tuple[EventCatalogue, VendorCatalogue],
) -> None:
    events, vendors = catalogues
    assert {e.category for e in events.events} <= set(vendors.by_code)
    assert {"clearinghouse", "msp_rmm", "vpn_firewall", "email", "cloud", "ehr"} <= set(
        vendors.by_code
    )


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("PointClickCare", "pointclickcare"),
        ("  point click care ", "pointclickcare"),
        ("PCC", "pointclickcare"),
        ("Cerner", "oracle_health"),
        ("Acme Charting Ltd", "other"),
        ("not sure", None),
        ("unknown", None),
        (None, None),
        ("none", "none"),
    ],
)
def test_vendor_names_are_normalised_through_the_catalogue(
    catalogues: tuple[EventCatalogue, VendorCatalogue], answer: str | None, code: str | None
) -> None:
    assert catalogues[1].by_code["ehr"].vendor_code(answer) == code


def _copy_catalogue(tmp_path: Path, events_text: str) -> Path:
    source = bundled_events_path()
    for vendors in source.parent.glob("vendors-*.yaml"):
        (tmp_path / vendors.name).write_text(vendors.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "events.yaml"
    path.write_text(events_text, encoding="utf-8")
    return path


def test_a_control_effect_neither_cited_nor_an_assumption_is_refused(tmp_path: Path) -> None:
    text = bundled_events_path().read_text(encoding="utf-8")
    bad = text.replace(
        'hit_factor: 3.0, loss_factor: 1.0, source: "Corvus, high-risk VPN vendor about 3x '
        'incident rate (calibration.md)"',
        "hit_factor: 3.0, loss_factor: 1.0",
    )
    assert bad != text
    with pytest.raises(DefinitionError, match="cite a source or say `assumption: true`"):
        load_catalogues(_copy_catalogue(tmp_path, bad))


def test_an_uncited_share_of_clients_hit_without_an_assumption_is_refused(
    tmp_path: Path,
) -> None:
    text = bundled_events_path().read_text(encoding="utf-8")
    bad = text.replace(
        '    hit_share_assumption: "judgement: few clients of one PACS vendor at once."\n', ""
    )
    assert bad != text
    with pytest.raises(
        DefinitionError, match=r"pacs_vendor_compromise: cite a source or say why hit_share"
    ):
        load_catalogues(_copy_catalogue(tmp_path, bad))


def test_an_event_naming_a_question_the_questionnaire_does_not_ask_is_refused(
    tmp_path: Path, engine: RatingEngine
) -> None:
    text = bundled_events_path().read_text(encoding="utf-8")
    bad = text.replace("question: msp_mfa,", "question: msp_mfa_typo,")
    with pytest.raises(DefinitionError, match=r"'msp_mfa_typo' is not in care_cyber@1\.1\.0"):
        load_catalogues(_copy_catalogue(tmp_path, bad), engine.questionnaire)


# -- exposure -----------------------------------------------------------------------------


def test_the_exposure_keeps_the_books_expected_loss_per_peril(
    scored: Path, exposure: BookExposure
) -> None:
    book = pd.read_csv(scored)
    given = book[[f"expected_loss_{p.value}" for p in PERILS]].to_numpy()
    assert_allclose(exposure.frequency * exposure.mean_claim, given, rtol=1e-12, atol=1e-9)
    assert_allclose(exposure.expected_loss, book["expected_loss"], atol=0.05)
    assert (exposure.layer_loss < exposure.expected_loss).all()


def test_the_exposure_does_not_depend_on_the_rows_rated_together(
    monkeypatch: pytest.MonkeyPatch,
    scored: Path,
    engine: RatingEngine,
    catalogues: tuple[EventCatalogue, VendorCatalogue],
    exposure: BookExposure,
) -> None:
    monkeypatch.setattr(exposure_module, "EXPOSURE_CHUNK", 70)
    chunked = scored_book_exposure(
        read_scored_book(scored), engine, *catalogues, as_of=EXAMPLES_AS_OF
    )
    assert_array_equal(chunked.frequency, exposure.frequency)
    assert_array_equal(chunked.mean_claim, exposure.mean_claim)
    for code, use in exposure.vendors.items():
        assert_array_equal(chunked.vendors[code].code, use.code)
    for code, factor in exposure.hit_factor.items():
        assert_array_equal(chunked.hit_factor[code], factor)


def test_answers_that_fail_validation_again_are_refused_with_their_row(
    monkeypatch: pytest.MonkeyPatch,
    scored: Path,
    engine: RatingEngine,
    catalogues: tuple[EventCatalogue, VendorCatalogue],
) -> None:
    monkeypatch.setattr(exposure_module, "EXPOSURE_CHUNK", 70)
    book = read_scored_book(scored)
    text = book.loc[150, "answers"]
    book.loc[150, "answers"] = text.replace("sites=", "sites=-", 1)
    assert book.loc[150, "answers"] != text
    with pytest.raises(InputError, match="fail validation again") as caught:
        scored_book_exposure(book, engine, *catalogues, as_of=EXAMPLES_AS_OF)
    assert [issue.row for issue in caught.value.issues] == [152]
    assert caught.value.issues[0].question_id == "sites"


def test_unknown_vendors_are_allocated_from_the_facility_id_alone() -> None:
    ids = np.array([f"F-{i}" for i in range(500)], dtype=object)
    draws = allocation_draw(ids, "clearinghouse")
    reversed_draws = allocation_draw(ids[::-1], "clearinghouse")
    assert_array_equal(draws, reversed_draws[::-1])
    assert 0.4 < draws.mean() < 0.6
    assert not np.array_equal(draws, allocation_draw(ids, "email"))


def test_answered_vendors_are_kept_and_unanswered_ones_marked_allocated(
    exposure: BookExposure, scored: Path
) -> None:
    firewall = exposure.vendors["vpn_firewall"]
    book = pd.read_csv(scored)
    said_fortinet = book["answers"].str.contains("vpn_firewall_vendor=fortinet").to_numpy()
    assert (firewall.code[said_fortinet] == "fortinet").all()
    assert not firewall.allocated[said_fortinet].any()
    msp = exposure.vendors["msp_rmm"]
    no_msp = book["answers"].str.contains("uses_msp=no").to_numpy()
    assert (msp.code[no_msp] == "none").all()


# -- the simulation -----------------------------------------------------------------------


def test_without_correlated_events_the_simulated_mean_is_the_books_expected_loss(
    exposure: BookExposure, catalogues: tuple[EventCatalogue, VendorCatalogue]
) -> None:
    years = simulate(Simulator(exposure, catalogues[0], correlated=False), 20_000, seed=7)
    error = standard_error(years.aggregate)
    assert abs(years.aggregate.mean() - exposure.layer_loss.sum()) < 4 * error
    assert error < 0.01 * exposure.layer_loss.sum()
    assert_array_equal(years.by_source.shape, (20_000, 0))


def test_a_seed_gives_the_same_years_on_any_number_of_threads(
    exposure: BookExposure, catalogues: tuple[EventCatalogue, VendorCatalogue]
) -> None:
    simulator = Simulator(exposure, catalogues[0])
    once = simulate(simulator, 3 * YEARS_PER_BLOCK + 17, seed=11)
    again = simulate(simulator, 3 * YEARS_PER_BLOCK + 17, seed=11, workers=3)
    for field in dataclasses.fields(once):
        assert_array_equal(getattr(once, field.name), getattr(again, field.name))
    other = simulate(simulator, 3 * YEARS_PER_BLOCK + 17, seed=12)
    assert not np.array_equal(once.aggregate, other.aggregate)


def test_more_years_keep_the_years_already_drawn(
    exposure: BookExposure, catalogues: tuple[EventCatalogue, VendorCatalogue]
) -> None:
    simulator = Simulator(exposure, catalogues[0])
    short = simulate(simulator, 2 * YEARS_PER_BLOCK, seed=3)
    long = simulate(simulator, 4 * YEARS_PER_BLOCK, seed=3)
    assert_array_equal(short.aggregate, long.aggregate[: 2 * YEARS_PER_BLOCK])


def test_a_years_largest_occurrence_is_within_its_aggregate(
    exposure: BookExposure, catalogues: tuple[EventCatalogue, VendorCatalogue]
) -> None:
    years = simulate(Simulator(exposure, catalogues[0]), 2_000, seed=5)
    assert (years.occurrence <= years.aggregate + 1e-6).all()
    assert_allclose(years.aggregate, years.attritional + years.by_source.sum(axis=1))
    assert years.facilities_hit.sum() > 0


def _moved(exposure: BookExposure, category: str, into: str, count: int) -> BookExposure:
    """The exposure with ``count`` more clients of vendor ``into``, taken from others."""
    use = exposure.vendors[category]
    codes = [v.code for v in use.category.vendors]
    target = codes.index(into)
    others = np.flatnonzero((use.index >= 0) & (use.index != target))[:count]
    index = use.index.copy()
    index[others] = target
    code = use.code.copy()
    code[others] = into
    vendors = dict(exposure.vendors)
    vendors[category] = VendorUse(use.category, index, code, use.allocated)
    return dataclasses.replace(exposure, vendors=vendors)


def test_doubling_a_vendors_share_raises_its_part_of_the_tail(
    exposure: BookExposure, catalogues: tuple[EventCatalogue, VendorCatalogue]
) -> None:
    events = catalogues[0]
    clients = int((exposure.vendors["clearinghouse"].code == "waystar").sum())
    doubled = _moved(exposure, "clearinghouse", "waystar", clients)
    assert (doubled.vendors["clearinghouse"].code == "waystar").sum() == 2 * clients

    def share(book: BookExposure) -> float:
        simulator = Simulator(book, events)
        years = simulate(simulator, 20_000, seed=1)
        parts = tail_contributions(years)
        return float(
            sum(
                p
                for p, s in zip(parts, simulator.sources, strict=True)
                if s.vendor == "waystar" and s.event.code == "clearinghouse_outage"
            )
        )

    assert share(doubled) > 1.5 * share(exposure)


def test_the_convergence_of_the_1_in_200_figure_is_reported() -> None:
    losses = np.random.default_rng(0).lognormal(10, 1, size=64_000)
    points = convergence(losses)
    assert [p.years for p in points] == [8_000, 16_000, 32_000, 64_000]
    assert points[-1].pml == pml(losses, 200)
    assert 0 < points[-1].standard_error < points[0].standard_error
    few = convergence(losses[:8_000])
    assert few[0].years == 1_000
    assert few[0].standard_error == 0  # too few years for 8 batches of 200


def test_pml_and_tvar_read_the_tail_of_the_years() -> None:
    losses = np.arange(1.0, 1001.0)
    assert pml(losses, 10) == 901.0
    assert tvar(losses, 10) == pytest.approx(np.arange(901.0, 1001.0).mean())


# -- scenarios and the report ---------------------------------------------------------------


def test_a_longer_clearinghouse_outage_costs_more_and_hits_at_most_its_clients(
    exposure: BookExposure, catalogues: tuple[EventCatalogue, VendorCatalogue]
) -> None:
    outage = next(e for e in catalogues[0].events if e.code == "clearinghouse_outage")
    month = scenario(exposure, outage, "change_healthcare", 30)
    week = scenario(exposure, outage, "change_healthcare", 7)
    assert 0 < week.loss < month.loss
    assert 0 < month.facilities_hit <= month.clients
    assert month.clients == (exposure.vendors["clearinghouse"].code == "change_healthcare").sum()
    with pytest.raises(ValueError, match="vendor must be one of change_healthcare"):
        scenario(exposure, outage, "acme", 30)


def test_accumulate_gathers_every_figure(
    exposure: BookExposure, catalogues: tuple[EventCatalogue, VendorCatalogue]
) -> None:
    result = accumulate(exposure, catalogues[0], years=2_000, seed=2)
    assert {(t.curve, t.return_period) for t in result.tail} == {
        (c, t) for c in ("aep", "oep") for t in (10, 50, 100, 200, 250)
    }
    aep = [t.pml for t in result.tail if t.curve == "aep"]
    assert aep == sorted(aep)
    assert result.contributions["share_of_1_in_200_tvar"].between(0, 1).all()
    assert result.contributions["share_of_1_in_200_tvar"].sum() <= 1 + 1e-9
    facilities = result.concentration.groupby("category")["facilities"].sum()
    assert (facilities == len(exposure)).all()
