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
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from scoring._arrow import single
from scoring._files import decode_text, parse_json, parse_yaml, read_bytes
from scoring.errors import InputError, Issue
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
MAX_TABLE_BYTES = 4 * 1024 * 1024 * 1024
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
_CSV_BLOCK_BYTES = (1024 * 1024, 64 * 1024 * 1024)
"""Block sizes a CSV is read in: small blocks stream several times faster; a row longer
than a block cannot be parsed, so a file with one is read again in large blocks."""
_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class RawResponses:
    """Responses as read: one text column per file column, before any rule.

    ``first_row`` is the row number of the first record as a user sees it
    (2 under a CSV/XLSX header, 1 in Parquet) or ``None`` for a one-facility file.
    """

    table: pa.Table
    source: str
    first_row: int | None

    @property
    def is_table(self) -> bool:
        return self.first_row is not None

    def row_numbers(self) -> list[int | None]:
        if self.first_row is None:
            return [None] * self.table.num_rows
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


def read_response(path: Path) -> RawResponses:
    """Read one facility's response from a YAML (``.yaml``, ``.yml``) or JSON file."""
    source = str(path)
    text = decode_text(read_bytes(path, max_bytes=MAX_RESPONSE_BYTES), source)
    document = (
        parse_json(text, source) if path.suffix.lower() == ".json" else parse_yaml(text, source)
    )
    return response_from_mapping(document, source)


# --- many facilities -----------------------------------------------------------------------


def _check_header(names: list[str], source: str) -> None:
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


def _csv_header(path: Path, source: str) -> list[str]:
    """The header row of a CSV, checked (no semicolon or tab files, no duplicate names)."""
    start = read_bytes(path, max_bytes=MAX_TABLE_BYTES, head=_HEAD_BYTES)
    if len(start) == _HEAD_BYTES and b"\n" in start:
        start = start[: start.rindex(b"\n") + 1]  # whole lines only: no cut characters
    head = decode_text(start, source)
    try:
        header = next(csv.reader(io.StringIO(head)))
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
    _check_header(header, source)
    return header


class _CsvRules:
    """pyarrow's CSV options for response files, and the rows they refused."""

    def __init__(self, header: list[str], source: str, block_size: int) -> None:
        self.source = source
        self.bad_rows: list[Issue] = []
        self.read = pacsv.ReadOptions(
            column_names=header, skip_rows=1, block_size=block_size, encoding="utf8"
        )
        self.parse = pacsv.ParseOptions(
            newlines_in_values=True, invalid_row_handler=self._invalid_row
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

    def refuse(self, exc: pa.ArrowInvalid) -> InputError:
        message = str(exc).split("\n")[0]
        if "UTF8" in message or "utf8" in message.lower():
            message = "file is not UTF-8 text; save it as UTF-8"
        return _fail(self.source, Reason.UNREADABLE_FILE, f"cannot read CSV: {message}")

    def check(self) -> None:
        if self.bad_rows:
            raise InputError(self.bad_rows)


def read_csv(path: Path) -> RawResponses:
    """Read a CSV of responses (UTF-8, optional BOM, comma-separated, quoted cells)."""
    source = str(path)
    rules = _CsvRules(_csv_header(path, source), source, _CSV_BLOCK_BYTES[-1])
    try:
        table = pacsv.read_csv(
            path, read_options=rules.read, parse_options=rules.parse, convert_options=rules.convert
        )
    except pa.ArrowInvalid as exc:
        raise rules.refuse(exc) from exc
    rules.check()
    if table.num_rows == 0:
        raise _fail(source, Reason.EMPTY_FILE, "no facility rows under the header")
    return RawResponses(table=table, source=source, first_row=2)


def _iter_csv(path: Path, rows: int, columns: tuple[str, ...] = ()) -> Iterator[pa.Table]:
    source = str(path)
    header = _csv_header(path, source)
    done = 0
    for block_size in _CSV_BLOCK_BYTES:
        rules = _CsvRules(header, source, block_size)
        if columns:
            rules.convert.include_columns = [c for c in columns if c in header]
        try:
            reader = pacsv.open_csv(
                path,
                read_options=rules.read,
                parse_options=rules.parse,
                convert_options=rules.convert,
            )
            for table in _rebatch(_skip(reader, done), rows):
                rules.check()
                yield table
                done += table.num_rows
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc) and block_size != _CSV_BLOCK_BYTES[-1]:
                continue  # a row longer than the block: the rest again, in larger blocks
            raise rules.refuse(exc) from exc
        rules.check()
        return


def _skip(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The batches without their first ``rows`` rows."""
    for batch in batches:
        if rows >= batch.num_rows:
            rows -= batch.num_rows
            continue
        yield batch.slice(rows)
        rows = 0


def _rebatch(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Group record batches into tables of ``rows`` rows (the last may be shorter), each
    column in one piece (so that the chunk's scoring does not copy it again)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            batch, count = batch.slice(take), count + take
            if count == rows:
                yield pa.Table.from_batches(pending).combine_chunks()
                pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending).combine_chunks()


def _excel_text(cell: Any) -> str | None:
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
        if "%" in (cell.number_format or ""):
            value = round(value * 100, 10)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return repr(value) if isinstance(value, float) else str(value)
    return str(value)


def _xlsx_tables(path: Path, rows: int, columns: tuple[str, ...] = ()) -> Iterator[pa.Table]:
    """The ``responses`` sheet (else the first) as tables of ``rows`` rows of text."""
    import zipfile

    import openpyxl  # imported here: only spreadsheet users pay for it

    source = str(path)
    read_bytes(path, max_bytes=MAX_TABLE_BYTES, head=_HEAD_BYTES)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _fail(
            source, Reason.UNREADABLE_FILE, f"not a readable XLSX workbook ({type(exc).__name__})"
        ) from exc
    try:
        sheet = (
            workbook["responses"] if "responses" in workbook.sheetnames else workbook.worksheets[0]
        )
        cells_by_row = sheet.iter_rows()
        try:
            header_cells = next(cells_by_row)
        except StopIteration as exc:
            raise _fail(source, Reason.EMPTY_FILE, "the sheet is empty") from exc
        header = [str(c.value).strip() if c.value is not None else "" for c in header_cells]
        while header and not header[-1]:
            header.pop()
        _check_header(header, source)
        width = len(header)
        columns = tuple(c for c in columns if c in header)
        cells_of: list[list[str | None]] = [[] for _ in header]
        for cells in cells_by_row:
            values = [_excel_text(c) for c in cells]
            if all(v is None or not str(v).strip() for v in values):
                continue  # Excel leaves formatted but empty rows behind
            values = (values + [None] * width)[:width] if len(values) < width else values
            if any(v is not None and str(v).strip() for v in values[width:]):
                raise _fail(
                    source,
                    Reason.UNREADABLE_FILE,
                    "a row has cells beyond the last named column",
                    row=cells[0].row if cells else None,
                )
            for index in range(width):
                cells_of[index].append(values[index])
            if len(cells_of[0]) == rows:
                yield _text_table(header, cells_of).select(list(columns) or header)
                cells_of = [[] for _ in header]
        if cells_of and cells_of[0]:
            yield _text_table(header, cells_of).select(list(columns) or header)
    finally:
        workbook.close()


def _text_table(header: list[str], columns: list[list[str | None]]) -> pa.Table:
    return pa.table(
        {name: pa.array(col, pa.string()) for name, col in zip(header, columns, strict=True)}
    )


def read_xlsx(path: Path) -> RawResponses:
    """Read an XLSX workbook: the sheet named ``responses``, else the first sheet."""
    tables = list(_xlsx_tables(path, _ALL_ROWS))
    if not tables:
        raise _fail(str(path), Reason.EMPTY_FILE, "no facility rows under the header")
    return RawResponses(table=pa.concat_tables(tables), source=str(path), first_row=2)


def _parquet_error(source: str, what: str, exc: Exception) -> InputError:
    return _fail(source, Reason.UNREADABLE_FILE, f"{what}: {str(exc).splitlines()[0]}")


def _parquet_file(path: Path) -> pq.ParquetFile:
    source = str(path)
    read_bytes(path, max_bytes=MAX_TABLE_BYTES, head=_HEAD_BYTES)
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise _parquet_error(source, "not a readable Parquet file", exc) from exc


def as_text_columns(table: pa.Table | pa.RecordBatch, source: str) -> pa.Table:
    """Every column as text; booleans as yes/no; nested columns refused."""
    _check_header(table.column_names, source)
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
            column = column.cast(kind.value_type)
            kind = kind.value_type
        if pa.types.is_boolean(kind):
            column = pc.if_else(column, "yes", "no")
        columns[name] = column.cast(pa.string())
    return pa.table(columns)


def _iter_parquet(path: Path, rows: int, columns: tuple[str, ...] = ()) -> Iterator[pa.Table]:
    source = str(path)
    try:
        book = _parquet_file(path)
        wanted = [c for c in columns if c in book.schema_arrow.names] if columns else None
        for batch in book.iter_batches(batch_size=rows, columns=wanted):
            yield as_text_columns(batch, source)
    except (pa.ArrowException, OSError) as exc:
        raise _parquet_error(source, "cannot read Parquet", exc) from exc


def read_parquet(path: Path) -> RawResponses:
    """Read a Parquet file of responses; typed columns are written as text first."""
    source = str(path)
    try:
        table = _parquet_file(path).read()
    except (pa.ArrowException, OSError) as exc:
        raise _parquet_error(source, "not a readable Parquet file", exc) from exc
    if table.num_rows == 0:
        _check_header(table.column_names, source)
        raise _fail(source, Reason.EMPTY_FILE, "no facility rows")
    return RawResponses(table=as_text_columns(table, source), source=source, first_row=1)


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
    ".xlsx": (_xlsx_tables, 2),
    ".parquet": (_iter_parquet, 1),
    ".pq": (_iter_parquet, 1),
}
_ALL_ROWS = 2**62


def count_rows(path: Path) -> int | None:
    """About how many rows a table holds, read cheaply (for progress bars), or None.

    Parquet and XLSX state it; for a CSV, line breaks are counted (a cell holding a
    line break makes this an overestimate).
    """
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return int(pq.ParquetFile(path).metadata.num_rows)
        if suffix == ".csv":
            lines = 0
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    lines += block.count(b"\n")
            return max(lines - 1, 0)
    except (OSError, pa.ArrowException):
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
    path: Path, rows: int, *, columns: tuple[str, ...] = ()
) -> Iterator[RawResponses]:
    """Read a table of responses (CSV, XLSX, Parquet) in chunks of ``rows`` rows.

    Memory stays bounded by the chunk size whatever the file size. Row numbers run
    on across chunks, so every issue names the row a user sees. The same checks as
    :func:`read_responses` apply; an empty table raises ``InputError``. ``columns``
    keeps only those columns (all when empty).
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
    for table in reader(path, rows, columns):
        yield RawResponses(table=table, source=str(path), first_row=first_row + seen)
        seen += table.num_rows
    if seen == 0:
        raise _fail(str(path), Reason.EMPTY_FILE, "no facility rows")


def read_responses(path: Path) -> RawResponses:
    """Read any supported response file, choosing the reader by file extension."""
    suffix = path.suffix.lower()
    if suffix in _DOCUMENT_SUFFIXES:
        return read_response(path)
    reader = _TABLE_READERS.get(suffix)
    if reader is None:
        raise _fail(
            str(path),
            Reason.UNREADABLE_FILE,
            f"unsupported file type {suffix or '(none)'!r}",
            allowed=", ".join(SUPPORTED_SUFFIXES),
        )
    return reader(path)
