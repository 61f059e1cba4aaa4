"""Roles: what each API key may do, checked in one place, and the agency's keys
managed over the API.

The matrix test takes the routes from the app itself: a new ``/v1`` route without an
action in ``ROUTE_ACTIONS`` fails it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import DateTime, bindparam, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from scoring import default_engine
from scoring.cli.app import app as cli
from scoring.service.accounts import create_api_key, create_organisation
from scoring.service.api import create_app
from scoring.service.database import (
    connect,
    current_revision,
    head_revision,
    migrate,
    sessions,
    sqlite_url,
)
from scoring.service.rate import RateLimit
from scoring.service.roles import (
    ACTIONS,
    PERMISSIONS,
    PUBLIC_ROUTES,
    ROUTE_ACTIONS,
    RoleError,
    may,
    require,
)
from scoring.service.tables import ROLES, ApiKey
from tests.conftest import EXAMPLES, agency_at_revision

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
UNLIMITED = RateLimit(burst=10**9)
ATTEST = {"attested_name": "Ann Lee", "attestation": "These answers are true and complete."}


def _document() -> dict[str, Any]:
    loaded = yaml.safe_load((EXAMPLES / "ccrc-mixed.yaml").read_text(encoding="utf-8"))
    return dict(json.loads(json.dumps(loaded, default=str)))


@dataclass
class Agency:
    client: TestClient
    keys: dict[str, dict[str, str]]
    """Each role's ``Authorization`` header."""
    database: Any


@pytest.fixture
def agency(database_url: str, tmp_path: Path) -> Iterator[Agency]:
    """An agency with a key of each agency role, and a facility's own organisation
    with a ``facility_user`` key."""
    database = connect(database_url)
    migrate(database)
    keys: dict[str, dict[str, str]] = {}
    with Session(database) as session:
        organisation = create_organisation(session, "Maple Agency", "agency", now=NOW)
        for role in ("agency_admin", "agent", "underwriter"):
            key = create_api_key(session, organisation, role, now=NOW, role=role)
            keys[role] = {"Authorization": f"Bearer {key}"}
        own = create_organisation(session, "Maple Court", "facility", now=NOW)
        key = create_api_key(session, own, "own", now=NOW, role="facility_user")
        keys["facility_user"] = {"Authorization": f"Bearer {key}"}
        session.commit()
    app = create_app(sessions(database), default_engine(), lambda: NOW, tmp_path, UNLIMITED)
    with TestClient(app) as client:  # started and stopped as `serve` does: books finish first
        yield Agency(client, keys, database)
    database.dispose()


def _records(agency: Agency) -> dict[str, Any]:
    """A facility with a submitted, scored assessment, a book and a key: ids for paths."""
    admin = agency.keys["agency_admin"]
    client = agency.client
    facility = client.post("/v1/facilities", json={"reference": "F-1", "name": "F"}, headers=admin)
    draft = client.post(
        f"/v1/facilities/{facility.json()['id']}/assessments", json=_document(), headers=admin
    )
    client.post(
        f"/v1/assessments/{draft.json()['id']}/submit",
        json=ATTEST,
        headers={**admin, "If-Match": draft.headers["ETag"]},
    )
    scored = client.post(f"/v1/assessments/{draft.json()['id']}/score", headers=admin)
    book = client.post("/v1/books?filename=one.csv", content=b"facility_id\n", headers=admin)
    spare = client.post("/v1/api-keys", json={"name": "spare"}, headers=admin)
    person = {"email": "pat@maple.example", "name": "Pat", "role": "agent"}
    user = client.post("/v1/users", json=person, headers=admin)
    return {
        "user_id": user.json()["id"],
        "facility_id": facility.json()["id"],
        "assessment_id": draft.json()["id"],
        "score_id": scored.json()["id"],
        "book_id": book.json()["id"],
        "key_id": spare.json()["id"],
        "kind": "scored",
    }


def _call(agency: Agency, route: APIRoute, method: str, role: str, ids: dict[str, Any]) -> Any:
    path = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), route.path)
    body: Any = None
    content: bytes | None = None
    if route.path.endswith("/changes"):
        path += "?before=1&after=1"
    if route.path == "/v1/books":
        path += "?filename=two.csv"
        content = b"facility_id\n"
    elif route.path == "/v1/facilities" and method == "POST":
        body = {"reference": f"R-{role}", "name": "R"}
    elif route.path.endswith("/assessments") or method == "PUT":
        body = _document()
    elif route.path.endswith("/submit"):
        body = ATTEST
    elif method == "PATCH":
        body = {"name": "Renamed"}
    elif route.path.endswith("/invitations"):
        body = {"email": "it@maple.example"}
    elif route.path == "/v1/shares":
        body = {"token": "cx_nothing_here", "reference": "S-1"}
    elif route.path == "/v1/users" and method == "POST":
        body = {"email": f"{role}@maple.example", "name": "N", "role": "underwriter"}
    elif route.path == "/v1/api-keys" and method == "POST":
        body = {"name": "made", "role": "agent"}
    headers = {**agency.keys[role], "If-Match": '"1"'}
    return agency.client.request(method, path, json=body, content=content, headers=headers)


def test_every_v1_route_is_allowed_or_refused_to_each_role_as_the_permissions_say(
    agency: Agency,
) -> None:
    ids = _records(agency)
    routes = [
        route
        for route in agency.client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.path.startswith("/v1/")
    ]
    assert len(routes) >= 20
    checked = 0
    for route in routes:
        if route.name in PUBLIC_ROUTES:
            continue  # tested on its own (tests/test_service_people.py)
        assert route.name in ROUTE_ACTIONS, f"{route.path} names no action"
        action = ROUTE_ACTIONS[route.name]
        for method in sorted(route.methods):
            for role in ROLES:
                answer = _call(agency, route, method, role, ids)
                where = (role, method, route.path, answer.status_code, answer.text[:200])
                if may(role, action):
                    assert answer.status_code != 403, where
                    assert answer.status_code < 500, where
                else:
                    assert answer.status_code == 403, where
                    problem = answer.json()
                    assert (problem["role"], problem["action"]) == (role, action), where
                    assert answer.headers["content-type"] == "application/problem+json"
                checked += 1
    assert checked >= 4 * len(routes)
    assert set(ROUTE_ACTIONS.values()) == set(ACTIONS)  # every action is some route's


def test_the_permissions_are_one_table_the_admin_may_do_everything(agency: Agency) -> None:
    assert set(PERMISSIONS) == set(ACTIONS)
    assert all("agency_admin" in roles for roles in PERMISSIONS.values())
    assert PERMISSIONS["manage_api_keys"] == {"agency_admin"}
    assert not may("underwriter", "answer")
    assert not may("agent", "upload_books")
    assert may("underwriter", "upload_books")
    assert not may("nobody", "read_facilities")
    with pytest.raises(RoleError, match="the role 'agent' may not upload books"):
        require("agent", "upload_books")
    with pytest.raises(RoleError, match="names no action"):
        require("agency_admin", None)


def test_a_refusal_by_role_names_the_role_and_the_action_and_changes_nothing(
    agency: Agency,
) -> None:
    ids = _records(agency)
    refused = agency.client.put(
        f"/v1/assessments/{ids['assessment_id']}",
        json=_document(),
        headers={**agency.keys["underwriter"], "If-Match": '"1"'},
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "the role 'underwriter' may not answer (allowed: agency_admin, agent, facility_user)"
    )
    read = agency.client.get(
        f"/v1/facilities/{ids['facility_id']}/assessments", headers=agency.keys["underwriter"]
    )
    assert read.status_code == 200
    assert [a["row_version"] for a in read.json()] == [2]


def test_an_admin_creates_lists_and_revokes_the_agencys_keys(agency: Agency) -> None:
    admin = agency.keys["agency_admin"]
    made = agency.client.post(
        "/v1/api-keys", json={"name": "broker system", "role": "underwriter"}, headers=admin
    )
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    assert key.startswith(f"cs_{made.json()['prefix']}_")
    assert made.json()["role"] == "underwriter"
    theirs = {"Authorization": f"Bearer {key}"}
    assert agency.client.get("/v1/facilities", headers=theirs).status_code == 200
    listed = agency.client.get("/v1/api-keys", headers=admin)
    assert listed.status_code == 200
    assert key not in listed.text
    assert key.partition("_")[2].partition("_")[2] not in listed.text  # no secret
    mine = {k["name"]: k for k in listed.json()}
    assert set(mine) == {"agency_admin", "agent", "underwriter", "broker system"}
    assert "key" not in mine["broker system"]
    assert mine["broker system"]["last_used_at"] == "2026-12-01T12:00:00Z"
    revoked = agency.client.delete(f"/v1/api-keys/{made.json()['id']}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] == "2026-12-01T12:00:00Z"
    assert agency.client.get("/v1/facilities", headers=theirs).status_code == 401
    with Session(agency.database) as session:
        stored = session.scalars(select(ApiKey)).all()
        assert all(key not in str(vars(row)) for row in stored)


def test_keys_are_managed_within_the_agency_and_by_its_admin_only(agency: Agency) -> None:
    admin = agency.keys["agency_admin"]
    agent = agency.keys["agent"]
    refused = agency.client.post("/v1/api-keys", json={"name": "x"}, headers=agent)
    assert refused.status_code == 403
    assert refused.json()["action"] == "manage_api_keys"
    outsider = agency.keys["facility_user"]  # another organisation
    other_id = agency.client.get("/v1/api-keys", headers=admin).json()[0]["id"]
    with Session(agency.database) as session:
        session.execute(text("UPDATE api_key SET role = 'agency_admin' WHERE name = 'own'"))
        session.commit()
    assert agency.client.delete(f"/v1/api-keys/{other_id}", headers=outsider).status_code == 404
    listed = agency.client.get("/v1/api-keys", headers=outsider).json()
    assert [k["name"] for k in listed] == ["own"]
    unknown = agency.client.post("/v1/api-keys", json={"name": "x", "role": "owner"}, headers=admin)
    assert unknown.status_code == 422
    misfit = agency.client.post(
        "/v1/api-keys", json={"name": "x", "role": "facility_user"}, headers=admin
    )
    assert misfit.status_code == 409
    assert misfit.json()["detail"] == (
        "role: 'facility_user' is a facility's role; 'Maple Agency' is an agency"
    )


def test_admin_creates_a_key_with_a_role_and_the_api_holds_it_to_it(
    database_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    if not database_url.startswith("sqlite"):
        data += ["--database-url", database_url]
    organisation = runner.invoke(cli, ["admin", "create-org", "Oak Agency", *data])
    made = runner.invoke(
        cli,
        ["admin", "create-api-key", organisation.output.strip(), "--role", "underwriter", *data],
    )
    assert made.exit_code == 0, made.output
    wrong = runner.invoke(
        cli, ["admin", "create-api-key", organisation.output.strip(), "--role", "boss", *data]
    )
    assert wrong.exit_code == 1
    assert "'boss' is not a role of a key" in wrong.output
    misfit = runner.invoke(
        cli,
        ["admin", "create-api-key", organisation.output.strip(), "--role", "facility_user", *data],
    )
    assert misfit.exit_code == 1
    assert "'facility_user' is a facility's role; 'Oak Agency' is an agency" in misfit.output
    url = database_url if "--database-url" in data else sqlite_url(tmp_path / "data")
    database = connect(url)
    client = TestClient(
        create_app(sessions(database), default_engine(), lambda: NOW, tmp_path, UNLIMITED)
    )
    headers = {"Authorization": f"Bearer {made.output.strip()}"}
    assert client.get("/v1/facilities", headers=headers).status_code == 200
    made_facility = client.post(
        "/v1/facilities", json={"reference": "X", "name": "X"}, headers=headers
    )
    assert made_facility.status_code == 403
    client.close()
    database.dispose()


def test_an_upgrade_from_0006_makes_every_existing_key_an_admins_and_keeps_the_books(
    database_url: str, tmp_path: Path
) -> None:
    database, organisation, key = agency_at_revision(database_url, "0006", NOW)
    stamp = bindparam("t", NOW, type_=DateTime(timezone=True))
    with database.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO book_job (id, organisation_id, filename, input_sha256, as_of,"
                " status, rows_done, created_at) VALUES (1, :o, 'old.csv', 'x', '2026-11-29',"
                " 'running', 0, :t)"
            ).bindparams(stamp, o=organisation)
        )
    migrate(database)
    assert current_revision(database) == head_revision()
    with Session(database) as session:
        (stored,) = session.scalars(select(ApiKey)).all()
        assert stored.role == "agency_admin"
        job = session.execute(text("SELECT status, attempts, claimed_by FROM book_job")).one()
        assert tuple(job) == ("running", 0, None)
    client = TestClient(
        create_app(sessions(database), default_engine(), lambda: NOW, tmp_path, UNLIMITED)
    )
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/api-keys", headers=headers).json()[0]["role"] == "agency_admin"
    assert client.get("/v1/books/1", headers=headers).json()["status"] == "running"
    client.close()
    database.dispose()
