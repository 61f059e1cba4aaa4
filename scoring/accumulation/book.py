"""Reading a scored book (the output of ``carescore batch``) for accumulation: the
columns the exposure needs, within the resource budget, and the versions it was
scored with, checked against the engine given."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from scoring._files import open_regular
from scoring.budget import BUDGET, Budget
from scoring.errors import InputError, Issue
from scoring.rating.engine import PERILS, RatingEngine
from scoring.responses.csv_file import csv_header
from scoring.responses.parquet_file import check_parquet_budget
from scoring.vocabulary import Reason

BOOK_COLUMNS: dict[str, pa.DataType] = {
    "facility_id": pa.string(),
    "answers": pa.string(),
    "limit": pa.string(),
    "retention": pa.string(),
    "premium": pa.float64(),
    "expected_loss": pa.float64(),
    **{f"expected_loss_{p.value}": pa.float64() for p in PERILS},
    "model_sha256": pa.string(),
    "rating_plan_sha256": pa.string(),
}
"""The columns of a scored book accumulation reads."""


def _fail(source: str, reason: Reason, message: str) -> InputError:
    return InputError([Issue(reason, message, source=source)])


def read_scored_book(path: Path, *, budget: Budget = BUDGET) -> pd.DataFrame:
    """The columns of :data:`BOOK_COLUMNS` of a scored book (.csv or .parquet).

    Raises
    ------
    InputError
        The file is not a regular file within the budget, cannot be read, or is not a
        scored book (a column is missing).
    """
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise _fail(source, Reason.UNREADABLE_FILE, "a scored book must be .csv or .parquet")
    try:
        with open_regular(path, max_bytes=budget.book_bytes) as handle:
            if suffix == ".parquet":
                book = pq.ParquetFile(handle)
                check_parquet_budget(book, source, budget, whole=False)
                names = book.schema_arrow.names
                table = book.read(columns=[c for c in BOOK_COLUMNS if c in names])
            else:
                names = csv_header(path, source, budget, budget.book_bytes)
                options = pacsv.ConvertOptions(
                    column_types=BOOK_COLUMNS,
                    include_columns=[c for c in BOOK_COLUMNS if c in names],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                )
                blocks = pacsv.ReadOptions(block_size=budget.row_bytes)
                # a free-text answer may hold a line break (quoted in the answers cell)
                lines = pacsv.ParseOptions(newlines_in_values=True)
                table = pacsv.read_csv(
                    handle, read_options=blocks, parse_options=lines, convert_options=options
                )
    except (OSError, ValueError, pa.ArrowException) as exc:
        if isinstance(exc, InputError):
            raise
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(source, Reason.UNREADABLE_FILE, f"cannot be read: {detail}") from exc
    missing = [c for c in BOOK_COLUMNS if c not in table.column_names]
    if missing:
        raise _fail(
            source,
            Reason.MISSING_COLUMN,
            "not a scored book (an output of carescore batch): missing column(s) "
            + ", ".join(missing),
        )
    if table.num_rows == 0:
        raise _fail(source, Reason.EMPTY_FILE, "the scored book has no facilities")
    frame: pd.DataFrame = table.cast(
        pa.schema([(c, BOOK_COLUMNS[c]) for c in table.column_names])
    ).to_pandas()
    return frame


def check_versions(book: pd.DataFrame, engine: RatingEngine, source: str) -> None:
    """Refuse a book scored with another model or rating plan than the engine's: its
    answers would be rated again by other rules than those that priced it.

    Raises
    ------
    InputError
        The book's ``model_sha256`` or ``rating_plan_sha256`` differs from the engine's.
    """
    issues = []
    for column, expected, what in (
        ("model_sha256", engine.model_sha256, "--model"),
        ("rating_plan_sha256", engine.plan_sha256, "--rating-plan"),
    ):
        found = sorted(set(book[column].dropna()))
        if expected and found != [expected]:
            issues.append(
                Issue(
                    Reason.UNREADABLE_FILE,
                    f"the book was scored with another {column.split('_sha')[0]} "
                    f"than the one given; pass the same {what} as carescore batch",
                    source=source,
                    value=", ".join(v[:12] for v in found),
                    allowed=expected[:12],
                )
            )
    if issues:
        raise InputError(issues)
