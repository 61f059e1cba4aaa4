"""Reading XLSX workbooks of responses within the budget.

A workbook is a zip of XML parts, and both can be made to explode: a part that
decompresses to gigabytes, a shared-strings part of tens of millions of entries
(each held in memory), XML entities that expand, a sheet declaring sixteen
thousand columns by a million rows around one far cell. Before openpyxl opens a
workbook, its parts are counted and their decompressed sizes checked (the zip
reader never gives more bytes than a part declares, so the declared sizes bound
what is read), and the shared strings are counted as they are decompressed.
openpyxl parses with defusedxml (no DTDs, no entities). The rows are then read
from the sheet's own records, cell by cell, so that a sheet's stated dimensions
or a far cell never make empty cells to pad: cells beyond the header's width are
checked for values without being built. Rows are numbered as the sheet numbers
them, blank rows included.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa

from scoring._files import open_regular
from scoring.budget import Budget, mebibytes
from scoring.errors import InputError, Issue
from scoring.responses._table import check_header
from scoring.vocabulary import Reason

_SHARED_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")
_CELL_STARTS = (b"<c ", b"<c>", b"<c/>", b":c ")
_CELLS_PER_ROW = 16_384
"""Excel's own limit; openpyxl builds every cell of a row at once, so a row of millions
of cells (a few kilobytes compressed) is refused before it is parsed."""
_SHARED_STRINGS_TYPE = "sharedStrings"


def _fail(source: str, reason: Reason, message: str, **context: Any) -> InputError:
    return InputError([Issue(reason=reason, message=message, source=source, **context)])


def _unreadable(source: str, exc: BaseException) -> InputError:
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return _fail(
        source,
        Reason.UNREADABLE_FILE,
        f"not a readable XLSX workbook ({type(exc).__name__}{': ' + detail if detail else ''})",
    )


def _check_part(part: zipfile.ZipInfo, limit: int, source: str, budget: Budget) -> None:
    if part.file_size > limit:
        raise _fail(
            source,
            Reason.TOO_LARGE,
            f"the workbook part {part.filename!r} decompresses to {part.file_size:,} bytes; "
            f"at most {mebibytes(limit)} are accepted",
        )
    ratio = budget.xlsx_inflate_ratio
    if part.file_size > budget.xlsx_ratio_grace_bytes and part.file_size > ratio * max(
        part.compress_size, 1
    ):
        raise _fail(
            source,
            Reason.TOO_LARGE,
            f"the workbook part {part.filename!r} decompresses to {part.file_size:,} bytes "
            f"from {part.compress_size:,}: more than {ratio} times its compressed size, as a "
            "zip bomb does (a real workbook's parts compress 5 to 20 times)",
        )


def _check_parts(archive: zipfile.ZipFile, strings: set[str], source: str, budget: Budget) -> None:
    """Refuse parts that decompress to more than the budget (the zip reader never gives
    more bytes than a part declares, so the declared sizes bound what is read)."""
    total = 0
    for part in archive.infolist():
        total += part.file_size
        if part.filename in strings:
            limit = budget.xlsx_shared_strings_bytes
        elif part.filename.startswith("xl/worksheets/"):
            limit = budget.xlsx_sheet_bytes
        else:
            limit = budget.xlsx_part_bytes
        _check_part(part, limit, source, budget)
    if total > budget.xlsx_total_bytes:
        raise _fail(
            source,
            Reason.TOO_LARGE,
            f"the workbook decompresses to {total:,} bytes; at most "
            f"{mebibytes(budget.xlsx_total_bytes)} are accepted",
        )


def _shared_strings_parts(archive: zipfile.ZipFile) -> set[str]:
    """The parts that may hold shared strings: by content type, and by the usual name."""
    from defusedxml.ElementTree import fromstring

    names = {part.filename for part in archive.infolist()}
    found = {name for name in names if name.lower().endswith("sharedstrings.xml")}
    if "[Content_Types].xml" in names:
        types = fromstring(archive.read("[Content_Types].xml"))  # its size is checked first
        for element in types.iter():
            if _SHARED_STRINGS_TYPE in (element.get("ContentType") or ""):
                found.add((element.get("PartName") or "").lstrip("/"))
    return found & names


def _count_shared_strings(archive: zipfile.ZipFile, name: str, source: str, budget: Budget) -> None:
    """Count a shared-strings part's entries as it decompresses; refuse too many."""
    count = 0
    tail = b""
    with archive.open(name) as part:
        for block in iter(lambda: part.read(1 << 20), b""):
            data = tail + block
            count += len(_SHARED_STRING.findall(data))
            tail = data[-16:]
            count -= len(_SHARED_STRING.findall(tail))  # counted again with the next block
            if count > budget.xlsx_shared_strings:
                raise _fail(
                    source,
                    Reason.TOO_LARGE,
                    f"the workbook's shared strings hold more than "
                    f"{budget.xlsx_shared_strings:,} entries, the most accepted",
                )


def _count_row_cells(archive: zipfile.ZipFile, name: str, source: str) -> None:
    """Refuse a worksheet with a row of more than Excel's 16,384 cells, counted as the
    part decompresses (never parsed)."""
    current = 0
    tail = b""
    with archive.open(name) as part:
        for block in iter(lambda: part.read(1 << 20), b""):
            data = tail + block
            cut = max(data.rfind(b"<"), 0)  # a tag cut by the block is counted with the next
            data, tail = data[:cut], data[cut:]
            prefixed = b"<row" not in data and b":row" in data  # <x:row> in a prefixed sheet
            pieces = data.split(b":row" if prefixed else b"<row")
            for index, piece in enumerate(pieces):
                if index:
                    current = 0
                current += sum(piece.count(start) for start in _CELL_STARTS)
                if current > _CELLS_PER_ROW:
                    raise _fail(
                        source,
                        Reason.TOO_LARGE,
                        f"a row of the sheet {name!r} holds more than {_CELLS_PER_ROW:,} cells, "
                        "Excel's limit",
                    )


def inspect_workbook(handle: IO[bytes], source: str, budget: Budget) -> None:
    """Check a workbook's parts against the budget before it is parsed."""
    try:
        with zipfile.ZipFile(handle) as archive:
            parts = archive.infolist()
            if len(parts) > budget.xlsx_parts:
                raise _fail(
                    source,
                    Reason.TOO_LARGE,
                    f"the workbook holds {len(parts):,} parts; at most {budget.xlsx_parts:,} "
                    "are accepted",
                )
            for part in parts:
                if part.filename == "[Content_Types].xml":
                    _check_part(part, budget.xlsx_part_bytes, source, budget)
            strings = _shared_strings_parts(archive)
            _check_parts(archive, strings, source, budget)
            for name in sorted(strings):
                _count_shared_strings(archive, name, source, budget)
            for part in parts:
                if part.filename.startswith("xl/worksheets/") and part.filename not in strings:
                    _count_row_cells(archive, part.filename, source)
    except InputError:
        raise
    except Exception as exc:  # anything a damaged zip or XML part raises is the file's fault
        raise _unreadable(source, exc) from exc


def xlsx_chunks(
    path: Path, rows: int, columns: tuple[str, ...], budget: Budget, max_bytes: int
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """The ``responses`` sheet (else the first) in tables of ``rows`` rows of text, each
    with its rows' numbers as the sheet shows them (blank rows skipped)."""
    import openpyxl  # imported here: only spreadsheet users pay for it

    source = str(path)
    with open_regular(path, max_bytes=max_bytes) as handle:
        inspect_workbook(handle, source, budget)
        handle.seek(0)
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=False)
        except Exception as exc:  # damaged zip, XML or workbook part: the file's fault
            raise _unreadable(source, exc) from exc
        try:
            yield from _sheet_chunks(workbook, source, rows, columns, budget)
        finally:
            workbook.close()


def _sheet(workbook: Any, source: str) -> Any:
    """The sheet named ``responses``, else the first."""
    try:
        names = workbook.sheetnames
        return workbook["responses"] if "responses" in names else workbook.worksheets[0]
    except IndexError as exc:
        raise _fail(source, Reason.EMPTY_FILE, "the workbook has no sheet") from exc
    except Exception as exc:  # a damaged workbook part: the file's fault
        raise _unreadable(source, exc) from exc


def _records(workbook: Any, sheet: Any, source: str) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """The sheet's rows as its XML records them: (row number, cells present)."""
    from openpyxl.worksheet._reader import WorkSheetParser

    try:
        with sheet._get_source() as src:
            parser = WorkSheetParser(
                src,
                sheet._shared_strings,
                data_only=False,
                epoch=workbook.epoch,
                date_formats=workbook._date_formats,
                timedelta_formats=workbook._timedelta_formats,
            )
            yield from parser.parse()
    except InputError:
        raise
    except Exception as exc:  # malformed or truncated sheet XML: the file's fault
        raise _unreadable(source, exc) from exc


def _sheet_chunks(
    workbook: Any, source: str, rows: int, columns: tuple[str, ...], budget: Budget
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    from openpyxl.cell.read_only import ReadOnlyCell

    sheet = _sheet(workbook, source)
    records = _records(workbook, sheet, source)
    header_row = next(records, None)
    if header_row is None:
        raise _fail(source, Reason.EMPTY_FILE, "the sheet is empty")
    named = {
        cell["column"]: str(cell["value"]).strip()
        for cell in header_row[1]
        if cell["value"] is not None and str(cell["value"]).strip()
    }
    width = max(named, default=0)
    if width > budget.columns:
        raise _fail(
            source,
            Reason.TOO_LARGE,
            f"the header has {width:,} columns; at most {budget.columns:,} are accepted",
        )
    header = [named.get(index, "") for index in range(1, width + 1)]
    check_header(header, source, budget)
    chosen = [header.index(c) for c in columns if c in header] or list(range(width))
    cells_of: list[list[str | None]] = [[] for _ in header]
    numbers: list[int] = []
    for number, cells in records:
        values: list[str | None] = [None] * width
        blank = True
        for cell in cells:
            column = cell["column"]
            if cell["value"] is None:
                continue
            try:
                text = excel_text(ReadOnlyCell(sheet, **cell))
            except Exception as exc:  # e.g. a style the workbook does not hold
                raise _unreadable(source, exc) from exc
            if text is None:
                continue
            if column > width:
                if text.strip():
                    raise _fail(
                        source,
                        Reason.UNREADABLE_FILE,
                        "a row has cells beyond the last named column",
                        row=number,
                    )
                continue
            if len(text) > budget.cell_chars:
                raise _fail(
                    source,
                    Reason.TOO_LARGE,
                    f"a cell holds {len(text):,} characters; at most {budget.cell_chars:,} "
                    "are accepted",
                    row=number,
                    question_id=header[column - 1],
                )
            values[column - 1] = text
            blank = blank and not text.strip()
        if blank:
            continue  # Excel leaves formatted but empty rows behind
        for index in range(width):
            cells_of[index].append(values[index])
        numbers.append(number)
        if len(numbers) == rows:
            yield _table(header, cells_of, chosen), np.array(numbers, dtype=np.int64)
            cells_of, numbers = [[] for _ in header], []
    if numbers:
        yield _table(header, cells_of, chosen), np.array(numbers, dtype=np.int64)


def excel_text(cell: Any) -> str | None:
    """A cell as text: dates as ``YYYY-MM-DD``, percent-formatted numbers as they
    show (0.85 formatted ``0%`` is ``85%``), formulas as their text (never evaluated)."""
    value = cell.value
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float):
        percent = "%" in (cell.number_format or "")
        if percent:
            value = round(value * 100, 10)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = repr(value) if isinstance(value, float) else str(value)
        return text + "%" if percent else text
    return str(value)


def _table(header: list[str], columns: list[list[str | None]], chosen: list[int]) -> pa.Table:
    return pa.table({header[i]: pa.array(columns[i], pa.string()) for i in chosen})
