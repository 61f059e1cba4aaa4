"""Checking a whole claims-history book: every problem listed (``validate --claims``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scoring import Questionnaire
from scoring.cli import app
from scoring.errors import InputError
from scoring.model.claims_history import check_claims_history, read_claims_history
from scoring.synthetic.book import resolve_truth, synthetic_book
from scoring.synthetic.truth import bundled_truth_path, load_truth

runner = CliRunner()
ROWS = 2_000  # 1,000 facilities over 2 years, checked 600 rows at a time below


@pytest.fixture(scope="module")
def good(care: Questionnaire, tmp_path_factory: pytest.TempPathFactory) -> Path:
    truth = resolve_truth(load_truth(bundled_truth_path(care)), care)
    table, _ = synthetic_book(care, truth, facilities=1_000, years=2, seed=11)
    path = tmp_path_factory.mktemp("claims") / "good.parquet"
    pq.write_table(table, path)
    return path


def _set(table: pa.Table, column: str, rows: list[int], value: object) -> pa.Table:
    values = table[column].to_pylist()
    for row in rows:
        values[row] = value
    return table.set_column(
        table.column_names.index(column), column, pa.array(values, table[column].type)
    )


@pytest.fixture(scope="module")
def bad(good: Path) -> Path:
    """Problems in several chunks: exposure of 0 in rows 5 and 1,500, a loss without a
    claim, an answer out of its choices, and a facility-year repeated across chunks."""
    table = pq.read_table(good)
    table = _set(table, "exposure", [5, 1_500], 0.0)
    no_claim = int(np.flatnonzero(pc.equal(table["claims_ransomware"], 0).to_numpy())[0])
    table = _set(table, "loss_ransomware", [no_claim], 1_000.0)
    table = _set(table, "facility_type", [1_200], "castle")
    last = table.num_rows - 1
    for column in ("facility_id", "policy_year"):
        table = _set(table, column, [last], table[column][3].as_py())
    path = good.with_name("bad.parquet")
    pq.write_table(table, path)
    return path


def test_a_good_book_has_no_problem(good: Path, care: Questionnaire) -> None:
    check = check_claims_history(good, care, rows=600)
    assert check.is_valid
    assert check.rows == ROWS
    assert check.issues == ()


def test_every_problem_of_a_book_is_listed_across_its_chunks(
    bad: Path, care: Questionnaire
) -> None:
    # reading for training stops at the first chunk with a problem ...
    with pytest.raises(InputError, match="exposure must be above 0"):
        read_claims_history(bad, care)
    # ... the check reads on and lists every problem of the whole book
    check = check_claims_history(bad, care, rows=600)
    assert not check.is_valid
    assert check.rows == ROWS
    text = [issue.describe() for issue in check.issues]
    exposure = [t for t in text if "exposure must be above 0" in t]
    assert len(exposure) == 1  # one rule, counted over the whole book, the first row named
    assert "in 2 row(s), e.g. row 6" in exposure[0]  # Parquet's first record is row 1
    assert any("a loss without a claim" in t for t in text)
    assert any("more than one row in 2 row(s)" in t for t in text)
    castle = [i for i in check.issues if i.question_id == "facility_type"]
    assert len(castle) == 1
    assert castle[0].row == 1_201
    assert castle[0].value == "castle"
    assert check_claims_history(bad, care).issues == check.issues  # whatever the chunks


def test_cli_validate_claims_lists_every_problem_and_exits_1(bad: Path, good: Path) -> None:
    result = runner.invoke(app, ["validate", str(bad), "--claims"])
    assert result.exit_code == 1, result.output
    assert "exposure must be above 0" in result.output
    assert "castle" in result.output
    assert "INVALID claims history - 2,000 facility-years read; 4 problem(s)" in result.output
    result = runner.invoke(app, ["validate", str(bad), "--claims", "--json"])
    assert result.exit_code == 1
    assert len(json.loads(result.output)["issues"]) == 4
    result = runner.invoke(app, ["validate", str(good), "--claims"])
    assert result.exit_code == 0, result.output
    assert "valid claims history - 2,000 facility-years read; 0 problem(s)" in result.output


def test_a_book_without_a_column_of_the_format_is_refused(
    good: Path, care: Questionnaire, tmp_path: Path
) -> None:
    path = tmp_path / "no-exposure.parquet"
    pq.write_table(pq.read_table(good).drop_columns(["exposure"]), path)
    with pytest.raises(InputError, match="column 'exposure' is missing"):
        check_claims_history(path, care)
    result = runner.invoke(app, ["validate", str(path), "--claims"])
    assert result.exit_code == 1
    assert "column 'exposure' is missing" in result.output
