"""``carescore accumulate``: the report folder, exit codes, and the same years on Dask."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster
from numpy.testing import assert_array_equal
from typer.testing import CliRunner

from scoring import default_engine
from scoring.accumulation.book import read_scored_book
from scoring.accumulation.catalogue import load_catalogues
from scoring.accumulation.distributed import simulate_on_dask
from scoring.accumulation.exposure import scored_book_exposure
from scoring.accumulation.report import REPORT_FILES
from scoring.accumulation.simulation import YEARS_PER_BLOCK, Simulator, simulate
from scoring.cli.app import app
from scoring.portfolio.run import score_book
from tests.conftest import EXAMPLES, EXAMPLES_AS_OF

runner = CliRunner()


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("book") / "scored.csv"
    score_book(EXAMPLES / "portfolio.csv", out, default_engine(), as_of=EXAMPLES_AS_OF)
    return out


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["accumulate", *args, "--as-of", EXAMPLES_AS_OF.isoformat()])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_accumulate_writes_the_report_and_every_figure(scored: Path, tmp_path: Path) -> None:
    code, output = _run(str(scored), "-o", str(tmp_path / "report"), "--years", "2000")
    assert code == 0, output
    assert "1 in 200: PML $" in output
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == sorted(REPORT_FILES)
    figures = json.loads((tmp_path / "report" / "accumulation.json").read_text())
    assert figures["facilities"] == 240
    assert len(figures["tail"]) == 10
    assert figures["convergence"][-1]["years"] == 2000
    html = (tmp_path / "report" / "accumulation.html").read_text()
    assert "<svg" in html
    assert "<script" not in html
    assert "http" not in html.replace("http://www.w3.org", "")
    scenarios = pd.read_csv(tmp_path / "report" / "scenarios.csv")
    assert {"clearinghouse_outage", "msp_rmm_ransomware"} <= set(scenarios["event"])


def test_the_same_seed_writes_the_same_figures(scored: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        code, output = _run(str(scored), "-o", str(tmp_path / name), "--years", "600")
        assert code == 0, output
    for name in REPORT_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_parquet_book_gives_the_figures_of_its_csv(scored: Path, tmp_path: Path) -> None:
    parquet = tmp_path / "scored.parquet"
    score_book(EXAMPLES / "portfolio.csv", parquet, default_engine(), as_of=EXAMPLES_AS_OF)
    for book, name in ((scored, "csv"), (parquet, "parquet")):
        code, output = _run(str(book), "-o", str(tmp_path / name), "--years", "300")
        assert code == 0, output
    for name in ("accumulation.json", "concentration.csv", "tail.csv"):
        assert (tmp_path / "csv" / name).read_bytes() == (tmp_path / "parquet" / name).read_bytes()


def test_a_pipe_is_refused_before_it_is_read(tmp_path: Path) -> None:
    pipe = tmp_path / "book.csv"
    os.mkfifo(pipe)
    code, output = _run(str(pipe), "-o", str(tmp_path / "report"))
    assert code == 1
    assert "named pipe (FIFO); only regular files are read" in output
    assert not (tmp_path / "report").exists()


def test_a_book_scored_with_another_model_is_refused(scored: Path, tmp_path: Path) -> None:
    book = pd.read_csv(scored, dtype=str, keep_default_na=False)
    book["model_sha256"] = "0" * 64
    other = tmp_path / "other.csv"
    book.to_csv(other, index=False)
    code, output = _run(str(other), "-o", str(tmp_path / "report"))
    assert code == 1
    assert "scored with another model" in output
    assert not (tmp_path / "report").exists()


def test_a_file_that_is_not_a_scored_book_is_refused(tmp_path: Path) -> None:
    code, output = _run(str(EXAMPLES / "portfolio.csv"), "-o", str(tmp_path / "report"))
    assert code == 1
    assert "not a scored book" in output
    assert "missing column(s) answers" in output


def test_a_report_file_that_is_the_book_is_a_usage_error(scored: Path, tmp_path: Path) -> None:
    folder = tmp_path / "report"
    folder.mkdir()
    book = folder / "curve.csv"
    book.write_bytes(scored.read_bytes())
    code, output = _run(str(book), "-o", str(folder))
    assert code == 2
    assert "curve.csv" in output
    assert book.read_bytes() == scored.read_bytes()


def test_a_scenario_duration_out_of_range_is_a_usage_error(scored: Path, tmp_path: Path) -> None:
    code, output = _run(str(scored), "-o", str(tmp_path / "r"), "--days", "0")
    assert code == 2
    assert "--days must be above 0" in output


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


def test_the_same_seed_gives_the_same_years_on_dask(scored: Path, client: Client) -> None:
    engine = default_engine()
    events, vendors = load_catalogues(questionnaire=engine.questionnaire)
    exposure = scored_book_exposure(
        read_scored_book(scored), engine, events, vendors, as_of=EXAMPLES_AS_OF
    )
    simulator = Simulator(exposure, events)
    years = 3 * YEARS_PER_BLOCK + 5
    local = simulate(simulator, years, seed=4)
    remote = simulate_on_dask(client, simulator, years, seed=4)
    for field in dataclasses.fields(local):
        assert_array_equal(getattr(local, field.name), getattr(remote, field.name))
    assert np.isfinite(remote.aggregate).all()
