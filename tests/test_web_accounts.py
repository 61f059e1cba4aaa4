"""A facility's account in the browser: set up by an invitation link or by signing up
alone, signing in and out, the sign-in limit, password resets, and what every account
page must hold (the CSRF check, cookies, the Content-Security-Policy, escaping).

The account flows run on SQLite and on a real PostgreSQL server (as the API's tests
do); the pages' checks on SQLite. The app is in-process (no socket), its clock set by
the test.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from scoring import default_engine
from scoring.cli.app import app as cli
from scoring.service.accounts import AccountError, create_api_key, create_organisation
from scoring.service.api import create_app
from scoring.service.database import connect, migrate, sessions, sqlite_url
from scoring.service.rate import RateLimit
from scoring.service.tables import Facility, Organisation, User, WebSession
from scoring.service.tenant import NotFoundError, Tenant
from scoring.service.web import facility_accounts as accounts
from scoring.service.web.account_pages import AccountLimits
from scoring.service.web.facility_accounts import AccountFormError
from scoring.service.web.pages import CSRF_COOKIE, SESSION_COOKIE
from scoring.service.web.signin import caller_for, sign_in

START = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery staple"
runner = CliRunner()


@dataclass
class Clock:
    now: dt.datetime = START

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Site:
    client: TestClient
    agency: dict[str, str]
    """The agency's API key header."""
    database: Any
    url: str
    clock: Clock

    def csrf(self) -> str:
        if self.client.cookies.get(CSRF_COOKIE) is None:
            self.client.get("/login")
        token = self.client.cookies.get(CSRF_COOKIE)
        assert token
        return token

    def post(self, path: str, **fields: str) -> Response:
        return self.client.post(
            path, data={"csrf_token": self.csrf(), **fields}, follow_redirects=False
        )

    def use_session(self, token: str) -> None:
        """Send this session token from now on (one kept by someone, or planted)."""
        self.client.cookies.delete(SESSION_COOKIE)
        self.client.cookies.set(SESSION_COOKIE, token)

    def signed_in(self) -> bool:
        """Whether the browser's session cookie signs someone in (the welcome page sends a
        signed-in person on to their assessments)."""
        return self.client.get("/", follow_redirects=False).status_code == 303


def _site(url: str, folder: Path) -> Iterator[Site]:
    database = connect(url)
    migrate(database)
    with Session(database) as session:
        agency = create_organisation(session, "Maple Agency", "agency", now=START)
        key = create_api_key(session, agency, "test", now=START)
        session.commit()
    clock = Clock()
    app = create_app(
        sessions(database),
        default_engine(),
        clock,
        folder,
        RateLimit(burst=10**9),
        secure_cookies=False,
    )
    client = TestClient(app, base_url="http://testserver")
    yield Site(client, {"Authorization": f"Bearer {key}"}, database, url, clock)
    client.close()
    database.dispose()


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    """The service on SQLite and on PostgreSQL."""
    yield from _site(database_url, tmp_path)


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[Site]:
    """The service on SQLite."""
    yield from _site(sqlite_url(tmp_path), tmp_path)


def _facility(site: Site, name: str = "Maple Court", reference: str = "F-1") -> int:
    made = site.client.post(
        "/v1/facilities", json={"reference": reference, "name": name}, headers=site.agency
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _invitation(site: Site, facility: int, email: str | None = "ann@maple.example") -> str:
    made = site.client.post(
        f"/v1/facilities/{facility}/invitations", json={"email": email}, headers=site.agency
    )
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def _user(site: Site, email: str = "ann@maple.example") -> int:
    with Session(site.database) as session:
        user_id = accounts.sign_up(session, "Maple Court", email, "Ann Lee", PASSWORD, now=START)
        session.commit()
    return user_id


def _sign_in(site: Site, email: str = "ann@maple.example", password: str = PASSWORD) -> Response:
    return site.post("/login", email=email, password=password)


# The account flows, on SQLite and PostgreSQL


def test_an_invitation_link_sets_up_the_facilitys_account_and_signs_it_in(site: Site) -> None:
    facility = _facility(site)
    token = _invitation(site, facility)
    page = site.client.get(f"/invite/{token}")
    assert page.status_code == 200
    assert "Maple Court" in page.text
    assert "Maple Agency" in page.text
    assert 'value="ann@maple.example"' in page.text  # the invited email, to start with
    made = site.post(
        f"/invite/{token}", name="Ann Lee", email="Ann@Maple.example", password=PASSWORD
    )
    assert made.status_code == 303
    assert made.headers["location"] == "/assessments"
    assert site.signed_in()
    with Session(site.database) as session:
        user = session.scalars(select(User)).one()
        linked = session.get(Facility, facility)
        assert linked is not None
        organisation = session.get(Organisation, linked.facility_organisation_id)
        assert organisation is not None
        assert (user.email, user.role) == ("ann@maple.example", "facility_user")
        assert (organisation.kind, organisation.name) == ("facility", "Maple Court")
        assert user.organisation_id == organisation.id
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2")
        caller = caller_for(session, user)
    assert caller is not None
    assert caller.facility_id == facility  # its own facility, in the agency that holds it


def test_an_invitation_link_sets_up_one_account_only_once(site: Site) -> None:
    token = _invitation(site, _facility(site))
    first = site.post(f"/invite/{token}", name="Ann", email="ann@maple.example", password=PASSWORD)
    assert first.status_code == 303
    site.client.cookies.clear()
    again = site.client.get(f"/invite/{token}")
    assert again.status_code == 404
    assert "already been used" in again.text
    second = site.post(f"/invite/{token}", name="Bob", email="bob@maple.example", password=PASSWORD)
    assert second.status_code == 404
    assert "already been used" in second.text
    api = site.client.get("/v1/facilities", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401  # nor does the token answer the API any more
    with Session(site.database) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1


def test_an_expired_invitation_link_is_refused_with_a_plain_page(site: Site) -> None:
    token = _invitation(site, _facility(site))
    site.clock.now = START + dt.timedelta(days=15)
    page = site.client.get(f"/invite/{token}")
    assert page.status_code == 404
    assert "has expired" in page.text
    assert "Traceback" not in page.text
    made = site.post(f"/invite/{token}", name="Ann", email="ann@maple.example", password=PASSWORD)
    assert made.status_code == 404
    with Session(site.database) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_a_facility_signed_up_alone_is_seen_by_no_agency(site: Site) -> None:
    theirs = _facility(site, "Birch House")
    made = site.post(
        "/signup",
        facility_name="Oak Lodge",
        name="Ann Lee",
        email="ann@oak.example",
        password=PASSWORD,
    )
    assert made.status_code == 303
    assert site.signed_in()
    with Session(site.database) as session:
        own = session.scalars(select(Facility).where(Facility.name == "Oak Lodge")).one()
        assert own.organisation_id == own.facility_organisation_id
        user = session.scalars(select(User).where(User.email == "ann@oak.example")).one()
        caller = caller_for(session, user)
        assert caller is not None
        tenant = Tenant(session, caller, default_engine(), START)
        assert [f.name for f in tenant.facilities()] == ["Oak Lodge"]
        with pytest.raises(NotFoundError, match=f"facility {theirs}"):
            tenant.facility(theirs)
        own_id = own.id
    assert site.client.get(f"/v1/facilities/{own_id}", headers=site.agency).status_code == 404
    listed = site.client.get("/v1/facilities", headers=site.agency).json()["items"]
    assert [f["name"] for f in listed] == ["Birch House"]


def test_signing_out_revokes_the_session(site: Site) -> None:
    _user(site)
    assert _sign_in(site).status_code == 303
    old = site.client.cookies.get(SESSION_COOKIE)
    assert old
    out = site.post("/logout")
    assert out.status_code == 303
    assert out.headers["location"] == "/"
    assert not site.signed_in()
    site.use_session(old)  # the old cookie, kept by someone
    assert not site.signed_in()


def test_a_reset_link_from_the_admin_command_sets_the_password_once(site: Site) -> None:
    _user(site)
    assert _sign_in(site).status_code == 303
    old = site.client.cookies.get(SESSION_COOKIE)
    printed = runner.invoke(
        cli, ["admin", "reset-password", "Ann@maple.example", "--database-url", site.url]
    )
    assert printed.exit_code == 0, printed.output
    path, token = printed.stdout.splitlines()[:2]
    assert path == f"/reset/{token}"
    assert token.startswith("cr_")
    page = site.client.get(path)
    assert page.status_code == 200
    assert "ann@maple.example" in page.text
    new = "a different long passphrase"
    made = site.post(path, password=new)
    assert made.status_code == 303
    assert site.client.cookies.get(SESSION_COOKIE) != old
    assert site.signed_in()
    site.use_session(str(old))
    assert not site.signed_in()  # the session from before the reset is signed out
    with Session(site.database) as session:
        assert sign_in(session, "ann@maple.example", PASSWORD, now=START) is None
        assert sign_in(session, "ann@maple.example", new, now=START) is not None
    again = site.post(path, password="yet another long passphrase")
    assert again.status_code == 404
    assert "already been used" in again.text


# The library's rules


def test_the_admin_command_refuses_an_unknown_email_with_a_sentence(lite: Site) -> None:
    refused = runner.invoke(
        cli, ["admin", "reset-password", "nobody@x.example", "--database-url", lite.url]
    )
    assert refused.exit_code == 1
    assert "no user with the email 'nobody@x.example'" in refused.output
    assert "Traceback" not in refused.output


def test_every_problem_of_a_sign_up_is_given_at_once(lite: Site) -> None:
    _user(lite, "taken@x.example")
    with Session(lite.database) as session:
        with pytest.raises(AccountFormError, match="facility's name") as refused:
            accounts.sign_up(session, " ", "TAKEN@x.example", "", "short", now=START)
        fields = [p.field for p in refused.value.problems]
        assert fields == ["facility_name", "name", "email", "password"]
        assert "exists" in refused.value.problems[2].text


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("elevenchars", "at least 12"),
        ("x" * 201, "at most 200"),
        ("Ann@Oak.example", "not your email"),
    ],
)
def test_a_password_too_short_too_long_or_the_email_is_refused(
    lite: Site, password: str, says: str
) -> None:
    with Session(lite.database) as session, pytest.raises(AccountFormError, match=says):
        accounts.sign_up(session, "Oak Lodge", "ann@oak.example", "Ann", password, now=START)


def test_a_reset_token_expires(lite: Site) -> None:
    _user(lite)
    with Session(lite.database) as session:
        token = accounts.create_password_reset(session, "ann@maple.example", now=START, hours=1)
        later = START + dt.timedelta(hours=1)
        with pytest.raises(AccountError, match="has expired"):
            accounts.reset_password(session, token, "a different long passphrase", now=later)
        with pytest.raises(AccountError, match="not valid"):
            accounts.reset_password(session, token + "x", "a different long one", now=START)


# The pages' checks


def test_a_wrong_password_and_an_unknown_email_give_the_same_page(lite: Site) -> None:
    _user(lite)
    wrong = _sign_in(lite, password="not the password at all")
    unknown = _sign_in(lite, email="nobody@maple.example")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.text.replace("ann@", "X@") == unknown.text.replace("nobody@", "X@")
    assert "The email address or the password is not right" in wrong.text
    assert not lite.signed_in()


def test_sign_in_tries_beyond_the_limit_are_answered_429(lite: Site) -> None:
    _user(lite)
    for _ in range(5):
        assert _sign_in(lite, password="not the password at all").status_code == 401
    refused = _sign_in(lite)  # even the right password, until the wait is over
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "20"
    assert "Too many tries" in refused.text
    lite.clock.now = START + dt.timedelta(seconds=20)
    assert _sign_in(lite).status_code == 303


def test_sign_in_tries_from_one_address_are_limited_across_emails(lite: Site) -> None:
    lite.client.app.state.account_limits = AccountLimits(  # type: ignore[attr-defined]
        per_address=RateLimit(burst=3, per_second=0.1)
    )
    answers = [_sign_in(lite, email=f"u{n}@x.example").status_code for n in range(4)]
    assert answers == [401, 401, 401, 429]


def test_signing_in_starts_a_new_session_and_goes_to_next(lite: Site) -> None:
    _user(lite)
    made = lite.post("/login", email="ann@maple.example", password=PASSWORD, next="/history?x=1")
    assert made.status_code == 303
    assert made.headers["location"] == "/history?x=1"
    first = lite.client.cookies.get(SESSION_COOKIE)
    again = _sign_in(lite)  # signed in already: a new token all the same
    assert again.status_code == 303
    second = lite.client.cookies.get(SESSION_COOKIE)
    assert first
    assert second
    assert second != first
    with Session(lite.database) as session:
        kept = session.scalars(select(WebSession).order_by(WebSession.id)).all()
    assert [s.revoked_at is None for s in kept] == [False, True]  # the one before, ended
    lite.use_session(first)
    assert not lite.signed_in()


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil.example"])
def test_next_pointing_to_another_site_lands_on_the_welcome_page(lite: Site, target: str) -> None:
    _user(lite)
    made = lite.post("/login", email="ann@maple.example", password=PASSWORD, next=target)
    assert made.status_code == 303
    assert made.headers["location"] == "/"


def test_a_page_that_needs_signing_in_comes_back_after_it(lite: Site) -> None:
    _user(lite)
    asked = lite.client.get("/login?next=/history")
    assert 'name="next" value="/history"' in asked.text
    assert lite.post("/login", email="ann@maple.example", password=PASSWORD, next="/history")
    assert lite.client.get("/login?next=/history", follow_redirects=False).headers["location"] == (
        "/history"
    )


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(lite: Site) -> None:
    lite.csrf()
    fields = {"facility_name": "Oak", "name": "Ann", "email": "a@oak.example", "password": PASSWORD}
    refused = lite.client.post("/signup", data=fields, follow_redirects=False)
    assert refused.status_code == 403
    forged = lite.client.post("/signup", data={**fields, "csrf_token": "x" * 43})
    assert forged.status_code == 403
    _user(lite)
    assert _sign_in(lite).status_code == 303
    out = lite.client.post("/logout", data={"csrf_token": ""}, follow_redirects=False)
    assert out.status_code == 403
    assert lite.signed_in()
    with Session(lite.database) as session:
        assert session.scalar(select(func.count()).select_from(Organisation)) == 2


def test_cookies_are_http_only_and_same_site(lite: Site) -> None:
    _user(lite)
    first = lite.client.get("/login")
    csrf = first.headers["set-cookie"]
    assert csrf.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in csrf
    assert "SameSite=strict" in csrf
    made = _sign_in(lite)
    session = made.headers["set-cookie"]
    assert session.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in session
    assert "SameSite=lax" in session
    assert "Path=/" in session


def test_every_account_page_forbids_inline_script(lite: Site) -> None:
    invitation = _invitation(lite, _facility(lite))
    _user(lite)
    with Session(lite.database) as session:
        reset = accounts.create_password_reset(session, "ann@maple.example", now=START)
        session.commit()
    pages = [
        lite.client.get(path)
        for path in ("/", "/login", "/signup", f"/invite/{invitation}", f"/reset/{reset}")
    ]
    pages += [lite.client.get("/invite/ci_nothing_here"), _sign_in(lite, password="wrong one!")]
    lite.client.app.state.account_limits = AccountLimits(  # type: ignore[attr-defined]
        per_address=RateLimit(burst=0, per_second=0.1)
    )
    pages.append(_sign_in(lite))
    assert [page.status_code for page in pages] == [200, 200, 200, 200, 200, 404, 401, 429]
    for page in pages:
        policy = page.headers["content-security-policy"]
        script = re.search(r"script-src ([^;]*)", policy)
        assert script is not None
        assert "'unsafe-inline'" not in script.group(1)
        assert "'unsafe-inline'" not in policy
        assert "<script>" not in page.text  # only the site's own script file
        assert page.headers["referrer-policy"] == "no-referrer"  # a link's token stays here
        assert page.headers["cache-control"] == "no-store"


def test_every_input_has_a_label_and_an_autocomplete(lite: Site) -> None:
    invitation = _invitation(lite, _facility(lite))
    for path in ("/login", "/signup", f"/invite/{invitation}"):
        page = lite.client.get(path).text
        inputs = re.findall(r'<input id="([a-z_]+)"[^>]*autocomplete="([a-z-]+)"', page)
        assert inputs
        for name, _ in inputs:
            assert f'<label for="{name}">' in page
    login = lite.client.get("/login").text
    assert 'autocomplete="current-password"' in login
    assert 'autocomplete="new-password"' in lite.client.get("/signup").text


def test_a_problem_is_shown_in_the_summary_and_tied_to_its_input(lite: Site) -> None:
    page = lite.post("/signup", facility_name="Oak", name="Ann", email="a@oak.example")
    assert page.status_code == 400
    assert '<a href="#password">Enter a password of at least 12 characters</a>' in page.text
    assert re.search(r'<input id="password"[^>]*aria-describedby="[^"]*password-error', page.text)
    assert 'id="password-error"' in page.text
    assert 'value="Oak"' in page.text  # what was typed stays, but never the password


def test_a_facility_name_with_markup_is_shown_as_text(lite: Site) -> None:
    invitation = _invitation(lite, _facility(lite, "<script>alert(1)</script>"))
    page = lite.client.get(f"/invite/{invitation}")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_no_password_or_token_is_logged(lite: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    invitation = _invitation(lite, _facility(lite))
    lite.post(f"/invite/{invitation}", name="Ann", email="ann@maple.example", password=PASSWORD)
    lite.post("/logout")
    _sign_in(lite, password="a wrong password here")
    with Session(lite.database) as session:
        reset = accounts.create_password_reset(session, "ann@maple.example", now=START)
        session.commit()
    lite.post(f"/reset/{reset}", password="a different long passphrase")
    logged = "\n".join(  # the service's records (the test's HTTP client logs its URLs)
        r.getMessage() for r in caplog.records if not r.name.startswith("httpx")
    )
    assert lite.signed_in()
    for secret in (PASSWORD, "a wrong password here", invitation, reset, "a different long"):
        assert secret not in logged


def test_the_welcome_page_offers_sign_in_and_a_self_assessment(lite: Site) -> None:
    page = lite.client.get("/")
    assert page.status_code == 200
    assert 'href="/login"' in page.text
    assert 'href="/signup"' in page.text
    _user(lite)
    _sign_in(lite)
    assert lite.client.get("/", follow_redirects=False).headers["location"] == "/assessments"


def test_the_access_log_hides_the_token_of_a_link() -> None:
    from uvicorn.logging import AccessFormatter

    from scoring.cli.serve import HideLinkTokens, _log_config

    config: Any = _log_config()
    assert config["handlers"]["access"]["filters"] == ["hide_link_tokens"]
    assert config["filters"]["hide_link_tokens"]["()"] is HideLinkTokens
    token = "ci_0123456789ab_secret-part"
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", f"/invite/{token}?a=1", "1.1", 303),
        None,
    )
    assert HideLinkTokens().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert token not in line
    assert '"POST /invite/...?a=1 HTTP/1.1" 303' in line


def test_an_email_taken_at_the_same_moment_is_a_problem_not_a_crash(
    lite: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    _user(lite, "ann@oak.example")
    # As when two sign-ups with one email pass the check at once: the database refuses.
    monkeypatch.setattr(accounts, "_person_problems", lambda *_: [])
    page = lite.post(
        "/signup", facility_name="Oak", name="Ann", email="ann@oak.example", password=PASSWORD
    )
    assert page.status_code == 400
    assert "An account with this email address exists" in page.text
