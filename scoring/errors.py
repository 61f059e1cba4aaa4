"""Errors and validation issues.

Errors subclass builtins (``ValueError``) and carry structured context, so the
CLI and web layers can turn them into messages, exit codes or HTTP statuses
without parsing text. Validation collects every issue before raising.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from scoring.vocabulary import Reason, Severity


@dataclass(frozen=True)
class Issue:
    """One problem found in an input, located as precisely as possible.

    ``row`` is the row a spreadsheet shows (the header is row 1) for CSV and
    XLSX, the 1-based record number for Parquet, and ``None`` for one-facility
    files and for problems with the file as a whole.
    """

    reason: Reason
    message: str
    severity: Severity = Severity.ERROR
    source: str | None = None
    row: int | None = None
    facility_id: str | None = None
    question_id: str | None = None
    value: str | None = None
    allowed: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def location(self) -> str:
        """Where the issue is, e.g. ``book.csv row 7 (facility F-12), dicom_tls``."""
        parts = [self.source or "<input>"]
        if self.row is not None:
            parts.append(f"row {self.row}")
        text = " ".join(parts)
        if self.facility_id:
            text += f" (facility {self.facility_id})"
        if self.question_id:
            text += f", {self.question_id}"
        return text

    def describe(self) -> str:
        """A one-line, human-readable account of the issue."""
        text = f"{self.location()}: "
        if self.value is not None:
            text += f"given {self.value!r}: "
        text += self.message
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return text

    def to_dict(self) -> dict[str, str | int | None]:
        data = asdict(self)
        data["reason"] = self.reason.value
        data["severity"] = self.severity.value
        return data


class InputError(ValueError):
    """An input (file or response) that cannot be used; ``issues`` says why, all of them."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = tuple(issues)
        first = self.issues[0].describe() if self.issues else "invalid input"
        more = len(self.issues) - 1
        super().__init__(first + (f" (and {more} more issue(s))" if more > 0 else ""))


class DefinitionError(ValueError):
    """A definition file (questionnaire, rating plan ...) that fails loading or checks."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        listed = "; ".join(self.problems[:5])
        more = len(self.problems) - 5
        super().__init__(f"{source}: {listed}" + (f" (and {more} more)" if more > 0 else ""))


class QuestionnaireError(DefinitionError):
    """A questionnaire or framework file that fails loading or linting."""


class RatingPlanError(DefinitionError):
    """A rating plan or remediation catalogue that fails loading or its checks."""
