"""What an underwriter is told about a book: its warnings, answers priced as worst, and
comparisons that match facilities by their answers, not by how the cells were typed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scoring import default_engine
from scoring.cli.app import app
from scoring.portfolio.book_answers import answer_items, changed_answers, join_present
from scoring.rating.result import DONT_KNOW
from scoring.report._words import answer_words
from scoring.responses.reading import read_responses
from scoring.responses.validation import validate
from scoring.vocabulary import Reason, Severity
from tests.conftest import EXAMPLES, EXAMPLES_AS_OF

runner = CliRunner()
PORTFOLIO = EXAMPLES / "portfolio.csv"
AS_OF = ["--as-of", EXAMPLES_AS_OF.isoformat()]


def _batch(source: Path, out: Path, *extra: str) -> str:
    result = runner.invoke(app, ["batch", str(source), "-o", str(out), *AS_OF, *extra])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("book") / "book.csv"
    return out, _batch(PORTFOLIO, out)


# --- warnings (item 10) ----------------------------------------------------------------------


def test_batch_writes_every_warning_validate_reports_to_the_warnings_file(
    scored: tuple[Path, str],
) -> None:
    out, printed = scored
    engine = default_engine()
    found = validate(read_responses(PORTFOLIO), engine.questionnaire, as_of=EXAMPLES_AS_OF)
    expected = found.issues[found.issues["severity"] == Severity.WARNING.value]
    assert len(expected) > 0
    warnings_file = out.with_name("book.warnings.csv")
    with warnings_file.open(encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert [(int(w["row"]), w["question_id"], w["reason"]) for w in written] == [
        (int(r), q, reason)
        for r, q, reason in zip(
            expected["row"], expected["question_id"], expected["reason"], strict=True
        )
    ]
    assert {w["severity"] for w in written} == {"warning"}
    assert f"warnings: {warnings_file}" in printed
    assert "240 rows read = 240 scored + 0 rejected" in printed  # warned rows are scored


def test_each_scored_row_counts_its_warnings_and_names_the_answers_priced_as_worst(
    scored: tuple[Path, str],
) -> None:
    out, _ = scored
    book = pacsv.read_csv(out).to_pylist()
    with out.with_name("book.warnings.csv").open(encoding="utf-8") as handle:
        warnings = list(csv.DictReader(handle))
    by_facility: dict[str, list[dict[str, str]]] = {}
    for warning in warnings:
        by_facility.setdefault(warning["facility_id"], []).append(warning)
    worst_somewhere = 0
    for row in book:
        mine = by_facility.get(row["facility_id"], [])
        assert row["warnings"] == len(mine)
        worst = [w["question_id"] for w in mine if w["reason"] == Reason.TREATED_AS_WORST.value]
        assert (row["priced_as_worst"] or "").split(";") == (worst or [""])
        worst_somewhere += bool(worst)
    assert worst_somewhere > 20
    assert sum(row["warnings"] for row in book) == len(warnings)


def test_a_rejected_row_stays_out_of_the_book_and_its_warnings_are_still_listed(
    tmp_path: Path,
) -> None:
    table = read_responses(PORTFOLIO).table
    ids = table.column("facility_id").to_pylist()
    values = table.column("mfa_email").to_pylist()
    blanks = table.column("edr_coverage_workstations").to_pylist()
    values[0], blanks[0] = "sometimes", None  # an error and a blank control on one row
    for name, column in (("mfa_email", values), ("edr_coverage_workstations", blanks)):
        position = table.schema.get_field_index(name)
        table = table.set_column(position, name, pa.array(column, pa.string()))
    source = tmp_path / "book.csv"
    pacsv.write_csv(table, source)
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["batch", str(source), "-o", str(out), *AS_OF])
    assert result.exit_code == 1, result.output
    assert "240 rows read = 239 scored + 1 rejected" in result.output
    assert ids[0] not in pq.read_table(out).column("facility_id").to_pylist()
    with (tmp_path / "out.errors.csv").open(encoding="utf-8") as handle:
        errors = list(csv.DictReader(handle))
    assert {(e["facility_id"], e["severity"]) for e in errors} == {(ids[0], "error")}
    with (tmp_path / "out.warnings.csv").open(encoding="utf-8") as handle:
        warned = [w for w in csv.DictReader(handle) if w["facility_id"] == ids[0]]
    assert [w["question_id"] for w in warned if w["reason"] == "treated_as_worst"] == [
        "edr_coverage_workstations"
    ]


# --- comparing by validated answers (item 12) --------------------------------------------------


def test_the_same_book_from_its_csv_and_its_xlsx_compares_with_no_changed_answer(
    scored: tuple[Path, str], tmp_path: Path
) -> None:
    from_csv, _ = scored
    from_xlsx = tmp_path / "from-xlsx.parquet"
    _batch(EXAMPLES / "portfolio.xlsx", from_xlsx)
    csv_rows = pacsv.read_csv(from_csv).to_pylist()
    xlsx_rows = pq.read_table(from_xlsx).to_pylist()
    differs = sum(
        a["input_sha256"] != b["input_sha256"] for a, b in zip(csv_rows, xlsx_rows, strict=True)
    )
    assert differs > 200  # the cells as read differ ...
    assert [r["answers_sha256"] for r in csv_rows] == [r["answers_sha256"] for r in xlsx_rows]
    result = runner.invoke(app, ["compare", str(from_csv), str(from_xlsx)])
    assert result.exit_code == 0, result.output
    assert "facilities: 240 matched, 0 answers changed" in result.output  # ... the answers not


def test_a_changed_facility_lists_the_answers_that_changed(
    scored: tuple[Path, str], tmp_path: Path
) -> None:
    before, _ = scored
    table = read_responses(PORTFOLIO).table
    ids = table.column("facility_id").to_pylist()
    changes = {"mfa_email": ("all_accounts", "no_mfa"), "dmarc_policy": ("p_reject", "p_none")}
    for name, (value, otherwise) in changes.items():
        column = table.column(name).to_pylist()
        column[4] = value if column[4] != value else otherwise
        table = table.set_column(
            table.schema.get_field_index(name), name, pa.array(column, pa.string())
        )
    source = tmp_path / "edited.csv"
    pacsv.write_csv(table, source)
    after = tmp_path / "after.csv"
    _batch(source, after)
    report = tmp_path / "moves.csv"
    html = tmp_path / "moves.html"
    result = runner.invoke(
        app, ["compare", str(before), str(after), "--csv", str(report), "--html", str(html)]
    )
    assert result.exit_code == 0, result.output
    assert "facilities: 239 matched, 1 answers changed" in result.output
    with report.open(encoding="utf-8") as handle:
        rows = {r["facility_id"]: r for r in csv.DictReader(handle)}
    assert rows[ids[4]]["status"] == "answers_changed"
    assert rows[ids[4]]["changed_answers"].split(";") == ["mfa_email", "dmarc_policy"]
    assert all(not r["changed_answers"] for f, r in rows.items() if f != ids[4])
    assert "mfa_email, dmarc_policy" in html.read_text(encoding="utf-8")


def test_answers_are_written_in_one_canonical_form() -> None:
    assert answer_items("a=1;b=%unknown;c=x+y") == {"a": "1", "b": "%unknown", "c": "x+y"}
    assert changed_answers("a=1;b=2", "a=1;b=2") == ()
    assert changed_answers("a=1;b=2", "a=1") == ("b",)


# --- a book's advice (item 11) -----------------------------------------------------------------


def _pick(rows: list[dict[str, object]]) -> list[str]:
    """A few facilities whose advice tells the rules apart: the first one, one whose fix
    changes the outcome, one whose answer was not known."""
    tests = (
        lambda r: True,
        lambda r: r["outcome_after"] != r["outcome"],
        lambda r: r["answer"] == DONT_KNOW,
    )
    picked = [next(str(r["facility_id"]) for r in rows if test(r)) for test in tests]
    return list(dict.fromkeys(picked))


def test_a_books_advice_matches_carescore_score_for_the_same_facility(tmp_path: Path) -> None:
    table = read_responses(PORTFOLIO).table
    column = table.column("rdp_exposed").to_pylist()
    column[1] = "unknown"  # priced as the worst answer, and advised
    position = table.schema.get_field_index("rdp_exposed")
    table = table.set_column(position, "rdp_exposed", pa.array(column, pa.string()))
    source = tmp_path / "book.csv"
    pacsv.write_csv(table, source)
    out, advice = tmp_path / "book.parquet", tmp_path / "advice.csv"
    printed = _batch(source, out, "--advice", str(advice), "--chunk-rows", "70")
    assert f"advice: {advice}" in printed
    rows = pacsv.read_csv(advice).to_pylist()
    book = pq.read_table(out).to_pylist()
    assert len(rows) == sum(1 for r in book for k in (1, 2, 3) if r[f"fix_{k}"])
    facilities = _pick(rows)
    assert len(facilities) >= 2  # the first facility's fix may change its outcome
    questionnaire = default_engine().questionnaire
    for facility in facilities:
        result = runner.invoke(
            app, ["score", str(source), "--facility", facility, "--json", *AS_OF]
        )
        assert result.exit_code == 0, result.output
        fixes = json.loads(result.output)["advice"]["fixes"][:3]
        mine = [r for r in rows if r["facility_id"] == facility]
        assert [r["rank"] for r in mine] == list(range(1, len(fixes) + 1))
        for row, fix in zip(mine, fixes, strict=True):
            reached = fix["best"] or fix["next"]
            (code,) = reached["answers"].values()
            assert row["question_id"] == fix["question_id"]
            assert row["question"] == fix["question"]
            assert row["answer"] == fix["answer"]
            assert row["advised_answer"] == answer_words(questionnaire, fix["question_id"], code)
            assert row["saving"] == reached["technical_saving"]
            assert row["premium_after"] == reached["premium"]
            assert row["technical_premium_after"] == reached["technical_premium"]
            assert (row["tier_after"], row["outcome_after"]) == (
                reached["tier"],
                reached["outcome"],
            )
            assert (row["cost_low"], row["cost_high"], row["size_band"]) == (
                fix["cost_low"],
                fix["cost_high"],
                fix["size_band"],
            )
            assert (row["hicp"] or "", row["cis"] or "") == (
                ", ".join(fix["hicp"]),
                ", ".join(fix["cis"]),
            )


def test_advice_is_a_csv_and_is_written_on_this_machine_only(tmp_path: Path) -> None:
    out = tmp_path / "book.parquet"
    wrong = runner.invoke(
        app, ["batch", str(PORTFOLIO), "-o", str(out), "--advice", str(tmp_path / "a.xlsx")]
    )
    assert wrong.exit_code == 2
    assert "--advice must be a .csv file" in wrong.output
    dask = runner.invoke(
        app,
        ["batch", str(PORTFOLIO), "-o", str(out), "--advice", str(tmp_path / "a.csv"),
         "--workers", "2"],
    )  # fmt: skip
    assert dask.exit_code == 2
    assert "--advice is written by a run on this machine" in dask.output
    clash = runner.invoke(app, ["batch", str(PORTFOLIO), "-o", str(out), "--advice", str(out)])
    assert clash.exit_code == 2
    assert not out.exists()


def test_a_row_with_no_items_stays_a_row_when_a_books_texts_are_joined() -> None:
    first = pa.array(["x", None, None, "p", None], pa.string())
    second = pa.array([None, None, "y", "q", ""], pa.string())
    joined = join_present([first, second], 5).to_pylist()
    assert joined == ["x", None, "y", "p;q", None]
    assert join_present([], 2).to_pylist() == [None, None]
