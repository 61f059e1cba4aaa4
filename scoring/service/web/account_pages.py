"""The pages of a facility's account: welcome, sign in and out, sign up alone, set up an
account by an agent's invitation link, and choose a new password by a reset link.

Every form is checked for its CSRF token (:func:`~scoring.service.web.pages.read_form`).
Signing in, signing up and setting up an account always start a new session (a token
the browser had before is never kept). Sign-in attempts are limited per email and per
client address (:class:`AccountLimits`); a wrong email and a wrong password give the
same page and take about the same time. Nothing here writes a log.
"""

from __future__ import annotations

import datetime as dt
import math
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from scoring.service.accounts import AccountError
from scoring.service.rate import RateLimit
from scoring.service.web import facility_accounts as accounts
from scoring.service.web.facility_accounts import EMAIL_TAKEN, AccountFormError, Problem
from scoring.service.web.pages import (
    SESSION_COOKIE,
    Form,
    current_visitor,
    read_form,
    redirect,
    render,
    safe_next,
    set_session_cookie,
)
from scoring.service.web.pages import field as form_field
from scoring.service.web.signin import end_session, sign_in, start_session

router = APIRouter(include_in_schema=False)
HOME = "/assessments"
"""Where a signed-in person goes: their assessments."""
PASSWORD_HINT = (
    f"At least {accounts.MIN_PASSWORD} characters. A few unrelated words make a good one."
)


@dataclass
class AccountLimits:
    """How often a sign-in may be tried: per email (so that one account's password is
    not guessed) and per client address (so that many accounts are not tried from one
    place); the address limit also holds sign-ups and account set-ups."""

    per_email: RateLimit = field(default_factory=lambda: RateLimit(burst=5, per_second=1 / 20))
    per_address: RateLimit = field(default_factory=lambda: RateLimit(burst=30, per_second=1 / 2))


def install(app: FastAPI, limits: AccountLimits | None = None) -> None:
    """The account pages on the app, with their limits (the defaults when None)."""
    app.state.account_limits = limits or AccountLimits()
    app.include_router(router)


def _now(request: Request) -> dt.datetime:
    now: dt.datetime = request.app.state.clock()
    return now


def _raw(form: Form, name: str) -> str:
    """A field's first value as typed (a password is never stripped)."""
    values = form.get(name)
    return values[0] if values else ""


def attempt_wait(request: Request, email: str | None) -> float:
    """Take one try from the client address's bucket (and the email's): the seconds to
    wait, 0 when the try is allowed."""
    limits: AccountLimits = request.app.state.account_limits
    now = _now(request)
    address = request.client.host if request.client is not None else "unknown"
    wait = limits.per_address.wait(f"address:{address}", now)
    if email is not None:
        wait = max(wait, limits.per_email.wait(f"email:{email}", now))
    return wait


def _too_many(request: Request, wait: float) -> Response:
    seconds = 3600 if math.isinf(wait) else max(1, math.ceil(wait))
    response = render(
        request,
        "message.html",
        status=429,
        heading="Too many tries",
        text=f"Please wait {seconds} seconds, then try again.",
        link=None,
    )
    response.headers["Retry-After"] = str(seconds)
    return response


def _summary(problems: Sequence[Problem]) -> dict[str, Any]:
    """The template's error summary (each linked to its field) and the inline messages."""
    return {
        "summary": [{"text": p.text, "href": f"#{p.field}"} for p in problems],
        "problems": {p.field: p.text for p in problems},
    }


def _signed_in(request: Request, user_id: int, target: str) -> Response:
    """A new session for the user (the browser's old one ended): to ``target``."""
    state = request.app.state
    now = _now(request)
    with state.sessions() as session:
        old = request.cookies.get(SESSION_COOKIE, "")
        if old:
            end_session(session, old, now=now)
        token = start_session(session, user_id, now=now)
        session.commit()
    response = redirect(request, target)
    set_session_cookie(request, response, token)
    return response


def _refused_link(request: Request, exc: AccountError) -> Response:
    return render(
        request,
        "message.html",
        status=404,
        heading="This link cannot be used",
        text=str(exc),
        link={"href": "/login", "text": "Sign in"},
    )


@router.get("/")
def welcome(request: Request) -> Response:
    """What carescore is for a facility; a signed-in person goes to their assessments."""
    if current_visitor(request) is not None:
        return redirect(request, HOME)
    return render(request, "home.html")


def _login_page(
    request: Request,
    next_: str,
    email: str = "",
    problems: Sequence[Problem] = (),
    status: int = 200,
) -> Response:
    return render(
        request, "login.html", status=status, next=next_, email=email, **_summary(problems)
    )


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    """The sign-in form; someone signed in already goes on to ``next``."""
    if current_visitor(request) is not None:
        return redirect(request, safe_next(next) if next else HOME)
    return _login_page(request, next)


@router.post("/login")
async def login(request: Request) -> Response:
    """Sign in: to ``next`` (a path of this site) or the assessments."""
    form = await read_form(request)
    return await run_in_threadpool(_login, request, form)


def _login(request: Request, form: Form) -> Response:
    email, password = form_field(form, "email").lower(), _raw(form, "password")
    next_ = form_field(form, "next")
    wait = attempt_wait(request, email)
    if wait > 0:
        return _too_many(request, wait)
    token = None
    if email and password:
        with request.app.state.sessions() as session:
            token = sign_in(session, email, password, now=_now(request))
            session.commit()
    if token is None:
        problem = Problem("email", "The email address or the password is not right")
        return _login_page(request, next_, email, [problem], status=401)
    state = request.app.state
    old = request.cookies.get(SESSION_COOKIE, "")
    if old:
        with state.sessions() as session:
            end_session(session, old, now=_now(request))
            session.commit()
    response = redirect(request, safe_next(next_) if next_ else HOME)
    set_session_cookie(request, response, token)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out: the session is revoked (its cookie signs no one in again)."""
    await read_form(request)
    return await run_in_threadpool(_logout, request)


def _logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        with request.app.state.sessions() as session:
            end_session(session, token, now=_now(request))
            session.commit()
    request.state.visitor = None
    response = redirect(request, "/")
    set_session_cookie(request, response, None)
    return response


def _signup_page(
    request: Request, values: dict[str, str], problems: Sequence[Problem] = (), status: int = 200
) -> Response:
    return render(
        request,
        "signup.html",
        status=status,
        password_hint=PASSWORD_HINT,
        **values,
        **_summary(problems),
    )


@router.get("/signup")
def signup_page(request: Request) -> Response:
    """The form of a facility signing up alone."""
    current_visitor(request)
    return _signup_page(request, {"facility_name": "", "name": "", "email": ""})


@router.post("/signup")
async def signup(request: Request) -> Response:
    """Sign a facility up alone, and sign its user in."""
    form = await read_form(request)
    return await run_in_threadpool(_signup, request, form)


def _signup(request: Request, form: Form) -> Response:
    values = {name: form_field(form, name) for name in ("facility_name", "name", "email")}
    wait = attempt_wait(request, None)
    if wait > 0:
        return _too_many(request, wait)
    try:
        with request.app.state.sessions() as session:
            user_id = accounts.sign_up(
                session,
                values["facility_name"],
                values["email"],
                values["name"],
                _raw(form, "password"),
                now=_now(request),
            )
            session.commit()
    except AccountFormError as exc:
        return _signup_page(request, values, exc.problems, status=400)
    except IntegrityError:  # the same email, signed up at the same moment
        return _signup_page(request, values, [EMAIL_TAKEN], status=400)
    return _signed_in(request, user_id, HOME)


def _link(kind: str, token: str) -> str:
    return f"/{kind}/{urllib.parse.quote(token, safe='')}"


def _invite_page(
    request: Request,
    token: str,
    values: dict[str, str],
    problems: Sequence[Problem] = (),
    status: int = 200,
) -> Response:
    with request.app.state.sessions() as session:
        try:
            view = accounts.read_invitation(session, token, now=_now(request))
        except AccountError as exc:
            return _refused_link(request, exc)
    return render(
        request,
        "invite.html",
        status=status,
        action=_link("invite", token),
        facility_name=view.facility_name,
        agency_name=view.agency_name,
        name=values.get("name", ""),
        email=values.get("email") or view.email,
        password_hint=PASSWORD_HINT,
        **_summary(problems),
    )


@router.get("/invite/{token}")
def invite_page(request: Request, token: str) -> Response:
    """The form that sets up the invited facility's account (a plain page when the link
    is not valid, expired, withdrawn or used)."""
    current_visitor(request)
    return _invite_page(request, token, {})


@router.post("/invite/{token}")
async def invite(request: Request, token: str) -> Response:
    """Set up the invited facility's account, once, and sign its user in."""
    form = await read_form(request)
    return await run_in_threadpool(_invite, request, token, form)


def _invite(request: Request, token: str, form: Form) -> Response:
    values = {name: form_field(form, name) for name in ("name", "email")}
    wait = attempt_wait(request, None)
    if wait > 0:
        return _too_many(request, wait)
    try:
        with request.app.state.sessions() as session:
            user_id = accounts.accept_invitation(
                session,
                token,
                values["email"],
                values["name"],
                _raw(form, "password"),
                now=_now(request),
            )
            session.commit()
    except AccountFormError as exc:
        return _invite_page(request, token, values, exc.problems, status=400)
    except IntegrityError:  # the same email, signed up at the same moment
        return _invite_page(request, token, values, [EMAIL_TAKEN], status=400)
    except AccountError as exc:
        return _refused_link(request, exc)
    return _signed_in(request, user_id, HOME)


def _reset_page(
    request: Request, token: str, problems: Sequence[Problem] = (), status: int = 200
) -> Response:
    with request.app.state.sessions() as session:
        try:
            email = accounts.read_password_reset(session, token, now=_now(request))
        except AccountError as exc:
            return _refused_link(request, exc)
    return render(
        request,
        "reset.html",
        status=status,
        action=_link("reset", token),
        email=email,
        password_hint=PASSWORD_HINT,
        **_summary(problems),
    )


@router.get("/reset/{token}")
def reset_page(request: Request, token: str) -> Response:
    """The form to choose a new password by a reset link."""
    current_visitor(request)
    return _reset_page(request, token)


@router.post("/reset/{token}")
async def reset(request: Request, token: str) -> Response:
    """Set the new password, sign out every session, and sign in anew."""
    form = await read_form(request)
    return await run_in_threadpool(_reset, request, token, form)


def _reset(request: Request, token: str, form: Form) -> Response:
    wait = attempt_wait(request, None)
    if wait > 0:
        return _too_many(request, wait)
    try:
        with request.app.state.sessions() as session:
            user_id = accounts.reset_password(
                session, token, _raw(form, "password"), now=_now(request)
            )
            session.commit()
    except AccountFormError as exc:
        return _reset_page(request, token, exc.problems, status=400)
    except AccountError as exc:
        return _refused_link(request, exc)
    return _signed_in(request, user_id, HOME)
