"""A facility that signed up alone shares its submitted assessments with an agent's
agency by a one-time code; no insurer sees them before."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring import default_engine
from scoring.service.accounts import Caller, create_api_key
from scoring.service.tables import Facility
from scoring.service.tenant import ForbiddenError, NotFoundError, Tenant
from scoring.service.web.facility_accounts import sign_up
from scoring.service.web.signin import start_session
from tests.web_support import CSRF, NOW, Site, complete_and_submit, example, make_site

ENGINE = default_engine()
ANSWERS = example("imaging-centre-exposed-pacs.yaml")["answers"]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    made = make_site(f"sqlite+pysqlite:///{tmp_path / 'web.db'}", tmp_path)
    yield made
    made.client.close()
    made.database.dispose()


def _alone(site: Site) -> str:
    """A facility signed up alone, signed in: its session token."""
    with Session(site.database) as session:
        user = sign_up(
            session, "Oak Home", "ann@oak.example", "Ann Lee", "a long password 123", now=NOW
        )
        token = start_session(session, user, now=NOW)
        session.commit()
    return token


def _agent(site: Site) -> dict[str, str]:
    with Session(site.database) as session:
        key = create_api_key(session, site.agency_id, "agent", now=NOW)
        session.commit()
    return {"Authorization": f"Bearer {key}"}


def _code(page: str) -> str:
    found = re.search(r'<code id="share-code">(cx_[^<]+)</code>', page)
    assert found is not None, page[:2000]
    return found.group(1)


def test_a_shared_code_gives_the_agent_a_copy_of_the_submitted_assessments(site: Site) -> None:
    facility = site.browser(_alone(site))
    agent = _agent(site)
    assessment = complete_and_submit(facility, ENGINE.questionnaire, ANSWERS)
    report = facility.get(f"/assessments/{assessment}/report").text
    assert site.client.get("/v1/facilities", headers=agent).json()["items"] == []

    page = facility.post("/share", data={"csrf_token": CSRF})
    assert page.status_code == 200
    code = _code(page.text)
    taken = site.client.post(
        "/v1/shares", json={"token": code, "reference": "OAK-1"}, headers=agent
    )
    assert taken.status_code == 201, taken.text
    made = taken.json()
    assert (made["reference"], made["name"]) == ("OAK-1", "Oak Home")
    copies = site.client.get(f"/v1/facilities/{made['id']}/assessments", headers=agent).json()
    assert [(c["status"], c["attested_name"]) for c in copies] == [("submitted", "Dana Reyes")]
    scored = site.client.post(f"/v1/assessments/{copies[0]['id']}/score", headers=agent)
    assert scored.status_code == 201
    assert f"${scored.json()['premium']:,.0f}" in report  # the same answers, the same price

    again = site.client.post(
        "/v1/shares", json={"token": code, "reference": "OAK-2"}, headers=agent
    )
    assert again.status_code == 404  # taken once


def test_a_facility_shares_only_what_it_has_submitted(site: Site) -> None:
    facility = site.browser(_alone(site))
    facility.post("/assessments", data={"csrf_token": CSRF})  # a draft only
    refused = facility.post("/share", data={"csrf_token": CSRF})
    assert refused.status_code == 409
    assert "submit an assessment before sharing it" in refused.text.lower()


def test_an_expired_or_unknown_code_is_not_found_and_a_facility_cannot_take_one(
    site: Site,
) -> None:
    facility = site.browser(_alone(site))
    complete_and_submit(facility, ENGINE.questionnaire, ANSWERS)
    agent = _agent(site)
    with Session(site.database) as session:
        mine = session.scalars(select(Facility).where(Facility.reference == "self")).one()
        own = Caller(mine.organisation_id, "user:ann@oak.example", mine.id)
        old = Tenant(session, own, ENGINE, NOW - dt.timedelta(days=15))
        expired, _ = old.share(mine.id)
        session.commit()
        with pytest.raises(ForbiddenError, match="take a share code"):
            Tenant(session, own, ENGINE, NOW).take_share(expired, "SELF")
    for code in (expired, "cx_nothing_here", "not a code"):
        answer = site.client.post(
            "/v1/shares", json={"token": code, "reference": "OAK-3"}, headers=agent
        )
        assert answer.status_code == 404, code
    with Session(site.database) as session:
        agency = Tenant(session, Caller(site.agency_id, "agent"), ENGINE, NOW)
        with pytest.raises(NotFoundError, match="share code"):
            agency.take_share(expired, "OAK-4")
