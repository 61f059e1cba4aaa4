"""Turning raw cells into typed answers, column by column.

Every cell arrives as text (see :mod:`scoring.responses.reading`). Each rule
below is applied to a whole column at once with ``pyarrow.compute``, so one
facility and a million go through the same code. The accepted coercions are
exactly these (README.md, "What the reader accepts"):

* surrounding spaces are ignored; an empty cell is unanswered;
* ``unknown``, ``don't know``, ``dont know``, ``not known`` (any case) mean *unknown*;
  ``n/a``, ``na``, ``not applicable`` (any case) mean *not applicable*; a
  question's own choice code or label always wins over these words;
* yes/no: ``yes y true t 1`` and ``no n false f 0`` in any case;
* choices: the code or the label, in any case; multiple choice separated by ``;``
  (order and repeats do not matter, an empty part is an error);
* integers: ``1234``, ``1,234`` (commas only as thousands separators in groups of
  three), ``12.0`` (a whole number written with zero decimals);
* numbers: ``1234.5``, ``1,234.5``, ``1.5e6``; a leading ``$`` for amounts in
  USD; a trailing ``%`` for percentages; a decimal comma (``1,5``) is ambiguous
  and refused;
* percentages: a number from 0 to 100 (``85`` or ``85%`` is 85 %); a number
  above 0 and at most 1 written without ``%`` (``0.85``) is read as written
  (0.85 %) and flagged with a warning naming both readings (0.85 % or 85 %);
* dates: ``YYYY-MM-DD`` (a time after it is ignored), or an Excel serial day
  number between 20000 and 80000 (1954-2119); a date written with ``/`` or
  ``.`` and a four-digit year (``09/15/2025``, ``2025/09/15``) where exactly one
  order of day and month is a valid date; where both are (``03/04/2025``) it is
  ambiguous and refused; ``never`` (any case) answers a date control ("when did
  you last test a restore?") and counts as its worst answer.

Anything else is an error naming what was given and what is allowed. Nothing is
evaluated: a cell such as ``=HYPERLINK(...)`` is just text that is not a valid
answer (or, for a free-text question, text kept as it is).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scoring._arrow import to_mask, to_numpy
from scoring.questionnaire.definition import Question
from scoring.responses.date_cells import read_dates
from scoring.vocabulary import AnswerKind, AnswerState, Reason, Severity

UNKNOWN_WORDS = ("unknown", "don't know", "dont know", "not known", "don\u2019t know")
NOT_APPLICABLE_WORDS = ("n/a", "na", "not applicable")
NEVER_WORDS = ("never",)
YES_WORDS = ("yes", "y", "true", "t", "1")
NO_WORDS = ("no", "n", "false", "f", "0")
MAX_CELL_CHARS = 200
"""Longest accepted cell for anything but free text (which has its own max_length)."""

_INTEGER = r"^-?(\d+|\d{1,3}(,\d{3})+)(\.0+)?$"
_NUMBER = r"^-?(\d+(\.\d*)?|\.\d+|\d{1,3}(,\d{3})+(\.\d*)?)([eE][-+]?\d{1,3})?$"
_DECIMAL_COMMA = r"^-?\d+,\d{1,2}$|^-?\d+,\d{4,}$"
_CONTROL_CHARACTERS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
"""Characters that are not text (a regular expression's character class)."""
_CONTROL_BYTES = np.zeros(256, dtype=np.bool_)
_CONTROL_BYTES[[*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]] = True


def _may_contain(text: pa.Array, characters: str) -> bool:
    """Whether any cell may hold one of these ASCII characters (or, given
    ``_CONTROL_CHARACTERS``, a control character). The array's bytes are scanned at
    once; False is certain (in UTF-8 an ASCII byte is always that character), True
    may come from bytes under a null cell."""
    data = text.buffers()[2] if text.type == pa.string() else None
    if data is None:
        return text.type != pa.string() and len(text) > 0
    found = np.frombuffer(data, dtype=np.uint8)
    if characters == _CONTROL_CHARACTERS:
        return bool(_CONTROL_BYTES[found].any())
    wanted = np.zeros(256, dtype=np.bool_)
    wanted[[ord(c) for c in characters]] = True
    return bool(wanted[found].any())


def number_text(value: float) -> str:
    """A number as a person writes it: thousands separators, no exponent.

    Whole numbers lose their decimals (``10000000.0`` is ``10,000,000``); other
    numbers keep the digits that tell them apart. Only magnitudes beyond
    ordinary answers (from 10^15, or below 10^-6) keep an exponent.

    Examples
    --------
    >>> number_text(1e10), number_text(5000), number_text(0.85), number_text(-1234.5)
    ('10,000,000,000', '5,000', '0.85', '-1,234.5')
    """
    if not np.isfinite(value):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 1e15 or 0 < magnitude < 1e-6:
        return f"{value:g}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{Decimal(repr(float(value))):,f}"


@dataclass
class Failure:
    """Rows of one column that fail one rule (or, as a warning, are flagged by one)."""

    mask: np.ndarray
    reason: Reason
    message: str
    allowed: str | None = None
    severity: Severity = Severity.ERROR
    """A warning keeps the answer as read; an error makes the cell invalid."""


@dataclass
class Coerced:
    """A typed column, the state of each cell, and the cells that failed."""

    values: pa.Array
    states: np.ndarray
    failures: list[Failure] = field(default_factory=list)
    never: np.ndarray | None = None
    """Date controls: cells answered "never" (held as null; the policy makes them worst)."""
    warnings: list[Failure] = field(default_factory=list)
    """Cells kept as read but flagged (a percentage at or below 1 written without ``%``)."""


def _words(items: tuple[str, ...]) -> pa.Array:
    return pa.array(list(items), pa.string())


def describe_allowed(question: Question) -> str:
    """What a question accepts, in words, for error messages (worked out once a question)."""
    known = _allowed.get(id(question))
    if known is not None and known[0] is question:
        return known[1]
    text = _describe_allowed(question)
    if len(_allowed) >= _REMEMBERED:
        _allowed.clear()
    _allowed[id(question)] = (question, text)
    return text


_allowed: dict[int, tuple[Question, str]] = {}
"""What each question accepts, in words (the entry keeps its question alive)."""


def _describe_allowed(question: Question) -> str:
    kind = question.kind
    if question.is_choice:
        text = ", ".join(question.choice_codes)
        return (
            f"one or more of {text}, separated by ';'"
            if kind is AnswerKind.MULTIPLE_CHOICE
            else text
        )
    if question.is_numeric:
        low = "" if question.min is None else number_text(question.min)
        high = "" if question.max is None else number_text(question.max)
        noun = {
            AnswerKind.INTEGER: "a whole number",
            AnswerKind.NUMBER: "a number",
            AnswerKind.PERCENT: "a percentage",
        }[kind]
        if low and high:
            return f"{noun} from {low} to {high}"
        if low:
            return f"{noun} of at least {low}"
        if high:
            return f"{noun} of at most {high}"
        return noun
    if kind is AnswerKind.DATE:
        return "a date written YYYY-MM-DD" + (" or never" if question.control else "")
    return f"text of at most {question.max_length} characters"


def coerce(raw: pa.Array, question: Question) -> Coerced:
    """Coerce one raw text column to the typed answers of ``question``.

    The result's ``states`` say, for every cell, whether it was answered,
    unanswered, unknown, not applicable or invalid; invalid cells hold null.
    Relevance and the answer policy are applied later, by the validator.

    Each distinct cell text is coerced once and the results are spread back over
    the rows: a column of a million yes/no answers holds a handful of distinct
    texts, so the rules run on those few.
    """
    raw = pc.cast(raw, pa.string()) if raw.type != pa.string() else raw
    if len(raw) == 1:  # one facility: its one text is the only distinct text
        return _one_row(_coerce_remembered(raw, question))
    encoded = _distinct_texts(raw, question)
    rows = to_numpy(encoded.indices, np.intp)
    distinct = _coerce_remembered(encoded.dictionary, question)
    return Coerced(
        values=_spread(distinct.values, encoded, rows, raw),
        states=distinct.states[rows],
        failures=_over_rows(distinct.failures, rows),
        never=None if distinct.never is None else distinct.never[rows],
        warnings=_over_rows(distinct.warnings, rows),
    )


def _one_row(distinct: Coerced) -> Coerced:
    """The coercion of a one-row column's only text, as :func:`coerce` gives it: the
    states and masks are the caller's own (the remembered ones are read-only)."""
    return Coerced(
        values=distinct.values,
        states=distinct.states.copy(),
        failures=[_copy(failure) for failure in distinct.failures],
        never=None if distinct.never is None else distinct.never.copy(),
        warnings=[_copy(warning) for warning in distinct.warnings],
    )


def _copy(failure: Failure) -> Failure:
    return Failure(
        failure.mask.copy(), failure.reason, failure.message, failure.allowed, failure.severity
    )


def _over_rows(flagged: list[Failure], rows: np.ndarray) -> list[Failure]:
    """Failures of distinct texts spread over the rows holding them."""
    spread = []
    for failure in flagged:
        mask = failure.mask[rows]
        if mask.any():  # a remembered text this column does not hold fails no row
            spread.append(
                Failure(mask, failure.reason, failure.message, failure.allowed, failure.severity)
            )
    return spread


def _distinct_texts(raw: pa.Array, question: Question) -> pa.DictionaryArray:
    """The column as indices into distinct texts (a null among them for blank cells).

    A column of few texts is looked up among the texts the question's last such
    column held - the chunks of a book repeat them, and a lookup in a small set costs
    about half of finding the distinct texts anew; a column with another text is
    encoded anew. The texts may then include some the column does not hold, which
    no row points to.
    """
    known = _known_texts.get(id(question))
    if known is not None and known[0] is question:
        index = pc.index_in(raw, value_set=known[1], skip_nulls=False)
        if index.null_count == 0:
            return pa.DictionaryArray.from_arrays(index, known[1])
    encoded: pa.DictionaryArray = pc.dictionary_encode(raw, null_encoding="encode")
    if len(encoded.dictionary) <= _REMEMBERED_TEXTS:
        if len(_known_texts) >= _REMEMBERED:
            _known_texts.clear()
        _known_texts[id(question)] = (question, encoded.dictionary)
    return encoded


def _spread(values: pa.Array, encoded: pa.Array, rows: np.ndarray, raw: pa.Array) -> pa.Array:
    """The values of the distinct texts spread over the rows.

    Where every text's value is the text itself or null (codes answered as written,
    blanks), the column as read is kept and only the cells whose value is null are
    marked so: no text is copied.
    """
    if values.type == pa.string() and raw.offset == 0 and len(raw):
        kept = pc.fill_null(pc.equal(values, encoded.dictionary), False)
        if not pc.any(pc.and_(pc.invert(kept), pc.is_valid(values))).as_py():
            present = pa.array(to_mask(kept)[rows])  # one bit per row, from offset 0
            _, offsets, data = raw.buffers()
            return pa.Array.from_buffers(
                pa.string(), len(raw), [present.buffers()[1], offsets, data]
            )
    return pc.take(values, encoded.indices)


_REMEMBERED_TEXTS = 256
"""Columns of at most this many distinct texts have their coercion remembered: the
chunks of a book repeat the same few texts (yes, no, a choice code, a blank)."""
_REMEMBERED = 4096
"""Coercions remembered before the memo is cleared."""
_memo: dict[tuple[int, tuple[str | None, ...]], tuple[Question, Coerced]] = {}
_known_texts: dict[int, tuple[Question, pa.Array]] = {}
"""The distinct texts of each question's last column of few texts (see _distinct_texts)."""


def _coerce_remembered(texts: pa.Array, question: Question) -> Coerced:
    """:func:`_coerce_distinct`, remembered per question and list of distinct texts.

    The result only depends on both, and is only read (its arrays are made
    read-only), so one is shared by every chunk and thread that meets the same texts.
    """
    if len(texts) > _REMEMBERED_TEXTS:
        return _coerce_distinct(texts, question)
    key = (id(question), tuple(texts.to_pylist()))
    found = _memo.get(key)
    if found is not None and found[0] is question:  # the memo keeps the question alive
        return found[1]
    coerced = _coerce_distinct(texts, question)
    flagged = (*coerced.failures, *coerced.warnings)
    for array in (coerced.states, coerced.never, *(f.mask for f in flagged)):
        if array is not None:
            array.flags.writeable = False
    if len(_memo) >= _REMEMBERED:
        _memo.clear()
    _memo[key] = (question, coerced)
    return coerced


def _coerce_distinct(raw: pa.Array, question: Question) -> Coerced:
    """Coerce distinct cell texts (the body of :func:`coerce`)."""
    length = len(raw)
    states = np.full(length, AnswerState.ANSWERED, dtype=np.uint8)
    failures: list[Failure] = []
    limit = question.max_length if question.kind is AnswerKind.TEXT else MAX_CELL_CHARS
    too_long = to_mask(pc.greater(pc.utf8_length(raw), limit))
    if too_long.any():
        raw = pc.if_else(pa.array(too_long), pa.scalar(None, pa.string()), raw)
        failures.append(
            Failure(too_long, Reason.TOO_LONG, f"answer is longer than {limit} characters")
        )
    control_chars = np.zeros(length, dtype=np.bool_)
    if _may_contain(raw, _CONTROL_CHARACTERS):
        control_chars = to_mask(pc.match_substring_regex(raw, f"[{_CONTROL_CHARACTERS}]"))
    if control_chars.any():
        raw = pc.if_else(pa.array(control_chars), pa.scalar(None, pa.string()), raw)
        failures.append(
            Failure(control_chars, Reason.UNREADABLE_FILE, "contains control characters (not text)")
        )
    text = pc.utf8_trim_whitespace(raw)
    lower = pc.utf8_lower(text)
    blank = to_mask(pc.or_kleene(pc.is_null(text), pc.equal(text, "")))
    special_blocked = _own_words(question)
    unknown = to_mask(pc.is_in(lower, value_set=_words(UNKNOWN_WORDS))) & ~special_blocked(lower)
    not_applicable = to_mask(
        pc.is_in(lower, value_set=_words(NOT_APPLICABLE_WORDS))
    ) & ~special_blocked(lower)
    states[blank] = AnswerState.UNANSWERED
    states[unknown] = AnswerState.UNKNOWN
    states[not_applicable] = AnswerState.NOT_APPLICABLE
    states[too_long | control_chars] = AnswerState.INVALID
    given = states == AnswerState.ANSWERED
    given_arr = pa.array(given)
    text = pc.if_else(given_arr, text, pa.scalar(None, pa.string()))
    lower = pc.if_else(given_arr, lower, pa.scalar(None, pa.string()))

    never = None
    if question.kind is AnswerKind.DATE and question.control is not None:
        never = to_mask(pc.is_in(lower, value_set=_words(NEVER_WORDS)))
        lower = pc.if_else(pa.array(never), pa.scalar(None, pa.string()), lower)
        text = pc.if_else(pa.array(never), pa.scalar(None, pa.string()), text)
    values, kind_failures = _PARSERS[question.kind](text, lower, question)
    warnings = []
    for failure in kind_failures:
        failure.mask &= given
        if not failure.mask.any():
            continue
        if failure.severity is Severity.ERROR:
            failures.append(failure)
            states[failure.mask] = AnswerState.INVALID
        else:
            warnings.append(failure)
    invalid = states == AnswerState.INVALID
    if invalid.any():
        values = pc.if_else(pa.array(invalid), pa.scalar(None, values.type), values)
    warnings = [w for w in warnings if (w.mask & ~invalid).any()]
    for warning in warnings:
        warning.mask &= ~invalid
    return Coerced(values=values, states=states, failures=failures, never=never, warnings=warnings)


def _own_words(question: Question):  # type: ignore[no-untyped-def]
    """Cells equal to one of the question's own codes or labels are answers, not words."""
    own = [c.lower() for code, label in question.choice_items for c in (code, label)]
    if not own:
        return lambda lower: np.zeros(len(lower), dtype=np.bool_)
    value_set = pa.array(own, pa.string())
    return lambda lower: to_mask(pc.is_in(lower, value_set=value_set))


# --- parsers by kind: (text, lowered text, question) -> (typed values, failures) ---------

Parsed = tuple[pa.Array, list[Failure]]


def _parse_yes_no(text: pa.Array, lower: pa.Array, question: Question) -> Parsed:
    yes = to_mask(pc.is_in(lower, value_set=_words(YES_WORDS)))
    no = to_mask(pc.is_in(lower, value_set=_words(NO_WORDS)))
    values = pc.if_else(
        pa.array(yes), "yes", pc.if_else(pa.array(no), "no", pa.scalar(None, pa.string()))
    )
    bad = ~(yes | no) & to_mask(pc.is_valid(lower))
    return values, [
        Failure(
            bad, Reason.NOT_YES_NO, "not a yes/no answer", "yes, no (also y/n, true/false, 1/0)"
        )
    ]


def _choice_index(lower: pa.Array, question: Question) -> pa.Array:
    codes = [code.lower() for code in question.choice_codes]
    labels = [label.strip().lower() for _, label in question.choice_items]
    by_code = pc.index_in(lower, value_set=pa.array(codes, pa.string()))
    by_label = pc.index_in(lower, value_set=pa.array(labels, pa.string()))
    return pc.coalesce(by_code, by_label)


def _parse_single(text: pa.Array, lower: pa.Array, question: Question) -> Parsed:
    index = _choice_index(lower, question)
    values = pc.take(pa.array(question.choice_codes, pa.string()), index)
    bad = to_mask(pc.and_(pc.is_null(index), pc.is_valid(lower)))
    return values, [
        Failure(bad, Reason.NOT_A_CHOICE, "not one of the choices", describe_allowed(question))
    ]


def _parse_multiple(text: pa.Array, lower: pa.Array, question: Question) -> Parsed:
    length = len(lower)
    parts = pc.split_pattern(pc.fill_null(lower, ""), ";")
    flat = pc.utf8_trim_whitespace(pc.list_flatten(parts))
    parent = np.asarray(pc.list_parent_indices(parts).to_numpy(zero_copy_only=False))
    index = _choice_index(flat, question)
    answered = to_mask(pc.is_valid(lower))
    bad_part = ~to_mask(pc.is_valid(index))
    bad = np.zeros(length, dtype=np.bool_)
    bad[parent[bad_part]] = True
    bad &= answered
    bits = np.zeros(length, dtype=np.int64)
    good = ~bad_part
    codes = to_numpy(pc.fill_null(index, 0), np.int64)
    np.bitwise_or.at(bits, parent[good], np.left_shift(1, codes[good]))
    unique, inverse = np.unique(bits, return_inverse=True)
    names = question.choice_codes
    canonical = [";".join(n for i, n in enumerate(names) if value >> i & 1) for value in unique]
    values = pc.take(pa.array(canonical, pa.string()), pa.array(inverse))
    values = pc.if_else(pa.array(answered & ~bad), values, pa.scalar(None, pa.string()))
    return values, [
        Failure(bad, Reason.NOT_A_CHOICE, "not a list of the choices", describe_allowed(question))
    ]


def _range_failures(
    values: pa.Array, question: Question, *, low: float | None, high: float | None
) -> list[Failure]:
    failures = []
    if low is not None:
        failures.append(
            Failure(
                to_mask(pc.less(values, low)),
                Reason.OUT_OF_RANGE,
                f"below the minimum {number_text(low)}",
                describe_allowed(question),
            )
        )
    if high is not None:
        failures.append(
            Failure(
                to_mask(pc.greater(values, high)),
                Reason.OUT_OF_RANGE,
                f"above the maximum {number_text(high)}",
                describe_allowed(question),
            )
        )
    return failures


def _parse_integer(text: pa.Array, lower: pa.Array, question: Question) -> Parsed:
    ok = to_mask(pc.match_substring_regex(text, _INTEGER))
    digits = text
    if _may_contain(text, ",."):
        digits = pc.replace_substring_regex(text, r",|\.0+$", "")
    too_big = ok & to_mask(pc.greater(pc.utf8_length(digits), 15))
    ok &= ~too_big
    values = pc.cast(pc.if_else(pa.array(ok), digits, pa.scalar(None, pa.string())), pa.int64())
    comma = _decimal_comma(text)
    failures = [
        Failure(
            ~ok & ~too_big & to_mask(pc.is_valid(text)) & ~comma,
            Reason.NOT_AN_INTEGER,
            "not a whole number",
            describe_allowed(question),
        ),
        Failure(
            comma,
            Reason.AMBIGUOUS,
            "a comma here could be a decimal or a thousands separator; write 1234 or 1234.5",
            describe_allowed(question),
        ),
        Failure(too_big, Reason.OUT_OF_RANGE, "number too large", describe_allowed(question)),
    ]
    return values, failures + _range_failures(values, question, low=question.min, high=question.max)


def _decimal_comma(text: pa.Array) -> np.ndarray:
    if not _may_contain(text, ","):
        return np.zeros(len(text), dtype=np.bool_)
    return to_mask(pc.match_substring_regex(text, _DECIMAL_COMMA))


def _parse_number(text: pa.Array, lower: pa.Array, question: Question) -> Parsed:
    cleaned = text
    if question.unit and question.unit.upper() == "USD" and _may_contain(cleaned, "$"):
        cleaned = pc.replace_substring_regex(cleaned, r"^\$\s*|^(-)\$\s*", r"\1")
    signed = np.zeros(len(text), dtype=np.bool_)
    if question.kind is AnswerKind.PERCENT and _may_contain(cleaned, "%"):
        signed = to_mask(pc.match_substring_regex(cleaned, r"%$"))
        cleaned = pc.replace_substring_regex(cleaned, r"\s*%$", "")
    ok = to_mask(pc.match_substring_regex(cleaned, _NUMBER))
    plain = pc.replace_substring(cleaned, ",", "") if _may_contain(cleaned, ",") else cleaned
    numbers = pc.cast(
        pc.if_else(pa.array(ok), plain, pa.scalar(None, pa.string())),
        pa.float64(),
    )
    infinite = to_mask(pc.is_inf(numbers))
    numbers = pc.if_else(pa.array(infinite), pa.scalar(None, pa.float64()), numbers)
    comma = _decimal_comma(cleaned)
    low, high = question.min, question.max
    if question.kind is AnswerKind.PERCENT:
        low = 0.0 if low is None else low
        high = 100.0 if high is None else high
    failures = [
        Failure(
            ~ok & ~comma & to_mask(pc.is_valid(text)),
            Reason.NOT_A_NUMBER,
            "not a number",
            describe_allowed(question),
        ),
        Failure(
            comma,
            Reason.AMBIGUOUS,
            "a comma here could be a decimal or a thousands separator; write 1234 or 1234.5",
            describe_allowed(question),
        ),
        Failure(infinite, Reason.OUT_OF_RANGE, "number too large", describe_allowed(question)),
    ]
    if question.kind is AnswerKind.PERCENT:
        failures += _fractions_for_percentages(numbers, ok & ~signed, describe_allowed(question))
    return numbers, failures + _range_failures(numbers, question, low=low, high=high)


_NAMED_FRACTIONS = 20
"""Distinct texts whose fraction warning names their own two readings; the others
share one message."""


def _fractions_for_percentages(
    numbers: pa.Array, unsigned: np.ndarray, allowed: str
) -> list[Failure]:
    """Warnings for percentages above 0 and at most 1 written without ``%``.

    ``0.85`` may be 0.85 % or a fraction meaning 85 %. The answer is kept as
    written (0.85 %), never guessed; the warning names both readings.
    """
    value = np.nan_to_num(to_numpy(pc.fill_null(numbers, 0.0), np.float64), nan=0.0)
    small = np.flatnonzero(unsigned & (value > 0) & (value <= 1))
    warnings = []
    for index in small[:_NAMED_FRACTIONS]:
        mask = np.zeros(len(value), dtype=np.bool_)
        mask[index] = True
        written, meant = number_text(value[index]), number_text(round(value[index] * 100, 10))
        warnings.append(
            Failure(
                mask,
                Reason.PERCENT_OR_FRACTION,
                f"{written} could be {written} % or {meant} %: read as {written} %; "
                f"if {meant} % was meant, write {meant} or {meant}%",
                allowed,
                Severity.WARNING,
            )
        )
    if small.size > _NAMED_FRACTIONS:
        mask = np.zeros(len(value), dtype=np.bool_)
        mask[small[_NAMED_FRACTIONS:]] = True
        warnings.append(
            Failure(
                mask,
                Reason.PERCENT_OR_FRACTION,
                "read as the percentage written (0.85 is 0.85 %); if a fraction was meant "
                "(0.85 for 85 %), write the percentage (85 or 85%)",
                allowed,
                Severity.WARNING,
            )
        )
    return warnings


def _parse_date(text: pa.Array, lower: pa.Array, question: Question) -> Parsed:
    cells = read_dates(text)
    present = to_mask(pc.is_valid(text))
    bad = present & ~to_mask(pc.is_valid(cells.dates)) & ~cells.two_dates & ~cells.other_slash
    return cells.dates, [
        Failure(bad, Reason.NOT_A_DATE, "not a date", describe_allowed(question)),
        Failure(
            cells.two_dates,
            Reason.AMBIGUOUS,
            "day and month order is ambiguous (both orders are dates); write YYYY-MM-DD",
            describe_allowed(question),
        ),
        Failure(
            cells.other_slash,
            Reason.AMBIGUOUS,
            "the order of day, month and year is ambiguous (the year needs four digits); "
            "write YYYY-MM-DD",
            describe_allowed(question),
        ),
    ]


def _parse_text(text: pa.Array, lower: pa.Array, question: Question) -> Parsed:
    return text, []


_PARSERS = {
    AnswerKind.YES_NO: _parse_yes_no,
    AnswerKind.SINGLE_CHOICE: _parse_single,
    AnswerKind.MULTIPLE_CHOICE: _parse_multiple,
    AnswerKind.INTEGER: _parse_integer,
    AnswerKind.NUMBER: _parse_number,
    AnswerKind.PERCENT: _parse_number,
    AnswerKind.DATE: _parse_date,
    AnswerKind.TEXT: _parse_text,
}
