"""An agency's people over the API: the admin adds users (who choose a password by a
one-time link), changes their role, disables them; a person signs in for a token that
acts as them, with their role, and is written to the audit log by name. On SQLite and
on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from scoring import default_engine
from scoring.service.accounts import (
    AccountError,
    create_api_key,
    create_organisation,
    create_user,
)
from scoring.service.api import create_app
from scoring.service.database import connect, current_revision, migrate, sessions
from scoring.service.rate import RateLimit
from scoring.service.tables import AuditEvent, User, WebSession
from scoring.service.web.facility_accounts import reset_password
from scoring.service.web.pages import CSRF_COOKIE
from tests.conftest import EXAMPLES, agency_at_revision

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
PASSWORD = "a long enough passphrase 7"


@dataclass
class Agency:
    client: TestClient
    admin: dict[str, str]
    """The agency admin key's ``Authorization`` header."""
    database: Any
    clock: list[dt.datetime]


@pytest.fixture
def agency(database_url: str, tmp_path: Path) -> Iterator[Agency]:
    database = connect(database_url)
    migrate(database)
    with Session(database) as session:
        organisation = create_organisation(session, "Maple Agency", "agency", now=NOW)
        key = create_api_key(session, organisation, "admin", now=NOW)
        session.commit()
    clock = [NOW]
    app = create_app(
        sessions(database),
        default_engine(),
        lambda: clock[0],
        tmp_path,
        RateLimit(burst=10**9),
        secure_cookies=False,
    )
    with TestClient(app) as client:
        yield Agency(client, {"Authorization": f"Bearer {key}"}, database, clock)
    database.dispose()


def _add(agency: Agency, email: str, role: str = "agent", name: str = "Pat Doe") -> Response:
    body = {"email": email, "name": name, "role": role}
    return agency.client.post("/v1/users", json=body, headers=agency.admin)


def _choose_password(agency: Agency, path: str, password: str = PASSWORD) -> Response:
    """The person opens the link and chooses a password on the page, as in a browser."""
    page = agency.client.get(path)
    assert page.status_code == 200, page.text
    csrf = agency.client.cookies.get(CSRF_COOKIE)
    assert csrf
    return agency.client.post(
        path, data={"csrf_token": csrf, "password": password}, follow_redirects=False
    )


def _sign_in(agency: Agency, email: str, password: str = PASSWORD) -> Response:
    return agency.client.post("/v1/sessions", json={"email": email, "password": password})


def _person(agency: Agency, email: str, role: str = "agent") -> tuple[int, dict[str, str]]:
    """A user of the agency who has chosen a password and signed in: id and header."""
    made = _add(agency, email, role)
    assert made.status_code == 201, made.text
    assert _choose_password(agency, made.json()["password_link"]["path"]).status_code == 303
    agency.client.cookies.clear()
    token = _sign_in(agency, email)
    assert token.status_code == 201, token.text
    return made.json()["id"], {"Authorization": f"Bearer {token.json()['token']}"}


def _document() -> dict[str, Any]:
    loaded = yaml.safe_load((EXAMPLES / "ccrc-mixed.yaml").read_text(encoding="utf-8"))
    return dict(json.loads(json.dumps(loaded, default=str)))


def test_an_added_person_chooses_a_password_by_the_link_and_acts_with_their_role(
    agency: Agency,
) -> None:
    made = _add(agency, "Pat@Maple.example")
    assert made.status_code == 201, made.text
    added = made.json()
    assert (added["email"], added["role"], added["has_password"]) == (
        "pat@maple.example",
        "agent",
        False,
    )
    link = added["password_link"]
    assert link["path"] == f"/reset/{link['password_token']}"
    assert link["password_token"].startswith("cr_")
    assert link["expires_at"] == "2026-12-04T12:00:00Z"
    assert _sign_in(agency, "pat@maple.example").status_code == 401  # no password yet
    assert _choose_password(agency, link["path"]).status_code == 303
    agency.client.cookies.clear()
    assert agency.client.get(link["path"]).status_code == 404  # once only

    signed = _sign_in(agency, "pat@maple.example")
    assert signed.status_code == 201, signed.text
    assert signed.json()["role"] == "agent"
    assert signed.json()["expires_at"] == "2026-12-02T00:00:00Z"
    token = signed.json()["token"]
    assert token.startswith("cu_")
    pat = {"Authorization": f"Bearer {token}"}
    facility = agency.client.post(
        "/v1/facilities", json={"reference": "P-1", "name": "Pat's"}, headers=pat
    )
    assert facility.status_code == 201
    draft = agency.client.post(
        f"/v1/facilities/{facility.json()['id']}/assessments", json=_document(), headers=pat
    )
    assert draft.status_code == 201
    refused = agency.client.get("/v1/users", headers=pat)
    assert refused.status_code == 403
    assert (refused.json()["role"], refused.json()["action"]) == ("agent", "manage_users")
    with Session(agency.database) as session:
        actors = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.assessment_id == draft.json()["id"])
        ).all()
        assert actors == ["user:pat@maple.example"]
        stored = " ".join(
            str(v) for row in session.scalars(select(WebSession)) for v in vars(row).values()
        )
        assert token not in stored
        assert token.removeprefix("cu_") not in stored
    listed = agency.client.get("/v1/users", headers=agency.admin).json()
    assert [(u["email"], u["has_password"]) for u in listed] == [("pat@maple.example", True)]
    assert "password" not in json.dumps(listed).replace("has_password", "")


def test_a_wrong_password_and_an_unknown_email_are_told_apart_by_nothing_and_limited(
    agency: Agency,
) -> None:
    _person(agency, "ann@maple.example")
    wrong = _sign_in(agency, "ann@maple.example", "not the password at all")
    unknown = _sign_in(agency, "nobody@maple.example", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    answers = [_sign_in(agency, "ann@maple.example", "guess").status_code for _ in range(6)]
    assert answers[-1] == 429
    limited = _sign_in(agency, "ann@maple.example")  # even the right password now waits
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    agency.clock[0] = NOW + dt.timedelta(minutes=10)
    assert _sign_in(agency, "ann@maple.example").status_code == 201


def test_a_disabled_person_signs_in_no_more_and_their_tokens_and_links_end(
    agency: Agency,
) -> None:
    pat_id, pat = _person(agency, "pat@maple.example")
    assert agency.client.get("/v1/facilities", headers=pat).status_code == 200
    spare = agency.client.post(f"/v1/users/{pat_id}/password-link", headers=agency.admin)
    assert spare.status_code == 201
    disabled = agency.client.delete(f"/v1/users/{pat_id}", headers=agency.admin)
    assert disabled.status_code == 200
    assert disabled.json()["disabled_at"] == "2026-12-01T12:00:00Z"
    assert agency.client.get("/v1/facilities", headers=pat).status_code == 401
    assert _sign_in(agency, "pat@maple.example").status_code == 401
    with (
        Session(agency.database) as session,
        pytest.raises(AccountError, match="link is not valid"),
    ):
        reset_password(session, spare.json()["password_token"], "another long passphrase", now=NOW)
    again = agency.client.post(f"/v1/users/{pat_id}/password-link", headers=agency.admin)
    assert again.status_code == 409
    assert "'pat@maple.example' is disabled" in again.json()["detail"]
    listed = agency.client.get(f"/v1/users/{pat_id}", headers=agency.admin).json()
    assert listed["disabled_at"] == "2026-12-01T12:00:00Z"
    with Session(agency.database) as session:
        events = session.execute(
            select(AuditEvent.action, AuditEvent.subject).where(AuditEvent.subject.is_not(None))
        ).all()
    assert [tuple(e) for e in events] == [
        ("add_user", f"user:{pat_id}"),
        ("password_link", f"user:{pat_id}"),
        ("disable_user", f"user:{pat_id}"),
    ]


def test_the_agency_always_keeps_an_admin_who_can_sign_in(agency: Agency) -> None:
    ann_id, ann = _person(agency, "ann@maple.example", role="agency_admin")
    assert agency.client.get("/v1/users", headers=ann).status_code == 200
    demoted = agency.client.patch(f"/v1/users/{ann_id}", json={"role": "agent"}, headers=ann)
    assert demoted.status_code == 409
    assert "last admin" in demoted.json()["detail"]
    assert agency.client.delete(f"/v1/users/{ann_id}", headers=ann).status_code == 409
    bob_id, _ = _person(agency, "bob@maple.example", role="agency_admin")
    demoted = agency.client.patch(
        f"/v1/users/{ann_id}", json={"role": "underwriter", "name": "Ann Lee"}, headers=ann
    )
    assert demoted.status_code == 200
    assert (demoted.json()["role"], demoted.json()["name"]) == ("underwriter", "Ann Lee")
    assert agency.client.get("/v1/users", headers=ann).status_code == 403  # at once
    assert agency.client.delete(f"/v1/users/{bob_id}", headers=agency.admin).status_code == 409


def test_what_cannot_make_a_user_is_refused_with_the_reason(agency: Agency) -> None:
    assert _add(agency, "pat@maple.example").status_code == 201
    taken = _add(agency, "PAT@maple.example")
    assert taken.status_code == 409
    assert "a user with the email" in taken.json()["detail"]
    facility_role = _add(agency, "fay@maple.example", role="facility_user")
    assert facility_role.status_code == 422
    for email in ("not-an-email", "pat@localhost", "pat doe@maple.example"):
        refused = _add(agency, email)
        assert refused.status_code == 409, refused.text
        assert "is not an email address, like name@example.org" in refused.json()["detail"]
    blank = _add(agency, "blank@maple.example", name="  ")
    assert blank.status_code == 409
    assert "a user's name has 1 to 200 characters" in blank.json()["detail"]
    pat_id = agency.client.get("/v1/users", headers=agency.admin).json()[0]["id"]
    nothing = agency.client.patch(f"/v1/users/{pat_id}", json={}, headers=agency.admin)
    assert nothing.status_code == 422
    assert nothing.json()["detail"] == "give the user's new name or role (or both)"
    unknown = agency.client.patch("/v1/users/999", json={"name": "X"}, headers=agency.admin)
    assert unknown.status_code == 404
    with Session(agency.database) as session:
        own = create_organisation(session, "Maple Court", "facility", now=NOW)
        key = create_api_key(session, own, "own admin", now=NOW)
        session.commit()
    court = {"Authorization": f"Bearer {key}"}
    by_facility = agency.client.post(
        "/v1/users", json={"email": "f@court.example", "name": "F"}, headers=court
    )
    assert by_facility.status_code == 409
    assert "only an agency adds users" in by_facility.json()["detail"]
    with Session(agency.database) as session:
        fay = create_user(session, own, "fay@court.example", "Fay", "facility_user", None, now=NOW)
        session.commit()
    promoted = agency.client.patch(f"/v1/users/{fay}", json={"role": "agent"}, headers=court)
    assert promoted.status_code == 409
    assert "'fay@court.example' is a facility's user; that role stays" in promoted.json()["detail"]


def test_signing_out_ends_the_token_and_an_api_key_is_no_sign_in(agency: Agency) -> None:
    _, pat = _person(agency, "pat@maple.example")
    assert agency.client.delete("/v1/sessions/current", headers=pat).status_code == 204
    assert agency.client.get("/v1/facilities", headers=pat).status_code == 401
    key = agency.client.delete("/v1/sessions/current", headers=agency.admin)
    assert key.status_code == 404
    assert agency.client.get("/v1/facilities", headers=agency.admin).status_code == 200


def test_a_token_lasts_twelve_hours(agency: Agency) -> None:
    _, pat = _person(agency, "pat@maple.example")
    agency.clock[0] = NOW + dt.timedelta(hours=11, minutes=59)
    assert agency.client.get("/v1/facilities", headers=pat).status_code == 200
    agency.clock[0] = NOW + dt.timedelta(hours=12)
    assert agency.client.get("/v1/facilities", headers=pat).status_code == 401


def test_an_upgrade_from_0007_keeps_the_users_who_sign_in_as_before(
    database_url: str, tmp_path: Path
) -> None:
    database, organisation, key = agency_at_revision(database_url, "0007", NOW)
    with database.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO user_account (organisation_id, email, name, role, created_at)"
                " VALUES (:o, 'old@elm.example', 'Old', 'agent', '2026-11-01 00:00:00')"
            ).bindparams(o=organisation)
        )
    migrate(database)
    assert current_revision(database) == "0008"
    with Session(database) as session:
        (user,) = session.scalars(select(User)).all()
        assert user.disabled_at is None
    app = create_app(sessions(database), default_engine(), lambda: NOW, tmp_path)
    with TestClient(app) as client:
        listed = client.get("/v1/users", headers={"Authorization": f"Bearer {key}"})
        assert [(u["email"], u["disabled_at"]) for u in listed.json()] == [
            ("old@elm.example", None)
        ]
    database.dispose()


def test_a_person_of_the_agency_signing_in_on_the_site_is_shown_the_way_to_the_api(
    agency: Agency,
) -> None:
    made = _add(agency, "pat@maple.example")
    signed = _choose_password(agency, made.json()["password_link"]["path"])
    assert signed.status_code == 303
    home = agency.client.get(signed.headers["location"])
    assert home.status_code == 200
    assert "Signed in to Maple Agency" in home.text
    assert 'href="/docs"' in home.text
    assert agency.client.get("/assessments/1").status_code == 404


def test_a_key_a_token_and_an_invitation_each_say_who_they_act_as(agency: Agency) -> None:
    key = agency.client.get("/v1/me", headers=agency.admin)
    assert key.status_code == 200
    prefix = agency.admin["Authorization"].removeprefix("Bearer cs_").partition("_")[0]
    assert key.json() == {
        "organisation_id": key.json()["organisation_id"],
        "organisation_name": "Maple Agency",
        "organisation_kind": "agency",
        "role": "agency_admin",
        "actor": f"api_key:{prefix}",
        "facility_id": None,
        "may_score": True,
    }
    _, pat = _person(agency, "pat@maple.example", role="underwriter")
    person = agency.client.get("/v1/me", headers=pat).json()
    assert (person["role"], person["actor"]) == ("underwriter", "user:pat@maple.example")
    facility = agency.client.post(
        "/v1/facilities", json={"reference": "F-1", "name": "F"}, headers=agency.admin
    ).json()["id"]
    invited = agency.client.post(
        f"/v1/facilities/{facility}/invitations", json={"email": None}, headers=agency.admin
    )
    assert invited.status_code == 201, invited.text
    token = {"Authorization": f"Bearer {invited.json()['token']}"}
    seen = agency.client.get("/v1/me", headers=token).json()
    assert (seen["role"], seen["facility_id"], seen["may_score"]) == (
        "facility_user",
        facility,
        False,
    )
    assert agency.client.get("/v1/me").status_code == 401
