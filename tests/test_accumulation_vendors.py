"""Accumulation on questionnaire 1.1.0's vendor answers: vendors named by the book,
allocation where they are not, and the MSP as a vendor of its own."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

from scoring import RatingEngine, default_engine
from scoring.accumulation.analysis import msp_concentration, vendor_answers
from scoring.accumulation.book import read_scored_book
from scoring.accumulation.catalogue import (
    EventCatalogue,
    VendorCatalogue,
    bundled_events_path,
    load_catalogues,
)
from scoring.accumulation.curves import tail_contributions
from scoring.accumulation.exposure import BookExposure, scored_book_exposure, vendor_use
from scoring.accumulation.msp import LABEL_CHARS, NOT_NAMED, msp_key
from scoring.accumulation.simulation import BY_NAME, Simulator, simulate
from scoring.budget import BUDGET
from scoring.cli.app import app
from scoring.errors import DefinitionError
from scoring.portfolio.run import score_book
from tests.conftest import EXAMPLES, EXAMPLES_AS_OF, example_portfolio_as

runner = CliRunner()

RMM = ["connectwise", "KASEYA", "NinjaOne", "n-able", "other", "not_sure"]
CLEARINGHOUSE = [
    "Change Healthcare (Optum)",
    "AVAILITY",
    "waystar",
    "trizetto (cognizant)",
    "other",
    "not_sure",
    "none",
]
EMAIL = ["MICROSOFT_365", "google workspace (gmail)", "own_server", "not_sure", "Microsoft_365"]
CLOUD = ["azure", "Amazon Web Services (AWS)", "GOOGLE_CLOUD", "not_sure"]
HOSTILE_NAME = "<script>alert(1)</script> Tech " + "x" * 150
FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'
MSP_NAMES = [
    "Acme IT Services, LLC",
    "ACME IT",
    "acme",
    "Blue Ridge Networks Inc.",
    "blue ridge networks",
    "",
    "Not sure",
    HOSTILE_NAME,
    FORMULA_NAME,
    "Tab\tand\nline break Co.",
    "Acme",
    "Smith+Jones; 100% IT",
]


def book_1_1(path: Path) -> Path:
    """The example portfolio answered as questionnaire 1.1.0, its vendors named by
    code, label and in mixed case; some not sure, some MSPs unnamed or hostile."""
    book = pd.read_csv(EXAMPLES / "portfolio.csv", dtype=str, keep_default_na=False)
    book["questionnaire_version"] = "1.1.0"
    msp = book["uses_msp"] == "yes"
    cloud = book["ehr_hosting"].isin(["cloud_vendor", "mixed"])
    names, rmm = itertools.cycle(MSP_NAMES), itertools.cycle(RMM)
    clearinghouse, email, platform = (itertools.cycle(c) for c in (CLEARINGHOUSE, EMAIL, CLOUD))
    book["msp_name"] = [next(names) if m else "" for m in msp]
    book["msp_rmm_tool"] = [next(rmm) if m else "" for m in msp]
    book["clearinghouse_vendor"] = [next(clearinghouse) for _ in range(len(book))]
    book["email_platform"] = [next(email) for _ in range(len(book))]
    book["cloud_platform"] = [next(platform) if c else "" for c in cloud]
    book.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def engine() -> RatingEngine:
    return default_engine()


@pytest.fixture(scope="module")
def catalogues(engine: RatingEngine) -> tuple[EventCatalogue, VendorCatalogue]:
    return load_catalogues(questionnaire=engine.questionnaire)


@pytest.fixture(scope="module")
def given(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The 1.1.0 book as written (text cells)."""
    folder = tmp_path_factory.mktemp("given")
    return pd.read_csv(book_1_1(folder / "book.csv"), dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory, engine: RatingEngine) -> Path:
    folder = tmp_path_factory.mktemp("book")
    out = folder / "scored.csv"
    summary = score_book(book_1_1(folder / "book.csv"), out, engine, as_of=EXAMPLES_AS_OF)
    assert summary.rows_rejected == 0
    return out


@pytest.fixture(scope="module")
def exposure(
    scored: Path, engine: RatingEngine, catalogues: tuple[EventCatalogue, VendorCatalogue]
) -> BookExposure:
    return scored_book_exposure(read_scored_book(scored), engine, *catalogues, as_of=EXAMPLES_AS_OF)


@pytest.fixture(scope="module")
def exposure_1_0(
    tmp_path_factory: pytest.TempPathFactory,
    engine: RatingEngine,
    catalogues: tuple[EventCatalogue, VendorCatalogue],
) -> BookExposure:
    folder = tmp_path_factory.mktemp("book")
    out = folder / "scored.csv"
    score_book(example_portfolio_as("1.0.0", folder), out, engine, as_of=EXAMPLES_AS_OF)
    return scored_book_exposure(read_scored_book(out), engine, *catalogues, as_of=EXAMPLES_AS_OF)


# -- vendors read from the answers ----------------------------------------------------------


def test_the_1_1_catalogue_names_the_questions_1_1_asks(
    catalogues: tuple[EventCatalogue, VendorCatalogue],
) -> None:
    vendors = catalogues[1]
    asked = {c.code: c.question for c in vendors.categories}
    assert asked["msp_rmm"] == "msp_rmm_tool"
    assert asked["clearinghouse"] == "clearinghouse_vendor"
    assert asked["email"] == "email_platform"
    assert asked["cloud"] == "cloud_platform"
    assert asked["msp"] == "msp_name"
    assert any(e.code == "msp_compromise" and e.category == "msp" for e in catalogues[0].events)


@pytest.mark.parametrize(
    ("category", "answer", "code"),
    [
        ("clearinghouse", "Change Healthcare (Optum)", "change_healthcare"),
        ("clearinghouse", "AVAILITY", "availity"),
        ("clearinghouse", "other", "other"),
        ("clearinghouse", "not_sure", None),
        ("clearinghouse", "none", "none"),
        ("msp_rmm", "KASEYA", "kaseya"),
        ("msp_rmm", "n-able", "n_able"),
        ("email", "own_server", "other"),
        ("cloud", "Amazon Web Services (AWS)", "aws"),
    ],
)
def test_a_1_1_book_names_its_vendors_by_code_or_label_in_any_case(
    given: pd.DataFrame, exposure: BookExposure, category: str, answer: str, code: str | None
) -> None:
    use = exposure.vendors[category]
    question = use.category.question
    assert question is not None
    rows = (given[question] == answer).to_numpy()
    if use.category.exposed_when is not None:
        exposed_when = use.category.exposed_when
        rows = rows & given[exposed_when.question].isin(exposed_when.answers).to_numpy()
    assert rows.sum() >= 3
    if code is None:  # not sure: allocated by market share, flagged
        assert use.allocated[rows].all()
        assert set(use.code[rows]) <= {v.code for v in use.category.vendors} | {"other"}
    else:
        assert (use.code[rows] == code).all()
        assert not use.allocated[rows].any()


def test_aliases_in_free_text_name_their_vendor_in_any_case(
    catalogues: tuple[EventCatalogue, VendorCatalogue],
) -> None:
    vendors = catalogues[1].by_code
    cases = {
        "clearinghouse": (["OPTUM", "Relay Health", "emdeon"], "change_healthcare"),
        "msp_rmm": (["Datto RMM", "screenconnect", "SolarWinds RMM"], None),
        "email": (["O365", "Exchange Online", "GMAIL"], None),
        "cloud": (["GCP", "amazon"], None),
    }
    expected = {
        "clearinghouse": ["change_healthcare"] * 3,
        "msp_rmm": ["kaseya", "connectwise", "n_able"],
        "email": ["microsoft_365", "microsoft_365", "google_workspace"],
        "cloud": ["google_cloud", "aws"],
    }
    for code, (answers, _) in cases.items():
        category = vendors[code]
        assert category.question is not None
        n = len(answers)
        frame = pd.DataFrame({category.question: answers})
        if category.exposed_when is not None:
            frame[category.exposed_when.question] = category.exposed_when.answers[0]
        ids = np.array([f"F-{i}" for i in range(n)], dtype=object)
        use = vendor_use(category, ids, frame)
        assert list(use.code) == expected[code]
        assert not use.allocated.any()


def test_a_line_break_in_an_msps_name_is_read_across_blocks_of_the_book(scored: Path) -> None:
    raw = scored.read_bytes()
    assert b"msp_name=Tab\tand\nline break Co." in raw
    small = dataclasses.replace(BUDGET, row_bytes=4096)  # the book is read in many blocks
    assert len(raw) > 50 * small.row_bytes
    book = read_scored_book(scored, budget=small)
    assert_frame_equal(book, read_scored_book(scored))
    assert book["answers"].str.contains("msp_name=Tab\tand\nline break Co.", regex=False).sum() > 3


def test_exposure_conditions_still_apply_to_answered_vendors(
    given: pd.DataFrame, exposure: BookExposure
) -> None:
    on_premises = (given["ehr_hosting"] == "on_premises").to_numpy()
    assert on_premises.any()
    assert (exposure.vendors["cloud"].code[on_premises] == "none").all()
    no_msp = (given["uses_msp"] == "no").to_numpy()
    assert (exposure.vendors["msp_rmm"].code[no_msp] == "none").all()
    assert (exposure.vendors["msp"].code[no_msp] == "none").all()


def test_the_concentration_counts_answered_and_allocated_facilities(
    given: pd.DataFrame, exposure: BookExposure
) -> None:
    counts = vendor_answers(exposure).set_index("category")
    clearing = counts.loc["clearinghouse"]
    assert clearing["allocated"] == (given["clearinghouse_vendor"] == "not_sure").sum()
    assert clearing["not_exposed"] == (given["clearinghouse_vendor"] == "none").sum()
    assert clearing["answered"] + clearing["allocated"] == clearing["exposed"]
    assert (
        counts.loc["msp", "not_named"]
        == ((given["uses_msp"] == "yes") & given["msp_name"].isin(["", "Not sure"])).sum()
    )


def test_a_1_0_book_is_allocated_as_with_the_1_0_catalogue(
    exposure_1_0: BookExposure, engine: RatingEngine
) -> None:
    _, vendors = load_catalogues(
        bundled_events_path().with_name("events-1.0.0.yaml"), engine.questionnaire
    )
    before = {c.code: c for c in vendors.categories}
    n = len(exposure_1_0)
    for code in ("msp_rmm", "clearinghouse", "email", "cloud"):
        now = exposure_1_0.vendors[code]
        frame = pd.DataFrame(
            {
                "uses_msp": np.where(now.code == "none", "no", "yes"),
                "ehr_hosting": np.where(now.code == "none", "on_premises", "mixed"),
            }
        )
        then = vendor_use(before[code], exposure_1_0.facility_id, frame)
        assert_array_equal(now.code, then.code)
        assert_array_equal(now.allocated, then.allocated)
        assert now.allocated[now.code != "none"].all()
    assert (exposure_1_0.vendors["msp"].index == -1).all()
    assert n == 240


# -- the MSP ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acme IT Services, LLC", "acme"),
        ("ACME  it", "acme"),
        ("The Acme Company", "acme"),
        ("Acme IT Solutions L.L.C.", "acme"),
        ("Acme Co., Inc.", "acme"),
        ("Acme Networks", "acme networks"),
        ("Smith & Jones Ltd", "smith and jones"),
        ("Café Tech Limited", "cafe tech"),
        ("IT Services Inc", "it services"),
        ("Co", "co"),
        ("Tab\tand\nline break Co.", "tab and line break"),
        ("", None),
        ("  ", None),
        ("Unknown", None),
        ("%unknown", None),
        ("N/A", None),
        ("none", None),
        (None, None),
    ],
)
def test_msp_names_are_normalised_by_the_documented_rule(name: str | None, key: str | None) -> None:
    assert msp_key(name) == key


def test_spellings_of_one_msp_are_one_msp_and_unnamed_ones_are_never_pooled(
    given: pd.DataFrame,
    exposure: BookExposure,
    catalogues: tuple[EventCatalogue, VendorCatalogue],
) -> None:
    use = exposure.vendors["msp"]
    table = msp_concentration(exposure).set_index("name")
    acme = table.loc[table["msp"] == "acme"].iloc[0]
    written = given.loc[given["uses_msp"] == "yes", "msp_name"]
    assert (
        acme["facilities"]
        == written.isin(["Acme IT Services, LLC", "ACME IT", "acme", "Acme"]).sum()
    )
    assert acme["spellings"] == 4
    unnamed = int((use.code == NOT_NAMED).sum())
    assert table.loc[NOT_NAMED, "facilities"] == unnamed > 0
    simulator = Simulator(exposure, catalogues[0])
    (source,) = [s for s in simulator.sources if s.vendor == BY_NAME]
    assert source.groups is not None
    sizes = np.diff(source.groups)
    assert sizes.size == len(use.keys) + unnamed
    assert (sizes[len(use.keys) :] == 1).all()  # each unnamed facility its own MSP


def _moved_to_msp(exposure: BookExposure, key: str, count: int) -> BookExposure:
    """The exposure with ``count`` more facilities using the MSP ``key``."""
    use = exposure.vendors["msp"]
    target = use.keys.index(key)
    others = np.flatnonzero((use.index >= 0) & (use.index != target))[:count]
    assert others.size == count
    index, code = use.index.copy(), use.code.copy()
    index[others], code[others] = target, key
    vendors = dict(exposure.vendors)
    vendors["msp"] = dataclasses.replace(use, index=index, code=code)
    return dataclasses.replace(exposure, vendors=vendors)


def test_doubling_an_msps_clients_raises_its_part_of_the_tail(
    exposure: BookExposure, catalogues: tuple[EventCatalogue, VendorCatalogue]
) -> None:
    events = catalogues[0]
    use = exposure.vendors["msp"]
    key = "blue ridge networks"
    clients = int((use.code == key).sum())
    doubled = _moved_to_msp(exposure, key, clients)
    assert (doubled.vendors["msp"].code == key).sum() == 2 * clients

    def share(book: BookExposure) -> float:
        simulator = Simulator(book, events)
        table = msp_concentration(book, simulator, simulate(simulator, 20_000, seed=1))
        return float(table.loc[table["msp"] == key, "share_of_1_in_200_tvar"].iloc[0])

    assert share(doubled) > 1.5 * share(exposure) > 0


def test_msp_compromise_is_simulated_like_the_other_vendor_events(
    exposure: BookExposure, catalogues: tuple[EventCatalogue, VendorCatalogue]
) -> None:
    simulator = Simulator(exposure, catalogues[0])
    years = simulate(simulator, 3_000, seed=9)
    s = next(i for i, src in enumerate(simulator.sources) if src.vendor == BY_NAME)
    mine = years.event_source == s
    assert mine.any()
    by_year = np.bincount(years.event_year[mine], years.event_loss[mine], minlength=3_000)
    np.testing.assert_allclose(by_year, years.by_source[:, s], rtol=1e-12)
    table = msp_concentration(exposure, simulator, years)
    total = years.by_source[:, s].mean()
    assert table["mean_annual_loss"].sum() == pytest.approx(total, rel=1e-9)
    shares = tail_contributions(years)
    assert table["share_of_1_in_200_tvar"].sum() == pytest.approx(shares[s], rel=1e-9)


def test_mfa_on_the_msps_access_lowers_the_chance_of_an_msp_compromise(
    given: pd.DataFrame,
    exposure: BookExposure,
    catalogues: tuple[EventCatalogue, VendorCatalogue],
) -> None:
    mfa = (given["msp_mfa"] == "yes").to_numpy()
    assert mfa.any()
    assert (~mfa).any()
    chance = exposure.hit_factor["msp_compromise"]
    assert_array_equal(chance[mfa], 0.5)
    assert_array_equal(chance[~mfa], 1.0)
    # the same simulated years with nobody's MSP held back by MFA cost more
    simulator = Simulator(exposure, catalogues[0])
    source = next(s for s in simulator.sources if s.vendor == BY_NAME)
    everyone = dataclasses.replace(
        exposure, hit_factor={**exposure.hit_factor, "msp_compromise": np.ones(len(exposure))}
    )
    with_mfa = simulate(simulator, 4_000, seed=2).by_source[:, simulator.sources.index(source)]
    without = simulate(Simulator(everyone, catalogues[0]), 4_000, seed=2).by_source
    assert with_mfa.sum() < without[:, simulator.sources.index(source)].sum()


def test_a_catalogued_vendor_that_is_not_a_choice_of_its_question_is_refused(
    tmp_path: Path, engine: RatingEngine
) -> None:
    source = bundled_events_path()
    (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    vendors = source.with_name("vendors-1.1.0.yaml").read_text(encoding="utf-8")
    bad = vendors.replace("{code: waystar, label: Waystar,", "{code: way_star, label: Waystar,")
    assert bad != vendors
    (tmp_path / "vendors-1.1.0.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"vendor\(s\) way_star are not choices of"):
        load_catalogues(tmp_path / source.name, engine.questionnaire)


# -- the report, through the command ------------------------------------------------------------


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["accumulate", *args, "--as-of", EXAMPLES_AS_OF.isoformat()])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_hostile_msp_names_are_escaped_in_the_html_and_inert_in_the_csv(
    scored: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    code, output = _run(str(scored), "-o", str(report), "--years", "500")
    assert code == 0, output
    html = (report / "accumulation.html").read_text(encoding="utf-8")
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Tech" in html
    assert "x" * LABEL_CHARS not in html
    table = pd.read_csv(report / "msp.csv", dtype=str, keep_default_na=False)
    names = table["name"].tolist()
    assert "'" + FORMULA_NAME in names
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)
    assert all(len(n) <= LABEL_CHARS + 1 and "\n" not in n and "\t" not in n for n in names)
    assert "Tab and line break Co." in names
    assert "Smith+Jones; 100% IT" in names  # the answers text's own escapes undone
    figures = json.loads((report / "accumulation.json").read_text(encoding="utf-8"))
    assert {m["msp"] for m in figures["msps"]} >= {"acme", "blue ridge networks", ""}
    scenarios = {(s["event"], s["vendor"]) for s in figures["scenarios"]}
    assert ("msp_compromise", "acme") in scenarios


def test_the_dask_option_writes_the_figures_of_one_process(scored: Path, tmp_path: Path) -> None:
    alone, on_dask = tmp_path / "alone", tmp_path / "dask"
    code, output = _run(str(scored), "-o", str(alone), "--years", "800", "--seed", "3")
    assert code == 0, output
    code, output = _run(
        str(scored), "-o", str(on_dask), "--years", "800", "--seed", "3", "--dask", "--workers", "2"
    )
    assert code == 0, output
    for path in sorted(alone.iterdir()):
        assert (on_dask / path.name).read_bytes() == path.read_bytes(), path.name


def test_a_scheduler_address_draws_on_that_cluster_the_figures_of_one_process(
    scored: Path, tmp_path: Path
) -> None:
    from distributed import LocalCluster

    alone, remote = tmp_path / "alone", tmp_path / "remote"
    code, output = _run(str(scored), "-o", str(alone), "--years", "600", "--seed", "5")
    assert code == 0, output
    # a cluster started apart from the command, reached only by its address
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster:
        address = cluster.scheduler_address
        code, output = _run(
            str(scored), "-o", str(remote), "--years", "600", "--seed", "5", "--scheduler", address
        )
    assert code == 0, output
    for path in sorted(alone.iterdir()):
        assert (remote / path.name).read_bytes() == path.read_bytes(), path.name


def test_a_local_cluster_and_a_scheduler_at_once_is_a_usage_error(
    scored: Path, tmp_path: Path
) -> None:
    args = ["--dask", "--scheduler", "tcp://127.0.0.1:1"]
    code, output = _run(str(scored), "-o", str(tmp_path / "report"), *args)
    assert code == 2
    assert "give --dask (a local cluster) or --scheduler, not both" in output
    assert not (tmp_path / "report").exists()


def test_a_scheduler_that_cannot_be_reached_is_a_sentence_and_exit_1(
    scored: Path, tmp_path: Path
) -> None:
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code, output = _run(
            str(scored), "-o", str(tmp_path / "report"), "--scheduler", "tcp://127.0.0.1:9"
        )
    assert code == 1
    assert "cannot reach the Dask scheduler tcp://127.0.0.1:9" in output
    assert not (tmp_path / "report").exists()


def test_the_dask_option_without_dask_is_a_sentence_and_exit_1(
    scored: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    code, output = _run(str(scored), "-o", str(tmp_path / "report"), "--dask")
    assert code == 1
    assert "--dask needs Dask, which is not installed: pip install 'carescore[dask]'" in output
    assert not (tmp_path / "report").exists()


def test_a_1_0_book_still_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "scored.csv"
    book = example_portfolio_as("1.0.0", tmp_path)
    score_book(book, out, default_engine(), as_of=EXAMPLES_AS_OF)
    code, output = _run(str(out), "-o", str(tmp_path / "report"), "--years", "300")
    assert code == 0, output
    figures = json.loads((tmp_path / "report" / "accumulation.json").read_text())
    answers = {a["category"]: a for a in figures["vendor_answers"]}
    assert answers["clearinghouse"]["allocated"] == 240
    assert answers["msp"]["answered"] == 0
    assert [m["name"] for m in figures["msps"]] == [NOT_NAMED]
