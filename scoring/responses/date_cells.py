"""Date cells: the ways a date is written that the reader accepts.

* ``YYYY-MM-DD``, a time after it ignored (``2024-02-30`` is not a date);
* an Excel serial day number between 20000 and 80000 (1954-2119);
* a date written with ``/`` or ``.`` and a four-digit year, first or last, when
  exactly one order of day and month is a valid date (``09/15/2025`` and
  ``15/09/2025`` are 15 September) or both give the same day (``05/05/2025``).
  Where both orders are dates (``03/04/2025``), or the year is not four digits
  (``9/15/25``), the cell is ambiguous and no date is read.

Like every cell rule, these run on whole columns of text
(:mod:`scoring.responses.coercion` calls them once per distinct text).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scoring._arrow import to_mask, to_numpy

_ISO_DATE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
_SERIAL_DATE = r"^\d{5}(\.0+)?$"
_SLASH_DATE = r"^\d{1,4}[/.]\d{1,2}[/.]\d{1,4}$"
_DAY_MONTH_YEAR = r"^\d{1,2}/\d{1,2}/\d{4}$|^\d{1,2}\.\d{1,2}\.\d{4}$"
_YEAR_FIRST = r"^\d{4}/\d{1,2}/\d{1,2}$|^\d{4}\.\d{1,2}\.\d{1,2}$"
_DATE_PARTS = r"^(?P<a>\d{1,4})[/.](?P<b>\d{1,2})[/.](?P<c>\d{1,4})$"
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")


@dataclass(frozen=True)
class DateCells:
    """A column of text read as dates."""

    dates: pa.Array
    """The dates read (``date32``), null where no date is read."""
    two_dates: np.ndarray
    """Cells whose day and month can be read in both orders (``03/04/2025``)."""
    other_slash: np.ndarray
    """Other cells written like a date with ``/`` or ``.`` but not read (``9/15/25``)."""


def read_dates(text: pa.Array) -> DateCells:
    """Read a column of cell texts as dates (see the module docstring)."""
    iso = to_mask(pc.match_substring_regex(text, _ISO_DATE))
    day = pc.utf8_slice_codeunits(text, 0, 10)
    parsed = pc.strptime(
        pc.if_else(pa.array(iso), day, pa.scalar(None, pa.string())),
        format="%Y-%m-%d",
        unit="s",
        error_is_null=True,
    )
    dates = pc.cast(parsed, pa.date32())
    # strptime rolls 2024-02-30 over to March; only dates that print back unchanged count
    exact = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), day)
    dates = pc.if_else(pc.fill_null(exact, False), dates, pa.scalar(None, pa.date32()))
    serial_text = to_mask(pc.match_substring_regex(text, _SERIAL_DATE))
    serial = np.asarray(
        pc.cast(
            pc.if_else(
                pa.array(serial_text),
                pc.replace_substring_regex(text, r"\.0+$", ""),
                pa.scalar(None, pa.string()),
            ),
            pa.int64(),
        ).to_numpy(zero_copy_only=False),
        dtype=np.float64,
    )
    in_range = (
        serial_text
        & (np.nan_to_num(serial, nan=0) >= 20000)
        & (np.nan_to_num(serial, nan=0) <= 80000)
    )
    if in_range.any():
        serial_dates = _EXCEL_EPOCH + np.nan_to_num(serial, nan=0).astype("timedelta64[D]")
        from_serial = pa.array(serial_dates.astype("datetime64[D]"), pa.date32())
        dates = pc.if_else(pa.array(in_range), from_serial, dates)
    slash = to_mask(pc.match_substring_regex(text, _SLASH_DATE))
    two_dates = np.zeros(len(text), dtype=np.bool_)
    if slash.any():
        dates, two_dates, neither = _slash_dates(text, dates)
        slash &= ~neither
    other_slash = slash & ~two_dates & ~to_mask(pc.is_valid(dates))
    return DateCells(dates, two_dates, other_slash)


def _slash_dates(text: pa.Array, dates: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Dates written with ``/`` or ``.`` and a four-digit year, first or last.

    A date is read when exactly one order of day and month is a valid date
    (``09/15/2025`` is 15 September), or both give the same day (``05/05/2025``).
    Returns the dates, the cells that are two dates (``03/04/2025``) and the cells
    that are a date in neither order.
    """
    year_last = to_mask(pc.match_substring_regex(text, _DAY_MONTH_YEAR))
    year_first = to_mask(pc.match_substring_regex(text, _YEAR_FIRST))
    parts = pc.extract_regex(
        pc.if_else(pa.array(year_last | year_first), text, pa.scalar(None, pa.string())),
        _DATE_PARTS,
    )
    a, b, c = (
        to_numpy(pc.fill_null(pc.cast(pc.struct_field(parts, name), pa.int64()), 0), np.int64)
        for name in ("a", "b", "c")
    )
    year = np.where(year_first, a, c)
    first = np.where(year_first, b, a)
    second = np.where(year_first, c, b)
    month_first = _calendar_days(year, first, second)
    day_first = _calendar_days(year, second, first)
    valid_month_first = ~np.isnat(month_first)
    valid_day_first = ~np.isnat(day_first)
    same = valid_month_first & valid_day_first & (month_first == day_first)  # 05/05/2025
    read = (year_last | year_first) & ((valid_month_first != valid_day_first) | same)
    if read.any():
        chosen = np.where(valid_month_first, month_first, day_first)
        dates = pc.if_else(pa.array(read), pa.array(chosen, pa.date32()), dates)
    both = (year_last | year_first) & valid_month_first & valid_day_first & ~same
    neither = (year_last | year_first) & ~valid_month_first & ~valid_day_first
    return dates, both, neither


def _calendar_days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The dates of (year, month, day), NaT where there is no such day."""
    valid = (month >= 1) & (month <= 12) & (day >= 1) & (year >= 1)
    months = (np.where(valid, year, 2000) - 1970) * 12 + np.where(valid, month, 1) - 1
    start = months.astype("datetime64[M]").astype("datetime64[D]")
    length = ((months + 1).astype("datetime64[M]").astype("datetime64[D]") - start).astype(int)
    valid &= day <= length
    return np.where(valid, start + (np.where(valid, day, 1) - 1), np.datetime64("NaT", "D"))
