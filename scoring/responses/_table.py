"""What every table reader (CSV, XLSX, Parquet) shares: a refusal, the header's
checks and the limit on rows held whole."""

from __future__ import annotations

from typing import Any

from scoring.budget import BUDGET, Budget
from scoring.errors import InputError, Issue
from scoring.vocabulary import Reason


def fail(source: str, reason: Reason, message: str, **context: Any) -> InputError:
    """An :class:`InputError` of one issue."""
    return InputError([Issue(reason=reason, message=message, source=source, **context)])


def check_header(names: list[str], source: str, budget: Budget = BUDGET) -> None:
    """Refuse a header of too many columns, unnamed columns or a name given twice."""
    if len(names) > budget.columns:
        raise fail(
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


def too_many_rows(source: str, budget: Budget) -> InputError:
    """A table of more rows than are held whole, pointing to the chunked reading."""
    return fail(
        source,
        Reason.TOO_LARGE,
        f"the table has more than {budget.whole_table_rows:,} rows, the most read at once; "
        "`carescore batch` reads books of any size in chunks",
    )
