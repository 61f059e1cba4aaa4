"""Validation: one set of rules for one facility and for a book of thousands.

:func:`validate` takes raw text columns (:class:`RawResponses`) and applies, to
whole columns at once, every rule of the questionnaire: the version check and
declared migration, column names, coercion of each cell, skip logic, the answer
policy for blank, unknown and not-applicable cells, constraints and
cross-question consistency, and the facility metadata. Every issue is collected;
nothing is dropped or guessed silently. A one-facility response is simply a
table of one row, so both paths share every line of this module.

The answer policy (README.md, "Unanswered, unknown and not applicable"):

* a relevant control left blank, or answered "unknown" where unknown is allowed,
  is treated as its worst answer and flagged (a warning), as insurers treat a
  blank as "no";
* a required question that is not a control and is left blank is an error;
  "unknown" is accepted only where the question allows it, and then the answer
  stays missing;
* "not applicable" is accepted only where the question allows it, and then the
  answer stays missing (the feature encoder treats the risk as absent);
* a question whose skip logic says it does not apply must be left blank (or
  say n/a / unknown): an answer there contradicts an earlier answer and is an
  error.

A cell the coercion keeps as written but flags (a percentage above 0 and at most
1 written without ``%``: 0.85 % or 85 %?) is a warning on its row.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from scoring._arrow import single, to_mask, to_numpy
from scoring.errors import InputError, Issue
from scoring.questionnaire.definition import Migration, Question, Questionnaire
from scoring.responses import one_row
from scoring.responses.coercion import coerce, describe_allowed
from scoring.responses.reading import METADATA_COLUMNS, RawResponses, suggest
from scoring.vocabulary import AnswerKind, AnswerState, Better, Reason, Severity

# the members the per-question rules compare with, read once (an enum member read
# through its class is a slow attribute lookup, paid for every question of every row set)
_ANSWERED, _UNANSWERED, _UNKNOWN = (
    int(AnswerState.ANSWERED),
    int(AnswerState.UNANSWERED),
    int(AnswerState.UNKNOWN),
)
_NOT_APPLICABLE, _INVALID = int(AnswerState.NOT_APPLICABLE), int(AnswerState.INVALID)
_NOT_RELEVANT = int(AnswerState.NOT_RELEVANT)
"""The states as plain ints: numpy compares an array with an int directly, where an
IntEnum member costs a search of its class for numpy's protocols on every use."""
_ERROR, _WARNING = Severity.ERROR, Severity.WARNING

ISSUE_COLUMNS = (
    "source",
    "row",
    "facility_id",
    "question_id",
    "severity",
    "reason",
    "value",
    "message",
    "allowed",
)
MAX_SHOWN_VALUE = 100
_ASSESSED_ON = Question.model_validate(
    {"id": "assessed_on", "type": "date", "label": "Date of assessment"}
)
EARLIEST_DATE = dt.date(1970, 1, 1)
_METADATA_TEXT_CHARS = 200


class _Answers:
    """The ``answers`` field: a table given, or (given None) the table made from the
    Validation's Arrow ``columns`` when first read - one facility's answers are
    mostly encoded and scored from its columns, without the table."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = name  # held in the instance's __dict__ under the field's own name

    def __get__(self, validation: Validation | None, owner: type | None = None) -> pd.DataFrame:
        if validation is None:
            raise AttributeError(self.slot)  # a field without a default
        frame: pd.DataFrame | None = validation.__dict__[self.slot]
        if frame is None:
            assert validation.columns is not None
            frame = answer_table(validation.columns)
            validation.__dict__[self.slot] = frame
        return frame

    def __set__(self, validation: Validation, frame: pd.DataFrame | None) -> None:
        validation.__dict__[self.slot] = frame


def answer_table(columns: Mapping[str, pa.Array]) -> pd.DataFrame:
    """Typed answer columns as the table of :attr:`Validation.answers`."""
    table: pd.DataFrame = pa.table(dict(columns)).to_pandas(
        types_mapper=_PANDAS_TYPES.get, date_as_object=False
    )
    return table


@dataclass(frozen=True)
class Validation:
    """The outcome of validating responses: typed answers, their states and every issue.

    Attributes
    ----------
    answers : pandas.DataFrame
        One column per question id, holding the answers the engine uses: the
        answer given, or the worst answer of a blank or unknown control
        (flagged in ``issues``); missing where a question does not apply.
    states : pandas.DataFrame
        One column per question id with the :class:`~scoring.vocabulary.AnswerState`
        of each cell as given.
    facilities : pandas.DataFrame
        ``facility_id``, ``facility_name``, ``answered_by``, ``assessed_on`` and
        ``row`` (the row number a user sees, or missing for one-facility files).
    issues : pandas.DataFrame
        Every issue, one per row, with the columns of ``ISSUE_COLUMNS``.
    valid : numpy.ndarray
        True for facilities without errors (warnings do not make a row invalid).
    """

    questionnaire: Questionnaire
    source: str
    answers: pd.DataFrame
    states: pd.DataFrame
    facilities: pd.DataFrame
    issues: pd.DataFrame
    valid: np.ndarray
    migrated_from: str | None = None
    columns: Mapping[str, pa.Array] | None = field(default=None, repr=False, compare=False)
    """The answers of ``answers`` as the typed Arrow columns validation made them (a date
    as ``date32``), by question id; None for a subset."""

    @property
    def n_rows(self) -> int:
        return len(self.valid)

    @property
    def n_valid(self) -> int:
        return int(self.valid.sum())

    @property
    def n_rejected(self) -> int:
        return self.n_rows - self.n_valid

    @property
    def is_valid(self) -> bool:
        """True when every facility is valid."""
        return bool(self.valid.all())

    @property
    def table(self) -> pd.DataFrame:
        """``facility_id`` and ``assessed_on`` followed by the answers: the encoder's input."""
        return pd.concat([self.facilities[["facility_id", "assessed_on"]], self.answers], axis=1)

    def subset(self, rows: np.ndarray) -> Validation:
        """The facilities selected by a boolean mask, with their issues only."""
        kept = self.facilities["row"][rows]
        mine = self.issues["row"].isin(kept.dropna()).to_numpy(dtype=bool)
        return replace(
            self,
            answers=self.answers[rows].reset_index(drop=True),
            states=self.states[rows].reset_index(drop=True),
            facilities=self.facilities[rows].reset_index(drop=True),
            issues=self.issues[mine].reset_index(drop=True),
            valid=self.valid[rows],
            columns=None,
        )

    def count(self, severity: Severity) -> int:
        """How many issues of one severity were found."""
        return int((self.issues["severity"] == severity.value).sum())

    def issue_list(self, severity: Severity | None = None, limit: int | None = None) -> list[Issue]:
        """Issues as :class:`~scoring.errors.Issue` objects (optionally of one severity)."""
        frame = self.issues
        if severity is not None:
            frame = frame[frame["severity"] == severity.value]
        if limit is not None:
            frame = frame.head(limit)
        result = []
        for record in frame.to_dict("records"):
            result.append(
                Issue(
                    reason=Reason(record["reason"]),
                    message=record["message"],
                    severity=Severity(record["severity"]),
                    source=record["source"],
                    row=None if pd.isna(record["row"]) else int(record["row"]),
                    facility_id=None if pd.isna(record["facility_id"]) else record["facility_id"],
                    question_id=None if pd.isna(record["question_id"]) else record["question_id"],
                    value=None if pd.isna(record["value"]) else record["value"],
                    allowed=None if pd.isna(record["allowed"]) else record["allowed"],
                )
            )
        return result


_answers_field = _Answers()
_answers_field.__set_name__(Validation, "answers")
Validation.answers = _answers_field  # type: ignore[assignment]  # the field, read lazily


@dataclass(frozen=True)
class _Block:
    """The rows of one column that broke one rule."""

    rows: np.ndarray
    order: int
    question_id: str | None
    severity: Severity
    reason: Reason
    values: list[str | None]
    message: str
    allowed: str | None


@dataclass
class _Sink:
    """Collects issues column-wise: one block of rows per rule that failed."""

    length: int
    warnings: bool = True
    """False: only errors are kept."""
    blocks: list[_Block] = field(default_factory=list)

    def add(
        self,
        mask: np.ndarray,
        *,
        reason: Reason,
        message: str,
        question_id: str | None,
        raw: pa.Array | None = None,
        allowed: str | None = None,
        order: int = 0,
        severity: Severity = Severity.ERROR,
    ) -> None:
        if severity is not _ERROR and not self.warnings:
            return
        if not mask.any():
            return
        rows = np.flatnonzero(mask)
        values: list[str | None] = [None] * rows.size
        if raw is not None:
            shown = pc.utf8_slice_codeunits(raw.take(pa.array(rows)), 0, MAX_SHOWN_VALUE + 1)
            values = [
                v if v is None or len(v) <= MAX_SHOWN_VALUE else v[:MAX_SHOWN_VALUE] + "..."
                for v in shown.to_pylist()
            ]
        self.blocks.append(
            _Block(rows, order, question_id, severity, reason, values, message, allowed)
        )

    def has_errors(self) -> np.ndarray:
        errors = np.zeros(self.length, dtype=np.bool_)
        for block in self.blocks:
            if block.severity is _ERROR:
                errors[block.rows] = True
        return errors

    def frame(self, source: str, rows: pd.Series, facility_ids: pd.Series) -> pd.DataFrame:
        if not self.blocks:
            return pd.DataFrame({name: pd.Series(dtype="object") for name in ISSUE_COLUMNS})
        sizes = [block.rows.size for block in self.blocks]
        index = np.concatenate([block.rows for block in self.blocks])
        order = np.repeat([block.order for block in self.blocks], sizes)
        ranked = np.lexsort((order, index))  # by row, then by the rule's order; stable

        def spread(values: list[Any]) -> np.ndarray:
            return np.repeat(np.array(values, dtype=object), sizes)[ranked]

        index = index[ranked]
        issues = pd.DataFrame(
            {
                "source": source,
                "row": rows.to_numpy()[index],
                "facility_id": facility_ids.to_numpy()[index],
                "question_id": spread([b.question_id for b in self.blocks]),
                "severity": spread([b.severity.value for b in self.blocks]),
                "reason": spread([b.reason.value for b in self.blocks]),
                "value": np.array([v for b in self.blocks for v in b.values], dtype=object)[ranked],
                "message": spread([b.message for b in self.blocks]),
                "allowed": spread([b.allowed for b in self.blocks]),
            }
        )
        return issues.loc[:, list(ISSUE_COLUMNS)].reset_index(drop=True)


def _file_issue(source: str, reason: Reason, message: str, **context: str | None) -> Issue:
    return Issue(reason=reason, message=message, source=source, **context)  # type: ignore[arg-type]


def _distinct(column: pa.Array) -> list[str | None]:
    trimmed = pc.utf8_trim_whitespace(column)
    blank = pc.or_kleene(pc.is_null(trimmed), pc.equal(trimmed, ""))
    values = pc.if_else(blank, pa.scalar(None, pa.string()), trimmed)
    return sorted(pc.unique(values).to_pylist(), key=lambda v: (v is None, v or ""))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _resolve_version(raw: RawResponses, questionnaire: Questionnaire) -> Migration | None:
    """Check which questionnaire the responses answer; return the migration to apply."""
    table, source = raw.table, raw.source
    issues = []
    found: dict[str, str | None] = {}
    for key, what in (
        ("questionnaire", "questionnaire id"),
        ("questionnaire_version", "questionnaire version"),
    ):
        if key not in table.column_names:
            issues.append(
                _file_issue(
                    source,
                    Reason.MISSING_COLUMN,
                    f"does not say which {what} it answers ('{key}' is missing)",
                    question_id=key,
                    allowed=questionnaire.id if key == "questionnaire" else questionnaire.version,
                )
            )
            continue
        values = _distinct(single(table[key]))
        if len(values) > 1:
            shown = ", ".join("(blank)" if v is None else v for v in values[:5])
            issues.append(
                _file_issue(
                    source,
                    Reason.MIXED_VERSIONS,
                    f"rows give different values for '{key}' ({shown}); a "
                    "file holds answers to one questionnaire version",
                    question_id=key,
                )
            )
        elif values == [None]:
            issues.append(
                _file_issue(source, Reason.MISSING_COLUMN, f"'{key}' is blank", question_id=key)
            )
        else:
            found[key] = values[0]
    if issues:
        raise InputError(issues)
    if found["questionnaire"] != questionnaire.id:
        raise InputError(
            [
                _file_issue(
                    source,
                    Reason.UNKNOWN_QUESTIONNAIRE,
                    f"answers questionnaire {found['questionnaire']!r}, which this engine does not "
                    f"have",
                    question_id="questionnaire",
                    value=found["questionnaire"],
                    allowed=questionnaire.id,
                )
            ]
        )
    version = found["questionnaire_version"] or ""
    if version == questionnaire.version:
        return None
    for migration in questionnaire.migrations:
        if migration.from_version == version:
            return migration
    declared = ", ".join(m.from_version for m in questionnaire.migrations) or "none"
    raise InputError(
        [
            _file_issue(
                source,
                Reason.UNSUPPORTED_VERSION,
                f"answers version {version} of {questionnaire.id}; this engine expects version "
                f"{questionnaire.version} and has migrations from: {declared}",
                question_id="questionnaire_version",
                value=version,
                allowed=questionnaire.version,
            )
        ]
    )


def _migrate(
    columns: dict[str, pa.Array], migration: Migration, sink: _Sink
) -> dict[str, pa.Array]:
    migrated: dict[str, pa.Array] = {}
    for name, column in columns.items():
        if name in migration.removed:
            present = to_mask(pc.not_equal(pc.utf8_trim_whitespace(column), ""))
            sink.add(
                present,
                reason=Reason.MIGRATED,
                severity=_WARNING,
                question_id=name,
                raw=column,
                order=-1,
                message=f"question removed after version {migration.from_version}; "
                "this answer is not used",
            )
            continue
        migrated[migration.renamed.get(name, name)] = column
    for qid, codes in migration.recoded.items():
        if qid in migrated:
            column = pc.utf8_trim_whitespace(migrated[qid])
            old = pa.array(list(codes), pa.string())
            new = pa.array(list(codes.values()), pa.string())
            index = pc.index_in(column, value_set=old)
            migrated[qid] = pc.coalesce(pc.take(new, index), column)
    return migrated


def _check_columns(raw: RawResponses, names: list[str], questionnaire: Questionnaire) -> None:
    source = raw.source
    known = list(questionnaire.by_id) + list(METADATA_COLUMNS)
    issues = []
    for name in names:
        if name not in questionnaire.by_id and name not in METADATA_COLUMNS:
            hint = suggest(name, known)
            issues.append(
                _file_issue(
                    source,
                    Reason.UNKNOWN_COLUMN,
                    f"{'column' if raw.is_table else 'question'} {name!r} is not a question of "
                    f"{questionnaire.key}" + (f"; did you mean {hint!r}?" if hint else ""),
                    question_id=name,
                )
            )
    if raw.is_table:
        present = set(names)
        if "facility_id" not in present:
            issues.append(
                _file_issue(
                    source,
                    Reason.MISSING_COLUMN,
                    "column 'facility_id' is missing",
                    question_id="facility_id",
                )
            )
        missing = [q.id for q in questionnaire.questions if q.required and q.id not in present]
        if missing:
            shown = ", ".join(missing[:10]) + (
                f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            )
            issues.append(
                _file_issue(
                    source,
                    Reason.MISSING_COLUMN,
                    f"columns for required questions are missing: {shown}",
                )
            )
    if issues:
        raise InputError(issues)


def worst_answer(question: Question, as_of_days: np.ndarray) -> pa.Array | pa.Scalar:
    """The worst answer of a control (for a date control: one staleness period ago)."""
    control = question.control
    assert control is not None
    if control.order is not None:
        return pa.scalar(control.order[0], pa.string())
    if control.better is Better.MORE_RECENT:
        days = math.ceil((control.stale_after_years or 1.0) * 365.25)
        return pa.array((as_of_days - days).astype("datetime64[D]"), pa.date32())
    value = question.min if control.better is Better.HIGHER else question.max
    kind = pa.int64() if question.kind is AnswerKind.INTEGER else pa.float64()
    return pa.scalar(int(value) if kind == pa.int64() else value, kind)  # type: ignore[arg-type]


def _readable(expression: str) -> str:
    return expression.replace("${", "").replace("}", "")


def _metadata(
    raw: RawResponses,
    columns: dict[str, pa.Array],
    sink: _Sink,
    as_of: dt.date,
    repeated: frozenset[str],
) -> tuple[pd.DataFrame, np.ndarray]:
    length = raw.table.num_rows
    data: dict[str, object] = {}
    for key in ("facility_id", "facility_name", "answered_by"):
        column = columns.get(key)
        if column is None:
            data[key] = pd.array([None] * length, dtype="string")
            continue
        text = pc.utf8_trim_whitespace(column)
        too_long = to_mask(pc.greater(pc.utf8_length(text), _METADATA_TEXT_CHARS))
        sink.add(
            too_long,
            reason=Reason.TOO_LONG,
            question_id=key,
            raw=column,
            order=-1,
            message=f"longer than {_METADATA_TEXT_CHARS} characters",
        )
        text = pc.if_else(pa.array(too_long), pa.scalar(None, pa.string()), text)
        blank = pc.fill_null(pc.equal(text, ""), True)
        data[key] = pd.array(pc.if_else(blank, pa.scalar(None, pa.string()), text), dtype="string")
    ids = data["facility_id"]
    if raw.is_table:
        missing = np.asarray(pd.isna(ids), dtype=np.bool_)  # type: ignore[call-overload]
        sink.add(
            missing,
            reason=Reason.REQUIRED,
            question_id="facility_id",
            order=-1,
            message="every row needs a facility_id",
        )
        duplicated = np.asarray(pd.Series(ids).duplicated(keep=False), dtype=np.bool_) & ~missing
        if repeated:
            duplicated |= np.asarray(pd.Series(ids).isin(repeated), dtype=np.bool_) & ~missing
        sink.add(
            duplicated,
            reason=Reason.DUPLICATE_FACILITY,
            question_id="facility_id",
            raw=columns.get("facility_id"),
            order=-1,
            message="the same facility_id is on more than one row; which row is right "
            "cannot be told",
        )
    default_day = np.datetime64(as_of, "D")
    as_of_days = np.full(length, default_day, dtype="datetime64[D]")
    if "assessed_on" in columns:
        coerced = coerce(columns["assessed_on"], _ASSESSED_ON)
        for failure in coerced.failures:
            sink.add(
                failure.mask,
                reason=failure.reason,
                question_id="assessed_on",
                raw=columns["assessed_on"],
                order=-1,
                message=failure.message,
                allowed=failure.allowed,
            )
        given = coerced.states == _ANSWERED
        days = to_numpy(coerced.values, "datetime64[D]")
        future = given & (days > default_day)
        sink.add(
            future,
            reason=Reason.FUTURE_DATE,
            question_id="assessed_on",
            raw=columns["assessed_on"],
            order=-1,
            message=f"is after {as_of.isoformat()}",
            allowed=f"a date up to {as_of}",
        )
        use = given & ~future
        as_of_days[use] = days[use]
    data["assessed_on"] = as_of_days.astype("datetime64[s]")
    data["row"] = pd.array(raw.row_numbers(), dtype="Int64")
    return pd.DataFrame(data), as_of_days


def validate(
    raw: RawResponses,
    questionnaire: Questionnaire,
    *,
    as_of: dt.date,
    repeated: frozenset[str] = frozenset(),
    warnings: bool = True,
) -> Validation:
    """Apply every rule of ``questionnaire`` to ``raw`` responses.

    Parameters
    ----------
    raw : RawResponses
        Text columns from :func:`~scoring.responses.reading.read_responses`.
    questionnaire : Questionnaire
        The questionnaire the responses must answer.
    as_of : datetime.date
        The assessment date for rows that do not give ``assessed_on``; dates after
        a row's assessment date are refused. Passed in, never read from a clock, so
        that the same input always gives the same result.
    repeated : frozenset of str, optional
        Facility ids that occur more than once in the whole book, when ``raw`` is
        one chunk of it: their rows are refused as duplicates, as they would be in
        one table.
    warnings : bool, default True
        False keeps only errors in ``issues`` (a book's batch run writes only the
        errors, and a book with blank answers has many warnings). The answers and
        verdicts are the same either way.

    Returns
    -------
    Validation
        Typed answers, states, metadata and every issue.

    Raises
    ------
    InputError
        For problems with the file as a whole (unknown or missing columns, another
        questionnaire or version without a migration).
    """
    source = raw.source
    length = raw.table.num_rows
    sink = _Sink(length, warnings)
    migration = _resolve_version(raw, questionnaire)
    columns = {name: single(raw.table[name]) for name in raw.table.column_names}
    if migration is not None:
        columns = _migrate(columns, migration, sink)
    _check_columns(raw, list(columns), questionnaire)
    facilities, as_of_days = _metadata(raw, columns, sink, as_of, repeated)

    effective: dict[str, pa.Array] = {}
    states: dict[str, np.ndarray] = {}
    blank_column = pa.nulls(length, pa.string())
    for order, question in enumerate(questionnaire.questions):
        raw_column = columns.get(question.id, blank_column)
        coerced = coerce(raw_column, question)
        state = coerced.states
        for failure in (*coerced.failures, *coerced.warnings):
            sink.add(
                failure.mask,
                reason=failure.reason,
                message=failure.message,
                question_id=question.id,
                raw=raw_column,
                allowed=failure.allowed,
                order=order,
                severity=failure.severity,
            )
        values = coerced.values
        if question.kind is AnswerKind.DATE:
            values = _check_dates(values, state, question, raw_column, as_of_days, sink, order)
        relevant = np.ones(length, dtype=np.bool_)
        if question.relevant is not None:
            relevant = one_row.applies(question.relevant, effective, length=length)
            contradicting = ~relevant & (state == _ANSWERED)
            sink.add(
                contradicting,
                reason=Reason.NOT_RELEVANT_ANSWERED,
                question_id=question.id,
                raw=raw_column,
                order=order,
                message="answered, but this question applies only when "
                f"{_readable(question.relevant)}; leave it blank or fix the earlier answer",
            )
            state = np.where(
                ~relevant & (state != _INVALID),
                np.uint8(_NOT_RELEVANT),
                state,
            )
            state[contradicting] = _INVALID
            if not relevant.all():  # else every row keeps its value
                values = pc.if_else(pa.array(relevant), values, pa.scalar(None, values.type))
        never = relevant & (state == _ANSWERED)
        never &= coerced.never if coerced.never is not None else False
        values = _apply_policy(
            question, values, state, relevant, never, raw_column, as_of_days, sink, order
        )
        effective[question.id] = values
        states[question.id] = state

    for order, question in enumerate(questionnaire.questions):
        if question.constraint is None:
            continue
        holds = one_row.applies(
            question.constraint, effective, length=length, self_column=effective[question.id]
        )
        broken = ~holds & (states[question.id] == _ANSWERED)
        sink.add(
            broken,
            reason=Reason.CONSTRAINT,
            question_id=question.id,
            raw=columns.get(question.id),
            order=order,
            message=question.constraint_message
            or f"does not meet the condition {_readable(question.constraint)}",
        )

    valid = ~sink.has_errors()
    single_row = length == 1
    answers = None if single_row else answer_table(effective)
    if single_row:  # one block of one row, as the columns would be joined into
        state_frame = pd.DataFrame(
            np.stack(list(states.values()), axis=1) if states else None, columns=list(states)
        )
    else:
        state_frame = pd.DataFrame(states)
    issues = sink.frame(source, facilities["row"], facilities["facility_id"])
    return Validation(
        questionnaire=questionnaire,
        source=source,
        answers=answers,  # type: ignore[arg-type]  # None: made from the columns when read
        states=state_frame,
        facilities=facilities,
        issues=issues,
        valid=valid,
        migrated_from=migration.from_version if migration else None,
        columns=effective if single_row else None,
    )


_PANDAS_TYPES = {
    pa.int64(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.string(): pd.StringDtype(),
}


def _check_dates(
    values: pa.Array,
    state: np.ndarray,
    question: Question,
    raw: pa.Array,
    as_of_days: np.ndarray,
    sink: _Sink,
    order: int,
) -> pa.Array:
    days = to_numpy(values, "datetime64[D]")
    given = state == _ANSWERED
    future = given & (days > as_of_days)
    early = given & (days < np.datetime64(EARLIEST_DATE, "D"))
    sink.add(
        future,
        reason=Reason.FUTURE_DATE,
        question_id=question.id,
        raw=raw,
        order=order,
        message="is after the assessment date",
        allowed="a date up to the assessment date",
    )
    sink.add(
        early,
        reason=Reason.OUT_OF_RANGE,
        question_id=question.id,
        raw=raw,
        order=order,
        message=f"is before {EARLIEST_DATE.isoformat()}",
    )
    bad = future | early
    if bad.any():
        state[bad] = _INVALID
        values = pc.if_else(pa.array(bad), pa.scalar(None, pa.date32()), values)
    return values


def _apply_policy(
    question: Question,
    values: pa.Array,
    state: np.ndarray,
    relevant: np.ndarray,
    never: np.ndarray,
    raw: pa.Array,
    as_of_days: np.ndarray,
    sink: _Sink,
    order: int,
) -> pa.Array:
    """Apply the answer policy (module docstring) to one question's column."""
    unanswered = relevant & (state == _UNANSWERED)
    unknown = relevant & (state == _UNKNOWN)
    not_applicable = relevant & (state == _NOT_APPLICABLE)
    if not (unanswered.any() or unknown.any() or not_applicable.any() or never.any()):
        return values  # every relevant answer given: no rule below has a row to act on
    if not question.allow_unknown:
        sink.add(
            unknown,
            reason=Reason.UNKNOWN_REFUSED,
            question_id=question.id,
            raw=raw,
            order=order,
            message="'unknown' is not accepted for this question",
            allowed=describe_allowed(question),
        )
        state[unknown] = _INVALID
        unknown = np.zeros_like(unknown)
    if not question.allow_not_applicable:
        sink.add(
            not_applicable,
            reason=Reason.NOT_APPLICABLE_REFUSED,
            question_id=question.id,
            raw=raw,
            order=order,
            allowed=describe_allowed(question),
            message="'not applicable' is not accepted: this question applies"
            + (
                f" because {_readable(question.relevant)}"
                if question.relevant
                else " to every facility"
            ),
        )
        state[not_applicable] = _INVALID
    if question.control is not None:
        worst = unanswered | unknown | never
        sink.add(
            unanswered,
            reason=Reason.TREATED_AS_WORST,
            question_id=question.id,
            severity=_WARNING,
            order=order,
            message="unanswered: treated as its worst answer, as insurers treat a blank as 'no'",
        )
        sink.add(
            unknown,
            reason=Reason.TREATED_AS_WORST,
            question_id=question.id,
            severity=_WARNING,
            order=order,
            raw=raw,
            message="treated as its worst answer",
        )
        if worst.any():
            fill = worst_answer(question, as_of_days)
            values = pc.if_else(pa.array(worst), fill, values)
    elif question.required:
        sink.add(
            unanswered,
            reason=Reason.REQUIRED,
            question_id=question.id,
            order=order,
            message="a required question is unanswered",
            allowed=describe_allowed(question),
        )
    return values
