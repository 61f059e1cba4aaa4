"""Shared fixtures: a small questionnaire for unit tests, the bundled one for the rest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from scoring import (
    Questionnaire,
    bundled_questionnaire,
    load_questionnaire,
    read_framework_catalog,
)

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "questionnaires" / "examples"
AS_OF = dt.date(2026, 6, 1)
EXAMPLES_AS_OF = dt.date(2026, 11, 29)
"""Assessment date for the bundled examples (all assessed before it)."""


@pytest.fixture(scope="session")
def mini() -> Questionnaire:
    catalog = read_framework_catalog(DATA / "mini-frameworks.yaml")
    return load_questionnaire(DATA / "mini-1.0.0.yaml", catalog=catalog)


@pytest.fixture(scope="session")
def care() -> Questionnaire:
    return bundled_questionnaire()


def mini_answers(**changes: Any) -> dict[str, Any]:
    """A complete, valid set of answers to the mini questionnaire, with changes."""
    answers: dict[str, Any] = {
        "facility_type": "nursing",
        "beds": 120,
        "revenue": 12_000_000,
        "records": 5000,
        "phone_uses": "charting",
        "notes": "",
        "has_pacs": "yes",
        "pacs_exposed": "no",
        "modality_count": 3,
        "unsupported_modalities": 1,
        "mdm_in_use": "yes",
        "mdm_wipe": "yes",
        "patch_days": 14,
        "edr_share": 90,
        "backup_level": "offline",
        "last_restore_test": "2026-03-01",
    }
    answers.update(changes)
    return {key: value for key, value in answers.items() if value is not None}


def mini_document(facility_id: str = "F-1", **changes: Any) -> dict[str, Any]:
    return {
        "questionnaire": "mini",
        "questionnaire_version": "1.0.0",
        "facility_id": facility_id,
        "answers": mini_answers(**changes),
    }
