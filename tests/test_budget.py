"""Hostile and careless inputs are refused within the declared resource budget.

Each file is built small inside the test; a bomb is small on disk and declares
(or decompresses to) something large. Where the harm was memory or time, the
command runs in a subprocess whose peak memory and run time are measured.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import InputError, Questionnaire, Reason, read_responses
from scoring._files import file_sha256, parse_json, parse_yaml, read_document
from scoring.budget import BUDGET, Budget
from scoring.responses.reading import count_rows, iter_responses

AS_OF = ("--as-of", "2026-06-01")
EXAMPLES = Path(__file__).parent.parent / "questionnaires" / "examples"
HEADER = "facility_id,questionnaire,questionnaire_version,notes"


PEAK = Path(__file__).parent / "hostile" / "peak.py"


def _measured(*args: str, cwd: Path) -> tuple[int, str, float, float]:
    """Run ``carescore`` in a subprocess: exit code, its output, peak memory (MB), seconds.

    The command is started by a small launcher (``tests/hostile/peak.py``): a child's
    ``ru_maxrss`` counts the memory of the process it was forked from, which would be
    this test run's, not the command's."""
    out, report = cwd / "output.txt", cwd / "peak.txt"
    launcher = [sys.executable, "-I", "-S", str(PEAK), str(report)]
    start = time.monotonic()
    with out.open("w") as sink:
        code = subprocess.run(
            [*launcher, sys.executable, "-m", "scoring", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    seconds = time.monotonic() - start
    peak_bytes = int(report.read_text(encoding="ascii").split()[1])
    return code, out.read_text(), peak_bytes / 1024 / 1024, seconds


# --- only regular files --------------------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".csv", ".xlsx", ".parquet"])
def test_a_named_pipe_is_refused_without_being_opened(
    tmp_path: Path, fifo: Path, suffix: str
) -> None:
    path = fifo.rename(tmp_path / f"input{suffix}")
    with pytest.raises(InputError, match=r"named pipe \(FIFO\); only regular files are read"):
        read_responses(path)
    with pytest.raises(InputError, match="named pipe"):
        file_sha256(path)
    assert count_rows(path) is None
    if suffix not in (".yaml", ".json"):
        with pytest.raises(InputError, match="named pipe"):
            next(iter_responses(path, 10))


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".csv", ".xlsx", ".parquet"])
def test_a_device_behind_a_table_or_document_name_is_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"zero{suffix}"
    path.symlink_to("/dev/zero")
    with pytest.raises(InputError, match="is a device; only regular files are read") as caught:
        read_responses(path)
    assert caught.value.issues[0].source == str(path)
    assert count_rows(path) is None
    with pytest.raises(InputError, match="is a device"):
        read_document(path)


def test_a_pipe_and_a_device_exit_1_at_once_from_the_command_line(
    tmp_path: Path, fifo: Path
) -> None:
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    for path in (fifo.rename(tmp_path / "pipe.yaml"), zero):
        code, output, _, seconds = _measured("validate", str(path), *AS_OF, cwd=tmp_path)
        assert code == 1, output
        assert "only regular files are read" in output
        assert "Traceback" not in output
        assert seconds < 60


def test_a_document_larger_than_the_budget_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("notes: " + "x" * 2000 + "\n")
    with pytest.raises(InputError, match="at most 1,000 bytes are accepted"):
        read_responses(path, budget=Budget(document_bytes=1000))


# --- YAML and JSON -------------------------------------------------------------------------


def test_a_yaml_integer_of_thousands_of_digits_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "facility.yaml"
    path.write_text("questionnaire: care_cyber\nanswers:\n  beds: " + "9" * 5000 + "\n")
    with pytest.raises(InputError, match="a number has too many digits"):
        read_responses(path)


@pytest.mark.parametrize(
    "value", ["!!bool maybe", "!!int zz", "!!timestamp 2020-13-45", "!!float x"]
)
def test_a_yaml_value_its_tag_cannot_make_is_an_input_error(value: str) -> None:
    with pytest.raises(InputError, match="a value cannot be read as its type says"):
        parse_yaml(f"answers:\n  beds: {value}\n", "facility.yaml")


def test_a_json_integer_of_thousands_of_digits_is_an_input_error() -> None:
    with pytest.raises(InputError, match="invalid JSON: a number has too many digits"):
        parse_json('{"beds": ' + "9" * 5000 + "}", "facility.json")


_YAMLISH = st.text(alphabet=st.sampled_from(list("ab01:-[]{}!&*?|>'\"#%@ \n\t.,xyz+e")))


@settings(max_examples=300, deadline=None)
@given(text=_YAMLISH | st.text())
def test_any_text_parses_as_yaml_or_is_an_input_error(text: str) -> None:
    with contextlib.suppress(InputError):
        parse_yaml(text, "fuzz.yaml")


@settings(max_examples=300, deadline=None)
@given(text=_YAMLISH | st.text())
def test_any_text_parses_as_json_or_is_an_input_error(text: str) -> None:
    with contextlib.suppress(InputError):
        parse_json(text, "fuzz.json")


def test_a_yaml_list_as_a_key_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "facility.yaml"
    path.write_text("answers:\n  ? [a, b]\n  : yes\n")
    with pytest.raises(InputError, match="a key must be a plain value"):
        read_responses(path)


# --- CSV -----------------------------------------------------------------------------------


def test_a_header_longer_than_64_kilobytes_is_read_whole(tmp_path: Path) -> None:
    names = [f"column_with_a_rather_long_name_{i:05d}" for i in range(2000)]  # ~80 KB
    path = tmp_path / "wide.csv"
    path.write_text(",".join(names) + "\n" + ",".join(str(i) for i in range(2000)) + "\n")
    raw = read_responses(path)
    assert raw.table.column_names == names
    assert raw.table.column("column_with_a_rather_long_name_01999").to_pylist() == ["1999"]


def test_a_header_longer_than_the_budget_is_refused_as_too_long(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(1000)) + "\n" + "1" * 10 + "\n")
    with pytest.raises(InputError, match="the header row is longer than 1 KB") as caught:
        read_responses(path, budget=Budget(header_bytes=1024))
    assert caught.value.issues[0].reason is Reason.TOO_LARGE


def test_too_many_columns_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(50)) + "\n")
    with pytest.raises(InputError, match="the header has 50 columns; at most 40 are accepted"):
        read_responses(path, budget=Budget(columns=40))


def test_a_row_longer_than_the_longest_accepted_is_refused_in_plain_words(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    rows = [HEADER, "F-1,care_cyber,1.0.0,short", "F-2,care_cyber,1.0.0," + "x" * 200_000]
    path.write_text("\n".join(rows) + "\n")
    budget = Budget(row_bytes=64 * 1024)
    for read in (
        lambda: read_responses(path, budget=budget),
        lambda: list(iter_responses(path, 1, budget=budget)),
    ):
        with pytest.raises(InputError, match="is longer than 64 KB, the longest row accepted"):
            read()


def test_a_table_too_long_to_hold_whole_points_to_batch(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text(HEADER + "\n" + "".join(f"F-{i},care_cyber,1.0.0,\n" for i in range(6)))
    budget = Budget(whole_table_rows=5)
    with pytest.raises(InputError, match=r"more than 5 rows.*`carescore batch` reads books"):
        read_responses(path, budget=budget)
    assert sum(raw.table.num_rows for raw in iter_responses(path, 2, budget=budget)) == 6


def test_a_file_larger_than_a_whole_table_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text(HEADER + "\n" + "F-1,care_cyber,1.0.0," + "x" * 5000 + "\n")
    with pytest.raises(InputError, match=r"at most 4 KB are read at once; `carescore batch`"):
        read_responses(path, budget=Budget(whole_table_bytes=4096))


# --- XLSX ----------------------------------------------------------------------------------


def _workbook(path: Path, rows: list[list[object]]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "responses"
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


_STRINGS_TYPE = (
    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml" /></Types>'
)


def _rewrite(path: Path, parts: dict[str, bytes]) -> Path:
    """The workbook with some parts replaced (or added); a shared-strings part added is
    declared in the content types, as Excel declares it."""
    with zipfile.ZipFile(path) as archive:
        kept = {i.filename: archive.read(i) for i in archive.infolist() if i.filename not in parts}
    if "xl/sharedStrings.xml" in parts:
        types = kept["[Content_Types].xml"]
        kept["[Content_Types].xml"] = types.replace(b"</Types>", _STRINGS_TYPE)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in {**kept, **parts}.items():
            archive.writestr(name, data)
    return path


_SHEET = (
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "{dimension}<sheetData>{rows}</sheetData></worksheet>"
)


def _row(number: int, cells: dict[str, str]) -> str:
    inner = "".join(
        f'<c r="{ref}{number}" t="inlineStr"><is><t>{text}</t></is></c>'
        for ref, text in cells.items()
    )
    return f'<row r="{number}">{inner}</row>'


def _sheet(*rows: str, dimension: str = "") -> bytes:
    ref = f'<dimension ref="{dimension}"/>' if dimension else ""
    return _SHEET.format(dimension=ref, rows="".join(rows)).encode()


def _header_row() -> str:
    return _row(1, {"A": "facility_id", "B": "questionnaire", "C": "questionnaire_version"})


def test_a_declared_sheet_of_a_million_rows_by_16384_columns_is_read_at_once(
    tmp_path: Path,
) -> None:
    sheet = _sheet(
        _header_row(),
        _row(2, {"A": "F-1", "B": "care_cyber", "C": "1.0.0"}),
        '<row r="1048576"><c r="XFD1048576" s="0"/></row>',  # a formatted, empty far cell
        dimension="A1:XFD1048576",
    )
    path = _rewrite(_workbook(tmp_path / "far.xlsx", [["x"]]), {"xl/worksheets/sheet1.xml": sheet})
    start = time.monotonic()
    raw = read_responses(path)
    assert time.monotonic() - start < 5
    assert raw.table.column("facility_id").to_pylist() == ["F-1"]


def test_a_far_cell_beyond_the_header_names_its_row(tmp_path: Path) -> None:
    sheet = _sheet(
        _header_row(),
        _row(2, {"A": "F-1", "B": "care_cyber", "C": "1.0.0"}),
        _row(1048576, {"XFD": "stray"}),
        dimension="A1:XFD1048576",
    )
    path = _rewrite(_workbook(tmp_path / "far.xlsx", [["x"]]), {"xl/worksheets/sheet1.xml": sheet})
    start = time.monotonic()
    with pytest.raises(InputError, match="row 1048576: a row has cells beyond the last named"):
        read_responses(path)
    assert time.monotonic() - start < 5


def test_a_stray_note_right_of_a_row_whose_first_cell_is_empty_names_that_row(
    tmp_path: Path,
) -> None:
    path = _workbook(
        tmp_path / "note.xlsx",
        [
            ["facility_id", "questionnaire", "questionnaire_version"],
            ["F-1", "care_cyber", "1.0.0"],
            [None, None, None, None, None, "a note to the right"],
        ],
    )
    with pytest.raises(InputError, match="row 3: a row has cells beyond") as caught:
        read_responses(path)
    assert caught.value.issues[0].row == 3


def test_xlsx_blank_rows_keep_their_row_numbers(tmp_path: Path) -> None:
    path = _workbook(
        tmp_path / "gaps.xlsx",
        [
            ["facility_id", "questionnaire"],
            ["F-1", "care_cyber"],
            [None, None],
            [],
            [None, "care_cyber"],
            ["F-4", "care_cyber"],
        ],
    )
    raw = read_responses(path)
    assert raw.row_numbers() == [2, 5, 6]
    chunks = list(iter_responses(path, 2))
    assert [c.row_numbers() for c in chunks] == [[2, 5], [6]]


@pytest.mark.parametrize(
    ("part", "data", "message"),
    [
        (
            "xl/sharedStrings.xml",
            b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b"<si><t>&b;</t></si></sst>",
            "not a readable XLSX workbook",
        ),
        (
            "xl/worksheets/sheet1.xml",
            b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">]>'
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&a;</t></is></c></row>'
            b"</sheetData></worksheet>",
            "not a readable XLSX workbook",
        ),
        ("xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row r='1'><c r='A1'", "readable"),
        ("xl/workbook.xml", b"this is not XML", "not a readable XLSX workbook"),
        ("xl/styles.xml", b"<styleSheet><numFmts count='x'><numFmt", "readable"),
    ],
)
def test_malformed_or_entity_laden_workbook_xml_is_an_input_error(
    tmp_path: Path, part: str, data: bytes, message: str
) -> None:
    path = _workbook(tmp_path / "bad.xlsx", [["facility_id"], ["F-1"]])
    _rewrite(path, {part: data})
    with pytest.raises(InputError, match=message) as caught:
        read_responses(path)
    assert caught.value.issues[0].source == str(path)


def test_a_workbook_of_too_many_parts_is_refused(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "parts.xlsx", [["facility_id"], ["F-1"]])
    _rewrite(path, {f"extra/{i}.bin": b"" for i in range(20)})
    with pytest.raises(InputError, match=r"holds 2[0-9] parts; at most 10 are accepted"):
        read_responses(path, budget=Budget(xlsx_parts=10))


def test_a_part_that_decompresses_beyond_the_budget_is_refused_before_parsing(
    tmp_path: Path,
) -> None:
    path = _workbook(tmp_path / "big-part.xlsx", [["facility_id"], ["F-1"]])
    _rewrite(path, {"xl/styles.xml": b" " * 100_000})
    with pytest.raises(InputError, match=r"'xl/styles\.xml' decompresses to 100,000 bytes"):
        read_responses(path, budget=Budget(xlsx_part_bytes=50_000))


def _shared_strings_bomb(path: Path, entries: int) -> Path:
    """A workbook whose shared strings hold ``entries`` empty entries (small on disk)."""
    _workbook(path, [["facility_id"], ["F-1"]])
    with zipfile.ZipFile(path) as archive:
        kept = {i.filename: archive.read(i) for i in archive.infolist()}
    kept["[Content_Types].xml"] = kept["[Content_Types].xml"].replace(b"</Types>", _STRINGS_TYPE)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in kept.items():
            archive.writestr(name, data)
        with archive.open("xl/sharedStrings.xml", "w") as part:
            part.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            block = b"<si/>" * 100_000
            for _ in range(entries // 100_000):
                part.write(block)
            part.write(b"</sst>")
    return path


def test_a_shared_strings_part_of_too_many_entries_is_refused(tmp_path: Path) -> None:
    path = _shared_strings_bomb(tmp_path / "strings.xlsx", 200_000)
    with pytest.raises(InputError, match="more than 100,000 entries"):
        read_responses(path, budget=Budget(xlsx_shared_strings=100_000))


def test_a_shared_strings_bomb_is_refused_in_bounded_memory_and_time(tmp_path: Path) -> None:
    path = _shared_strings_bomb(tmp_path / "bomb.xlsx", 20_000_000)  # 100 MB of XML
    assert path.stat().st_size < 2 * 1024 * 1024
    code, output, megabytes, seconds = _measured("validate", str(path), *AS_OF, cwd=tmp_path)
    assert code == 1, output
    # refused before its entries are counted: it decompresses to over 100 times its size
    assert "'xl/sharedStrings.xml' decompresses to 100,000," in output
    assert f"more than {BUDGET.xlsx_inflate_ratio} times its compressed size" in output
    assert "Traceback" not in output
    assert megabytes < 700
    assert seconds < 60


def test_a_part_that_inflates_like_a_zip_bomb_is_refused_at_once(tmp_path: Path) -> None:
    """A valid sheet with 256 MB of blanks in its data (256 KB on disk) is well under the
    worksheet's 4 GB, but parsing such sheets takes time no file of their size justifies
    (the corpus's 3 GB one ran for minutes): refused by its inflation."""
    path = _workbook(tmp_path / "blanks.xlsx", [["facility_id"], ["F-1"]])
    with zipfile.ZipFile(path) as archive:
        kept = {i.filename: archive.read(i) for i in archive.infolist()}
    head, tail = kept.pop("xl/worksheets/sheet1.xml").split(b"<sheetData>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in kept.items():
            archive.writestr(name, data)
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            part.write(head + b"<sheetData>")
            blanks = b" " * (1 << 20)
            for _ in range(256):
                part.write(blanks)
            part.write(tail)
    assert path.stat().st_size < 1024 * 1024
    started = time.perf_counter()
    with pytest.raises(InputError, match=r"more than 100 times its compressed size"):
        read_responses(path)
    assert time.perf_counter() - started < 10
    # a real workbook's parts stay well within the ratio
    assert read_responses(EXAMPLES / "portfolio.xlsx").table.num_rows > 0


# --- Parquet -------------------------------------------------------------------------------


def _parquet(path: Path, rows: int, row_group_size: int | None = None) -> Path:
    table = pa.table(
        {
            "facility_id": pa.array(["F-1"] * rows).dictionary_encode(),
            "questionnaire": pa.array(["care_cyber"] * rows).dictionary_encode(),
        }
    )
    pq.write_table(table, path, row_group_size=row_group_size or rows, compression="zstd")
    return path


def test_a_parquet_row_group_beyond_the_budget_is_refused_before_decoding(
    tmp_path: Path,
) -> None:
    path = _parquet(tmp_path / "book.parquet", 1000)
    budget = Budget(parquet_row_group_rows=500)
    with pytest.raises(InputError, match="row group 1 holds 1,000 rows"):
        list(iter_responses(path, 100, budget=budget))
    assert sum(r.table.num_rows for r in iter_responses(path, 100)) == 1000


def test_a_small_parquet_of_millions_of_rows_is_refused_whole_in_bounded_memory(
    tmp_path: Path,
) -> None:
    path = _parquet(tmp_path / "bomb.parquet", 3_000_000, row_group_size=1_000_000)
    assert path.stat().st_size < 2 * 1024 * 1024
    code, output, megabytes, seconds = _measured("validate", str(path), *AS_OF, cwd=tmp_path)
    assert code == 1, output
    assert f"more than {BUDGET.whole_table_rows:,} rows" in output
    assert "Traceback" not in output
    assert megabytes < 700
    assert seconds < 60


def test_a_parquet_binary_column_of_invalid_utf8_names_the_column(tmp_path: Path) -> None:
    path = tmp_path / "bytes.parquet"
    pq.write_table(pa.table({"facility_id": pa.array([b"F-1", b"\xff\xfe"], pa.binary())}), path)
    for read in (lambda: read_responses(path), lambda: list(iter_responses(path, 10))):
        with pytest.raises(InputError, match="column 'facility_id' holds bytes that are not UTF-8"):
            read()


def test_a_parquet_dictionary_of_one_huge_value_is_refused_before_it_is_spread(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cells.parquet"
    column = pa.DictionaryArray.from_arrays(pa.array([0] * 1000, pa.int32()), ["x" * 200_000])
    pq.write_table(pa.table({"notes": column}), path)
    with pytest.raises(InputError, match="column 'notes' holds a cell of 200,000 bytes"):
        read_responses(path)


# --- row numbers ---------------------------------------------------------------------------


def test_csv_blank_lines_keep_their_row_numbers_whole_and_in_chunks(tmp_path: Path) -> None:
    lines = [HEADER, "F-1,care_cyber,1.0.0,a", "", "F-3,care_cyber,1.0.0,b", "", "", ",,,"]
    lines += ['F-7,care_cyber,1.0.0,"two\nlines"', "F-8,care_cyber,1.0.0,c", ""]
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join(lines) + "\n")
    raw = read_responses(path)
    assert raw.row_numbers() == [2, 4, 8, 9]
    for rows in (1, 2, 3):
        chunks = list(iter_responses(path, rows))
        assert [n for c in chunks for n in c.row_numbers()] == [2, 4, 8, 9]
        narrow = list(iter_responses(path, rows, columns=("facility_id",)))
        assert [c.table.column_names for c in narrow] == [["facility_id"]] * len(chunks)
        assert [c.row_numbers() for c in narrow] == [c.row_numbers() for c in chunks]


def test_a_blank_line_makes_the_errors_point_at_the_spreadsheet_row(
    tmp_path: Path, mini: Questionnaire
) -> None:
    from scoring import validate_file
    from tests.conftest import AS_OF as DAY
    from tests.conftest import mini_answers

    good = {"questionnaire": "mini", "questionnaire_version": "1.0.0", **mini_answers()}
    names = ["facility_id", *good]
    rows = [["F-1", *good.values()], ["F-4", *{**good, "beds": "many"}.values()]]
    path = tmp_path / "gaps.csv"
    path.write_text(
        "\n".join(
            [",".join(names), ",".join(map(str, rows[0])), "", "", ",".join(map(str, rows[1]))]
        )
    )
    result = validate_file(path, mini, as_of=DAY)
    assert list(result.facilities["row"]) == [2, 5]
    assert [(i.row, i.question_id) for i in result.issue_list() if i.is_error] == [(5, "beds")]


def test_an_xlsx_with_a_part_of_bytes_read_from_a_stream_is_checked_the_same(
    tmp_path: Path,
) -> None:
    path = _workbook(tmp_path / "ok.xlsx", [["facility_id"], ["F-1"]])
    from scoring.responses.workbook import inspect_workbook

    inspect_workbook(io.BytesIO(path.read_bytes()), str(path), BUDGET)  # within the budget
    with pytest.raises(InputError, match="parts; at most 2 are accepted"):
        inspect_workbook(io.BytesIO(path.read_bytes()), str(path), Budget(xlsx_parts=2))


def test_a_book_to_compare_that_is_a_pipe_is_refused_without_being_opened(
    tmp_path: Path, fifo: Path
) -> None:
    from scoring.portfolio.compare_read import load_book

    frame, issues = load_book(fifo.rename(tmp_path / "book.parquet"))
    assert frame is None
    assert "named pipe" in issues[0].message


def test_a_book_to_compare_with_an_oversized_row_group_is_refused_before_decoding(
    tmp_path: Path,
) -> None:
    from scoring.portfolio.compare_read import load_book

    path = _parquet(tmp_path / "book.parquet", 1000)
    frame, issues = load_book(path, budget=Budget(parquet_row_group_rows=10))
    assert frame is None
    assert "row group 1 holds 1,000 rows" in issues[0].message


def test_claims_history_problems_name_the_spreadsheet_row_after_blank_lines(
    tmp_path: Path, mini: Questionnaire
) -> None:
    from scoring.model.claims_history import (
        BOOK_COLUMNS,
        claim_columns,
        iter_claims_history,
        read_claims_history,
    )

    names = [*BOOK_COLUMNS, *claim_columns()]
    good = ["F-1", "2024", "1", *["0"] * len(claim_columns())]
    bad = ["F-2", "2024", "7", *["0"] * len(claim_columns())]  # exposure above 1
    path = tmp_path / "history.csv"
    path.write_text("\n".join([",".join(names), ",".join(good), "", "", ",".join(bad)]) + "\n")
    with pytest.raises(InputError, match=r"exposure must be above 0.*e\.g\. row 5") as caught:
        read_claims_history(path, mini)
    assert caught.value.issues[0].row == 5
    with pytest.raises(InputError, match=r"e\.g\. row 5"):
        list(iter_claims_history(path, mini, 2))


def _declare_size(path: Path, name: str, size: int) -> Path:
    """The workbook with ``name``'s uncompressed size in the central directory changed."""
    import struct

    data = bytearray(path.read_bytes())
    start = data.find(b"PK\x01\x02")
    while start >= 0:
        length = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46 : start + 46 + length] == name.encode():
            struct.pack_into("<I", data, start + 24, size)
        start = data.find(b"PK\x01\x02", start + 4)
    path.write_bytes(bytes(data))
    return path


def test_a_part_decompressing_beyond_its_declared_size_is_cut_there_and_refused(
    tmp_path: Path,
) -> None:
    rows = [["facility_id", "notes"], *[[f"F-{i}", "x" * 50] for i in range(2000)]]
    path = _declare_size(_workbook(tmp_path / "liar.xlsx", rows), "xl/worksheets/sheet1.xml", 300)
    with pytest.raises(InputError, match="not a readable XLSX workbook") as caught:
        read_responses(path)
    assert caught.value.issues[0].reason is Reason.UNREADABLE_FILE


def test_the_readme_lists_the_budget_as_declared() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("### How much is read") :]
    section = section[: section.index("\n### ")]
    stated = {
        "10 MB": BUDGET.document_bytes,
        "4 GB, rows unlimited": BUDGET.book_bytes,
        "256 MB |": BUDGET.whole_table_bytes,
        f"{BUDGET.whole_table_rows:,}": None,
        f"{BUDGET.columns:,}": None,
        "1 MB": BUDGET.header_bytes,
        "64 MB": BUDGET.row_bytes,
        f"{BUDGET.cell_chars:,} characters": None,
        f"{BUDGET.xlsx_parts:,}": None,
        "(streamed) | 4 GB": BUDGET.xlsx_sheet_bytes,
        f"256 MB, {BUDGET.xlsx_shared_strings:,} entries": BUDGET.xlsx_shared_strings_bytes,
        "any other part | 32 MB": BUDGET.xlsx_part_bytes,
        "all parts | 8 GB": BUDGET.xlsx_total_bytes,
        f"| {BUDGET.xlsx_inflate_ratio} times": None,
        "beyond 1 MB:": None,
        f"512 MB, {BUDGET.parquet_row_group_rows:,} rows": BUDGET.parquet_row_group_bytes,
    }
    for text, size in stated.items():
        assert text in section, text
        if size is not None:
            amount, unit = text.split(" | ")[-1].split(",")[0].split()[:2]
            assert size == int(amount) * {"MB": 1 << 20, "GB": 1 << 30}[unit.rstrip("|")], text


def test_a_row_of_the_wrong_width_is_named_by_its_spreadsheet_row(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    lines = [HEADER, "F-1,care_cyber,1.0.0,a", "", 'F-3,care_cyber,1.0.0,"b\nc"', "F-5,care_cyber"]
    path.write_text("\n".join(lines) + "\n")
    for read in (lambda: read_responses(path), lambda: list(iter_responses(path, 1))):
        with pytest.raises(InputError, match="row 5: given 'F-5,care_cyber': row has 2 cells"):
            read()


# --- the hostile corpus through the command line ------------------------------------------


def _corpus(folder: Path) -> dict[str, tuple[Path, str]]:
    """Hostile and careless inputs, each small, with what the refusal must say."""
    folder.mkdir()
    corpus: dict[str, tuple[Path, str]] = {}
    pipe = folder / "pipe.csv"
    os.mkfifo(pipe)
    corpus["pipe"] = (pipe, "named pipe")
    zero = folder / "zero.yaml"
    zero.symlink_to("/dev/zero")
    corpus["device"] = (zero, "is a device")
    zero_book = folder / "zero.csv"
    zero_book.symlink_to("/dev/zero")
    corpus["device-book"] = (zero_book, "is a device")
    digits = folder / "digits.yaml"
    digits.write_text("questionnaire: care_cyber\nanswers:\n  beds: " + "9" * 5000 + "\n")
    corpus["digits"] = (digits, "too many digits")
    header = folder / "header.csv"
    header.write_text("x" * (BUDGET.header_bytes + 10) + "\n1\n")
    corpus["header"] = (header, "header row is longer than 1 MB")
    note = _workbook(
        folder / "note.xlsx",
        [["facility_id", "questionnaire"], ["F-1", "care_cyber"], [None, None, None, "note"]],
    )
    corpus["note"] = (note, "row 3: a row has cells beyond")
    entities = _workbook(folder / "entities.xlsx", [["facility_id"], ["F-1"]])
    _rewrite(
        entities,
        {"xl/worksheets/sheet1.xml": b'<!DOCTYPE w [<!ENTITY a "a">]><worksheet>&a;</worksheet>'},
    )
    corpus["entities"] = (entities, "not a readable XLSX workbook")
    utf8 = folder / "bytes.parquet"
    pq.write_table(pa.table({"facility_id": pa.array([b"\xff"], pa.binary())}), utf8)
    corpus["utf8"] = (utf8, "not UTF-8")
    return corpus


@pytest.mark.parametrize(
    "name", ["pipe", "device", "device-book", "digits", "header", "note", "entities", "utf8"]
)
def test_the_hostile_corpus_exits_1_with_a_sentence_and_leaves_nothing(
    tmp_path: Path, name: str
) -> None:
    from typer.testing import CliRunner

    from scoring.cli import app

    path, message = _corpus(tmp_path / "in")[name]
    table = path.suffix != ".yaml"
    commands = [["validate", str(path), *AS_OF]]
    commands.append(["score", str(path), *AS_OF, *(["--facility", "F-1"] if table else [])])
    out = tmp_path / "out"
    out.mkdir()
    if table:
        commands.append(["batch", str(path), "-o", str(out / "scored.parquet"), *AS_OF])
    if path.suffix in (".csv", ".parquet") and name != "utf8":  # that one is not a book at all
        commands.append(["compare", str(path), str(path)])
    for command in commands:
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 1, (command, result.output)
        assert message in " ".join(result.output.split()), (command, result.output)
        assert "Traceback" not in result.output
        assert list(out.iterdir()) == [], command


def test_a_row_of_more_cells_than_excel_allows_is_refused_before_it_is_parsed(
    tmp_path: Path,
) -> None:
    wide = '<row r="2">' + "<c/>" * 20_000 + "</row>"
    path = _rewrite(
        _workbook(tmp_path / "wide.xlsx", [["x"]]),
        {"xl/worksheets/sheet1.xml": _sheet(_header_row(), wide)},
    )
    with pytest.raises(InputError, match="holds more than 16,384 cells, Excel's limit"):
        read_responses(path)


def test_a_row_of_ten_million_cells_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "row-bomb.xlsx", [["x"]])
    with zipfile.ZipFile(path) as archive:
        kept = {i.filename: archive.read(i) for i in archive.infolist()}
    kept.pop("xl/worksheets/sheet1.xml")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in kept.items():
            archive.writestr(name, data)
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            part.write(_sheet(_header_row()).replace(b"</sheetData>", b'<row r="2">'))
            for _ in range(100):
                part.write(b"<c/>" * 100_000)
            part.write(b"</row></sheetData></worksheet>")
    assert path.stat().st_size < 2 * 1024 * 1024
    code, output, megabytes, seconds = _measured("validate", str(path), *AS_OF, cwd=tmp_path)
    assert code == 1, output
    # 40 MB of cells in a 50 KB part: refused by its inflation before its cells are counted
    assert "more than 100 times its compressed size" in output
    assert megabytes < 700
    assert seconds < 60
    # where a budget lets such a part through, its row is refused as it decompresses
    with pytest.raises(InputError, match="Excel's limit"):
        read_responses(path, budget=Budget(xlsx_inflate_ratio=100_000))


def test_a_cell_pointing_at_a_style_the_workbook_lacks_is_an_input_error(tmp_path: Path) -> None:
    row = '<row r="2"><c r="A2" s="999"><v>5</v></c></row>'
    path = _rewrite(
        _workbook(tmp_path / "style.xlsx", [["x"]]),
        {"xl/worksheets/sheet1.xml": _sheet(_header_row(), row)},
    )
    with pytest.raises(InputError, match="not a readable XLSX workbook"):
        read_responses(path)


_VALID_WORKBOOK: list[bytes] = []


def _valid_workbook(folder: Path) -> bytes:
    if not _VALID_WORKBOOK:
        path = _workbook(folder / "valid.xlsx", [["facility_id", "beds"], ["F-1", 12]])
        _VALID_WORKBOOK.append(path.read_bytes())
    return _VALID_WORKBOOK[0]


@settings(max_examples=150, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=8))
def test_a_damaged_workbook_is_read_or_refused_never_a_crash(
    tmp_path_factory: pytest.TempPathFactory, flips: list[tuple[int, int]]
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    data = bytearray(_valid_workbook(folder))
    for offset, value in flips:
        data[offset % len(data)] = value
    path = folder / "damaged.xlsx"
    path.write_bytes(bytes(data))
    with contextlib.suppress(InputError):
        read_responses(path)


def test_a_budget_figure_must_be_a_positive_whole_number() -> None:
    with pytest.raises(ValueError, match="row_bytes must be a positive whole number; got 0"):
        Budget(row_bytes=0)
