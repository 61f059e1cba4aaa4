"""What the web page tests share: a service with an agency and its facilities, each
facility with a signed-in user, and forms filled in from a YAML response."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from scoring import default_engine, validate_document
from scoring.questionnaire.definition import Question, Section
from scoring.service.accounts import create_organisation, create_user
from scoring.service.api import create_app
from scoring.service.database import connect, migrate, sessions
from scoring.service.rate import RateLimit
from scoring.service.tables import Facility
from scoring.service.web.pages import CSRF_COOKIE, SESSION_COOKIE
from scoring.service.web.signin import start_session
from scoring.vocabulary import AnswerKind, AnswerState
from tests.conftest import EXAMPLES

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
CSRF = "t" * 43


def example(name: str) -> dict[str, Any]:
    """An example response as the API would receive it (YAML's dates and yes/no as JSON)."""
    loaded = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    return dict(json.loads(json.dumps(loaded, default=str)))


@dataclass
class Site:
    client: TestClient
    database: Engine
    agency_id: int

    def facility_user(self, name: str, email: str) -> tuple[int, str]:
        """A facility of the agency with its own account; its id and a session token."""
        with Session(self.database) as session:
            own = create_organisation(session, name, "facility", now=NOW)
            facility = Facility(
                organisation_id=self.agency_id,
                reference=f"REF-{own}",
                name=name,
                created_at=NOW,
                facility_organisation_id=own,
            )
            session.add(facility)
            session.flush()
            user = create_user(
                session, own, email, "Pat Doe", "facility_user", "a long password 123", now=NOW
            )
            token = start_session(session, user, now=NOW)
            session.commit()
            return facility.id, token

    def browser(self, token: str) -> TestClient:
        """A client signed in with a session token, holding the CSRF cookie."""
        client = TestClient(self.client.app, follow_redirects=False)
        client.cookies.set(SESSION_COOKIE, token)
        client.cookies.set(CSRF_COOKIE, CSRF)
        return client


def make_site(url: str, files: Path) -> Site:
    database = connect(url)
    migrate(database)
    with Session(database) as session:
        agency = create_organisation(session, "Maple Agency", "agency", now=NOW)
        session.commit()
    app = create_app(
        sessions(database),
        default_engine(),
        lambda: NOW,
        files,
        RateLimit(burst=10**9),
        secure_cookies=False,
    )
    return Site(TestClient(app, follow_redirects=False), database, agency)


def answer_fields(question: Question, value: Any) -> list[tuple[str, str]]:
    """How a person fills in one question's inputs to give ``value``."""
    name = f"a.{question.id}"
    if value is None:
        return []
    if isinstance(value, bool):
        value = "yes" if value else "no"
    single = question.kind in (AnswerKind.YES_NO, AnswerKind.SINGLE_CHOICE)
    if value in ("unknown", "n/a") and not single:
        return [(f"s.{question.id}", str(value))]
    if isinstance(value, list):
        return [(name, str(v)) for v in value]
    return [(name, str(value))]


def section_form(
    section: Section, answers: Mapping[str, Any], row_version: int, go: str = "next"
) -> dict[str, Any]:
    """A section's form as a person fills it in from ``answers``."""
    pairs: list[tuple[str, str]] = [
        ("csrf_token", CSRF),
        ("row_version", str(row_version)),
        ("go", go),
    ]
    for question in section.questions:
        pairs += answer_fields(question, answers.get(question.id))
    form: dict[str, Any] = {}
    for key, value in pairs:
        form.setdefault(key, []).append(value)
    return form


def row_version(page: str) -> int:
    found = re.search(r'name="row_version" value="(\d+)"', page)
    assert found is not None, "the page has no row_version"
    return int(found.group(1))


def start(browser: TestClient) -> int:
    """Start an assessment from the facility's page: its id."""
    started = browser.post("/assessments", data={"csrf_token": CSRF})
    assert started.status_code == 303, started.text[:500]
    found = re.match(r"/assessments/(\d+)/sections/1", started.headers["location"])
    assert found is not None
    return int(found.group(1))


def fill_all(
    browser: TestClient, questionnaire: Any, assessment: int, answers: Mapping[str, Any]
) -> None:
    """Answer every section of an assessment through its form."""
    for number, section in enumerate(questionnaire.sections, start=1):
        page = browser.get(f"/assessments/{assessment}/sections/{number}")
        assert page.status_code == 200
        saved = browser.post(
            f"/assessments/{assessment}/sections/{number}",
            data=section_form(section, answers, row_version(page.text)),
        )
        assert saved.status_code == 303, saved.text[:2000]


def submit(browser: TestClient, assessment: int, name: str = "Dana Reyes") -> None:
    """Sign the attestation on the review page and submit."""
    review = browser.get(f"/assessments/{assessment}/review")
    done = browser.post(
        f"/assessments/{assessment}/submit",
        data={
            "csrf_token": CSRF,
            "row_version": row_version(review.text),
            "attested_name": name,
            "confirm": "yes",
        },
    )
    assert done.status_code == 303, done.text[:2000]


def complete_and_submit(
    browser: TestClient, questionnaire: Any, answers: Mapping[str, Any], name: str = "Dana Reyes"
) -> int:
    """Start an assessment, answer every section through its form, and submit it: its id."""
    assessment = start(browser)
    fill_all(browser, questionnaire, assessment, answers)
    submit(browser, assessment, name)
    return assessment


def validated_answers(document: Mapping[str, Any], questionnaire: Any) -> dict[str, str]:
    """A document's answers as the validator reads them (unanswered left out)."""
    validation = validate_document(document, questionnaire, as_of=NOW.date())
    row, states = validation.answers.iloc[0], validation.states.iloc[0]
    texts = {}
    for question in questionnaire.questions:
        state = AnswerState(int(states[question.id]))
        if state is AnswerState.ANSWERED:
            texts[question.id] = str(row[question.id])
        elif state in (AnswerState.UNKNOWN, AnswerState.NOT_APPLICABLE):
            texts[question.id] = state.name
    return texts
