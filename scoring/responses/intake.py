"""Intake: from a file or a mapping to a validated response, in one call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scoring.budget import BUDGET, Budget
from scoring.questionnaire.definition import Questionnaire
from scoring.questionnaire.loader import bundled_questionnaire
from scoring.responses.reading import read_responses, response_from_mapping
from scoring.responses.validation import Validation, validate


def validate_file(
    path: Path | str,
    questionnaire: Questionnaire | None = None,
    *,
    as_of: dt.date,
    budget: Budget = BUDGET,
) -> Validation:
    """Read and validate a response file (YAML, JSON, CSV, XLSX or Parquet).

    Parameters
    ----------
    path : Path or str
        The file; its extension chooses the reader.
    questionnaire : Questionnaire, optional
        The questionnaire to validate against (default: the newest bundled one).
        Answers to an earlier version are migrated when the questionnaire
        declares how, and refused otherwise.
    as_of : datetime.date
        Assessment date for rows that do not state ``assessed_on``.
    budget : Budget
        What may be read (:mod:`scoring.budget`); a table is held whole, so at most
        ``budget.whole_table_rows`` rows (``carescore batch`` reads books of any size).

    Raises
    ------
    InputError
        When the file as a whole cannot be used (including a file beyond the budget,
        or anything but a regular file); row problems are in the result.
    """
    raw = read_responses(Path(path), budget=budget)
    return validate(raw, questionnaire or bundled_questionnaire(), as_of=as_of)


def validate_document(
    document: Mapping[str, Any],
    questionnaire: Questionnaire | None = None,
    *,
    as_of: dt.date,
    source: str = "<response>",
) -> Validation:
    """Validate one facility's response given as a mapping (a web form, an API body).

    Examples
    --------
    >>> import datetime as dt
    >>> from scoring import validate_document
    >>> result = validate_document(
    ...     {"questionnaire": "care_cyber", "questionnaire_version": "1.0.0",
    ...      "answers": {"facility_type": "skilled_nursing"}},
    ...     as_of=dt.date(2026, 1, 15))
    >>> result.is_valid
    False
    >>> result.issues.loc[0, "reason"]
    'required'
    """
    raw = response_from_mapping(document, source)
    return validate(raw, questionnaire or bundled_questionnaire(), as_of=as_of)
