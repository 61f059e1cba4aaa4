"""Hostile input files, each made small in a given folder: workbooks, Parquet files,
CSV books, YAML and JSON documents, devices and FIFOs behind ordinary names.

Bombs are built small and declared large: a zip member that decompresses to gigabytes
is a few megabytes on disk (``tests/hostile/zipfiles.py``); a Parquet row group of
millions of rows is a dictionary of one value.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.hostile import books
from tests.hostile.zipfiles import Member, deflate, member, write_zip

# --- XLSX ---------------------------------------------------------------------------

_SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _xlsx(folder: Path, name: str, replace: dict[str, bytes | Member], extra: list[Member]) -> Path:
    """The valid three-facility workbook with parts replaced and parts added."""
    parts = dict(books.base_workbook_members())
    members: list[Member] = []
    for part, data in parts.items():
        new = replace.get(part, data)
        members.append(new if isinstance(new, Member) else member(part, new))
    path = folder / name
    write_zip(path, [*members, *extra])
    return path


def _with_shared_strings(strings: Member) -> dict[str, bytes | Member]:
    """Parts that declare ``strings`` as the shared strings, used by the first header cell."""
    parts = books.base_workbook_members()
    types = parts["[Content_Types].xml"].replace(
        b"</Types>",
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_SST_TYPE}" /></Types>'.encode(),
    )
    rels = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        f'<Relationship Type="{_SST_REL}" Target="sharedStrings.xml" Id="rId9" />'
        "</Relationships>".encode(),
    )
    sheet = parts["xl/worksheets/sheet1.xml"].replace(
        b'<c r="A1" t="inlineStr"><is><t>facility_id</t></is></c>', b'<c r="A1" t="s"><v>0</v></c>'
    )
    return {
        "[Content_Types].xml": types,
        "xl/_rels/workbook.xml.rels": rels,
        "xl/worksheets/sheet1.xml": sheet,
        "xl/sharedStrings.xml": strings,
    }


@functools.cache
def _shared_strings_bomb() -> Member:
    """Shared strings of 30 million empty entries: 360 MB of XML in under 1 MB."""
    entries = 30_000_000
    block = 87_381  # entries per repeated piece: about 1 MB of XML
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN}" count="{entries}" '
        f'uniqueCount="{entries}"><si><t>facility_id</t></si>'
    ).encode()
    repeats, rest = divmod(entries - 1, block)
    return deflate(
        "xl/sharedStrings.xml",
        [
            (head, 1),
            (b"<si><t/></si>" * block, repeats),
            (b"<si><t/></si>" * rest, 1),
            (b"</sst>", 1),
        ],
    )


def xlsx_shared_strings_bomb(folder: Path) -> Path:
    bomb = _shared_strings_bomb()
    parts = _with_shared_strings(bomb)
    sst = parts.pop("xl/sharedStrings.xml")
    assert isinstance(sst, Member)
    return _xlsx(folder, "many-strings.xlsx", parts, [sst])


@functools.cache
def _sheet_bomb() -> Member:
    """The sheet, with 3 GB of blanks inside its data: valid XML, 3 MB compressed."""
    sheet = books.base_workbook_members()["xl/worksheets/sheet1.xml"]
    head, tail = sheet.split(b"<sheetData>")
    mb = 1024 * 1024
    return deflate(
        "xl/worksheets/sheet1.xml",
        [(head + b"<sheetData>", 1), (b" " * mb, 3 * 1024 - 1), (tail, 1)],
    )


def xlsx_zip_bomb(folder: Path) -> Path:
    return _xlsx(folder, "zip-bomb.xlsx", {"xl/worksheets/sheet1.xml": _sheet_bomb()}, [])


def xlsx_entity_expansion(folder: Path) -> Path:
    """A billion-laughs DOCTYPE in the sheet: nine levels of ten references each."""
    sheet = books.base_workbook_members()["xl/worksheets/sheet1.xml"]
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    doctype = f"<!DOCTYPE worksheet [{''.join(entities)}]>".encode()
    body = sheet.replace(b"<sheetData>", b"<sheetData>&lol9;")
    if body.startswith(b"<?xml"):
        declaration, rest = body.split(b"?>", 1)
        body = declaration + b"?>" + doctype + rest
    else:
        body = doctype + body
    return _xlsx(folder, "entities.xlsx", {"xl/worksheets/sheet1.xml": body}, [])


def xlsx_truncated_sheet(folder: Path) -> Path:
    sheet = books.base_workbook_members()["xl/worksheets/sheet1.xml"]
    return _xlsx(
        folder, "truncated.xlsx", {"xl/worksheets/sheet1.xml": sheet[: len(sheet) // 2]}, []
    )


def xlsx_bad_workbook_part(folder: Path) -> Path:
    broken = b'<workbook xmlns="' + _MAIN.encode() + b'"><sheets><sheet name="responses'
    return _xlsx(folder, "bad-workbook.xlsx", {"xl/workbook.xml": broken}, [])


def xlsx_too_many_parts(folder: Path) -> Path:
    """60,000 parts beside the workbook's own (a workbook has a few dozen)."""
    empty = member("x", b"")
    extra = [Member(f"xl/media/p{i}.bin", empty.deflated, empty.crc, 0) for i in range(60_000)]
    return _xlsx(folder, "many-parts.xlsx", {}, extra)


def _workbook(
    folder: Path, name: str, table: list[list[str] | None], edit: Callable[..., None] | None = None
) -> Path:
    path = folder / name
    path.write_bytes(books.workbook_bytes(table, edit))
    return path


def xlsx_far_cell(folder: Path) -> Path:
    """The three facilities, and one cell at XFD1048576: the sheet declares A1:XFD1048576."""

    def far(sheet: object) -> None:
        sheet.cell(row=1_048_576, column=16_384, value="stray")  # type: ignore[attr-defined]

    return _workbook(folder, "far-cell.xlsx", [books.header(), *books.rows(3)], far)


def xlsx_stray_note(folder: Path) -> Path:
    """Row 5: column A empty, a note three columns right of the table."""
    width = len(books.header())
    note: list[str] = [""] * (width + 3)
    note[-1] = "checked by J. Smith"
    return _workbook(folder, "stray-note.xlsx", [books.header(), *books.rows(3), note])


# --- row numbers: blank lines and rows -----------------------------------------------

BAD_ROWS = (4, 7)
"""The spreadsheet rows of the two invalid facilities in the blank-line cases."""


def _with_blanks() -> list[list[str] | None]:
    good, second, third = books.rows(3)
    return [
        books.header(),
        good,  # row 2
        None,  # row 3
        books.with_cell(second, "rdp_exposed", "maybe"),  # row 4
        None,
        None,
        books.with_cell(third, "rdp_exposed", "maybe"),  # row 7
    ]


def csv_blank_lines(folder: Path) -> Path:
    path = folder / "blank-lines.csv"
    lines = [books.csv_text([row]).rstrip("\n") if row else "" for row in _with_blanks()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def xlsx_blank_rows(folder: Path) -> Path:
    return _workbook(folder, "blank-rows.xlsx", _with_blanks())


# --- Parquet ------------------------------------------------------------------------


def _constant_table(rows: int, row: list[str]) -> Any:
    """``rows`` copies of one facility, every column dictionary-encoded (one value each)."""
    import numpy as np
    import pyarrow as pa

    indices = pa.array(np.zeros(rows, dtype=np.int32))
    return pa.table(
        {
            name: pa.DictionaryArray.from_arrays(indices, pa.array([value], pa.string()))
            for name, value in zip(books.header(), row, strict=True)
        }
    )


@functools.cache
def _rows_bomb_bytes() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 3_000_000
    sink = pa.BufferOutputStream()
    table = _constant_table(rows, books.rows(1)[0])
    pq.write_table(table, sink, row_group_size=rows, write_statistics=False, compression="none")
    return bytes(sink.getvalue())


def parquet_rows_bomb(folder: Path) -> Path:
    """One row group of 3,000,000 rows in a file of a few hundred KB."""
    path = folder / "millions.parquet"
    path.write_bytes(_rows_bomb_bytes())
    return path


@functools.cache
def _long_cells_bytes() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = books.rows(1)[0]
    table = _constant_table(3_000, row)
    name = books.header().index("facility_name")
    indices = pa.array([0] * 3_000, pa.int32())
    huge = pa.DictionaryArray.from_arrays(indices, pa.array(["x" * 1_000_000], pa.string()))
    sink = pa.BufferOutputStream()
    pq.write_table(table.set_column(name, "facility_name", huge), sink, row_group_size=3_000)
    return bytes(sink.getvalue())


def parquet_long_cells(folder: Path) -> Path:
    """3,000 names of 1 MB each (3 GB as text), one dictionary value on disk."""
    path = folder / "long-cells.parquet"
    path.write_bytes(_long_cells_bytes())
    return path


def parquet_invalid_utf8(folder: Path) -> Path:
    """A book whose facility_name is a binary column holding bytes that are not UTF-8."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = [books.header(), *books.rows(3)]
    columns = {name: [row[i] for row in table[1:]] for i, name in enumerate(table[0])}
    data: dict[str, Any] = {name: pa.array(values, pa.string()) for name, values in columns.items()}
    data["facility_name"] = pa.array([b"caf\xe9", b"\xff\xfe", b"ok"], pa.binary())
    path = folder / "not-utf8.parquet"
    pq.write_table(pa.table(data), path)
    return path


def scored_book_invalid_utf8(folder: Path, scored_book: Path) -> Path:
    """A copy of a scored book whose facility_id column holds bytes that are not UTF-8."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(scored_book)
    ids = [b"\xff" + str(i).encode() for i in range(table.num_rows)]
    index = table.column_names.index("facility_id")
    table = table.set_column(index, "facility_id", pa.array(ids, pa.binary()))
    path = folder / "scored-not-utf8.parquet"
    pq.write_table(table, path)
    return path


# --- devices and FIFOs --------------------------------------------------------------


def device(name: str) -> Callable[[Path], Path]:
    """``name`` in the folder, a symbolic link to ``/dev/zero`` (endless zeros, size 0)."""

    def make(folder: Path) -> Path:
        path = folder / name
        path.symlink_to("/dev/zero")
        return path

    return make


def fifo(name: str) -> Callable[[Path], Path]:
    """``name`` in the folder, a FIFO nothing ever writes to."""

    def make(folder: Path) -> Path:
        path = folder / name
        os.mkfifo(path)
        return path

    return make


# --- YAML and JSON documents --------------------------------------------------------


def yaml_huge_integer(folder: Path) -> Path:
    path = folder / "huge-integer.yaml"
    path.write_text(books.applicant_text(beds_or_residents="9" * 5_000), encoding="utf-8")
    return path


def yaml_deep_nesting(folder: Path) -> Path:
    path = folder / "deep.yaml"
    depth = 20_000
    text = books.applicant_text(answered_by="[" * depth + "x" + "]" * depth)
    path.write_text(text, encoding="utf-8")
    return path


def yaml_aliases(folder: Path) -> Path:
    """A billion-laughs document: nine levels of aliases, each repeating the one before."""
    lines = ['laugh0: &laugh0 "lol"']
    for level in range(1, 10):
        lines.append(f"laugh{level}: &laugh{level} [{', '.join([f'*laugh{level - 1}'] * 10)}]")
    path = folder / "aliases.yaml"
    path.write_text(books.applicant_text() + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def json_deep_nesting(folder: Path) -> Path:
    path = folder / "deep.json"
    depth = 100_000
    path.write_text('{"answers": ' + "[" * depth + "]" * depth + "}", encoding="utf-8")
    return path


# --- CSV ----------------------------------------------------------------------------


LONG_NAME = 70_000
"""Characters in the name of the last column of ``long-header.csv``."""


def csv_long_header(folder: Path) -> Path:
    """The book's 91 columns, then one named with 70,000 characters: a 71 KB header."""
    path = folder / "long-header.csv"
    table = [[*books.header(), "n" * LONG_NAME], *[[*row, ""] for row in books.rows(3)]]
    path.write_text(books.csv_text(table), encoding="utf-8")
    return path


def csv_many_columns(folder: Path) -> Path:
    """The book's 91 columns, then x1 ... x12000: an 83 KB header whose names, cut short,
    would repeat earlier ones (x1234 cut to x123)."""
    path = folder / "many-columns.csv"
    extra = [f"x{i}" for i in range(1, 12_001)]
    table = [[*books.header(), *extra], *[[*row, *[""] * len(extra)] for row in books.rows(3)]]
    path.write_text(books.csv_text(table), encoding="utf-8")
    return path


def csv_long_line(folder: Path) -> Path:
    """A facility whose name is 70 MB long: one line longer than any block read at once."""
    path = folder / "long-line.csv"
    first, second = books.rows(2)
    marker = "LONG-NAME-HERE"
    line = books.csv_text([books.with_cell(second, "facility_name", marker)])
    before, after = line.split(marker)
    with path.open("w", encoding="utf-8") as book:
        book.write(books.csv_text([books.header(), first]))
        book.write(before)
        block = "y" * (1024 * 1024)
        for _ in range(70):
            book.write(block)
        book.write(after)
    return path


def csv_book_with_name(name: str) -> Callable[[Path], Path]:
    """A valid three-facility book whose first facility is called ``name``."""

    def make(folder: Path) -> Path:
        first, *rest = books.rows(3)
        table = [books.header(), books.with_cell(first, "facility_name", name), *rest]
        path = folder / "named.csv"
        path.write_text(books.csv_text(table), encoding="utf-8")
        return path

    return make


def applicant_named(name: str) -> Callable[[Path], Path]:
    """The bundled imaging-centre applicant, called ``name`` (quoted as YAML)."""

    def make(folder: Path) -> Path:
        path = folder / "named.yaml"
        quoted = "'" + name.replace("'", "''") + "'"
        path.write_text(books.applicant_text(facility_name=quoted), encoding="utf-8")
        return path

    return make
