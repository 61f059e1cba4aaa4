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

import csv
import datetime as dt
import difflib
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
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
_CSV_SMALL_BLOCK = 1024 * 1024
"""A CSV is read in small blocks first (they stream several times faster); a row longer
than a block cannot be parsed, so a file with one is read again in blocks of the
budget's longest row."""
_HEAD_BYTES = 64 * 1024


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


def check_header(names: list[str], source: str, budget: Budget = BUDGET) -> None:
    """Refuse a header of too many columns, unnamed columns or a name given twice."""
    if len(names) > budget.columns:
        raise _fail(
            source,
            Reason.TOO_LARGE,
            f"the header has {len(names):,} columns; at most {budget.columns:,} are accepted",
        )
    issues = []
    seen: set[str] = set()
    for index, name in enumerate(names, start=1):
        if not name.strip():
            issues.append(
                Issue(Reason.UNKNOWN_COLUMN, f"column {index} has no name", source=source)
            )
        elif name in seen:
            issues.append(
                Issue(
                    Reason.DUPLICATE_COLUMN,
                    f"column {name!r} appears more than once",
                    source=source,
                    question_id=name,
                )
            )
        seen.add(name)
    if issues:
        raise InputError(issues)


def csv_header(path: Path, source: str, budget: Budget, max_bytes: int) -> list[str]:
    """The header row of a CSV, read whole (or refused as too long) and checked (no
    semicolon or tab files, no duplicate names)."""
    start = read_bytes(path, max_bytes=max_bytes, head=budget.header_bytes + 1)
    reader = csv.reader(io.StringIO(_header_text(start, source, budget)))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise _fail(source, Reason.UNREADABLE_FILE, f"no header row: {exc}") from exc
    header = [name.strip() for name in header]
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        separator = "semicolons" if ";" in header[0] else "tabs"
        raise _fail(
            source,
            Reason.UNREADABLE_FILE,
            f"the header is separated by {separator}; save the file as comma-separated CSV "
            "(multiple-choice answers use ';' inside a cell)",
        )
    check_header(header, source, budget)
    return header


def _header_text(start: bytes, source: str, budget: Budget) -> str:
    """The header line (and, when they fit, a few more) of a CSV's first bytes."""
    if len(start) > budget.header_bytes:
        cut = start.rfind(b"\n", 0, budget.header_bytes)
        if cut < 0:
            raise _fail(
                source,
                Reason.TOO_LARGE,
                f"the header row is longer than {mebibytes(budget.header_bytes)}, the longest "
                "accepted",
            )
        start = start[: cut + 1]  # whole lines only: no cut characters
    return decode_text(start, source)


class _CsvRules:
    """pyarrow's CSV options for response files, and the rows they refused."""

    def __init__(
        self, header: list[str], source: str, block_size: int, *, threads: bool = True
    ) -> None:
        self.source = source
        self.bad_rows: list[Issue] = []
        self.threads = threads
        self.read = pacsv.ReadOptions(
            column_names=header,
            skip_rows=1,
            block_size=block_size,
            encoding="utf8",
            use_threads=threads,  # read on one thread, pyarrow numbers the rows it refuses
        )
        self.parse = pacsv.ParseOptions(
            newlines_in_values=True,
            ignore_empty_lines=False,  # blank lines are read, then skipped, keeping row numbers
            invalid_row_handler=self._invalid_row,
        )
        self.convert = pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
            check_utf8=True,
        )

    def _invalid_row(self, row: Any) -> str:
        self.bad_rows.append(
            Issue(
                Reason.UNREADABLE_FILE,
                f"row has {row.actual_columns} cells; the header has {row.expected_columns}",
                source=self.source,
                row=row.number,
                value=(row.text or "")[:100],
            )
        )
        return "skip"

    def refuse(self, exc: pa.ArrowInvalid, budget: Budget, after: int | None) -> InputError:
        message = str(exc).split("\n")[0]
        if "straddl" in message:
            where = f"a row after row {after}" if after else "a row"
            return _fail(
                self.source,
                Reason.TOO_LARGE,
                f"{where} is longer than {mebibytes(budget.row_bytes)}, the longest row "
                "accepted (is a quote left open?)",
            )
        if "UTF8" in message or "utf8" in message.lower():
            message = "file is not UTF-8 text; save it as UTF-8"
        return _fail(self.source, Reason.UNREADABLE_FILE, f"cannot read CSV: {message}")

    def check(self) -> None:
        if self.bad_rows:
            if self.threads:
                raise _RenumberError
            raise InputError(self.bad_rows)


class _RenumberError(Exception):
    """Rows were refused while reading on several threads, which leaves them unnumbered."""


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


def _too_many_rows(source: str, budget: Budget) -> InputError:
    return _fail(
        source,
        Reason.TOO_LARGE,
        f"the table has more than {budget.whole_table_rows:,} rows, the most read at once; "
        "`carescore batch` reads books of any size in chunks",
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
            raise _too_many_rows(source, budget)
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
    chunks = _csv_chunks(path, budget.whole_table_rows + 1, (), budget, budget.whole_table_bytes)
    return _whole(chunks, source, 2, budget)


def _iter_csv(
    path: Path, rows: int, columns: tuple[str, ...] = (), budget: Budget = BUDGET
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    return _csv_chunks(path, rows, columns, budget, budget.book_bytes)


def _csv_chunks(
    path: Path, rows: int, columns: tuple[str, ...], budget: Budget, max_bytes: int
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """A CSV in tables of ``rows`` rows, each with its rows' numbers (blank lines skipped)."""
    source = str(path)
    header = csv_header(path, source, budget, max_bytes)
    done = 0  # records (blank ones included) under the header already yielded
    wanted = [c for c in columns if c in header]
    narrow = bool(wanted)  # only the wanted columns converted, until a row may be blank
    block_size = min(_CSV_SMALL_BLOCK, budget.row_bytes)
    threads = True
    while True:
        rules = _CsvRules(header, source, block_size, threads=threads)
        if narrow:
            rules.convert.include_columns = wanted
        try:
            with open_regular(path, max_bytes=max_bytes) as handle:
                reader = pacsv.open_csv(
                    handle,
                    read_options=rules.read,
                    parse_options=rules.parse,
                    convert_options=rules.convert,
                )
                numbered = _numbered(_skip(reader, done), done + 2)
                for table, numbers in _rebatch(_without_blank_rows(numbered, narrow), rows):
                    rules.check()
                    yield (table.select(wanted) if wanted and not narrow else table), numbers
                    done = int(numbers[-1]) - 1
                rules.check()
        except _MaybeBlankRowError:
            narrow = False  # the rest with every column, to tell blank rows from the others
            continue
        except _RenumberError:
            threads = False  # the rest again on one thread, to number the refused rows
            continue
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc) and block_size < budget.row_bytes:
                block_size = budget.row_bytes  # a row longer than the block: the rest again
                continue
            raise rules.refuse(exc, budget, done + 1 if done else None) from exc
        return


class _MaybeBlankRowError(Exception):
    """A row whose wanted cells are all empty: only its other cells tell if it is blank."""


def _numbered(
    batches: Iterable[pa.RecordBatch], first: int
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Each batch with the row number of its first record."""
    for batch in batches:
        yield batch, first
        first += batch.num_rows


def _without_blank_rows(
    batches: Iterable[tuple[pa.RecordBatch, int]], narrow: bool
) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """Each batch without its blank rows (every cell empty), with the kept rows' numbers.

    With ``narrow`` (only some of the file's columns read), a row whose cells read
    are all empty raises :class:`_MaybeBlankRowError`.
    """
    for batch, first in batches:
        numbers = np.arange(first, first + batch.num_rows, dtype=np.int64)
        if not batch.num_columns or not batch.num_rows:
            yield batch, numbers
            continue
        maybe = pc.equal(batch.column(0), "")
        if not pc.any(maybe).as_py():  # the usual case: no row starts with an empty cell
            yield batch, numbers
            continue
        blank = np.asarray(maybe.to_numpy(zero_copy_only=False), dtype=bool)
        for column in batch.columns[1:]:
            blank &= np.asarray(pc.equal(column, "").to_numpy(zero_copy_only=False), dtype=bool)
        if not blank.any():
            yield batch, numbers
            continue
        if narrow:
            raise _MaybeBlankRowError
        kept = ~blank
        yield batch.filter(pa.array(kept)), numbers[kept]


def _skip(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The batches without their first ``rows`` rows."""
    for batch in batches:
        if rows >= batch.num_rows:
            rows -= batch.num_rows
            continue
        yield batch.slice(rows)
        rows = 0


def _rebatch(
    batches: Iterable[tuple[pa.RecordBatch, np.ndarray]], rows: int
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Group record batches into tables of ``rows`` rows (the last may be shorter), each
    column in one piece (so that the chunk's scoring does not copy it again), with the
    rows' numbers."""
    pending: list[pa.RecordBatch] = []
    numbers: list[np.ndarray] = []
    count = 0
    for batch, batch_numbers in batches:
        while batch.num_rows:
            take = min(rows - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            numbers.append(batch_numbers[:take])
            batch, batch_numbers, count = batch.slice(take), batch_numbers[take:], count + take
            if count == rows:
                yield pa.Table.from_batches(pending).combine_chunks(), np.concatenate(numbers)
                pending, numbers, count = [], [], 0
    if pending:
        yield pa.Table.from_batches(pending).combine_chunks(), np.concatenate(numbers)


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


def _parquet_error(source: str, what: str, exc: Exception) -> InputError:
    return _fail(source, Reason.UNREADABLE_FILE, f"{what}: {str(exc).splitlines()[0]}")


def _parquet_file(handle: Any, source: str, budget: Budget, *, whole: bool) -> pq.ParquetFile:
    try:
        book = pq.ParquetFile(handle)
    except (pa.ArrowException, OSError) as exc:
        raise _parquet_error(source, "not a readable Parquet file", exc) from exc
    check_parquet_budget(book, source, budget, whole=whole)
    return book


def check_parquet_budget(book: pq.ParquetFile, source: str, budget: Budget, *, whole: bool) -> None:
    """Refuse a Parquet file whose metadata exceeds the budget, before anything is
    decoded: its columns, the rows and decompressed bytes of each row group, and with
    ``whole`` the rows of a table read whole."""
    try:
        metadata = book.metadata
        groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
        sizes = [
            max(
                group.total_byte_size,
                sum(group.column(j).total_uncompressed_size for j in range(group.num_columns)),
            )
            for group in groups
        ]
    except (pa.ArrowException, OSError) as exc:
        raise _parquet_error(source, "not a readable Parquet file", exc) from exc
    if metadata.num_columns > budget.columns:
        raise _fail(
            source,
            Reason.TOO_LARGE,
            f"the file has {metadata.num_columns:,} columns; at most {budget.columns:,} are "
            "accepted",
        )
    for index, (group, size) in enumerate(zip(groups, sizes, strict=True), start=1):
        if group.num_rows > budget.parquet_row_group_rows or size > budget.parquet_row_group_bytes:
            raise _fail(
                source,
                Reason.TOO_LARGE,
                f"row group {index} holds {group.num_rows:,} rows and {size:,} bytes once "
                f"decompressed; at most {budget.parquet_row_group_rows:,} rows and "
                f"{mebibytes(budget.parquet_row_group_bytes)} are accepted in one row group",
            )
    if whole and metadata.num_rows > budget.whole_table_rows:
        raise _too_many_rows(source, budget)


def as_text_columns(
    table: pa.Table | pa.RecordBatch, source: str, budget: Budget = BUDGET
) -> pa.Table:
    """Every column as text; booleans as yes/no; nested columns refused.

    Binary columns must hold UTF-8 text, and no cell may be longer than
    ``budget.cell_chars`` (checked on a dictionary's values before they are spread
    over the rows).
    """
    check_header(table.column_names, source, budget)
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_nested(kind):
            raise _fail(
                source,
                Reason.UNREADABLE_FILE,
                f"column {name!r} holds nested values ({kind}); expected plain values",
            )
        if pa.types.is_dictionary(kind):
            values = pa.chunked_array(
                [chunk.dictionary for chunk in _chunks(column)], kind.value_type
            )
            _check_cells(values, name, source, budget)
            column = column.cast(kind.value_type)
            kind = kind.value_type
        if pa.types.is_boolean(kind):
            column = pc.if_else(column, "yes", "no")
        _check_cells(column, name, source, budget)
        try:
            columns[name] = column.cast(pa.string())
        except pa.ArrowInvalid as exc:
            raise _fail(
                source,
                Reason.UNREADABLE_FILE,
                f"column {name!r} holds bytes that are not UTF-8 text",
                question_id=name,
            ) from exc
    return pa.table(columns)


def _chunks(column: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(column.chunks) if isinstance(column, pa.ChunkedArray) else [column]


def _check_cells(
    column: pa.Array | pa.ChunkedArray, name: str, source: str, budget: Budget
) -> None:
    """Refuse a text or binary column holding a cell longer than the budget's."""
    kind = column.type
    if not (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    ):
        return
    longest = pc.max(pc.binary_length(column)).as_py() or 0
    if longest > 4 * budget.cell_chars:  # bytes: a character is at most 4 in UTF-8
        raise _fail(
            source,
            Reason.TOO_LARGE,
            f"column {name!r} holds a cell of {longest:,} bytes; at most "
            f"{budget.cell_chars:,} characters are accepted",
            question_id=name,
        )


def _iter_parquet(
    path: Path, rows: int, columns: tuple[str, ...] = (), budget: Budget = BUDGET
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    return _parquet_chunks(path, rows, columns, budget, whole=False)


def _parquet_chunks(
    path: Path, rows: int, columns: tuple[str, ...], budget: Budget, *, whole: bool
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    source = str(path)
    max_bytes = budget.whole_table_bytes if whole else budget.book_bytes
    seen = 0
    with open_regular(path, max_bytes=max_bytes) as handle:
        book = _parquet_file(handle, source, budget, whole=whole)
        try:
            wanted = [c for c in columns if c in book.schema_arrow.names] if columns else None
            for batch in book.iter_batches(batch_size=rows, columns=wanted):
                numbers = np.arange(seen + 1, seen + 1 + batch.num_rows, dtype=np.int64)
                seen += batch.num_rows
                yield as_text_columns(batch, source, budget), numbers
            if not seen:
                check_header(book.schema_arrow.names, source, budget)
        except (pa.ArrowException, OSError) as exc:
            raise _parquet_error(source, "cannot read Parquet", exc) from exc


def read_parquet(path: Path, *, budget: Budget = BUDGET) -> RawResponses:
    """Read a Parquet file of responses; typed columns are written as text first.

    Row groups are checked against the budget before they are decoded; at most
    ``budget.whole_table_bytes`` bytes and ``budget.whole_table_rows`` rows are read.
    """
    _check_whole_size(path, budget)
    chunks = _parquet_chunks(
        path, min(budget.whole_table_rows + 1, 1 << 16), (), budget, whole=True
    )
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
