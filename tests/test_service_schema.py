"""The agent API against its own OpenAPI schema: requests generated from the live
schema (schemathesis) never get a server error, and every answer matches the schema.

Generated cases run with a valid key of an organisation that has a submitted,
scored assessment (ids 1), so that paths reach the records as well as miss them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance
from sqlalchemy.orm import Session

from scoring import default_engine
from scoring.service.accounts import create_api_key, create_organisation
from scoring.service.api import create_app
from scoring.service.database import connect, migrate, sessions, sqlite_url
from scoring.service.rate import RateLimit
from tests.conftest import EXAMPLES

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
UNLIMITED = RateLimit(burst=10**9)
"""The tests' clock stands still, so no bucket would refill."""
KEY: dict[str, str] = {}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The API on a fresh database, with one organisation's submitted, scored assessment."""
    folder = tmp_path_factory.mktemp("schema")
    database = connect(sqlite_url(folder))
    migrate(database)
    with Session(database) as session:
        organisation = create_organisation(session, "Schema Agency", "agency", now=NOW)
        KEY["key"] = create_api_key(session, organisation, "schema", now=NOW)
        session.commit()
    app = create_app(sessions(database), default_engine(), lambda: NOW, folder, UNLIMITED)
    headers = {"Authorization": f"Bearer {KEY['key']}"}
    with TestClient(app) as client:
        made = client.post(
            "/v1/facilities", json={"reference": "S-1", "name": "S"}, headers=headers
        )
        document = yaml.safe_load((EXAMPLES / "ccrc-mixed.yaml").read_text(encoding="utf-8"))
        body = json.loads(json.dumps(document, default=str))
        facility = made.json()["id"]
        draft = client.post(f"/v1/facilities/{facility}/assessments", json=body, headers=headers)
        client.post(
            f"/v1/assessments/{draft.json()['id']}/submit",
            json={"attested_name": "S", "attestation": "True."},
            headers={**headers, "If-Match": draft.headers["ETag"]},
        )
        client.post(f"/v1/assessments/{draft.json()['id']}/score", headers=headers)
        yield app  # started and stopped as `serve` does: generated books finish first
    database.dispose()


def test_no_request_the_schema_allows_gets_a_server_error_or_an_answer_off_the_schema(
    api: Any,
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api)
    headers = {"Authorization": f"Bearer {KEY['key']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            # a request the schema allows may still be refused by a rule the schema
            # cannot state (a stale version, a draft not yet submitted, answers that fail
            # validation): those answers are documented problems, checked as such
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        call()
