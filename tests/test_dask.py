"""Scoring a book on Dask: the same files as in one process, whatever the partitioning."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster

from scoring import InputError, default_engine
from scoring.portfolio.distributed import WorkerEngineError, score_book_on_dask
from scoring.portfolio.run import BookSummary, errors_path_for, score_book
from scoring.rating.engine import RatingEngine
from scoring.rating.score import default_model_dir
from tests.conftest import EXAMPLES, EXAMPLES_AS_OF
from tests.test_batch import _book

PORTFOLIO = EXAMPLES / "portfolio.csv"


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    # the scheduler's web server on a free port: another cluster may hold the default one
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


def _same_files(
    source: Path, tmp_path: Path, client: Client, suffix: str, **settings: Any
) -> tuple[Any, Any]:
    """Score ``source`` both ways; assert the output and the errors file are byte-identical."""
    chunk_rows = settings.pop("chunk_rows")
    alone, on_dask = tmp_path / f"alone{suffix}", tmp_path / f"dask{suffix}"
    expected = score_book(
        source, alone, default_engine(), as_of=EXAMPLES_AS_OF, chunk_rows=chunk_rows
    )
    summary = score_book_on_dask(
        source,
        on_dask,
        model_dir=default_model_dir(),
        plan_path=None,
        as_of=EXAMPLES_AS_OF,
        client=client,
        chunk_rows=chunk_rows,
        **settings,
    )
    assert on_dask.read_bytes() == alone.read_bytes()
    assert errors_path_for(on_dask).read_bytes() == errors_path_for(alone).read_bytes()
    assert not on_dask.with_name(on_dask.name + ".parts").exists()
    assert on_dask.with_name(on_dask.name + ".manifest.json").is_file()
    assert summary.rows_read == summary.rows_scored + summary.rows_rejected
    for name in ("rows_read", "rows_scored", "rows_rejected", "chunks", "versions"):
        assert getattr(summary, name) == getattr(expected, name)
    for run in (expected, summary):  # the whole run's wall-clock time, not a step's
        assert run.seconds["elapsed"] >= max(run.seconds["read"], run.seconds["write"]) > 0
    return expected, summary


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_the_example_book_on_dask_gives_the_files_of_score_book(
    tmp_path: Path, client: Client, suffix: str
) -> None:
    assert dd.read_csv(PORTFOLIO, blocksize=20_000, dtype=str).npartitions >= 5
    _, summary = _same_files(
        PORTFOLIO, tmp_path, client, suffix, chunk_rows=70, partition_bytes=20_000
    )
    assert summary.rows_read == 240


@pytest.mark.parametrize(
    ("partition_bytes", "chunk_rows", "window"),
    [(7_000, 64, None), (30_000, 40, 1), ("64MB", 100, 3)],
)
def test_rejected_rows_and_any_partitioning_give_the_same_files(
    tmp_path: Path, client: Client, partition_bytes: int | str, chunk_rows: int, window: int | None
) -> None:
    book = tmp_path / "book.csv"
    spoilt = _book(book, 200, seed=11, spoil_every=9)
    _, summary = _same_files(
        book,
        tmp_path,
        client,
        ".csv",
        chunk_rows=chunk_rows,
        partition_bytes=partition_bytes,
        window=window,
    )
    assert summary.rows_read == 200
    assert summary.rows_rejected >= len(spoilt)
    rejected = pacsv.read_csv(errors_path_for(tmp_path / "dask.csv")).column("row").to_pylist()
    assert set(spoilt) <= set(rejected)


def test_a_parquet_book_in_many_row_groups_gives_the_same_files(
    tmp_path: Path, client: Client
) -> None:
    book = tmp_path / "book.csv"
    _book(book, 200, seed=5, spoil_every=13)
    parquet = tmp_path / "book.parquet"
    pq.write_table(pacsv.read_csv(book), parquet, row_group_size=30)
    _same_files(parquet, tmp_path, client, ".parquet", chunk_rows=45, partition_bytes=1)


def _score_on_dask(book: Path, output: Path, client: Client, **settings: Any) -> BookSummary:
    return score_book_on_dask(
        book,
        output,
        model_dir=default_model_dir(),
        plan_path=None,
        as_of=EXAMPLES_AS_OF,
        client=client,
        **{"partition_bytes": 20_000, **settings},
    )


def test_a_ragged_csv_is_refused_and_nothing_is_written(tmp_path: Path, client: Client) -> None:
    book = tmp_path / "book.csv"
    lines = PORTFOLIO.read_text(encoding="utf-8").splitlines()
    lines[100] = lines[100].rsplit(",", 1)[0]  # one cell short
    book.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "out.parquet"
    with pytest.raises(InputError, match="row has 95 cells; the header has 96"):
        _score_on_dask(book, output, client)
    assert not output.exists()
    assert not errors_path_for(output).exists()


def _with_blank_row(book: Path, line: int, *, commas: bool) -> int:
    """The example portfolio with a blank line (or a row of empty cells) inserted before
    ``line``; the rows the file holds, the header and the blank one included."""
    lines = PORTFOLIO.read_text(encoding="utf-8").splitlines()
    lines.insert(line, "," * lines[0].count(",") if commas else "")
    book.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


@pytest.mark.parametrize(
    ("line", "commas"), [(50, False), (151, True), (200, True)]
)  # in the first chunk, at the second's first row, in the second
def test_a_book_with_blank_rows_is_refused_with_the_first_blank_row(
    tmp_path: Path, client: Client, line: int, commas: bool
) -> None:
    """Blank rows keep their numbers in score_book; Dask's partitions cannot tell them."""
    book = tmp_path / "book.csv"
    rows = _with_blank_row(book, line, commas=commas)
    output = tmp_path / "out.parquet"
    with pytest.raises(InputError, match="the book has blank rows") as caught:
        _score_on_dask(book, output, client, chunk_rows=150)
    assert caught.value.issues[0].row == line + 1  # the header is row 1
    assert not output.exists()
    assert not errors_path_for(output).exists()
    summary = score_book(book, output, default_engine(), as_of=EXAMPLES_AS_OF, chunk_rows=150)
    assert summary.rows_read == rows - 2  # without the header and the blank row


def test_a_row_of_empty_cells_after_the_last_facility_gives_the_files_of_score_book(
    tmp_path: Path, client: Client
) -> None:
    book = tmp_path / "book.csv"
    rows = _with_blank_row(book, 10_000, commas=True)  # appended at the end
    expected, _ = _same_files(
        book, tmp_path, client, ".csv", chunk_rows=150, partition_bytes=20_000
    )
    assert expected.rows_read == rows - 2


def test_a_parquet_row_group_beyond_the_budget_is_refused_on_dask_too(
    tmp_path: Path, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scoring.portfolio.distributed as distributed
    from scoring.budget import Budget

    parquet = tmp_path / "book.parquet"
    pq.write_table(pacsv.read_csv(PORTFOLIO), parquet)  # one row group of every row
    monkeypatch.setattr(distributed, "BUDGET", Budget(parquet_row_group_rows=100))
    with pytest.raises(InputError, match="row group 1 holds"):
        _score_on_dask(parquet, tmp_path / "out.parquet", client)
    assert not (tmp_path / "out.parquet").exists()


def test_a_line_break_in_a_cell_across_partitions_is_refused_not_misread(
    tmp_path: Path, client: Client
) -> None:
    table = pacsv.read_csv(
        PORTFOLIO, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)
    )
    # a long first line: a partition boundary falls inside a cell, whatever the book
    names = pa.array(
        [f"Home {i}" + " of the care campus" * 40 + "\nNorth wing" for i in range(table.num_rows)]
    )
    position = table.schema.get_field_index("facility_name")
    book = tmp_path / "book.csv"
    pacsv.write_csv(table.set_column(position, "facility_name", names), book)
    output = tmp_path / "out.csv"
    with pytest.raises(InputError, match="cannot read the book"):
        _score_on_dask(book, output, client)
    assert not output.exists()


class _StopError(Exception):
    pass


def test_an_interrupted_run_resumes_to_the_same_files(tmp_path: Path, client: Client) -> None:
    output = tmp_path / "dask.csv"
    settings: dict[str, Any] = {
        "model_dir": default_model_dir(),
        "plan_path": None,
        "as_of": EXAMPLES_AS_OF,
        "client": client,
        "chunk_rows": 70,
        "partition_bytes": 30_000,
    }

    def stop(done: int, scored: int) -> None:
        raise _StopError

    with pytest.raises(_StopError):
        score_book_on_dask(PORTFOLIO, output, progress=stop, **settings)
    assert not output.exists()
    summary = score_book_on_dask(PORTFOLIO, output, resume=True, **settings)
    assert summary.chunks_resumed == 1
    alone = tmp_path / "alone.csv"
    score_book(PORTFOLIO, alone, default_engine(), as_of=EXAMPLES_AS_OF, chunk_rows=70)
    assert output.read_bytes() == alone.read_bytes()
    assert errors_path_for(output).read_bytes() == errors_path_for(alone).read_bytes()


def _tamper_after_the_client_loads(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """The client loads the engine first; workers then find ``path`` changed."""
    load = RatingEngine.load

    def load_then_tamper(model_dir: Path, plan_path: Path | None = None) -> RatingEngine:
        engine = load(model_dir, plan_path)
        if not path.read_bytes().endswith(b"\n# changed\n"):
            path.write_bytes(path.read_bytes() + b"\n# changed\n")
        return engine

    monkeypatch.setattr(RatingEngine, "load", load_then_tamper)


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ("model.json", "cannot be used on a worker"),
        ("rating-plan.yaml", "the rating plan on this worker is not the one the client loaded"),
    ],
)
def test_a_worker_with_another_model_or_plan_is_refused(
    tmp_path: Path, client: Client, monkeypatch: pytest.MonkeyPatch, changed: str, message: str
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(default_model_dir(), model_dir)
    _tamper_after_the_client_loads(monkeypatch, model_dir / changed)
    output = tmp_path / "out.csv"
    with pytest.raises(WorkerEngineError, match=message):
        score_book_on_dask(
            PORTFOLIO,
            output,
            model_dir=model_dir,
            plan_path=None,
            as_of=EXAMPLES_AS_OF,
            client=client,
            chunk_rows=100,
        )
    assert not output.exists()


def test_cli_scores_on_a_local_cluster_as_on_one_process(tmp_path: Path) -> None:
    """`carescore batch --workers 2`, run as a user runs it (its own process)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    source = tmp_path / "book.csv"
    _book(source, 300, seed=31, spoil_every=25)
    table = pacsv.read_csv(
        source, convert_options=pacsv.ConvertOptions(column_types={"facility_id": pa.string()})
    )
    ids = table.column("facility_id").to_pylist()
    ids[250] = ids[5]  # a facility repeated in two chunks
    position = table.schema.get_field_index("facility_id")
    pacsv.write_csv(table.set_column(position, "facility_id", pa.array(ids)), source)
    common = ["--chunk-rows", "100", "--as-of", "2026-11-29", "--quiet"]
    runs = []
    for name, extra in (("a", []), ("b", ["--workers", "2"])):
        command = [sys.executable, "-m", "scoring", "batch", str(source)]
        command += ["-o", str(tmp_path / f"{name}.parquet"), *common, *extra]
        runs.append(subprocess.run(command, cwd=ROOT, capture_output=True, text=True))
    assert [r.returncode for r in runs] == [1, 1], runs[1].stderr  # 1: some rows rejected
    assert "300 rows read = 287 scored + 13 rejected" in runs[1].stdout
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    errors = (tmp_path / "b.errors.csv").read_text()
    assert errors == (tmp_path / "a.errors.csv").read_text()
    assert errors.count("duplicate_facility") == 2
