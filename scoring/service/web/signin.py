"""Browser sessions: a person signs in with an email and a password and gets a cookie.

The cookie holds a random token; only its sha256 is kept (``web_session``), so a stolen
database signs no one in. A session lasts :data:`SESSION_HOURS` from sign-in, and
signing out revokes it. A facility's user acts on its own facility only, as
:class:`~scoring.service.accounts.Caller` with the facility's id; it may also score its
submitted assessments (the facility's own report).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring.service.accounts import Caller, digest, role_of
from scoring.service.tables import Facility, Organisation, User, WebSession, utc

SESSION_HOURS = 12
_TOKEN_BYTES = 32
_HASHER = PasswordHasher()
_UNKNOWN_USER_HASH = _HASHER.hash("an unknown user's password is checked all the same")
"""Checked when no user has the email, so that an unknown email takes as long as a
wrong password (the time does not tell which emails have accounts)."""


@dataclass(frozen=True)
class Visitor:
    """Who is signed in: the user, and what they may act on (``caller``; None for a
    facility user whose facility is not set up yet)."""

    user_id: int
    email: str
    name: str
    role: str
    organisation_name: str
    caller: Caller | None


def password_matches(user: User | None, password: str) -> bool:
    """Whether ``password`` is the user's (always False without a user or a password)."""
    stored = user.password_hash if user is not None else None
    try:
        _HASHER.verify(stored or _UNKNOWN_USER_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def sign_in(session: Session, email: str, password: str, *, now: dt.datetime) -> str | None:
    """A new session's token for the user with that email and password; None for a
    wrong email or password (the same to the caller)."""
    user = signed_in_user(session, email, password)
    return None if user is None else start_session(session, user.id, now=now)


def signed_in_user(session: Session, email: str, password: str) -> User | None:
    """The user with that email and password who may sign in; None for a wrong email
    or password or a disabled user (the same to the caller, in about the same time)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if not password_matches(user, password) or user is None or user.disabled_at is not None:
        return None
    return user


def start_session(session: Session, user_id: int, *, now: dt.datetime, start: str = "") -> str:
    """A new session for a user (signed in, or just set up): its token (``start`` and a
    random secret; only its sha256 is kept)."""
    token = start + secrets.token_urlsafe(_TOKEN_BYTES)
    session.add(
        WebSession(
            user_id=user_id,
            token_sha256=digest(token),
            created_at=now,
            expires_at=now + dt.timedelta(hours=SESSION_HOURS),
            last_seen_at=now,
        )
    )
    session.flush()
    return token


def end_session(session: Session, token: str, *, now: dt.datetime) -> None:
    """Sign out: the session's token is refused from now on."""
    found = session.scalar(select(WebSession).where(WebSession.token_sha256 == digest(token)))
    if found is not None and found.revoked_at is None:
        found.revoked_at = now


def end_sessions(session: Session, user_id: int, *, now: dt.datetime) -> None:
    """Sign a user out everywhere (after a password is set)."""
    for found in session.scalars(
        select(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    ):
        found.revoked_at = now


def live_session(
    session: Session, token: str, *, now: dt.datetime
) -> tuple[WebSession, User] | None:
    """The session a token is, and its user, while it may act: None when it is
    unknown, expired or revoked, or its user disabled."""
    found = session.scalar(select(WebSession).where(WebSession.token_sha256 == digest(token)))
    if found is None or found.revoked_at is not None or utc(found.expires_at) <= now:
        return None
    user = session.get(User, found.user_id)
    if user is None or user.disabled_at is not None:
        return None
    return found, user


def visitor_of(session: Session, token: str, *, now: dt.datetime) -> Visitor | None:
    """Who a session token stands for; None when it is unknown, expired or revoked."""
    live = live_session(session, token, now=now) if token else None
    if live is None:
        return None
    found, user = live
    found.last_seen_at = now
    organisation = session.get(Organisation, user.organisation_id)
    return Visitor(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        organisation_name=organisation.name if organisation is not None else "",
        caller=caller_for(session, user),
    )


def caller_for(session: Session, user: User) -> Caller | None:
    """What a user acts on: an agency's user, its agency; a facility's user, its own
    facility (in the organisation that holds it), or None before it has one."""
    actor = f"user:{user.email}"
    if user.role != "facility_user":
        return Caller(organisation_id=user.organisation_id, actor=actor, role=role_of(user.role))
    facility = session.scalar(
        select(Facility)
        .where(Facility.facility_organisation_id == user.organisation_id)
        .order_by(Facility.id)
        .limit(1)
    )
    if facility is None:
        return None
    return Caller(facility.organisation_id, actor, facility.id, may_score=True)
