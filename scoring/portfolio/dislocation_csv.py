"""The dislocation of a rescored book as CSV: one row per facility, for spreadsheets.

Columns are those of :data:`scoring.portfolio.compare_result.FACILITY_COLUMNS`
(``premium_capped`` only when the comparison was capped). Text that a spreadsheet
would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return) is written with a leading ``'`` so it stays text; numbers are
written plainly (whole dollars without decimals), lines end in CRLF. The file is written aside
(``<name>.partial``) and renamed when complete.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from scoring.portfolio.compare_result import FACILITY_COLUMNS, Comparison

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBERS = frozenset(
    {"premium_before", "premium_after", "premium_change", "change_pct", "premium_capped"}
)


def safe_text(value: object) -> str:
    """A text cell as a spreadsheet will show it, never as a formula.

    Examples
    --------
    >>> safe_text("=HYPERLINK(1)"), safe_text("-x"), safe_text("CF-1"), safe_text(None)
    ("'=HYPERLINK(1)", "'-x", 'CF-1', '')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _number(value: object, column: str) -> str:
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number):
        return ""
    if column == "change_pct" or not number.is_integer():
        return f"{number:.2f}"
    return str(int(number))


def dislocation_columns(comparison: Comparison) -> tuple[str, ...]:
    """The CSV's columns: ``premium_capped`` only when the comparison was capped."""
    if comparison.capping is None:
        return tuple(c for c in FACILITY_COLUMNS if c != "premium_capped")
    return FACILITY_COLUMNS


def dislocation_csv(comparison: Comparison) -> str:
    """The CSV text: a header, then one row per facility of either book."""
    columns = dislocation_columns(comparison)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # CRLF: a CR or LF in a cell is quoted
    writer.writerow(columns)
    frame = comparison.facilities
    data = [frame[column].tolist() for column in columns]
    for values in zip(*data, strict=True):
        writer.writerow(
            _number(value, column) if column in _NUMBERS else safe_text(value)
            for column, value in zip(columns, values, strict=True)
        )
    return buffer.getvalue()


def write_dislocation_csv(comparison: Comparison, path: Path) -> None:
    """Write :func:`dislocation_csv` to ``path``: aside first, then renamed."""
    aside = path.with_name(path.name + ".partial")
    aside.write_text(dislocation_csv(comparison), encoding="utf-8", newline="")
    aside.replace(path)
