"""Reading a CSV of responses in chunks, within the budget.

pyarrow parses the file in blocks (small ones first, for speed; a row longer than
a block makes the rest read again in blocks of the budget's longest row, and a row
longer than that is refused in plain words). Blank lines are read as rows, then
skipped, so every row keeps the number a spreadsheet shows; the header is read
whole, or refused as too long.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from scoring._files import decode_text, open_regular, read_bytes
from scoring.budget import Budget, mebibytes
from scoring.errors import InputError, Issue
from scoring.responses._table import check_header, fail
from scoring.vocabulary import Reason

_CSV_SMALL_BLOCK = 1024 * 1024
"""A CSV is read in small blocks first (they stream several times faster); a row longer
than a block cannot be parsed, so a file with one is read again in blocks of the
budget's longest row."""


def csv_header(path: Path, source: str, budget: Budget, max_bytes: int) -> list[str]:
    """The header row of a CSV, read whole (or refused as too long) and checked (no
    semicolon or tab files, no duplicate names)."""
    start = read_bytes(path, max_bytes=max_bytes, head=budget.header_bytes + 1)
    reader = csv.reader(io.StringIO(_header_text(start, source, budget)))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise fail(source, Reason.UNREADABLE_FILE, f"no header row: {exc}") from exc
    header = [name.strip() for name in header]
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        separator = "semicolons" if ";" in header[0] else "tabs"
        raise fail(
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
            raise fail(
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
            return fail(
                self.source,
                Reason.TOO_LARGE,
                f"{where} is longer than {mebibytes(budget.row_bytes)}, the longest row "
                "accepted (is a quote left open?)",
            )
        if "UTF8" in message or "utf8" in message.lower():
            message = "file is not UTF-8 text; save it as UTF-8"
        return fail(self.source, Reason.UNREADABLE_FILE, f"cannot read CSV: {message}")

    def check(self) -> None:
        if self.bad_rows:
            if self.threads:
                raise _RenumberError
            raise InputError(self.bad_rows)


class _RenumberError(Exception):
    """Rows were refused while reading on several threads, which leaves them unnumbered."""


def csv_chunks(
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
