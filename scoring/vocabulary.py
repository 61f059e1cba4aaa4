"""Fixed vocabularies of the engine, declared once.

Every closed set of words the engine uses (answer kinds, perils, answer states,
issue severities and reasons, feature encodings) lives here as an enum, so that
data files, code and documentation cannot drift apart.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class AnswerKind(StrEnum):
    """The type of answer a question takes."""

    YES_NO = "yes_no"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    INTEGER = "integer"
    NUMBER = "number"
    PERCENT = "percent"
    DATE = "date"
    TEXT = "text"


CHOICE_KINDS = frozenset({AnswerKind.YES_NO, AnswerKind.SINGLE_CHOICE, AnswerKind.MULTIPLE_CHOICE})
NUMERIC_KINDS = frozenset({AnswerKind.INTEGER, AnswerKind.NUMBER, AnswerKind.PERCENT})


class Peril(StrEnum):
    """Loss types the engine models separately (see ARCHITECTURE.md)."""

    RANSOMWARE = "ransomware"
    EMAIL_FRAUD = "email_fraud"
    PRIVACY_BREACH = "privacy_breach"
    VENDOR_OUTAGE = "vendor_outage"
    DEVICE_COMPROMISE = "device_compromise"


class Better(StrEnum):
    """Which direction is better for a numeric or date control."""

    HIGHER = "higher"
    LOWER = "lower"
    MORE_RECENT = "more_recent"


class AnswerState(IntEnum):
    """What a cell holds once read, before any policy is applied.

    The policy applied to each state is documented in README.md
    ("Unanswered, unknown and not applicable").
    """

    ANSWERED = 0
    UNANSWERED = 1
    UNKNOWN = 2
    NOT_APPLICABLE = 3
    NOT_RELEVANT = 4
    INVALID = 5


class Severity(StrEnum):
    """An error makes a facility's response unusable; a warning is a flag."""

    ERROR = "error"
    WARNING = "warning"


class Reason(StrEnum):
    """Machine-readable reason codes carried by every validation issue."""

    # file level
    UNREADABLE_FILE = "unreadable_file"
    EMPTY_FILE = "empty_file"
    TOO_LARGE = "too_large"
    UNKNOWN_COLUMN = "unknown_column"
    DUPLICATE_COLUMN = "duplicate_column"
    MISSING_COLUMN = "missing_column"
    UNKNOWN_QUESTIONNAIRE = "unknown_questionnaire"
    UNSUPPORTED_VERSION = "unsupported_version"
    MIXED_VERSIONS = "mixed_versions"
    # cell level
    NOT_A_CHOICE = "not_a_choice"
    NOT_YES_NO = "not_yes_no"
    NOT_AN_INTEGER = "not_an_integer"
    NOT_A_NUMBER = "not_a_number"
    NOT_A_DATE = "not_a_date"
    AMBIGUOUS = "ambiguous"
    OUT_OF_RANGE = "out_of_range"
    FUTURE_DATE = "future_date"
    TOO_LONG = "too_long"
    REQUIRED = "required"
    NOT_APPLICABLE_REFUSED = "not_applicable_refused"
    UNKNOWN_REFUSED = "unknown_refused"
    NOT_RELEVANT_ANSWERED = "not_relevant_answered"
    CONSTRAINT = "constraint"
    DUPLICATE_FACILITY = "duplicate_facility"
    # flags (warnings)
    TREATED_AS_WORST = "treated_as_worst"
    PERCENT_OR_FRACTION = "percent_or_fraction"  # 0.85 without % : 0.85 % or 85 %?
    MIGRATED = "migrated"


class Encoding(StrEnum):
    """How a question becomes numeric features (see scoring/features/encoding.py)."""

    ORDINAL = "ordinal"  # control level scaled to 0 (worst) .. 1 (best)
    ONE_HOT = "one_hot"  # one indicator per choice
    INDICATORS = "indicators"  # one indicator per selected choice (multiple choice)
    LOG = "log"  # natural log of a positive amount
    LOG1P = "log1p"  # log(1 + count)
    LINEAR = "linear"  # the value itself
    SHARE = "share"  # a percentage as a share 0..1
    YEARS_SINCE = "years_since"  # age of a date at assessment, capped
    NONE = "none"  # not a model feature (free text, identifiers)
