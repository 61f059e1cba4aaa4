"""The resource budget: how much of each kind of input carescore agrees to read.

Every figure is declared here, once, and checked while a file is read (bytes
actually read and decompressed are counted as they arrive; a file's stated size
is never trusted alone). Together they keep any input, of any format, under
about 2 GB of memory and its reading time in proportion to its size.

Readers take a ``budget`` keyword (default :data:`BUDGET`), so a caller (or a
test) may lower a figure; raising one is at the caller's own risk.

Measured on the bundled questionnaire (85 questions, a CSV row of synthetic
answers is about 750 bytes): validating a table held whole peaks at 615 MB for
100,000 rows and 960 MB for 250,000 (3 to 4.4 KB a row over about 180 MB for
the program itself). ``carescore batch`` reads a book in chunks and streams
books of any number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

_KIB = 1024
_MIB = 1024 * _KIB
_GIB = 1024 * _MIB


@dataclass(frozen=True)
class Budget:
    """Limits on what is read from outside; every figure is checked while reading."""

    document_bytes: int = 10 * _MIB
    """Largest one-facility response, questionnaire, rating plan or model file (YAML/JSON)."""

    book_bytes: int = 4 * _GIB
    """Largest table file (CSV, XLSX, Parquet) read in chunks (``carescore batch``)."""

    whole_table_bytes: int = 256 * _MIB
    """Largest table file read whole (``validate``, ``score --facility``, ``compare``)."""

    whole_table_rows: int = 250_000
    """Most rows of a table read whole (validating 250,000 peaks under 1 GB)."""

    columns: int = 4_096
    """Most columns of a table (the questionnaire has fewer than a hundred)."""

    header_bytes: int = 1 * _MIB
    """Longest CSV header line, in bytes."""

    row_bytes: int = 64 * _MIB
    """Longest CSV row, in bytes (a row is parsed whole)."""

    cell_chars: int = 32_767
    """Longest cell, in characters (Excel's own limit)."""

    xlsx_parts: int = 1_000
    """Most parts (files inside the zip) of an XLSX workbook."""

    xlsx_part_bytes: int = 32 * _MIB
    """Largest decompressed XLSX part other than a worksheet or the shared strings (such
    parts, styles for instance, are parsed whole into objects several times larger)."""

    xlsx_shared_strings_bytes: int = 256 * _MIB
    """Largest decompressed XLSX shared-strings part (held in memory as text)."""

    xlsx_sheet_bytes: int = 4 * _GIB
    """Largest decompressed worksheet part (streamed, never held whole)."""

    xlsx_total_bytes: int = 8 * _GIB
    """Largest decompressed size of all of a workbook's parts together."""

    xlsx_inflate_ratio: int = 100
    """Most times its compressed size an XLSX part larger than ``xlsx_ratio_grace_bytes``
    may decompress to (Apache POI's zip-bomb guard: 1 %). Real workbooks' XML compresses
    5 to 20 times (15 for 25,000 rows of which 20,000 are the same row); a bomb of blanks,
    a thousand times. So no workbook is read for longer than its size justifies."""

    xlsx_ratio_grace_bytes: int = 1 * _MIB
    """Parts decompressing to at most this are not held to ``xlsx_inflate_ratio``."""

    xlsx_shared_strings: int = 2_000_000
    """Most entries in an XLSX shared-strings part (each held in memory, ~100 bytes)."""

    parquet_row_group_bytes: int = 512 * _MIB
    """Largest decompressed Parquet row group."""

    parquet_row_group_rows: int = 2_000_000
    """Most rows in one Parquet row group."""

    def __post_init__(self) -> None:
        for figure in fields(self):
            value = getattr(self, figure.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{figure.name} must be a positive whole number; got {value!r}")


BUDGET = Budget()
"""The budget every reader uses unless given another."""


def mebibytes(size: int) -> str:
    """A byte count in the units the budget's messages use, e.g. ``'64 MB'``."""
    if size >= _GIB and size % _GIB == 0:
        return f"{size // _GIB} GB"
    if size >= _MIB:
        return f"{size / _MIB:,.0f} MB"
    if size >= _KIB:
        return f"{size / _KIB:,.0f} KB"
    return f"{size:,} bytes"
