"""Reading a scored book back for a comparison, every problem with it collected.

A book is an output of ``carescore batch`` (:func:`scoring.portfolio.run.score_book`),
Parquet or CSV. Only the columns a comparison needs are read (``COMPARED_COLUMNS``);
a file that lacks any of them, holds a facility twice or without an id, or whose
outcomes, tiers, premiums or drivers cannot be what a book writes, is refused with
an :class:`~scoring.errors.InputError` listing every such problem.

A CSV book has its formula-looking text cells written with a leading ``'``
(``'=HYPERLINK(...)``); the quote is taken off again here, so a CSV book and the
Parquet book of the same run compare as equal.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from scoring._files import open_regular
from scoring.budget import BUDGET, Budget
from scoring.errors import InputError, Issue
from scoring.rating.plan import OUTCOMES
from scoring.responses.csv_file import csv_header
from scoring.responses.parquet_file import check_parquet_budget
from scoring.vocabulary import Reason

COMPARED_COLUMNS: tuple[str, ...] = (
    "facility_id",
    "facility_name",
    "outcome",
    "reasons",
    "tier",
    "premium",
    "drivers",
    "model_id",
    "model_sha256",
    "rating_plan",
    "questionnaire",
    "input_sha256",
)
"""The columns of a book (see :func:`scoring.portfolio.batch.book_schema`) a comparison reads."""

OPTIONAL_COLUMNS: tuple[str, ...] = (
    "limit",
    "rating_plan_sha256",
    "answers_sha256",
    "answers",
)
"""Columns a comparison reads when a book has them (books written before they were
added lack them): missing ones are read as blank."""

BOOK_SUFFIXES = (".parquet", ".csv")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_DRIVERS = r"[^:;]+:[+-]?\d+(?:\.\d+)?(?:;[^:;]+:[+-]?\d+(?:\.\d+)?)*"
_SHOWN = 5


def _types() -> dict[str, pa.DataType]:
    return {
        name: pa.float64() if name == "premium" else pa.string()
        for name in (*COMPARED_COLUMNS, *OPTIONAL_COLUMNS)
    }


def _unquote(value: object) -> object:
    """``'=x`` -> ``=x``: undo the quote a CSV book puts before formula-looking text."""
    if isinstance(value, str) and value[:1] == "'" and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value


def _read_table(path: Path, budget: Budget) -> pa.Table:
    """The compared columns of a book: a regular file within the budget (a Parquet
    book's row groups are checked before they are decoded)."""
    suffix = path.suffix.lower()
    if suffix not in BOOK_SUFFIXES:
        raise ValueError(f"the file must be {' or '.join(BOOK_SUFFIXES)}")
    with open_regular(path, max_bytes=budget.book_bytes) as handle:
        if suffix == ".parquet":
            book = pq.ParquetFile(handle)
            check_parquet_budget(book, str(path), budget, whole=False)
            wanted = [name for name in _types() if name in book.schema_arrow.names]
            return book.read(columns=wanted)
        # read whole, or refused
        header = csv_header(path, str(path), budget, budget.book_bytes)
        options = pacsv.ConvertOptions(
            column_types=_types(),
            include_columns=[name for name in _types() if name in header],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        blocks = pacsv.ReadOptions(block_size=budget.row_bytes)  # a row is parsed whole
        return pacsv.read_csv(handle, read_options=blocks, convert_options=options)


def _shown(values: pd.Series) -> str:
    listed = ", ".join(str(v) for v in values.iloc[:_SHOWN])
    more = len(values) - _SHOWN
    return listed + (f" and {more:,} more" if more > 0 else "")


def _check(frame: pd.DataFrame, source: str) -> list[Issue]:
    """Every problem of a book's rows, one issue per kind of problem."""
    issues: list[Issue] = []

    def add(reason: Reason, column: str, rows: pd.Series, message: str, allowed: str = "") -> None:
        if rows.any():
            issues.append(
                Issue(
                    reason,
                    f"{message} ({int(rows.sum()):,} row(s))",
                    source=source,
                    question_id=column,
                    value=_shown(frame.loc[rows, column].fillna("(blank)")),
                    allowed=allowed or None,
                )
            )

    ids = frame["facility_id"]
    add(Reason.REQUIRED, "facility_id", ids.isna(), "every facility of a book needs a facility_id")
    add(
        Reason.DUPLICATE_FACILITY,
        "facility_id",
        ids.notna() & ids.duplicated(keep="first"),
        "the same facility_id is on more than one row; a book holds each facility once",
    )
    add(
        Reason.NOT_A_CHOICE,
        "outcome",
        ~frame["outcome"].isin(OUTCOMES),
        "not an outcome of a scored book",
        ", ".join(OUTCOMES),
    )
    add(Reason.REQUIRED, "tier", frame["tier"].isna(), "every facility of a book has a tier")
    add(
        Reason.REQUIRED,
        "premium",
        frame["premium"].isna(),
        "every facility of a book has a premium",
    )
    drivers = frame["drivers"]
    spoilt = drivers.notna() & ~drivers.fillna("").str.fullmatch(_DRIVERS)
    add(
        Reason.CONSTRAINT,
        "drivers",
        spoilt,
        "drivers must read question_id:+123.45 joined by ';'",
    )
    return issues


def load_book(path: Path, *, budget: Budget = BUDGET) -> tuple[pd.DataFrame | None, list[Issue]]:
    """A book's compared columns and those of ``OPTIONAL_COLUMNS`` (text as ``object``,
    ``premium`` as float) and its problems.

    Returns ``(None, issues)`` when the file cannot be read (only regular files of at
    most ``budget.book_bytes`` are) or lacks columns, and ``(frame, issues)``
    otherwise; the frame is usable only when ``issues`` is empty.
    """
    source = str(path)
    try:
        table = _read_table(path, budget)
        missing = [name for name in COMPARED_COLUMNS if name not in table.column_names]
        if missing:
            return None, [
                Issue(
                    Reason.MISSING_COLUMN,
                    f"not a scored book (an output of carescore batch): "
                    f"missing column(s) {', '.join(missing)}",
                    source=source,
                )
            ]
        for name in OPTIONAL_COLUMNS:
            if name not in table.column_names:
                table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
        table = table.select([*COMPARED_COLUMNS, *OPTIONAL_COLUMNS])
        table = pa.Table.from_arrays(
            [
                column.cast(_types()[name])
                for name, column in zip(table.column_names, table.columns, strict=True)
            ],
            names=table.column_names,
        )
    except InputError as exc:
        return None, list(exc.issues)
    except (OSError, ValueError, pa.ArrowException) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, [
            Issue(
                Reason.UNREADABLE_FILE, f"cannot be read as a scored book: {detail}", source=source
            )
        ]
    frame = table.to_pandas(types_mapper=None)
    for name in (*COMPARED_COLUMNS, *OPTIONAL_COLUMNS):
        if name != "premium":
            frame[name] = frame[name].astype("object").where(frame[name].notna(), None)
    if path.suffix.lower() == ".csv":
        for name in (*COMPARED_COLUMNS, *OPTIONAL_COLUMNS):
            if name != "premium":
                frame[name] = frame[name].map(_unquote)
    frame["premium"] = frame["premium"].astype("float64")
    return frame, _check(frame, source)


def read_book(path: Path) -> pd.DataFrame:
    """A scored book's compared columns (see ``COMPARED_COLUMNS``), checked.

    Raises
    ------
    InputError
        The file cannot be read, is not a book, or holds rows a book cannot hold
        (every problem is listed).
    """
    frame, issues = load_book(path)
    if issues or frame is None:
        raise InputError(issues)
    return frame
