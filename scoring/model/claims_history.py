"""The claims-history format: what a book of facility-years must hold to train a model.

One row per facility and policy year (Parquet or CSV):

* ``facility_id``, ``policy_year`` (the pair is unique), ``exposure`` (years on
  cover in that policy year, 0 < exposure <= 1);
* the response columns of the questionnaire (its table format: ``questionnaire``,
  ``questionnaire_version``, ``assessed_on`` and one column per question id);
* for every peril (ransomware, email_fraud, privacy_breach, vendor_outage,
  device_compromise): ``claims_<peril>``, the number of claims, and
  ``loss_<peril>``, their total ground-up amount in USD.

``carescore synth`` writes this format; an insurer's own data must follow it to
train with ``carescore train``. Reading checks every rule and reports which
column, how many rows and an example, rather than fitting on bad data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scoring._outputs import write_through
from scoring.errors import InputError, Issue
from scoring.questionnaire.definition import Questionnaire
from scoring.responses.reading import RawResponses, iter_responses, read_responses
from scoring.responses.validation import Validation, validate
from scoring.vocabulary import Peril, Reason, Severity

BOOK_COLUMNS = ("facility_id", "policy_year", "exposure")
BOOK_AS_OF = dt.date(2100, 1, 1)
"""A book spans many policy years, each row dated by its own ``assessed_on``; this is
only the ceiling for rows without one, far enough ahead for any book."""
PERILS = tuple(Peril)


def claim_columns() -> list[str]:
    """``claims_<peril>`` and ``loss_<peril>`` for every peril."""
    return [f"{kind}_{peril.value}" for peril in PERILS for kind in ("claims", "loss")]


@dataclass(frozen=True)
class ClaimsHistory:
    """A validated book: the responses, exposure, and claims per peril."""

    responses: Validation
    facility_id: np.ndarray
    """The book's facility ids (the responses are keyed by facility-year)."""
    policy_year: np.ndarray
    exposure: np.ndarray
    claims: pd.DataFrame
    """``claims_<peril>`` counts and ``loss_<peril>`` amounts, one row per facility-year."""
    source: str

    @property
    def n_rows(self) -> int:
        return len(self.exposure)


@dataclass(frozen=True)
class _Finding:
    """One rule of the format broken: in which column, how, on how many rows, an example."""

    column: str
    message: str
    rows: int
    example: int

    def issue(self, source: str) -> Issue:
        return Issue(
            Reason.OUT_OF_RANGE,
            f"{self.message} in {self.rows:,} row(s), e.g. row {self.example}",
            source=source,
            question_id=self.column,
            row=self.example,
        )


def _problem(column: str, message: str, rows: np.ndarray, numbers: np.ndarray) -> _Finding:
    """A rule broken on ``rows`` (a mask), the first named by its row number in ``numbers``."""
    return _Finding(column, message, int(rows.sum()), int(numbers[int(np.flatnonzero(rows)[0])]))


def read_claims_history(
    path: Path, questionnaire: Questionnaire, *, as_of: dt.date = BOOK_AS_OF
) -> ClaimsHistory:
    """Read and check a book in the claims-history format.

    Raises
    ------
    InputError
        Listing every problem: missing columns, duplicate facility-years,
        exposure outside (0, 1], negative or missing claims or amounts, losses
        without claims, responses that fail validation.
    """
    return _history_of(read_responses(path), questionnaire, as_of)


def _history_of(raw: RawResponses, questionnaire: Questionnaire, as_of: dt.date) -> ClaimsHistory:
    """A book, or a chunk of one, as read, checked (rows numbered as the reader read them)."""
    return claims_history_from_table(
        raw.table,
        questionnaire,
        as_of=as_of,
        source=raw.source,
        first_row=raw.first_row or 1,
        rows=raw.rows,
    )


def iter_claims_history(
    path: Path, questionnaire: Questionnaire, rows: int, *, as_of: dt.date = BOOK_AS_OF
) -> Iterator[ClaimsHistory]:
    """Read and check a book in chunks of ``rows`` facility-years (see :func:`read_claims_history`).

    Each chunk is checked as it is read; a facility-year repeated across chunks is
    reported once every chunk is read (the keys are kept as text, about 20 bytes a row),
    so a consumer must not act on the chunks before the iteration ends.
    """
    keys: list[pa.Array] = []
    numbers: list[np.ndarray] = []
    for raw in iter_responses(path, rows):
        history = _history_of(raw, questionnaire, as_of)
        # the responses are keyed <facility_id>@<policy_year> (see facility_years)
        keys.append(pa.array(history.responses.table["facility_id"], pa.string()))
        numbers.append(_kept_numbers(raw))
        yield history
    if len(keys) > 1:
        _refuse_repeats(pa.chunked_array(keys), numbers, str(path))


def _row_numbers(first_row: int, n: int, rows: np.ndarray | None) -> np.ndarray:
    """Each row's number: ``rows`` when the reader gave them, else running from ``first_row``."""
    return rows if rows is not None else np.arange(first_row, first_row + n, dtype=np.int64)


def _kept_numbers(raw: RawResponses) -> np.ndarray:
    """A chunk's row numbers as kept to the end of a book: all of them when blank rows
    break the sequence, else only the first."""
    first_row = raw.first_row or 1
    return raw.rows if raw.rows is not None else np.array([first_row], dtype=np.int64)


CHECK_CHUNK_ROWS = 250_000
"""Facility-years read and checked at a time by :func:`check_claims_history`."""
MAX_LISTED = 10_000
"""Most answer errors :func:`check_claims_history` keeps (the rest are counted)."""


@dataclass(frozen=True)
class ClaimsCheck:
    """Every problem of a claims-history book: the format's rules, each with the rows
    it fails on and an example row, and the answers' errors, row by row."""

    source: str
    rows: int
    """Facility-years read."""
    issues: tuple[Issue, ...]
    """The format's problems first, then the answers' errors (at most ``MAX_LISTED``)."""
    unlisted: int
    """Answer errors beyond ``MAX_LISTED``, counted only."""

    @property
    def is_valid(self) -> bool:
        return not self.issues


def check_claims_history(
    path: Path,
    questionnaire: Questionnaire,
    *,
    as_of: dt.date = BOOK_AS_OF,
    rows: int = CHECK_CHUNK_ROWS,
) -> ClaimsCheck:
    """Check a whole book in the claims-history format and list every problem.

    Where :func:`read_claims_history` stops at the first chunk with a problem, this
    reads the whole book (in chunks of ``rows``): each rule of the format broken, with
    how many facility-years break it over the book and the first of them, and every
    answer that fails validation.

    Raises
    ------
    InputError
        The book cannot be read, or misses a column of the format (then nothing else
        can be checked).
    """
    findings: dict[tuple[str, str], _Finding] = {}
    answers: list[Issue] = []
    unlisted = read = 0
    keys: list[pa.Array] = []
    kept: list[np.ndarray] = []
    source = str(path)
    for raw in iter_responses(path, rows):
        first_row = raw.first_row or 1
        chunk_rows = _row_numbers(first_row, raw.table.num_rows, raw.rows)
        found, numbers = _check_numbers(raw.table, raw.source, chunk_rows)
        for finding in found:  # the same rule over the whole book: rows added, first example
            key = (finding.column, finding.message)
            seen = findings.get(key)
            findings[key] = (
                finding
                if seen is None
                else _Finding(seen.column, seen.message, seen.rows + finding.rows, seen.example)
            )
        responses = _validated(
            raw.table, numbers, questionnaire, as_of, raw.source, first_row, raw.rows
        )
        # a facility-year on two rows is the format's rule, checked over the whole book
        # (validation sees one chunk): the answers' own account of it is left out
        errors = [
            issue
            for issue in responses.issue_list(Severity.ERROR)
            if issue.reason is not Reason.DUPLICATE_FACILITY
        ]
        room = max(MAX_LISTED - len(answers), 0)
        answers += errors[:room]
        unlisted += len(errors[room:])
        keys.append(pa.array(responses.table["facility_id"], pa.string()))
        kept.append(_kept_numbers(raw))
        read += raw.table.num_rows
    if len(keys) > 1:
        repeated = _repeats(pa.chunked_array(keys), kept)
        if repeated is not None:  # over the whole book: it counts those within a chunk too
            findings[(repeated.column, repeated.message)] = repeated
    return ClaimsCheck(
        source=source,
        rows=read,
        issues=(*(found.issue(source) for found in findings.values()), *answers),
        unlisted=unlisted,
    )


def _refuse_repeats(keys: pa.ChunkedArray, numbers: list[np.ndarray], source: str) -> None:
    found = _repeats(keys, numbers)
    if found is not None:
        raise InputError([found.issue(source)])


def _repeats(keys: pa.ChunkedArray, numbers: list[np.ndarray]) -> _Finding | None:
    """Facility-years on more than one row of a book read in chunks; ``numbers`` holds
    each chunk's row numbers (or only its first, when its rows run on from it)."""
    counts = pc.value_counts(keys)
    repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    if not len(repeated):
        return None
    rows = pc.is_in(keys, value_set=repeated).to_numpy(zero_copy_only=False)
    starts = np.cumsum([0, *(len(chunk) for chunk in keys.chunks)])
    first = int(np.flatnonzero(rows)[0])
    chunk = int(np.searchsorted(starts, first, side="right")) - 1
    offset = first - int(starts[chunk])
    chunk_rows = numbers[chunk]
    example = int(chunk_rows[offset]) if len(chunk_rows) > 1 else int(chunk_rows[0]) + offset
    return _Finding(_REPEATED[0], _REPEATED[1], int(rows.sum()), example)


_REPEATED = ("policy_year", "the same facility and policy year on more than one row")


def claims_history_from_table(
    table: pa.Table,
    questionnaire: Questionnaire,
    *,
    as_of: dt.date = BOOK_AS_OF,
    source: str,
    first_row: int = 1,
    rows: np.ndarray | None = None,
) -> ClaimsHistory:
    """Check a book held as a table of text (or typed) columns; see :func:`read_claims_history`.

    Rows are numbered from ``first_row``, or by ``rows`` when given (a spreadsheet's
    row numbers, blank rows skipped).
    """
    findings, numbers = _check_numbers(table, source, _row_numbers(first_row, table.num_rows, rows))
    if findings:
        raise InputError([found.issue(source) for found in findings])
    responses = _validated(table, numbers, questionnaire, as_of, source, first_row, rows)
    if not responses.is_valid:
        errors = responses.issue_list()
        shown = [i for i in errors if i.is_error][:20]
        raise InputError(
            [
                Issue(
                    Reason.UNREADABLE_FILE,
                    f"{responses.n_rejected:,} row(s) of "
                    "the book fail validation; a model is never fitted on them",
                    source=source,
                ),
                *shown,
            ]
        )
    claims = pd.DataFrame({name: numbers[name] for name in claim_columns()})
    return ClaimsHistory(
        responses=responses,
        facility_id=np.asarray(
            pc.cast(table["facility_id"], pa.string()).to_pylist(), dtype=object
        ),
        policy_year=numbers["policy_year"].astype(np.int64),
        exposure=numbers["exposure"],
        claims=claims,
        source=source,
    )


def _validated(
    table: pa.Table,
    numbers: dict[str, np.ndarray],
    questionnaire: Questionnaire,
    as_of: dt.date,
    source: str,
    first_row: int,
    rows: np.ndarray | None,
) -> Validation:
    """The book's answers, keyed by facility-year, validated (rows numbered as read)."""
    answers = facility_years(table, numbers["policy_year"])
    return validate(
        RawResponses(table=answers, source=source, first_row=first_row, rows=rows),
        questionnaire,
        as_of=as_of,
    )


def _check_numbers(
    table: pa.Table, source: str, rows: np.ndarray
) -> tuple[list[_Finding], dict[str, np.ndarray]]:
    """The book's columns, exposure, claim counts and amounts checked (each row named by
    its number in ``rows``); the numbers read (a missing or unreadable one as 0).

    Raises
    ------
    InputError
        A column of the format is missing (nothing else can be checked then).
    """
    missing = [c for c in (*BOOK_COLUMNS, *claim_columns()) if c not in table.column_names]
    if missing:
        raise InputError(
            [
                Issue(
                    Reason.MISSING_COLUMN,
                    f"column {name!r} is missing from the book (see the claims-history format)",
                    source=source,
                    question_id=name,
                )
                for name in missing
            ]
        )
    issues: list[_Finding] = []
    numbers: dict[str, np.ndarray] = {}
    for name in ("policy_year", "exposure", *claim_columns()):
        column = table[name]
        values = (
            pc.cast(column, pa.float64(), safe=False)
            if pa.types.is_string(column.type) is False
            else _parse_numbers(column)
        )
        array = values.to_numpy(zero_copy_only=False).astype(np.float64)
        bad = ~np.isfinite(array)
        if bad.any():
            issues.append(_problem(name, "missing or not a number", bad, rows))
        numbers[name] = np.nan_to_num(array, nan=0.0)
    exposure = numbers["exposure"]
    outside = (exposure <= 0) | (exposure > 1)
    if outside.any():
        issues.append(
            _problem(
                "exposure",
                "exposure must be above 0 and at most 1 (years on cover in the policy year)",
                outside,
                rows,
            )
        )
    for peril in PERILS:
        counts, loss = numbers[f"claims_{peril.value}"], numbers[f"loss_{peril.value}"]
        for name, values in ((f"claims_{peril.value}", counts), (f"loss_{peril.value}", loss)):
            if (values < 0).any():
                issues.append(_problem(name, "negative value", values < 0, rows))
        fractional = counts != np.round(counts)
        if fractional.any():
            issues.append(
                _problem(
                    f"claims_{peril.value}",
                    "a claim count must be a whole number",
                    fractional,
                    rows,
                )
            )
        orphan = (loss > 0) & (counts == 0)
        if orphan.any():
            issues.append(_problem(f"loss_{peril.value}", "a loss without a claim", orphan, rows))
    keys = pd.DataFrame({"f": table["facility_id"].to_pandas(), "y": numbers["policy_year"]})
    repeated = keys.duplicated(keep=False).to_numpy()
    if repeated.any():
        issues.append(_problem(*_REPEATED, repeated, rows))
    return issues, numbers


def _parse_numbers(column: pa.ChunkedArray) -> pa.Array:
    text = pc.utf8_trim_whitespace(column)
    ok = pc.match_substring_regex(text, r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
    return pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), pa.float64())


def facility_years(table: pa.Table, years: np.ndarray) -> pa.Table:
    """The response columns keyed ``<facility_id>@<policy_year>`` (a facility answers yearly)."""
    key = pc.binary_join_element_wise(
        pc.cast(table["facility_id"], pa.string()),
        pa.array(years.astype(np.int64).astype(str)),
        "@",
    )
    book_only = [*BOOK_COLUMNS[1:], *claim_columns()]
    answers = table.drop_columns([c for c in book_only if c in table.column_names])
    answers = answers.set_column(answers.column_names.index("facility_id"), "facility_id", key)
    return pa.table({name: pc.cast(answers[name], pa.string()) for name in answers.column_names})


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write a Parquet file atomically: aside first (a ``.partial`` file created
    exclusively, never through a symlink), then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_through(path, lambda sink: pq.write_table(table, sink))
