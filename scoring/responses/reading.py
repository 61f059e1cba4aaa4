"""Reading responses from the files people really have, into raw text columns.

* one facility: a YAML or JSON document (answers keyed by question id);
* many facilities: CSV, XLSX or Parquet, one row per facility, one column per
  question id (multiple choice as ``a;b``).

Every cell becomes text (or null for an empty cell) so that one set of coercion
rules (:mod:`scoring.responses.coercion`) applies whatever the file format; the
only format-specific steps are documented here: Excel date cells become
``YYYY-MM-DD``, Excel percent-formatted cells are multiplied by 100, Excel
formulas are read as their text (never evaluated), and YAML/JSON booleans,
numbers and lists are written as text (``true``, ``12``, ``a;b``).

Every reader reads only regular files and stays within the budget
(:mod:`scoring.budget`), which each takes as a ``budget`` keyword. Rows are
numbered as a spreadsheet shows them: a blank row (every cell empty, or a blank
line of a CSV) is skipped, not refused, and keeps its number, so the rows after it
keep theirs (``RawResponses.rows``). XLSX workbooks are read by
:mod:`scoring.responses.workbook`.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scoring._arrow import single
from scoring._files import (
    decode_text,
    open_regular,
    parse_json,
    parse_yaml,
    read_bytes,
    regular_file_size,
)
from scoring.budget import BUDGET, Budget, mebibytes
from scoring.errors import InputError, Issue
from scoring.responses._table import too_many_rows
from scoring.responses.csv_file import csv_chunks
from scoring.responses.parquet_file import as_text_columns as as_text_columns
from scoring.responses.parquet_file import parquet_chunks
from scoring.responses.workbook import xlsx_chunks
from scoring.vocabulary import Reason

METADATA_COLUMNS = (
    "facility_id",
    "facility_name",
    "questionnaire",
    "questionnaire_version",
    "assessed_on",
    "answered_by",
)
"""Columns (and document keys) that describe the response rather than answer a question."""

DOCUMENT_KEYS = (*METADATA_COLUMNS, "answers")
MAX_TABLE_BYTES = BUDGET.book_bytes
MAX_RESPONSE_BYTES = BUDGET.document_bytes


@dataclass(frozen=True)
class RawResponses:
    """Responses as read: one text column per file column, before any rule.

    ``first_row`` is the row number of the first record as a user sees it
    (2 under a CSV/XLSX header, 1 in Parquet) or ``None`` for a one-facility file.
    ``rows``, when given, holds every record's row number (blank rows of a
    spreadsheet are skipped but keep their numbers, so the records after them are
    not numbered one after another); otherwise they run on from ``first_row``.
    """

    table: pa.Table
    source: str
    first_row: int | None
    rows: np.ndarray | None = field(default=None, compare=False)

    @property
    def is_table(self) -> bool:
        return self.first_row is not None

    def row_numbers(self) -> list[int | None]:
        if self.first_row is None:
            return [None] * self.table.num_rows
        if self.rows is not None:
            return [int(row) for row in self.rows]
        return list(range(self.first_row, self.first_row + self.table.num_rows))


def _fail(source: str, reason: Reason, message: str, **context: Any) -> InputError:
    return InputError([Issue(reason=reason, message=message, source=source, **context)])


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest valid name to a misspelt one, if any is close enough."""
    matches = difflib.get_close_matches(name.strip().lower(), list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


# --- one facility --------------------------------------------------------------------------


def _as_text(value: Any, key: str, source: str, issues: list[Issue]) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):  # YAML reads an unquoted yes/no as a boolean
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # e.g. a lone "\ud800" escape in JSON
            issues.append(
                Issue(
                    Reason.UNREADABLE_FILE,
                    "not valid text (it holds an unpaired surrogate character)",
                    source=source,
                    question_id=key,
                    value=value.encode("utf-8", "replace").decode()[:100],
                )
            )
            return None
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list):
        parts = [_as_text(item, key, source, issues) for item in value]
        if any(isinstance(item, list | dict) for item in value) or any(
            p is not None and ";" in p for p in parts
        ):
            issues.append(
                Issue(
                    Reason.NOT_A_CHOICE,
                    "a list must hold plain choice codes",
                    source=source,
                    question_id=key,
                    value=repr(value)[:100],
                )
            )
            return None
        return ";".join(p for p in parts if p is not None)
    issues.append(
        Issue(
            Reason.NOT_A_CHOICE,
            f"expected a single value or a list of codes, got a {type(value).__name__}",
            source=source,
            question_id=key,
            value=repr(value)[:100],
        )
    )
    return None


def response_from_mapping(document: Any, source: str = "<response>") -> RawResponses:
    """One facility's response from a parsed YAML/JSON document (or a web form's dict).

    The document holds ``questionnaire``, ``questionnaire_version``, optional
    ``facility_id``, ``facility_name``, ``assessed_on``, ``answered_by``, and
    ``answers``: a mapping from question id to answer. A question left out of
    ``answers`` is unanswered.
    """
    if not isinstance(document, Mapping):
        raise _fail(
            source,
            Reason.UNREADABLE_FILE,
            "expected a mapping with 'questionnaire', 'questionnaire_version' and "
            f"'answers'; got a {type(document).__name__}",
        )
    issues: list[Issue] = []
    for key in document:
        if not isinstance(key, str) or key not in DOCUMENT_KEYS:
            hint = suggest(str(key), DOCUMENT_KEYS)
            issues.append(
                Issue(
                    Reason.UNKNOWN_COLUMN,
                    f"unknown key {str(key)!r}" + (f"; did you mean {hint!r}?" if hint else ""),
                    source=source,
                    allowed=", ".join(DOCUMENT_KEYS),
                )
            )
    answers = document.get("answers")
    if answers is None:
        answers = {}
    if not isinstance(answers, Mapping):
        issues.append(
            Issue(
                Reason.UNREADABLE_FILE,
                "'answers' must be a mapping from question id to answer",
                source=source,
            )
        )
        answers = {}
    columns: dict[str, str | None] = {}
    for key in METADATA_COLUMNS:
        if key in document:
            columns[key] = _as_text(document[key], key, source, issues)
    for key, value in answers.items():
        name = str(key)
        if name in columns:
            issues.append(
                Issue(Reason.DUPLICATE_COLUMN, "answered twice", source=source, question_id=name)
            )
            continue
        columns[name] = _as_text(value, name, source, issues)
    if issues:
        raise InputError(issues)
    columns.setdefault("facility_id", None)  # a table of one row, even with nothing answered
    table = pa.table({name: pa.array([value], pa.string()) for name, value in columns.items()})
    return RawResponses(table=table, source=source, first_row=None)


def read_response(path: Path, *, budget: Budget = BUDGET) -> RawResponses:
    """Read one facility's response from a YAML (``.yaml``, ``.yml``) or JSON file."""
    source = str(path)
    text = decode_text(read_bytes(path, max_bytes=budget.document_bytes), source)
    document = (
        parse_json(text, source) if path.suffix.lower() == ".json" else parse_yaml(text, source)
    )
    return response_from_mapping(document, source)


# --- many facilities -----------------------------------------------------------------------


def _check_whole_size(path: Path, budget: Budget) -> None:
    """Refuse a table too large to hold whole, pointing to the chunked reading."""
    size = regular_file_size(path)
    if size > budget.whole_table_bytes:
        raise _fail(
            str(path),
            Reason.TOO_LARGE,
            f"the file is {size:,} bytes; at most {mebibytes(budget.whole_table_bytes)} are "
            "read at once; `carescore batch` reads books of any size in chunks",
        )


def _whole(
    chunks: Iterator[tuple[pa.Table, np.ndarray]], source: str, first_row: int, budget: Budget
) -> RawResponses:
    """A table read in chunks, held whole (within the budget's rows)."""
    tables: list[pa.Table] = []
    numbers: list[np.ndarray] = []
    for table, rows in chunks:
        if table.num_rows:
            tables.append(table)
            numbers.append(rows)
        if sum(t.num_rows for t in tables) > budget.whole_table_rows:
            raise too_many_rows(source, budget)
    if not tables:
        raise _fail(source, Reason.EMPTY_FILE, "no facility rows under the header")
    return _raw(pa.concat_tables(tables), source, first_row, np.concatenate(numbers))


def _raw(table: pa.Table, source: str, first_row: int, rows: np.ndarray) -> RawResponses:
    """Responses numbered by ``rows``, kept only when they do not run on from ``first_row``."""
    runs_on = not rows.size or (rows[0] == first_row and rows[-1] - rows[0] == rows.size - 1)
    if rows.size and not runs_on and rows[0] == first_row:
        runs_on = bool((np.diff(rows) == 1).all())
    return RawResponses(
        table=table,
        source=source,
        first_row=int(rows[0]) if rows.size else first_row,
        rows=None if runs_on else rows,
    )


def read_csv(path: Path, *, budget: Budget = BUDGET) -> RawResponses:
    """Read a CSV of responses (UTF-8, optional BOM, comma-separated, quoted cells).

    Blank lines are skipped and keep their row numbers. At most
    ``budget.whole_table_bytes`` bytes and ``budget.whole_table_rows`` rows are read.
    """
    source = str(path)
    _check_whole_size(path, budget)
    chunks = csv_chunks(path, budget.whole_table_rows + 1, (), budget, budget.whole_table_bytes)
    return _whole(chunks, source, 2, budget)


def _iter_csv(
    path: Path, rows: int, columns: tuple[str, ...] = (), budget: Budget = BUDGET
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    return csv_chunks(path, rows, columns, budget, budget.book_bytes)


def read_xlsx(path: Path, *, budget: Budget = BUDGET) -> RawResponses:
    """Read an XLSX workbook: the sheet named ``responses``, else the first sheet.

    Empty rows are skipped and keep their row numbers. At most
    ``budget.whole_table_bytes`` bytes and ``budget.whole_table_rows`` rows are read.
    """
    _check_whole_size(path, budget)
    chunks = xlsx_chunks(path, budget.whole_table_rows + 1, (), budget, budget.whole_table_bytes)
    return _whole(chunks, str(path), 2, budget)


def _iter_xlsx(
    path: Path, rows: int, columns: tuple[str, ...] = (), budget: Budget = BUDGET
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    return xlsx_chunks(path, rows, columns, budget, budget.book_bytes)


def _iter_parquet(
    path: Path, rows: int, columns: tuple[str, ...] = (), budget: Budget = BUDGET
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    return parquet_chunks(path, rows, columns, budget, whole=False)


def read_parquet(path: Path, *, budget: Budget = BUDGET) -> RawResponses:
    """Read a Parquet file of responses; typed columns are written as text first.

    Row groups are checked against the budget before they are decoded; at most
    ``budget.whole_table_bytes`` bytes and ``budget.whole_table_rows`` rows are read.
    """
    _check_whole_size(path, budget)
    chunks = parquet_chunks(path, min(budget.whole_table_rows + 1, 1 << 16), (), budget, whole=True)
    source = str(path)
    tables: list[pa.Table] = []
    for table, _ in chunks:
        tables.append(table)
    if not tables:
        raise _fail(source, Reason.EMPTY_FILE, "no facility rows")
    return RawResponses(table=pa.concat_tables(tables), source=source, first_row=1)


_TABLE_READERS = {
    ".csv": read_csv,
    ".xlsx": read_xlsx,
    ".parquet": read_parquet,
    ".pq": read_parquet,
}
_DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")
SUPPORTED_SUFFIXES = (*_DOCUMENT_SUFFIXES, *_TABLE_READERS)


_CHUNKED_READERS = {
    ".csv": (_iter_csv, 2),
    ".xlsx": (_iter_xlsx, 2),
    ".parquet": (_iter_parquet, 1),
    ".pq": (_iter_parquet, 1),
}


def count_rows(path: Path) -> int | None:
    """About how many rows a table holds, read cheaply (for progress bars), or None.

    Parquet and XLSX state it; for a CSV, line breaks are counted (a cell holding a
    line break makes this an overestimate). None too for anything but a regular file
    (a pipe or a device is never opened here).
    """
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            with open_regular(path) as handle:
                return int(pq.ParquetFile(handle).metadata.num_rows)
        if suffix == ".csv":
            lines = 0
            with open_regular(path) as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    lines += block.count(b"\n")
            return max(lines - 1, 0)
    except (OSError, pa.ArrowException, InputError):
        return None
    return None


def repeated_facility_ids(path: Path, rows: int) -> frozenset[str]:
    """Facility ids that occur on more than one row of a table read in chunks.

    Ids are compared as validation compares them (trimmed; blank ones are not ids).
    The first pass keeps a 64-bit hash of each id (:func:`id_hashes`), not the id, so
    memory grows by 8 bytes a row; only ids whose hash repeats are read again and
    compared as text.
    """
    hashes = [id_hashes(ids) for ids in _facility_ids(path, rows)]
    if not hashes:
        return frozenset()
    shared = _repeats(np.concatenate(hashes))
    if not shared.size:
        return frozenset()
    seen: set[str] = set()
    repeated: set[str] = set()
    for _, text in _ids_hashed_as(path, rows, shared):
        if text in seen:
            repeated.add(text)
        seen.add(text)
    return frozenset(repeated)


def chunk_id_hashes(table: pa.Table) -> np.ndarray:
    """The distinct hashes (:func:`id_hashes`) of a chunk's facility ids, as validation
    reads the ids (trimmed; blank ones are not ids)."""
    return np.unique(id_hashes(facility_ids(table)))


def ids_across_chunks(
    path: Path, rows: int, hashes: list[np.ndarray]
) -> dict[str, tuple[int, ...]]:
    """Facility ids found in more than one chunk of ``rows`` rows, with the chunks
    (numbered from 0) each is in.

    ``hashes`` holds each chunk's :func:`chunk_id_hashes`, taken as the book was read,
    so a book with no id in two chunks is not read again; otherwise only the facility
    ids are read again and the ids whose hashes are shared are compared as text.
    """
    shared = _repeats(np.concatenate(hashes)) if hashes else np.empty(0, np.uint64)
    if not shared.size:
        return {}
    chunks_of: dict[str, set[int]] = {}
    for index, text in _ids_hashed_as(path, rows, shared, hashes):
        chunks_of.setdefault(text, set()).add(index)
    return {text: tuple(sorted(c)) for text, c in chunks_of.items() if len(c) > 1}


def _ids_hashed_as(
    path: Path, rows: int, shared: np.ndarray, hashes: list[np.ndarray] | None = None
) -> Iterator[tuple[int, str]]:
    """The facility ids whose hashes are among ``shared``, read again, each with its
    chunk; the chunks whose ``hashes`` (when known) hold none of them are skipped."""
    for index, ids in enumerate(_facility_ids(path, rows)):
        if hashes is not None and not np.isin(hashes[index], shared).any():
            continue
        for text in ids.filter(pa.array(np.isin(id_hashes(ids), shared))).to_pylist():
            yield index, text


def _repeats(hashes: np.ndarray) -> np.ndarray:
    """The values found more than once in an array, sorted."""
    ordered = np.sort(hashes)
    return np.unique(ordered[1:][ordered[1:] == ordered[:-1]])


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def id_hashes(ids: pa.Array) -> np.ndarray:
    """The 64-bit FNV-1a hash of each text's UTF-8 bytes (uint64), worked out on the
    array's buffers a byte position at a time, for all texts at once."""
    ids = ids.cast(pa.large_string())
    _, offset_buffer, data_buffer = ids.buffers()
    hashes = np.full(len(ids), _FNV_OFFSET, dtype=np.uint64)
    if not len(ids) or data_buffer is None:
        return hashes
    offsets = np.frombuffer(offset_buffer, np.int64, len(ids) + 1, ids.offset * 8)
    data = np.frombuffer(data_buffer, np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    alive = np.flatnonzero(lengths)  # texts with a byte at the position
    position = 0
    while alive.size:
        byte = data[starts[alive] + position].astype(np.uint64)
        hashes[alive] = (hashes[alive] ^ byte) * _FNV_PRIME  # wraps around, as FNV does
        position += 1
        alive = alive[lengths[alive] > position]
    return hashes


def facility_ids(table: pa.Table) -> pa.Array:
    """A chunk's trimmed, non-blank facility ids, as validation reads them."""
    if "facility_id" not in table.column_names:
        return pa.array([], pa.string())
    text = pc.utf8_trim_whitespace(single(table.column("facility_id")))
    return pc.filter(text, pc.fill_null(pc.not_equal(text, ""), False))


def _facility_ids(path: Path, rows: int) -> Iterator[pa.Array]:
    """Each chunk's facility ids (:func:`facility_ids`)."""
    for raw in iter_responses(path, rows, columns=("facility_id",)):
        yield facility_ids(raw.table)


def iter_responses(
    path: Path, rows: int, *, columns: tuple[str, ...] = (), budget: Budget = BUDGET
) -> Iterator[RawResponses]:
    """Read a table of responses (CSV, XLSX, Parquet) in chunks of ``rows`` rows.

    Memory stays bounded by the chunk size whatever the file's number of rows (up
    to ``budget.book_bytes`` bytes). Rows are numbered as a spreadsheet shows them,
    across chunks, blank rows included (they are skipped), so every issue names the
    row a user sees. The same checks as :func:`read_responses` apply; an empty table
    raises ``InputError``. ``columns`` keeps only those columns (all when empty).
    """
    suffix = path.suffix.lower()
    if suffix not in _CHUNKED_READERS:
        raise _fail(
            str(path),
            Reason.UNREADABLE_FILE,
            f"unsupported file type {suffix or '(none)'!r} for a book",
            allowed=", ".join(_CHUNKED_READERS),
        )
    reader, first_row = _CHUNKED_READERS[suffix]
    seen = 0
    for table, numbers in reader(path, rows, columns, budget):
        yield _raw(table, str(path), first_row + seen, numbers)
        seen += table.num_rows
    if seen == 0:
        raise _fail(str(path), Reason.EMPTY_FILE, "no facility rows")


def read_responses(path: Path, *, budget: Budget = BUDGET) -> RawResponses:
    """Read any supported response file, choosing the reader by file extension.

    A table is held whole, so at most ``budget.whole_table_rows`` rows are read
    (:func:`iter_responses` reads books of any size in chunks).
    """
    suffix = path.suffix.lower()
    if suffix in _DOCUMENT_SUFFIXES:
        return read_response(path, budget=budget)
    reader = _TABLE_READERS.get(suffix)
    if reader is None:
        raise _fail(
            str(path),
            Reason.UNREADABLE_FILE,
            f"unsupported file type {suffix or '(none)'!r}",
            allowed=", ".join(SUPPORTED_SUFFIXES),
        )
    return reader(path, budget=budget)
