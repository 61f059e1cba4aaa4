"""Reading the files people really have, and refusing the ones that cannot be read."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import InputError, Questionnaire, Reason, read_responses, validate_file
from tests.conftest import AS_OF, mini_answers


def _rows(n: int = 3) -> pd.DataFrame:
    records = []
    for i in range(n):
        row = {
            "facility_id": f"F-{i}",
            "questionnaire": "mini",
            "questionnaire_version": "1.0.0",
            **mini_answers(),
        }
        records.append({k: str(v) for k, v in row.items()})
    return pd.DataFrame(records)


def test_csv_with_bom_crlf_spaces_and_quoted_newlines(tmp_path: Path, mini: Questionnaire) -> None:
    frame = _rows()
    frame.loc[1, "notes"] = "line one\nline two"
    frame.loc[2, "has_pacs"] = " Y "
    path = tmp_path / "book.csv"
    text = frame.to_csv(index=False, lineterminator="\r\n")  # as Excel writes it
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = validate_file(path, mini, as_of=AS_OF)
    assert result.is_valid
    assert list(result.facilities["row"]) == [2, 3, 4]
    assert result.answers.loc[1, "notes"] == "line one\nline two"
    assert result.answers.loc[2, "has_pacs"] == "yes"


def test_xlsx_dates_percent_cells_and_formulas(tmp_path: Path, mini: Questionnaire) -> None:
    from openpyxl import Workbook

    frame = _rows(2)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "responses"
    sheet.append(list(frame.columns))
    for record in frame.to_dict("records"):
        sheet.append(list(record.values()))
    columns = list(frame.columns)
    date_cell = sheet.cell(row=2, column=columns.index("last_restore_test") + 1)
    date_cell.value = dt.datetime(2026, 3, 1)
    share = sheet.cell(row=2, column=columns.index("edr_share") + 1)
    share.value = 0.85
    share.number_format = "0%"
    sheet.cell(row=3, column=columns.index("beds") + 1).value = "=2*60"
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    result = validate_file(path, mini, as_of=AS_OF)
    assert result.answers.loc[0, "edr_share"] == pytest.approx(85.0, rel=1e-12)
    assert result.answers.loc[0, "last_restore_test"] == pd.Timestamp("2026-03-01")
    assert list(result.valid) == [True, False]
    bad = result.issue_list()[0]
    assert (bad.row, bad.question_id, bad.value) == (3, "beds", "=2*60")


def test_parquet_with_typed_columns(tmp_path: Path, mini: Questionnaire) -> None:
    frame = _rows(2)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.set_column(
        table.column_names.index("beds"), "beds", pa.array([120, 80], pa.int64())
    )
    table = table.set_column(
        table.column_names.index("has_pacs"), "has_pacs", pa.array([True, True])
    )
    table = table.set_column(
        table.column_names.index("last_restore_test"),
        "last_restore_test",
        pa.array([dt.date(2026, 1, 5)] * 2, pa.date32()),
    )
    path = tmp_path / "book.parquet"
    pq.write_table(table, path)
    result = validate_file(path, mini, as_of=AS_OF)
    assert result.is_valid
    assert list(result.answers["beds"]) == [120, 80]
    assert list(result.facilities["row"]) == [1, 2]


def test_json_and_yaml_give_the_same_answers(tmp_path: Path, mini: Questionnaire) -> None:
    document = {
        "questionnaire": "mini",
        "questionnaire_version": "1.0.0",
        "answers": mini_answers(),
    }
    as_json = tmp_path / "f.json"
    as_json.write_text(json.dumps(document))
    as_yaml = tmp_path / "f.yaml"
    lines = ["questionnaire: mini", "questionnaire_version: '1.0.0'", "answers:"]
    lines += [f"  {key}: {value}" for key, value in mini_answers().items()]
    as_yaml.write_text("\n".join(lines) + "\n")
    one = validate_file(as_json, mini, as_of=AS_OF)
    two = validate_file(as_yaml, mini, as_of=AS_OF)
    pd.testing.assert_frame_equal(one.answers, two.answers)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


BOMB = b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
HEADER = b"facility_id,questionnaire,questionnaire_version\n"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "file is empty"),
        ("blank.yaml", b"  \n\n", "file is empty"),
        ("binary.csv", b"\x00\x01\x02PK", "binary"),
        ("latin1.csv", HEADER + "F-1,mini,1.0.0\nF-\xe9,mini,1.0.0\n".encode("latin-1"), "UTF-8"),
        ("latin1.yaml", "facility_name: Caf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("bomb.yaml", BOMB, "aliases"),
        ("deep.json", b"[" * 5000 + b"]" * 5000, "nested more than"),
        ("deep.yaml", b"a: " + b"[" * 500 + b"]" * 500, "nested more than"),
        ("dupkeys.yaml", b"questionnaire: a\nquestionnaire: b\n", "duplicate key"),
        ("dupkeys.json", b'{"answers": {"beds": 1, "beds": 2}}', "duplicate key"),
        ("nan.json", b'{"answers": {"beds": NaN}}', "not a number this tool accepts"),
        ("dupcols.csv", b"facility_id,beds,beds\nF,1,2\n", "appears more than once"),
        ("ragged.csv", HEADER + b"F-1,mini\n", "row has 2 cells; the header has 3"),
        ("header_only.csv", HEADER, "no facility rows"),
        ("semicolons.csv", b"facility_id;beds\nF;1\n", "separated by semicolons"),
        ("notes.txt", b"hello", "unsupported file type"),
        ("fake.xlsx", b"not a zip", "not a readable XLSX"),
        ("fake.parquet", b"not parquet", "not a readable Parquet"),
    ],
)
def test_unreadable_files_are_refused_clearly(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(InputError, match=message) as caught:
        read_responses(_write(tmp_path, name, data))
    assert caught.value.issues[0].source == str(tmp_path / name)


def test_a_50_megabyte_cell_is_an_error_not_a_crash(tmp_path: Path, mini: Questionnaire) -> None:
    frame = _rows(2)
    frame.loc[0, "notes"] = "x" * (50 * 1024 * 1024)
    path = tmp_path / "huge.csv"
    frame.to_csv(path, index=False)
    result = validate_file(path, mini, as_of=AS_OF)
    assert list(result.valid) == [False, True]
    issue = result.issue_list()[0]
    assert issue.reason is Reason.TOO_LONG
    assert issue.value is not None
    assert len(issue.value) < 200


def test_table_columns_are_checked_as_a_whole(tmp_path: Path, mini: Questionnaire) -> None:
    frame = _rows(2).drop(columns=["beds"]).rename(columns={"has_pacs": "has_pac"})
    path = tmp_path / "book.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError) as caught:
        validate_file(path, mini, as_of=AS_OF)
    messages = [i.message for i in caught.value.issues]
    assert any("did you mean 'has_pacs'" in m for m in messages)
    assert any("required questions are missing: beds" in m for m in messages)


def test_duplicate_and_missing_facility_ids_are_row_errors(
    tmp_path: Path, mini: Questionnaire
) -> None:
    frame = _rows(4)
    frame.loc[1, "facility_id"] = "F-0"
    frame.loc[3, "facility_id"] = " "
    path = tmp_path / "book.csv"
    frame.to_csv(path, index=False)
    result = validate_file(path, mini, as_of=AS_OF)
    assert list(result.valid) == [False, False, True, False]
    assert set(result.issues["reason"]) == {Reason.DUPLICATE_FACILITY.value, Reason.REQUIRED.value}


def test_mixed_versions_in_one_file_are_refused(tmp_path: Path, mini: Questionnaire) -> None:
    frame = _rows(2)
    frame.loc[1, "questionnaire_version"] = "0.9.0"
    path = tmp_path / "book.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match="different values for 'questionnaire_version'"):
        validate_file(path, mini, as_of=AS_OF)


def test_a_json_lone_surrogate_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = _write(tmp_path, "s.json", b'{"answers": {"notes": "\\ud800"}}')
    with pytest.raises(InputError, match="unpaired surrogate"):
        read_responses(path)


# NUL makes a whole CSV binary and lone surrogates cannot be written: both tested above
_CELL_CHARACTERS = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
_FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_PREFIX = {
    ".csv": b"facility_id,questionnaire,questionnaire_version,beds\n",
    ".yaml": b"questionnaire: mini\nquestionnaire_version: '1.0.0'\nanswers:\n  beds: ",
    ".json": b'{"questionnaire": "mini", "questionnaire_version": "1.0.0", "answers": ',
}


@_FUZZ
@given(
    suffix=st.sampled_from(sorted(_PREFIX)), body=st.binary(max_size=200), prefixed=st.booleans()
)
def test_fuzzed_files_give_a_result_or_an_input_error(
    tmp_path: Path, mini: Questionnaire, suffix: str, body: bytes, prefixed: bool
) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes((_PREFIX[suffix] if prefixed else b"") + body)
    try:
        result = validate_file(path, mini, as_of=AS_OF)
    except InputError as exc:
        issues = exc.issues
    else:
        assert result.n_rows == result.n_valid + result.n_rejected
        return
    assert issues
    assert all(issue.message and issue.source == str(path) for issue in issues)


@_FUZZ
@given(cells=st.lists(st.text(_CELL_CHARACTERS, max_size=12), min_size=4, max_size=4))
def test_fuzzed_csv_rows_are_scored_or_rejected_never_lost(
    tmp_path: Path, mini: Questionnaire, cells: list[str]
) -> None:
    frame = _rows(3)
    for column, value in zip(
        ["beds", "has_pacs", "last_restore_test", "phone_uses"], cells, strict=True
    ):
        frame.loc[1, column] = value
    path = tmp_path / "book.csv"
    frame.to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    result = validate_file(path, mini, as_of=AS_OF)
    assert result.n_rows == 3
    assert list(result.valid[[0, 2]]) == [True, True]


def test_a_row_longer_than_a_read_block_reads_as_the_whole_file_does(tmp_path: Path) -> None:
    from scoring.responses.reading import iter_responses

    frame = _rows(7)
    frame.loc[4, "notes"] = "x" * (3 * 1024 * 1024)  # longer than the first block size
    path = tmp_path / "long-row.csv"
    frame.to_csv(path, index=False)
    chunks = list(iter_responses(path, 2))
    assert [c.table.num_rows for c in chunks] == [2, 2, 2, 1]
    assert [c.first_row for c in chunks] == [2, 4, 6, 8]
    whole = read_responses(path).table
    assert pa.concat_tables([c.table for c in chunks]).equals(whole)
