"""The XLSX template a facility fills in, and the spreadsheet habits the reader meets:
a fraction typed for a percentage, a slash date, numbers in messages."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from scoring import (
    Questionnaire,
    Reason,
    Severity,
    read_responses,
    validate,
    validate_document,
    validate_file,
)
from scoring.questionnaire.template import TEMPLATE_ROWS, instructions, xlsx_template
from scoring.responses.coercion import NOT_APPLICABLE_WORDS, UNKNOWN_WORDS
from tests.conftest import AS_OF, EXAMPLES, EXAMPLES_AS_OF, mini_answers, mini_document


def _fill(path: Path, rows: list[dict[str, Any]]) -> None:
    """Type rows into the template's responses sheet, as a person would (by column name)."""
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    sheet = workbook["responses"]
    header = [cell.value for cell in sheet[1]]
    for number, row in enumerate(rows, start=2):
        for name, value in row.items():
            sheet.cell(row=number, column=header.index(name) + 1).value = value
    workbook.save(path)


def _mini_row(facility_id: str = "F-1", **changes: Any) -> dict[str, Any]:
    return {
        "facility_id": facility_id,
        "questionnaire": "mini",
        "questionnaire_version": "1.0.0",
        **mini_answers(**changes),
    }


# --- the template ---------------------------------------------------------------


def test_a_filled_template_reads_back_as_a_valid_book(tmp_path: Path, mini: Questionnaire) -> None:
    path = tmp_path / "application.xlsx"
    xlsx_template(mini, path)
    _fill(path, [_mini_row("F-1"), _mini_row("F-2", edr_share="85%")])
    result = validate(read_responses(path), mini, as_of=AS_OF)
    assert result.issue_list() == []
    assert list(result.facilities["facility_id"]) == ["F-1", "F-2"]
    assert list(result.facilities["row"]) == [2, 3]


def test_a_bundled_example_typed_into_the_template_is_valid(
    tmp_path: Path, care: Questionnaire
) -> None:
    with (EXAMPLES / "portfolio.csv").open(newline="", encoding="utf-8-sig") as handle:
        first = next(csv.DictReader(handle))
    path = tmp_path / "application.xlsx"
    xlsx_template(care, path)
    _fill(path, [{name: value for name, value in first.items() if value != ""}])
    result = validate_file(path, care, as_of=EXAMPLES_AS_OF)
    assert result.count(Severity.ERROR) == 0
    assert result.is_valid


def test_the_instructions_sheet_comes_first_and_is_never_read_as_responses(
    tmp_path: Path, mini: Questionnaire
) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "application.xlsx"
    xlsx_template(mini, path)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["instructions", "responses", "questions", "choices"]
    assert workbook.active.title == "instructions"
    raw = read_responses(path)
    assert "facility_id" in raw.table.column_names
    assert "topic" not in raw.table.column_names


def test_the_instructions_are_written_from_the_questionnaire_and_the_readers_rules(
    tmp_path: Path, mini: Questionnaire
) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "application.xlsx"
    xlsx_template(mini, path)
    rows = list(load_workbook(path)["instructions"].iter_rows(values_only=True))
    assert rows[0] == ("topic", "what to do")
    assert rows[1:] == [tuple(row) for row in instructions(mini)]
    text = dict(instructions(mini))
    assert "mini" in text["one row per facility"]
    assert "1.0.0" in text["one row per facility"]
    for word in (*UNKNOWN_WORDS[:4], *NOT_APPLICABLE_WORDS):
        assert word in text["don't know, does not apply"]
    assert "edr_share" in text["percentages"]
    assert "last_restore_test" in text["dates"]
    assert "09/15/2025" in text["dates"]
    assert "03/04/2025" in text["dates"]
    assert {"codes or labels", "how to send it", "numbers"} <= set(text)


def _checks(path: Path) -> dict[str, Any]:
    from openpyxl import load_workbook
    from openpyxl.utils import column_index_from_string

    sheet = load_workbook(path)["responses"]
    header = [cell.value for cell in sheet[1]]
    found = {}
    for rule in sheet.data_validations.dataValidation:
        (cells,) = str(rule.sqref).split()
        first, last = cells.split(":")
        letters = first.rstrip("0123456789")
        assert (first, last) == (f"{letters}2", f"{letters}{TEMPLATE_ROWS}")
        found[header[column_index_from_string(letters) - 1]] = rule
    return found


def test_every_answer_column_of_a_checkable_kind_has_a_cell_check(
    tmp_path: Path, mini: Questionnaire
) -> None:
    path = tmp_path / "application.xlsx"
    xlsx_template(mini, path)
    checks = _checks(path)
    expected = {
        "beds": ("whole", "between", "0", "5000"),
        "revenue": ("decimal", "greaterThanOrEqual", "1", None),
        "records": ("whole", "greaterThanOrEqual", "0", None),
        "edr_share": ("decimal", "between", "0", "100"),
        "patch_days": ("whole", "between", "0", "365"),
        "last_restore_test": ("date", "greaterThan", "DATE(1900,1,1)", None),
        "notes": ("textLength", "lessThanOrEqual", "50", None),
    }
    for name, (kind, operator, low, high) in expected.items():
        rule = checks[name]
        assert (rule.type, rule.operator, rule.formula1, rule.formula2) == (
            kind,
            operator,
            low,
            high,
        ), name
        assert rule.errorStyle == "warning"  # unknown and n/a are text: warned, not blocked
    assert checks["facility_type"].formula1 == '"nursing,imaging"'
    assert "unknown" in checks["records"].error
    assert "phone_uses" not in checks  # a multiple choice has no single list


# --- a fraction typed for a percentage ----------------------------------------------


def _workbook_with_share(path: Path, mini: Questionnaire, value: float, fmt: str) -> None:
    from openpyxl import load_workbook

    xlsx_template(mini, path)
    _fill(path, [_mini_row(edr_share=None)])
    workbook = load_workbook(path)
    sheet = workbook["responses"]
    header = [cell.value for cell in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("edr_share") + 1)
    cell.value = value
    cell.number_format = fmt
    workbook.save(path)


def test_a_fraction_in_a_general_percent_cell_is_kept_and_warned_with_both_readings(
    tmp_path: Path, mini: Questionnaire
) -> None:
    path = tmp_path / "application.xlsx"
    _workbook_with_share(path, mini, 0.85, "General")
    result = validate_file(path, mini, as_of=AS_OF)
    assert result.is_valid
    assert result.answers.loc[0, "edr_share"] == pytest.approx(0.85, rel=1e-12)
    (warning,) = result.issue_list(Severity.WARNING)
    assert (warning.row, warning.question_id, warning.value) == (2, "edr_share", "0.85")
    assert warning.reason == Reason.PERCENT_OR_FRACTION
    assert "0.85 could be 0.85 % or 85 %" in warning.message


@pytest.mark.parametrize(("value", "number"), [(0.85, 85.0), (0.005, 0.5), (1.0, 100.0)])
def test_a_percent_formatted_cell_is_read_as_it_shows_without_a_warning(
    tmp_path: Path, mini: Questionnaire, value: float, number: float
) -> None:
    path = tmp_path / "application.xlsx"
    _workbook_with_share(path, mini, value, "0.0%")
    result = validate_file(path, mini, as_of=AS_OF)
    assert result.answers.loc[0, "edr_share"] == pytest.approx(number, rel=1e-12)
    assert result.issue_list() == []


def test_a_fraction_is_warned_alike_in_a_document_and_in_a_csv_book(
    tmp_path: Path, mini: Questionnaire
) -> None:
    document = validate_document(mini_document(edr_share=0.85), mini, as_of=AS_OF)
    path = tmp_path / "book.csv"
    row = _mini_row()
    row["edr_share"] = "0.85"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    book = validate_file(path, mini, as_of=AS_OF)
    for result in (document, book):
        (warning,) = result.issue_list(Severity.WARNING)
        assert (warning.reason, warning.value) == (Reason.PERCENT_OR_FRACTION, "0.85")
        assert result.answers.loc[0, "edr_share"] == pytest.approx(0.85, rel=1e-12)


# --- slash dates and numbers in messages ------------------------------------------


def test_a_slash_date_with_one_valid_order_is_accepted_and_two_are_refused(
    tmp_path: Path, mini: Questionnaire
) -> None:
    path = tmp_path / "application.xlsx"
    xlsx_template(mini, path)
    _fill(
        path,
        [
            _mini_row("F-1", last_restore_test="03/15/2026"),
            _mini_row("F-2", last_restore_test="03/04/2026"),
        ],
    )
    result = validate_file(path, mini, as_of=AS_OF)
    assert result.answers.loc[0, "last_restore_test"].date() == dt.date(2026, 3, 15)
    assert list(result.valid) == [True, False]
    (error,) = result.issue_list(Severity.ERROR)
    assert (error.row, error.reason, error.value) == (3, Reason.AMBIGUOUS, "03/04/2026")
    assert "both orders are dates" in error.message


def test_range_messages_read_as_a_person_writes_numbers(mini: Questionnaire) -> None:
    result = validate_document(mini_document(beds=12000), mini, as_of=AS_OF)
    (error,) = result.issue_list(Severity.ERROR)
    assert error.message == "above the maximum 5,000"
    assert error.allowed == "a whole number from 0 to 5,000"


def test_a_percent_formatted_cell_in_a_whole_number_column_is_refused(
    tmp_path: Path, mini: Questionnaire
) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "application.xlsx"
    xlsx_template(mini, path)
    _fill(path, [_mini_row()])
    workbook = load_workbook(path)
    sheet = workbook["responses"]
    header = [cell.value for cell in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("beds") + 1)
    cell.value, cell.number_format = 0.85, "0%"
    workbook.save(path)
    (error,) = validate_file(path, mini, as_of=AS_OF).issue_list(Severity.ERROR)
    assert (error.question_id, error.value, error.reason) == ("beds", "85%", Reason.NOT_AN_INTEGER)


def test_the_template_as_a_user_runs_it_fills_and_validates(tmp_path: Path) -> None:
    from openpyxl import load_workbook
    from typer.testing import CliRunner

    from scoring.cli import app

    runner = CliRunner()
    path = tmp_path / "application.xlsx"
    made = runner.invoke(app, ["questionnaire", "template", "-f", "xlsx", "-o", str(path)])
    assert made.exit_code == 0
    with (EXAMPLES / "portfolio.csv").open(newline="", encoding="utf-8-sig") as handle:
        first = next(csv.DictReader(handle))
    first["edr_coverage_servers"] = "0.85"
    _fill(path, [{name: value for name, value in first.items() if value != ""}])
    assert load_workbook(path).sheetnames[0] == "instructions"
    checked = runner.invoke(app, ["validate", str(path), "--as-of", "2026-11-29"])
    assert checked.exit_code == 0
    assert "0.85 could be 0.85 % or 85 %" in checked.output
    assert "1 valid, 0 rejected" in checked.output


@pytest.mark.parametrize(
    ("topic", "kind", "cell", "read"),
    [
        ("dates", "date", "09/15/2025", dt.date(2025, 9, 15)),
        ("dates", "date", "2025-09-15", dt.date(2025, 9, 15)),
        ("dates", "date", "03/04/2025", None),
        ("percentages", "percent", "85%", 85.0),
        ("percentages", "percent", "0.85", 0.85),
        ("numbers", "number", "1,234", 1234.0),
        ("numbers", "number", "1,5", None),
    ],
)
def test_the_examples_in_the_instructions_behave_as_they_say(
    mini: Questionnaire, topic: str, kind: str, cell: str, read: Any
) -> None:
    import pyarrow as pa

    from scoring import Question
    from scoring.responses.coercion import coerce

    assert cell in dict(instructions(mini))[topic]
    question = Question.model_validate({"id": "q", "type": kind, "label": "Q"})
    value = coerce(pa.array([cell], pa.string()), question).values.to_pylist()[0]
    assert value == (pytest.approx(read, rel=1e-12) if isinstance(read, float) else read)
