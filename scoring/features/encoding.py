"""The answer encoding: validated answers -> a documented numeric matrix.

:class:`AnswerEncoder` holds every encoding rule. Its input is
:attr:`Validation.table <scoring.responses.validation.Validation.table>`
(question columns plus ``assessed_on``); its output has one column per feature,
each traceable to a question id (``feature_info``):

========================  ==========================================  =====================
encoding                  feature(s)                                  value
========================  ==========================================  =====================
ordinal (controls)        ``<id>``                                    0 = worst .. 1 = best
one_hot (choices)         ``<id>=<code>`` for every code              0/1
indicators (multiple)     ``<id>=<code>`` for every code              0/1
log / log1p               ``<id>__log`` / ``<id>__log1p``             log(x) / log(1 + x)
linear                    ``<id>``                                    x
share (percent)           ``<id>__share``                             x / 100
years_since (dates)       ``<id>__years``                             age at assessment
========================  ==========================================  =====================

Every control, whatever its kind, becomes one *level* between 0 (worst answer)
and 1 (best answer), so "a better answer never raises expected loss" is one sign
constraint per control for the loss model. A date control's level falls from 1
(done on the assessment date) to 0 (``stale_after_years`` ago or longer); a numeric
control's level is straight between its question's ``transform.knots`` (or from
``min`` to ``max`` without knots), so that an effect that sits at a threshold (patched
within 7 days) is one the model can price.

Every other number is *capped*: its feature (after log, log1p, share ...) is clipped
to two quantiles of the training book (the question's ``transform.cap``), learned by
:meth:`AnswerEncoder.learn_caps` in training and stored in the model, so an answer
beyond the book's range is priced as the book's extreme, never extrapolated. A
question that chooses the cover (``cover: true``: limit, retention) is no feature.

Missing answers (the validator has already put the worst answer in place of
blank and unknown controls):

* a control that does not apply is at its **best** level when the exposure it
  protects is absent (no PACS -> PACS exposure is not a risk) or when the facility
  answered "not applicable", and at its **worst** level when it does not apply
  because the control it depends on is missing (no MDM -> no remote wipe);
* a number that does not apply is 0 (no imaging -> 0 modalities); an "unknown"
  number takes the median of the answers the fill values were learned from and
  sets ``<id>__unknown`` to 1;
* a choice that does not apply has all its indicators at 0.

The scoring path (the rating engine, a loss model's :meth:`LossModel.encoder
<scoring.model.loss_model.LossModel.encoder>`) uses :class:`AnswerEncoder`
directly; :class:`~scoring.features.encoder.FeatureEncoder` wraps it as a
scikit-learn transformer.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from scoring._arrow import to_mask, to_numpy
from scoring.questionnaire import expression as ex
from scoring.questionnaire.definition import Question, Questionnaire
from scoring.responses import one_row
from scoring.vocabulary import AnswerKind, Better, Encoding

AS_OF_COLUMN = "assessed_on"
_DAYS_PER_YEAR = 365.25
_YEARS_CAP = 50.0


def _arrow(column: pd.Series) -> pa.Array:
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return pa.array(
            column.to_numpy(dtype="datetime64[D]"), pa.date32(), mask=column.isna().to_numpy()
        )
    array = pa.array(column, from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _read_by_skip_logic(questionnaire: Questionnaire) -> frozenset[str]:
    """The question ids some question's skip logic reads (expressions are parsed once)."""
    return frozenset(
        qid
        for question in questionnaire.questions
        if question.relevant is not None
        for qid in ex.references(ex.parse(question.relevant))
    )


def _number_feature(question: Question, numbers: np.ndarray) -> np.ndarray:
    """A number question's feature: the answers on the question's scale."""
    encoding = question.effective_encoding
    values: np.ndarray
    if encoding is Encoding.LOG:
        values = np.log(np.maximum(numbers, float(question.min or 1.0)))
        return values
    if encoding is Encoding.LOG1P:
        values = np.log1p(np.maximum(numbers, 0.0))
        return values
    if encoding is Encoding.SHARE:
        return numbers / 100.0
    return numbers


_ONE_ROW_REMEMBERED = 16384
"""One-row encodings an encoder remembers before it forgets them all."""

CAP_DIGITS = 8
"""Significant digits of a learned cap (as of a coefficient, scoring/model/training.py)."""


def _significant(value: float) -> float:
    return float(f"{value:.{CAP_DIGITS}g}")


def _is_capped(question: Question) -> bool:
    """Whether a question's value feature is capped at quantiles of the training book."""
    return (
        question.control is None
        and (question.is_numeric or question.kind is AnswerKind.DATE)
        and question.effective_encoding not in (Encoding.NONE, Encoding.ORDINAL)
    )


def _has_fill_value(question: Question) -> bool:
    """Whether an "unknown" answer to the question takes a learned fill value."""
    return question.is_numeric and question.control is None and question.allow_unknown


def _numeric_level(question: Question, numbers: np.ndarray) -> np.ndarray:
    """A numeric control's answer as a share of the way from its low end to its high end:
    straight between its knots, each knot an equal step (straight from ``min`` to
    ``max`` without knots); the caller turns it round when lower is better."""
    knots = question.transform.knots
    if knots is not None:
        steps = np.linspace(0.0, 1.0, len(knots))
        return np.asarray(np.interp(numbers, knots, steps), dtype=np.float64)
    low, high = float(question.min or 0.0), float(question.max or 1.0)
    span = (high - low) or 1.0
    return np.asarray(np.clip((numbers - low) / span, 0.0, 1.0), dtype=np.float64)


class AnswerEncoder:
    """Encode validated answers of one questionnaire as numeric features.

    Parameters
    ----------
    questionnaire : Questionnaire
        The questionnaire the answers follow.
    unknown_fill : mapping of str to float, optional
        The number put in place of an "unknown" answer, by question id (as
        :meth:`learn` learns it, or as a model file stores it); 0 for a question
        not listed.

    Attributes
    ----------
    questionnaire : Questionnaire
        The questionnaire the answers follow.
    feature_names : numpy.ndarray of str
        Feature names, in output order; each starts with its question id.
    feature_info : pandas.DataFrame
        One row per feature: ``feature``, ``question_id``, ``encoding``,
        ``is_control``, ``perils``.
    unknown_fill : dict
        The number put in place of an "unknown" answer, by question id.

    Examples
    --------
    >>> from scoring import AnswerEncoder, bundled_questionnaire
    >>> encoder = AnswerEncoder(bundled_questionnaire())
    >>> encoder.feature_info.columns.tolist()
    ['feature', 'question_id', 'encoding', 'is_control', 'perils']
    >>> bool(encoder.feature_info["is_control"].any())
    True
    """

    def __init__(
        self,
        questionnaire: Questionnaire,
        unknown_fill: Mapping[str, float] | None = None,
        caps: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        self.questionnaire = questionnaire
        info = [row for q in questionnaire.questions for row in self._layout(q)]
        self.feature_info = pd.DataFrame(
            info, columns=["feature", "question_id", "encoding", "is_control", "perils"]
        )
        self.feature_names: np.ndarray = self.feature_info["feature"].to_numpy(dtype=object)
        self.unknown_fill: dict[str, float] = dict(unknown_fill or {})
        self.caps: dict[str, tuple[float, float]] = {
            name: (float(low), float(high)) for name, (low, high) in (caps or {}).items()
        }
        self._read = _read_by_skip_logic(questionnaire)
        self._fixed_ends: dict[str, tuple[pa.Scalar, pa.Scalar]] = {}
        self._one_row: dict[tuple[Any, ...], list[np.ndarray]] = {}

    @property
    def capped_features(self) -> dict[str, Question]:
        """The features capped at quantiles of the training book, and their questions:
        the value feature of every number and date that is not a control."""
        return {
            self._layout(question)[0][0]: question
            for question in self.questionnaire.questions
            if _is_capped(question)
        }

    def learn_caps(self, features: np.ndarray) -> None:
        """Learn each capped feature's cap (the question's ``transform.cap`` quantiles of
        ``features``, the book's encoded answers) and clip ``features`` to it in place.

        The caps are kept to ``CAP_DIGITS`` significant digits, the same numbers the
        model file stores, so a book's features are clipped exactly as a facility's
        are when it is scored.
        """
        names = {str(name): k for k, name in enumerate(self.feature_names)}
        caps: dict[str, tuple[float, float]] = {}
        for name, question in self.capped_features.items():
            column = features[:, names[name]]
            if column.size == 0:
                continue
            low, high = np.quantile(column, question.transform.cap)
            caps[name] = (_significant(float(low)), _significant(float(high)))
            np.clip(column, *caps[name], out=column)  # a view: clips the book's features
        self.caps = caps

    @classmethod
    def learn(cls, questionnaire: Questionnaire, X: pd.DataFrame) -> AnswerEncoder:
        """An encoder whose fill values for unknown numbers are learned from the answers ``X``."""
        encoder = cls(questionnaire)
        encoder.check_columns(X)
        encoder.refill(
            np.empty((0, len(encoder.feature_names))),
            {qid: [values] for qid, values in encoder.fill_values(X).items()},
        )
        return encoder

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode answers; returns a float64 array of shape (n_rows, n_features)."""
        self.check_columns(X)
        as_of = self._as_of(X)
        return self.encode_columns(
            {q.id: _arrow(X[q.id]) for q in self.questionnaire.questions}, as_of
        )

    def encode_columns(self, columns: Mapping[str, pa.Array], as_of: np.ndarray) -> np.ndarray:
        """Encode answers given as Arrow columns (what :meth:`transform` makes of a table).

        Parameters
        ----------
        columns : mapping of str to pyarrow.Array
            Every question's answers, typed as validation gives them (a date column as
            ``date32``), by question id.
        as_of : numpy.ndarray of datetime64[D]
            Each row's assessment date.

        Returns
        -------
        numpy.ndarray
            Float64 features of shape (n_rows, n_features).
        """
        questionnaire = self.questionnaire
        length = len(as_of)
        resolved: dict[str, pa.Array] = {}
        best_env: dict[str, pa.Array] = {}  # only the answers some skip logic reads
        read = self._read
        out = np.empty((length, len(self.feature_names)), dtype=np.float64, order="F")
        position = 0
        for question in questionnaire.questions:
            column = columns[question.id]
            relevant = self._relevant(question, resolved, length)
            if question.control is not None:
                column, best = self._resolve_control(
                    question, column, relevant, best_env, as_of, length
                )
                if question.id in read:
                    best_env[question.id] = (
                        pa.repeat(best, length) if isinstance(best, pa.Scalar) else best
                    )
            elif question.id in read:
                best_env[question.id] = column
            resolved[question.id] = column
            for block in self._encode_remembered(question, column, relevant, as_of):
                out[:, position] = block
                position += 1
        return out

    def control_level(self, question: Question, answer: Any, as_of: dt.date) -> float:
        """The level (0 worst .. 1 best) one answer to a control is encoded as.

        The same encoding as :meth:`transform`, for one answer: remediation advice
        uses it to price an improved answer without re-encoding every question.
        """
        if question.control is None:
            raise ValueError(f"{question.id} is not a control")
        if question.kind is AnswerKind.DATE:
            column = pa.array([answer], pa.date32())
        elif question.is_numeric:
            column = pa.array([answer], pa.float64())
        else:
            column = pa.array([answer], pa.string())
        days = np.array([as_of], dtype="datetime64[D]")
        (level,) = self._encode(question, column, np.ones(1, dtype=np.bool_), days)
        return float(level[0])

    def check_columns(self, X: Any) -> None:
        """Refuse anything but a table with an answer column for every question."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X must be a pandas DataFrame of answers; got {type(X).__name__}")
        missing = [q.id for q in self.questionnaire.questions if q.id not in X.columns]
        if missing:
            raise ValueError(
                f"X lacks answer column(s) for {len(missing)} question(s): "
                + ", ".join(missing[:5])
            )

    # -- fill values learned from a book read in parts -------------------------------------
    def fill_values(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """The numbers of ``X`` fill values are learned from, question by question: a
        book read in parts gathers them part by part (see :meth:`refill`)."""
        return {
            question.id: pd.to_numeric(X[question.id], errors="coerce").dropna().to_numpy()
            for question in self.questionnaire.questions
            if _has_fill_value(question)
        }

    def refill(self, features: np.ndarray, values: dict[str, list[np.ndarray]]) -> None:
        """Learn the fill values from the numbers of every part of a book (as gathered
        by :meth:`fill_values`), and put them in place of the unknown numbers of
        ``features``, which this encoder encoded before it knew them.

        The encoder then holds the state :meth:`learn` on the whole book gives, and
        ``features`` are what it would have encoded.
        """
        fill = {
            qid: float(np.median(np.concatenate(parts))) if sum(map(len, parts)) else 0.0
            for qid, parts in values.items()
        }
        names = {name: k for k, name in enumerate(self.feature_names)}
        for question in self.questionnaire.questions:
            if question.id not in fill:
                continue
            value = names[self._layout(question)[0][0]]
            unknown = names[f"{question.id}__unknown"]
            rows = features[:, unknown] == 1.0
            encoded = _number_feature(question, np.array([fill[question.id]]))[0]
            features[rows, value] = encoded
        self.unknown_fill = fill

    # -- helpers ---------------------------------------------------------------------------
    def _as_of(self, X: pd.DataFrame) -> np.ndarray:
        if not any(q.kind is AnswerKind.DATE for q in self.questionnaire.questions):
            return np.zeros(len(X), dtype="datetime64[D]")
        if AS_OF_COLUMN not in X.columns:
            raise ValueError(f"X needs an {AS_OF_COLUMN!r} column to age date answers")
        days = pd.to_datetime(X[AS_OF_COLUMN]).to_numpy(dtype="datetime64[D]")
        if np.isnat(days).any():
            raise ValueError(f"{AS_OF_COLUMN!r} has missing dates")
        return days

    @staticmethod
    def _layout(question: Question) -> list[tuple[str, str, str, bool, str]]:
        encoding = question.effective_encoding
        qid = question.id
        perils = ",".join(p.value for p in question.control.perils) if question.control else ""
        control = question.control is not None

        def row(name: str) -> tuple[str, str, str, bool, str]:
            return (name, qid, encoding.value, control, perils)

        if encoding is Encoding.NONE:
            return []
        if encoding in (Encoding.ONE_HOT, Encoding.INDICATORS):
            return [row(f"{qid}={code}") for code in question.choice_codes]
        suffix = {
            Encoding.ORDINAL: "",
            Encoding.LINEAR: "",
            Encoding.LOG: "__log",
            Encoding.LOG1P: "__log1p",
            Encoding.SHARE: "__share",
            Encoding.YEARS_SINCE: "" if control else "__years",
        }[encoding]
        rows = [row(qid + suffix)]
        if _has_fill_value(question):
            rows.append(row(f"{qid}__unknown"))
        return rows

    @staticmethod
    def _relevant(question: Question, env: dict[str, pa.Array], length: int) -> np.ndarray:
        if question.relevant is None:
            return np.ones(length, dtype=np.bool_)
        return one_row.applies(question.relevant, env, length=length)

    @staticmethod
    def _best_and_worst(question: Question, as_of: np.ndarray) -> tuple[pa.Array, pa.Array]:
        control = question.control
        assert control is not None
        if control.order is not None:
            return pa.scalar(control.order[-1]), pa.scalar(control.order[0])
        if control.better is Better.MORE_RECENT:
            stale = math.ceil((control.stale_after_years or 1.0) * _DAYS_PER_YEAR)
            return (
                pa.array(as_of, pa.date32()),
                pa.array((as_of - stale).astype("datetime64[D]"), pa.date32()),
            )
        kind = pa.int64() if question.kind is AnswerKind.INTEGER else pa.float64()
        low, high = float(question.min or 0.0), float(question.max or 0.0)
        best, worst = (high, low) if control.better is Better.HIGHER else (low, high)
        cast = int if kind == pa.int64() else float
        return pa.scalar(cast(best), kind), pa.scalar(cast(worst), kind)

    def _resolve_control(
        self,
        question: Question,
        column: pa.Array,
        relevant: np.ndarray,
        best_env: dict[str, pa.Array],
        as_of: np.ndarray,
        length: int,
    ) -> tuple[pa.Array, pa.Array]:
        """Fill a control's missing answers with its best or worst answer (see module doc).

        ``relevant`` says where the control applies given the answers resolved so far.
        """
        ends = self._fixed_ends.get(question.id)
        if ends is None:
            ends = self._best_and_worst(question, as_of)
            if isinstance(ends[0], pa.Scalar):  # not a date: the same for every row
                self._fixed_ends[question.id] = ends
        best, worst = ends
        if column.type != best.type:
            column = column.cast(best.type)
        missing = to_mask(column.is_null())
        if missing.any():
            gated_by_control = np.zeros(length, dtype=np.bool_)
            if question.relevant is not None:
                applies_if_best = one_row.applies(question.relevant, best_env, length=length)
                gated_by_control = ~relevant & applies_if_best
            fill = pc.if_else(pa.array(gated_by_control), worst, best)
            column = pc.if_else(pa.array(missing), fill, column)
        return column, best

    def _encode_remembered(
        self, question: Question, column: pa.Array, relevant: np.ndarray, as_of: np.ndarray
    ) -> list[np.ndarray]:
        """:meth:`_encode`, remembered for one row of a control or a choice question (whose
        features depend only on the answer, whether the question applies and, for a date,
        the assessment date; never on what the encoder learned)."""
        if len(column) != 1 or not (question.control is not None or question.is_choice):
            return self._encode(question, column, relevant, as_of)
        key = (
            question.id,
            column.type,
            column[0].as_py(),
            bool(relevant[0]),
            as_of[0] if question.kind is AnswerKind.DATE else None,
        )
        found = self._one_row.get(key)
        if found is None:
            found = self._encode(question, column, relevant, as_of)
            for block in found:
                block.flags.writeable = False
            if len(self._one_row) >= _ONE_ROW_REMEMBERED:
                self._one_row.clear()
            self._one_row[key] = found
        return found

    def _encode(
        self, question: Question, column: pa.Array, relevant: np.ndarray, as_of: np.ndarray
    ) -> list[np.ndarray]:
        encoding = question.effective_encoding
        if encoding is Encoding.NONE:
            return []
        if encoding in (Encoding.ONE_HOT, Encoding.INDICATORS):
            # indicators of each distinct answer, spread over the rows
            encoded = pc.dictionary_encode(column, null_encoding="encode")
            rows = to_numpy(encoded.indices, np.intp)
            distinct = encoded.dictionary.to_pylist()
            chosen = [set((text or "").split(";")) for text in distinct]
            return [
                np.asarray([code in picked for picked in chosen], dtype=np.float64)[rows]
                for code in question.choice_codes
            ]
        if question.control is not None and question.control.order is not None:
            order = question.control.order
            index = pc.index_in(column, value_set=pa.array(list(order), pa.string()))
            return [to_numpy(index, np.float64) / (len(order) - 1)]
        if question.kind is AnswerKind.DATE:
            days = to_numpy(column, "datetime64[D]")
            years = (as_of - days).astype(np.float64) / _DAYS_PER_YEAR
            control = question.control
            if control is not None:
                cap = control.stale_after_years or 1.0
                return [1.0 - np.clip(years, 0.0, cap) / cap]
            years = np.where(np.isnan(years), 0.0, np.clip(years, 0.0, _YEARS_CAP))
            return [self._capped(question, years)]
        numbers = to_numpy(column, np.float64)
        if question.control is not None:
            level = _numeric_level(question, numbers)
            return [1.0 - level if question.control.better is Better.LOWER else level]
        missing = np.isnan(numbers)
        unknown = missing & relevant
        numbers = np.where(unknown, self.unknown_fill.get(question.id, 0.0), numbers)
        numbers = np.where(missing & ~relevant, 0.0, numbers)
        blocks = [self._capped(question, _number_feature(question, numbers))]
        if question.allow_unknown:
            blocks.append(unknown.astype(np.float64))
        return blocks

    def _capped(self, question: Question, values: np.ndarray) -> np.ndarray:
        """A value feature clipped to its learned cap (as it is when none is learned yet)."""
        cap = self.caps.get(self._layout(question)[0][0])
        return values if cap is None else np.clip(values, *cap)
