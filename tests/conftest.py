"""Shared fixtures: a small questionnaire for unit tests, the bundled one for the rest."""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server on loopback in a temporary folder, for the whole run
    (tests/postgres_server.py); skipped, saying why, where it is not installed."""
    from tests.postgres_server import binaries, running

    if binaries() is None:
        pytest.skip("PostgreSQL is not installed here (.ci/run installs Debian's postgresql)")
    with running() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database: SQLite in the test's folder, or one more database on the
    session's PostgreSQL server."""
    from sqlalchemy import create_engine, text

    from scoring.service.database import sqlite_url

    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    server = request.getfixturevalue("postgres_server")
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server.rsplit('/', 1)[0]}/{name}"


def agency_at_revision(url: str, revision: str, now: dt.datetime) -> tuple[Any, int, str]:
    """A database migrated up to ``revision`` only, holding an agency ("Elm Agency") and
    an API key of it, as a service of that revision kept them: the database, the
    agency's id and the key (for the tests of an upgrade from ``revision``)."""
    from sqlalchemy.orm import Session

    from scoring.service.accounts import create_api_key, create_organisation
    from scoring.service.database import connect, migrate

    database = connect(url)
    migrate(database, revision)
    with Session(database) as session:
        organisation = create_organisation(session, "Elm Agency", "agency", now=now)
        key = create_api_key(session, organisation, "old", now=now)
        session.commit()
    return database, organisation, key


ADDED_IN_1_1_0 = (
    "msp_name",
    "msp_rmm_tool",
    "clearinghouse_vendor",
    "email_platform",
    "cloud_platform",
)
"""The questions questionnaire 1.1.0 adds to 1.0.0."""


def example_portfolio_as(version: str, folder: Path) -> Path:
    """The example portfolio's rows written as answers to ``version`` (1.0.0: without
    the columns 1.1.0 adds, as a book filed before 1.1.0 is)."""
    with (EXAMPLES / "portfolio.csv").open(newline="", encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    names = [n for n in rows[0] if version != "1.0.0" or n not in ADDED_IN_1_1_0]
    path = folder / f"portfolio-{version}.csv"
    with path.open("w", newline="", encoding="utf-8") as target:
        writer = csv.DictWriter(target, names, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "questionnaire_version": version})
    return path
