"""Portfolio rescoring: chunked, every row accounted for, equal to one-by-one scoring."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scoring import InputError, applicants, default_engine, score_applicant, synthetic_responses
from scoring.cli.app import app
from scoring.portfolio.run import score_book
from scoring.responses.reading import read_responses
from scoring.responses.validation import validate
from tests.conftest import EXAMPLES, EXAMPLES_AS_OF, ROOT

runner = CliRunner()
PORTFOLIO = EXAMPLES / "portfolio.csv"


def _book(
    path: Path, n: int, seed: int, *, spoil_every: int = 0, same_id: tuple[int, int] | None = None
) -> list[int]:
    """A synthetic book as CSV; every ``spoil_every``-th row gets an invalid answer, and
    the second row of ``same_id`` (0-based) the facility id of the first.

    Returns the spreadsheet row numbers of the spoilt rows.
    """
    engine = default_engine()
    table = synthetic_responses(
        engine.questionnaire, n, seed=seed, as_of=EXAMPLES_AS_OF, blank_share=0.02
    )
    spoilt: list[int] = []
    if spoil_every:
        values = table.column("mfa_email").to_pylist()
        for i in range(0, n, spoil_every):
            values[i] = "sometimes"
            spoilt.append(i + 2)
        position = table.schema.get_field_index("mfa_email")
        table = table.set_column(position, "mfa_email", pa.array(values, pa.string()))
    if same_id:
        ids = table.column("facility_id").to_pylist()
        ids[same_id[1]] = ids[same_id[0]]
        position = table.schema.get_field_index("facility_id")
        table = table.set_column(position, "facility_id", pa.array(ids, pa.string()))
    pacsv.write_csv(table, path)
    return spoilt


def test_a_book_row_equals_scoring_the_facility_alone(tmp_path: Path) -> None:
    engine = default_engine()
    out = tmp_path / "book.parquet"
    summary = score_book(PORTFOLIO, out, engine, as_of=EXAMPLES_AS_OF, chunk_rows=70)
    assert summary.rows_read == summary.rows_scored + summary.rows_rejected == 240
    book = pq.read_table(out).to_pylist()
    raw = read_responses(PORTFOLIO)
    alone = {
        a.facility_id: score_applicant(engine, a)
        for a in applicants(engine, validate(raw, engine.questionnaire, as_of=EXAMPLES_AS_OF))
    }
    assert len(alone) == len(book)
    for row in book:
        result = alone[row["facility_id"]]
        assert row["outcome"] == result.outcome
        assert row["tier"] == result.tier
        assert row["score"] == result.score
        assert row["premium"] == result.premium
        assert row["technical_premium"] == result.technical_premium
        assert (row["premium_cap"] or None) == result.premium_cap
        assert row["relative_risk"] == result.relative_risk
        assert row["expected_loss"] == result.expected_loss
        assert set((row["reasons"] or "").split(";")) - {""} == {h.id for h in result.rules}
        assert result.advice is not None
        top = result.advice.fixes[:3]
        for k, fix in enumerate(top, start=1):
            assert row[f"fix_{k}"] == fix.question_id
            assert row[f"fix_{k}_saving"] == (fix.best or fix.next).technical_saving
        assert row["model_sha256"] == result.versions.model_sha256
        risk = [f for f in result.factors if f.part == "risk" and f.premium_effect]
        top_driver = max(risk, key=lambda f: abs(f.premium_effect or 0.0))
        first = (row["drivers"] or "").split(";")[0].split(":")
        assert first[0] == top_driver.question_id
        assert float(first[1]) == pytest.approx(top_driver.premium_effect, abs=0.02)


def test_rows_in_equal_rows_scored_plus_rows_rejected(tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    spoilt = _book(source, 400, seed=21, spoil_every=20)  # 5 % invalid rows
    out = tmp_path / "out.csv"
    result = runner.invoke(
        app,
        ["batch", str(source), "-o", str(out), "--chunk-rows", "64", "--as-of", "2026-11-29"],
    )
    assert result.exit_code == 1, result.output  # some rows rejected
    assert "400 rows read = 380 scored + 20 rejected" in result.output
    scored = pacsv.read_csv(out).to_pylist()
    assert len(scored) == 380
    assert not {r["source_row"] for r in scored} & set(spoilt)
    with (tmp_path / "out.errors.csv").open() as handle:
        errors = list(csv.DictReader(handle))
    assert {int(e["row"]) for e in errors} == set(spoilt)
    assert {e["question_id"] for e in errors} == {"mfa_email"}
    assert all(e["value"] == "sometimes" and e["reason"] for e in errors)
    manifest = json.loads((tmp_path / "out.csv.manifest.json").read_text())
    assert manifest["rows_read"] == manifest["rows_scored"] + manifest["rows_rejected"] == 400


def test_the_same_book_gives_byte_identical_output_whatever_its_format(tmp_path: Path) -> None:
    engine = default_engine()
    parquet = tmp_path / "book.parquet"
    pq.write_table(read_responses(PORTFOLIO).table, parquet)
    outputs = []
    books = ((PORTFOLIO, 50), (PORTFOLIO, 240), (parquet, 70), (EXAMPLES / "portfolio.xlsx", 90))
    for source, chunk in books:
        out = tmp_path / f"out-{len(outputs)}.parquet"
        score_book(source, out, engine, as_of=EXAMPLES_AS_OF, chunk_rows=chunk)
        outputs.append(pq.read_table(out))
    first = outputs[0].drop(["input_sha256", "source_row"])
    for other in outputs[1:]:  # Parquet rows count from 1, spreadsheet rows from 2
        assert other.drop(["input_sha256", "source_row"]).equals(first)
    assert outputs[3].column("source_row").equals(outputs[0].column("source_row"))
    assert outputs[1].column("input_sha256").equals(outputs[0].column("input_sha256"))
    again = tmp_path / "again.parquet"
    score_book(PORTFOLIO, again, engine, as_of=EXAMPLES_AS_OF, chunk_rows=50)
    assert again.read_bytes() == (tmp_path / "out-0.parquet").read_bytes()


def test_only_columns_of_few_values_are_dictionary_encoded(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    score_book(PORTFOLIO, out, default_engine(), as_of=EXAMPLES_AS_OF)
    metadata = pq.ParquetFile(out).metadata
    encodings = {
        metadata.schema.column(i).name: metadata.row_group(0).column(i).encodings
        for i in range(metadata.num_columns)
    }
    for name in ("tier", "outcome", "reasons", "fix_1", "premium", "model_sha256"):
        assert "RLE_DICTIONARY" in encodings[name], name
    for name in ("facility_id", "drivers", "input_sha256", "expected_loss", "source_row"):
        assert "RLE_DICTIONARY" not in encodings[name], name


def test_threads_do_not_change_the_output(tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    _book(source, 400, seed=12, spoil_every=20)
    files = []
    for threads in (1, 3):
        out = tmp_path / f"out-{threads}.csv"
        summary = score_book(
            source, out, default_engine(), as_of=EXAMPLES_AS_OF, chunk_rows=37, threads=threads
        )
        assert summary.rows_read == summary.rows_scored + summary.rows_rejected == 400
        assert summary.rows_rejected > 0
        files.append((out.read_bytes(), (tmp_path / f"out-{threads}.errors.csv").read_bytes()))
    assert files[0] == files[1]
    with pytest.raises(ValueError, match="threads must be at least 1; got 0"):
        score_book(source, tmp_path / "x.csv", default_engine(), as_of=EXAMPLES_AS_OF, threads=0)


def test_csv_output_keeps_formula_looking_text_inert(tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    _book(source, 5, seed=3)
    table = pacsv.read_csv(source)
    names = ['=HYPERLINK("http://x")', "+1", "@SUM(A1)", "-2", "Plain"]
    position = table.schema.get_field_index("facility_name")
    pacsv.write_csv(table.set_column(position, "facility_name", pa.array(names)), source)
    out = tmp_path / "out.csv"
    score_book(source, out, default_engine(), as_of=EXAMPLES_AS_OF)
    with out.open() as handle:
        written = [row["facility_name"] for row in csv.DictReader(handle)]
    assert written == ['\'=HYPERLINK("http://x")', "'+1", "'@SUM(A1)", "'-2", "Plain"]


def test_a_truncated_last_line_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    _book(source, 30, seed=4)
    text = source.read_text()
    source.write_text(text[: text.rstrip("\n").rfind(",")] + "\n")  # the last row loses cells
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["batch", str(source), "-o", str(out), "--as-of", "2026-11-29"])
    assert result.exit_code == 1
    assert "row has" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not (tmp_path / "out.errors.csv").exists()
    assert not (tmp_path / "out.parquet.parts").exists()


def test_a_book_that_changes_while_read_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    _book(source, 120, seed=5)
    out = tmp_path / "out.parquet"

    def touch(done: int, scored: int) -> None:
        with source.open("a") as handle:
            handle.write("")
        os.utime(source, ns=(time.time_ns(), time.time_ns() + 10**9))

    with pytest.raises(InputError, match="changed while it was read"):
        score_book(
            source, out, default_engine(), as_of=EXAMPLES_AS_OF, chunk_rows=50, progress=touch
        )
    assert not out.exists()
    assert not (tmp_path / "out.parquet.parts").exists()


def test_a_model_that_fails_verification_scores_nothing(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    for item in (ROOT / "models" / "care-cyber-default").iterdir():
        if item.is_file():
            (model / item.name).write_bytes(item.read_bytes())
    text = (model / "model.json").read_text()
    (model / "model.json").write_text(text.replace('"alpha": ', '"alpha": 1', 1))
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["batch", str(PORTFOLIO), "-o", str(out), "--model", str(model)])
    assert result.exit_code == 1
    assert "sha256" in result.output
    assert not out.exists()


@pytest.mark.parametrize("failing", ["write_part", "BookFiles.add"])
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_full_disk_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str, suffix: str
) -> None:
    """The disk fills while a chunk's part or the output itself is written."""
    from scoring.portfolio import run

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    owner, _, name = failing.rpartition(".")
    monkeypatch.setattr(getattr(run, owner) if owner else run, name, no_space)
    out = tmp_path / f"out{suffix}"
    result = runner.invoke(app, ["batch", str(PORTFOLIO), "-o", str(out), "--as-of", "2026-11-29"])
    assert result.exit_code == 1
    assert "No space left on device" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"out{suffix}.parts"]


def test_a_limit_not_offered_rejects_the_row_with_what_is_offered(tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    _book(source, 10, seed=6)
    table = pacsv.read_csv(
        source, convert_options=pacsv.ConvertOptions(column_types={"requested_limit": pa.string()})
    )
    position = table.schema.get_field_index("requested_limit")
    values = table.column("requested_limit").to_pylist()
    values[3] = "limit_9m"
    pacsv.write_csv(table.set_column(position, "requested_limit", pa.array(values)), source)
    out = tmp_path / "out.parquet"
    summary = score_book(source, out, default_engine(), as_of=EXAMPLES_AS_OF)
    assert (summary.rows_scored, summary.rows_rejected) == (9, 1)
    with (tmp_path / "out.errors.csv").open() as handle:
        (error,) = list(csv.DictReader(handle))
    assert error["row"] == "5"
    assert error["value"] == "limit_9m"
    assert "limit_1m" in error["allowed"]


def test_an_interrupted_run_resumes_to_the_same_result(tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    _book(source, 3000, seed=7, spoil_every=50, same_id=(20, 2900))  # chunks 0 and 19
    whole = tmp_path / "whole.parquet"
    score_book(source, whole, default_engine(), as_of=EXAMPLES_AS_OF, chunk_rows=150)
    out = tmp_path / "out.parquet"
    command = [
        sys.executable,
        "-m",
        "scoring",
        "batch",
        str(source),
        "-o",
        str(out),
        "--chunk-rows",
        "150",
        "--as-of",
        "2026-11-29",
        "--quiet",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    parts = tmp_path / "out.parquet.parts"
    deadline = time.monotonic() + 120
    while len(list(parts.glob("scored-*.arrow"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(list(parts.glob("scored-*.arrow"))) >= 3
    assert not out.exists(), "an interrupted run left an output that looks complete"
    assert not (tmp_path / "out.errors.csv").exists()
    resumed = subprocess.run([*command, "--resume"], cwd=ROOT, capture_output=True, text=True)
    assert resumed.returncode == 1, resumed.stderr  # 1: some rows were rejected
    assert "resumed" in resumed.stdout
    assert out.read_bytes() == whole.read_bytes()
    assert (tmp_path / "out.errors.csv").read_bytes() == (
        tmp_path / "whole.errors.csv"
    ).read_bytes()
    assert (tmp_path / "whole.errors.csv").read_text().count("duplicate_facility") == 2
    assert not parts.exists()


def _ctrl_c_as_from_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_says_what_was_kept_and_how_to_go_on(tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    _book(source, 12_000, seed=9)  # 80 chunks: the run is still going when two are kept
    out = tmp_path / "out.parquet"
    command = [sys.executable, "-m", "scoring", "batch", str(source), "-o", str(out)]
    command += ["--chunk-rows", "150", "--as-of", "2026-11-29", "--quiet"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a suite started in the background of a script has Ctrl-C
        # ignored, and a child would inherit that
        preexec_fn=_ctrl_c_as_from_a_terminal,
    )
    parts = tmp_path / "out.parquet.parts"
    deadline = time.monotonic() + 120
    while len(list(parts.glob("scored-*.arrow"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert f"the chunks scored so far are kept in {parts}" in stderr
    assert "run the same command again with --resume" in stderr
    assert not out.exists()
    resumed = subprocess.run([*command, "--resume"], cwd=ROOT, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stdout
    assert pq.read_table(out).num_rows == 12_000


def test_resuming_another_run_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    _book(source, 20, seed=8)
    out = tmp_path / "out.parquet"
    parts = tmp_path / "out.parquet.parts"
    parts.mkdir()
    (parts / "settings.json").write_text(json.dumps({"input": "another"}))
    with pytest.raises(InputError, match="cannot resume"):
        score_book(source, out, default_engine(), as_of=EXAMPLES_AS_OF, resume=True)


def test_a_folder_without_its_settings_is_started_afresh(tmp_path: Path) -> None:
    """Parts are written only after the run's settings: without them there is nothing
    to resume, and the run starts afresh."""
    source = tmp_path / "book.csv"
    _book(source, 20, seed=8)
    out = tmp_path / "out.parquet"
    parts = tmp_path / "out.parquet.parts"
    parts.mkdir()
    (parts / "stray.arrow").write_text("not a part")
    summary = score_book(source, out, default_engine(), as_of=EXAMPLES_AS_OF, resume=True)
    assert (summary.rows_scored, summary.chunks_resumed) == (20, 0)
    assert not parts.exists()


def test_memory_stays_bounded_by_the_chunk(tmp_path: Path) -> None:
    """Chunks are read one at a time: a chunk never holds more rows than asked."""
    from scoring.responses.reading import iter_responses

    source = tmp_path / "book.csv"
    _book(source, 500, seed=9)
    sizes = [raw.table.num_rows for raw in iter_responses(source, 64)]
    assert max(sizes) == 64
    assert sum(sizes) == 500
    firsts = [raw.first_row for raw in iter_responses(source, 64)]
    assert firsts == list(np.arange(2, 502, 64))


def test_a_facility_repeated_across_chunks_is_refused_wherever_it_falls(tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    _book(source, 200, seed=10)
    table = pacsv.read_csv(
        source, convert_options=pacsv.ConvertOptions(column_types={"facility_id": pa.string()})
    )
    ids = table.column("facility_id").to_pylist()
    ids[150] = ids[10]  # rows 12 and 152: different chunks of 64 rows
    position = table.schema.get_field_index("facility_id")
    pacsv.write_csv(table.set_column(position, "facility_id", pa.array(ids)), source)
    outputs = []
    for chunk in (64, 500):
        out = tmp_path / f"out-{chunk}.parquet"
        summary = score_book(source, out, default_engine(), as_of=EXAMPLES_AS_OF, chunk_rows=chunk)
        assert (summary.rows_scored, summary.rows_rejected) == (198, 2)
        outputs.append(pq.read_table(out))
        errors = (tmp_path / f"out-{chunk}.errors.csv").read_text()
        assert errors.count("duplicate_facility") == 2
        assert not (tmp_path / f"out-{chunk}.parquet.parts").exists()
    assert outputs[0].equals(outputs[1])  # the same rows whatever the chunks
    assert (tmp_path / "out-64.errors.csv").read_bytes() == (
        tmp_path / "out-500.errors.csv"
    ).read_bytes()


def test_ids_across_chunks_are_found_from_the_hashes_taken_while_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A book with no id in two chunks is not read again; otherwise the ids sharing a
    hash are told apart by their text, and each comes with the chunks it is in."""
    import pandas as pd

    from scoring.responses import reading

    source = tmp_path / "ids.csv"
    ids = ["A1", " A1 ", "B2", "", "  ", "C3", "D4", "C3", "E5", "B2"]
    pd.DataFrame({"facility_id": ids, "x": range(len(ids))}).to_csv(source, index=False)

    def hashes() -> list[np.ndarray]:
        return [reading.chunk_id_hashes(raw.table) for raw in reading.iter_responses(source, 3)]

    found = {"B2": (0, 3), "C3": (1, 2)}  # A1 is repeated within chunk 0 only
    assert reading.ids_across_chunks(source, 3, hashes()) == found
    monkeypatch.setattr(  # every id the same hash: the texts decide
        reading, "id_hashes", lambda values: np.zeros(len(values), dtype=np.uint64)
    )
    assert reading.ids_across_chunks(source, 3, hashes()) == found

    def unread(path: Path, rows: int) -> None:
        raise AssertionError("the book was read again")

    monkeypatch.undo()
    monkeypatch.setattr(reading, "_facility_ids", unread)
    distinct = [np.array([1], np.uint64), np.array([2, 3], np.uint64)]
    assert reading.ids_across_chunks(source, 3, distinct) == {}


def test_repeated_ids_are_compared_as_validation_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trimmed, blanks ignored; and ids whose hashes collide are told apart by their text."""
    import pandas as pd

    from scoring.responses import reading

    source = tmp_path / "ids.csv"
    ids = ["A1", " A1 ", "B2", "", "  ", "C3", "D4", "C3"]
    pd.DataFrame({"facility_id": ids, "x": range(len(ids))}).to_csv(source, index=False)
    assert reading.repeated_facility_ids(source, 3) == frozenset({"A1", "C3"})
    monkeypatch.setattr(  # every id the same hash: the texts decide
        reading, "id_hashes", lambda values: np.zeros(len(values), dtype=np.uint64)
    )
    assert reading.repeated_facility_ids(source, 3) == frozenset({"A1", "C3"})


def test_an_id_s_hash_is_the_fnv_hash_of_its_bytes() -> None:
    from scoring.responses.reading import id_hashes

    def fnv(text: str) -> int:
        value = 0xCBF29CE484222325
        for byte in text.encode():
            value = ((value ^ byte) * 0x100000001B3) % 2**64
        return value

    texts = ["A1", "", "ñandú", "B-00000001", "x" * 300, "A1 ", "1A"]
    ids = pa.array(["skipped", *texts], pa.string()).slice(1)  # an array that starts inside
    assert id_hashes(ids).tolist() == [fnv(t) for t in texts]
    assert len(set(id_hashes(ids).tolist())) == len(texts)
    assert id_hashes(pa.array([], pa.string())).tolist() == []


def test_the_best_fixes_are_ranked_as_a_full_sort_ranks_them() -> None:
    """Saving, then loss cut, then question order; ties and rows without fixes included."""
    from scoring.portfolio.batch import _top

    rng = np.random.default_rng(3)
    savings = rng.integers(0, 4, size=(12, 400)).astype(np.float64)
    cuts = rng.integers(0, 3, size=(12, 400)).astype(np.float64)
    savings[rng.random((12, 400)) < 0.5] = -np.inf
    savings[:, :5] = -np.inf  # rows without any fix
    order, chosen = _top(savings, cuts, 3)
    for row in range(400):
        expected = sorted(range(12), key=lambda k: (-savings[k, row], -cuts[k, row], k))[:3]
        assert list(chosen[row]) == [savings[k, row] for k in expected]
        finite = [k for k in expected if np.isfinite(savings[k, row])]
        assert list(order[row][: len(finite)]) == finite
    # with classes (makes quotable 2, moves the tier 1, neither 0; -1 for no fix) first
    classes = np.where(np.isfinite(savings), rng.integers(0, 3, size=(12, 400)), -1)
    order, chosen = _top(savings, cuts, 3, classes.astype(np.int8))
    for row in range(400):
        expected = sorted(
            range(12), key=lambda k: (-classes[k, row], -savings[k, row], -cuts[k, row], k)
        )[:3]
        assert list(chosen[row]) == [savings[k, row] for k in expected]
        finite = [k for k in expected if np.isfinite(savings[k, row])]
        assert list(order[row][: len(finite)]) == finite


def test_a_row_s_hash_is_of_its_cells_as_read() -> None:
    """Cells in file order joined by the unit separator, a blank cell (null) as NUL."""
    import hashlib

    from scoring.portfolio.batch import row_hashes

    rows = [["A1", None, "=SUM(1)"], [" x ", "", "ñandú"], [None, None, None], ["a\nb", "", "y"]]
    columns = [[row[k] for row in rows] for k in range(3)]
    table = pa.Table.from_batches(  # read in two batches, as a chunk of a book may be
        [
            pa.record_batch([pa.array(c[:2], pa.string()) for c in columns], names=list("abc")),
            pa.record_batch([pa.array(c[2:], pa.string()) for c in columns], names=list("abc")),
        ]
    )
    expected = [
        hashlib.sha256("\x1f".join("\x00" if v is None else v for v in row).encode()).hexdigest()
        for row in rows
    ]
    assert row_hashes(table) == expected
    assert row_hashes(table.select([])) == [hashlib.sha256(b"").hexdigest()] * 4


@pytest.mark.parametrize("bits", [48, 0])
def test_the_reasons_are_the_rules_hit_in_the_plan_s_order_then_the_tier(
    bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worked out per distinct set of rules and tier (or, for a plan of very many rules,
    row by row): the same texts."""
    from types import SimpleNamespace

    from scoring.portfolio import batch
    from scoring.portfolio.batch import _reasons

    monkeypatch.setattr(batch, "_RULE_BITS", bits)

    engine = default_engine()
    plan = engine.plan
    rng = np.random.default_rng(8)
    hits = rng.random((400, len(plan.rules))) < 0.3
    tier = rng.integers(0, len(plan.tiers), size=400)
    rating = SimpleNamespace(rule_hits=hits, tier=tier)
    expected = []
    for row in range(400):
        items = [rule.id for j, rule in enumerate(plan.rules) if hits[row, j]]
        if plan.tiers[tier[row]].outcome:
            items.append(f"tier_{plan.tiers[tier[row]].tier}")
        expected.append(";".join(items) or None)
    assert _reasons(engine, rating).to_pylist() == expected  # type: ignore[arg-type]


def test_the_largest_effects_are_picked_as_the_full_ranking_picks_them() -> None:
    """Largest first, the first of equals first: the ranking of fixes with equal cuts."""
    from scoring.portfolio.batch import _largest, _top

    rng = np.random.default_rng(5)
    sizes = rng.integers(0, 4, size=(500, 9)).astype(np.float64)
    sizes[:40] = 0.0  # rows where every size ties
    given = sizes.copy()
    order, _ = _top(sizes.T, np.zeros_like(sizes.T), 5)
    assert np.array_equal(_largest(sizes, 5), order)
    assert np.array_equal(sizes, given)  # neither strikes out the caller's sizes


def _ranked_drivers(engine: Any, features: np.ndarray, rating: Any) -> list[str | None]:
    """The drivers as every question's effect ranked in full would give them."""
    from scoring.rating._rounding import money
    from scoring.rating.explain import question_ids, risk_effects

    names = question_ids(engine)
    effects = money(risk_effects(engine, features, rating))
    texts: list[str | None] = []
    for row in effects:
        ranked = sorted(range(len(names)), key=lambda k: (-abs(row[k]), k))[:5]
        items = [
            f"{names[k]}:{'+' if row[k] >= 0 else ''}{pa.scalar(row[k]).cast(pa.string())}"
            for k in ranked
            if row[k] != 0
        ]
        texts.append(";".join(items) or None)
    return texts


def test_the_drivers_are_every_question_s_effect_ranked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only risk answers are ranked (the others have no effect), on rows as laid out; a
    block with an effect that is not a number takes the full ranking instead."""
    from scoring.portfolio import batch
    from scoring.responses.reading import RawResponses

    engine = default_engine()
    table = synthetic_responses(engine.questionnaire, 300, seed=4, as_of=EXAMPLES_AS_OF)
    raw = RawResponses(table=table, source="book.csv", first_row=2)
    validation = validate(raw, engine.questionnaire, as_of=EXAMPLES_AS_OF)
    features = engine.encoder.transform(validation.table)
    rating = engine.rate(features, np.zeros((300, len(engine.plan.rules)), bool), 1e6, 1e4)
    expected = _ranked_drivers(engine, features, rating)
    monkeypatch.setattr(batch, "_DRIVER_BLOCK", 64)
    assert batch._drivers(engine, features, rating).to_pylist() == expected
    effects = batch.risk_question_effects
    monkeypatch.setattr(  # a NaN in every block: the full ranking on each
        batch,
        "risk_question_effects",
        lambda *args: np.where(np.arange(len(args[1]))[:, None] == 0, np.nan, effects(*args)),
    )
    with_nan = batch._drivers(engine, features, rating).to_pylist()
    assert [t for k, t in enumerate(with_nan) if k % 64] == [
        t for k, t in enumerate(expected) if k % 64
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--threads", "2", "--workers", "2"], "--threads is for this machine"),
        (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "not both"),
        (["--threads", "0"], "--threads"),
    ],
)
def test_batch_refuses_options_that_do_not_go_together(
    tmp_path: Path, options: list[str], message: str
) -> None:
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(app, ["batch", str(PORTFOLIO), "-o", str(out), *options])
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()


def test_an_interrupted_run_resumes_to_the_same_advice_and_warnings(tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    _book(source, 600, seed=8, spoil_every=40, same_id=(10, 590))  # chunks 0 and 5
    engine = default_engine()
    settings: dict[str, Any] = {"as_of": EXAMPLES_AS_OF, "chunk_rows": 100, "threads": 2}
    whole = tmp_path / "whole.parquet"
    score_book(source, whole, engine, advice=tmp_path / "whole.advice.csv", **settings)

    def stop_after_two_chunks(done: int, scored: int) -> None:
        if done >= 200:
            raise KeyboardInterrupt

    out, advice = tmp_path / "out.parquet", tmp_path / "out.advice.csv"
    with pytest.raises(KeyboardInterrupt):
        score_book(source, out, engine, advice=advice, progress=stop_after_two_chunks, **settings)
    assert not advice.exists()
    assert len(list((tmp_path / "out.parquet.parts").glob("advice-*.arrow"))) >= 2
    summary = score_book(source, out, engine, advice=advice, resume=True, **settings)
    assert summary.chunks_resumed >= 2
    assert summary.advice == str(advice)
    assert advice.read_bytes() == (tmp_path / "whole.advice.csv").read_bytes()
    assert (tmp_path / "out.warnings.csv").read_bytes() == (
        tmp_path / "whole.warnings.csv"
    ).read_bytes()
    assert out.read_bytes() == whole.read_bytes()
    rows = pacsv.read_csv(advice).to_pylist()
    ids = {row["facility_id"] for row in pq.read_table(out).to_pylist()}
    assert {row["facility_id"] for row in rows} <= ids  # only scored facilities are advised


def test_a_run_without_advice_is_not_resumed_as_one_with_advice(tmp_path: Path) -> None:
    source = tmp_path / "book.csv"
    _book(source, 300, seed=9)
    engine = default_engine()

    def stop(done: int, scored: int) -> None:
        raise KeyboardInterrupt

    out = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt):
        score_book(source, out, engine, as_of=EXAMPLES_AS_OF, chunk_rows=100, progress=stop)
    with pytest.raises(InputError, match="cannot resume: the unfinished run in this folder"):
        score_book(
            source,
            out,
            engine,
            as_of=EXAMPLES_AS_OF,
            chunk_rows=100,
            resume=True,
            advice=tmp_path / "advice.csv",
        )
    assert not (tmp_path / "advice.csv").exists()
