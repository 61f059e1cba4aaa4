"""The hostile-input corpus, run end to end: every class of input of issue 13 through the
commands it applies to, each in a fresh child process watched for memory and time.

A run passes when it ends within its time bound and the memory budget with the expected
exit code and a message naming the file, without a traceback or an internal error,
leaving the files it was given byte-identical and no work files behind
(``tests/hostile/runner.py`` judges; ``python -m tests.hostile.runner`` prints the lot).
The selected runs are made up front, two at a time, by one fixture; each test then
reports its own run.
"""

from __future__ import annotations

import concurrent.futures
import csv
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hostile import books, corpus
from tests.hostile.corpus import AS_OF, CASES
from tests.hostile.measure import MEMORY_BUDGET_BYTES, run_measured
from tests.hostile.runner import (
    Outcome,
    carescore,
    environment,
    execute,
    make_scored_book,
    snapshot,
)

RUNS = [
    pytest.param(case, command, id=f"{case.name}-{command}", marks=[pytest.mark.slow] * case.slow)
    for case, command in corpus.runs()
]


WORKERS = 2
"""Runs at once: each is one process busy on one core (CI has two)."""


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Outcome]:
    """The outcome of every run selected in this session, run two at a time up front."""
    selected = [
        (item.callspec.params["case"], item.callspec.params["command"])
        for item in request.session.items
        if item.module is request.module
        and hasattr(item, "callspec")
        and "case" in item.callspec.params
    ]
    scored_book = make_scored_book(tmp_path_factory.mktemp("scored"))

    def run(pair: tuple[corpus.Case, str]) -> Outcome:
        case, command = pair
        folder = tmp_path_factory.mktemp(f"{case.name}-{command}")
        return execute(case, command, folder, scored_book)

    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        done = pool.map(run, selected)
        return {
            (case.name, command): outcome
            for (case, command), outcome in zip(selected, done, strict=True)
        }


@pytest.mark.parametrize(("case", "command"), RUNS)
def test_hostile_input_is_refused_cleanly_within_budget(
    case: corpus.Case, command: str, outcomes: dict[tuple[str, str], Outcome]
) -> None:
    outcome = outcomes[case.name, command]
    assert not outcome.problems, f"{case.name} ({case.issue}), {command}: {outcome.describe()}"


def test_every_class_of_the_issue_has_a_case_and_every_command_is_exercised() -> None:
    classes = {case.issue.split()[0] for case in CASES}
    assert classes == {"1", "2", "3", "4", "5", "6", "7"}
    assert {command for _, command in corpus.runs()} == set(corpus.COMMANDS)
    assert len({case.name for case in CASES}) == len(CASES)


def test_bombs_are_small_on_disk_and_large_when_read(tmp_path: Path) -> None:
    import zipfile

    from tests.hostile import files

    for make, part, declared in (
        (files.xlsx_shared_strings_bomb, "xl/sharedStrings.xml", 300_000_000),
        (files.xlsx_zip_bomb, "xl/worksheets/sheet1.xml", 3_000_000_000),
    ):
        path = make(tmp_path)
        assert path.stat().st_size < 5_000_000
        with zipfile.ZipFile(path) as archive:
            assert archive.getinfo(part).file_size > declared
            with archive.open(part) as member:  # the stream is valid where it starts
                assert member.read(1_000_000)
    rows_bomb = files.parquet_rows_bomb(tmp_path)
    assert rows_bomb.stat().st_size < 5_000_000
    assert pq.ParquetFile(rows_bomb).metadata.num_rows == 3_000_000


def test_the_watchdog_ends_a_hang_and_a_memory_bomb(tmp_path: Path) -> None:
    import sys

    hang = run_measured(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        cwd=tmp_path,
        env=environment(),
        seconds=1.0,
    )
    assert hang.timed_out
    assert hang.returncode is None
    assert hang.seconds < 10
    grow = run_measured(
        [sys.executable, "-c", "b = bytearray(400_000_000); import time; time.sleep(60)"],
        cwd=tmp_path,
        env=environment(),
        seconds=30.0,
        memory_bytes=200_000_000,
    )
    assert grow.over_budget
    assert grow.peak_rss_bytes > 200_000_000
    assert MEMORY_BUDGET_BYTES == 2 * 1024**3


def _big_book(path: Path, copies: int) -> int:
    """The example portfolio ``copies`` times over, each facility id made unique."""
    with (books.EXAMPLES / "portfolio.csv").open(newline="", encoding="utf-8") as source:
        header, *rows = list(csv.reader(source))
    with path.open("w", newline="", encoding="utf-8") as book:
        writer = csv.writer(book)
        writer.writerow(header)
        for copy in range(copies):
            for row in rows:
                writer.writerow([f"{row[0]}-{copy}", *row[1:]])
    return copies * len(rows)


@pytest.mark.slow
def test_two_runs_to_one_output_leave_one_good_output_and_one_refusal(tmp_path: Path) -> None:
    book = tmp_path / "book.csv"
    rows = _big_book(book, copies=80)
    output = tmp_path / "scored.parquet"
    argv = ["batch", str(book), "-o", str(output), "--quiet", "--threads", "1", "--as-of", AS_OF]
    argv += ["--chunk-rows", "2000"]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: carescore(argv, seconds=120.0), range(2))
    codes = sorted(run.returncode for run in (first, second) if run.returncode is not None)
    refused = first if first.returncode != 0 else second
    described = f"{first.describe()} / {second.describe()}"
    assert codes in ([0, 1], [0, 2]), described
    assert "Traceback" not in refused.output, described
    assert "internal error" not in refused.output, described
    assert output.name in refused.output, described
    assert re.search(r"another|already|lock|in use|running|process", refused.output, re.I), (
        f"the refusal does not say another run holds the output: {described}"
    )
    assert pq.ParquetFile(output).metadata.num_rows == rows
    left = [name for name in snapshot(tmp_path) if name.endswith((".partial", ".parts"))]
    assert not left


_TOKENS = (
    "(", ")", "not ", "not(", "${a}", "[b]", ".", " = ", " != ", " < ", " and ", " or ",
    "'x'", "1", "2.5", "true", "selected(", "count-selected(", ", ", " ", "$", "{", "'",
)  # fmt: skip


@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(st.sampled_from(_TOKENS), max_size=1000).map("".join),
        st.tuples(st.integers(1, 1000), st.sampled_from(("(", "not ", "not(", "selected("))).map(
            lambda pair: pair[1] * pair[0] + "${a} = 'x'" + ")" * pair[0]
        ),
    )
)
@settings(max_examples=300, deadline=None)
def test_any_string_parses_to_a_tree_or_an_expression_error(text: str) -> None:
    from scoring.questionnaire.expression import ExpressionError, parse, references, walk

    try:
        tree = parse(text)
    except ExpressionError:
        return
    assert list(walk(tree))
    references(tree)
