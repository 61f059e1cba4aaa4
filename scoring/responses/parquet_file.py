"""Reading a Parquet file of responses within the budget, its columns as text.

A row group's rows and decompressed bytes are checked from the metadata before
anything is decoded, and the file is read in batches of the rows asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scoring._files import open_regular
from scoring.budget import BUDGET, Budget, mebibytes
from scoring.errors import InputError
from scoring.responses._table import check_header, fail, too_many_rows
from scoring.vocabulary import Reason


def _parquet_error(source: str, what: str, exc: Exception) -> InputError:
    return fail(source, Reason.UNREADABLE_FILE, f"{what}: {str(exc).splitlines()[0]}")


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
        raise fail(
            source,
            Reason.TOO_LARGE,
            f"the file has {metadata.num_columns:,} columns; at most {budget.columns:,} are "
            "accepted",
        )
    for index, (group, size) in enumerate(zip(groups, sizes, strict=True), start=1):
        if group.num_rows > budget.parquet_row_group_rows or size > budget.parquet_row_group_bytes:
            raise fail(
                source,
                Reason.TOO_LARGE,
                f"row group {index} holds {group.num_rows:,} rows and {size:,} bytes once "
                f"decompressed; at most {budget.parquet_row_group_rows:,} rows and "
                f"{mebibytes(budget.parquet_row_group_bytes)} are accepted in one row group",
            )
    if whole and metadata.num_rows > budget.whole_table_rows:
        raise too_many_rows(source, budget)


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
            raise fail(
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
            raise fail(
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
        raise fail(
            source,
            Reason.TOO_LARGE,
            f"column {name!r} holds a cell of {longest:,} bytes; at most "
            f"{budget.cell_chars:,} characters are accepted",
            question_id=name,
        )


def parquet_chunks(
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
