"""An agency's people: its admin adds users, changes their role or name, and disables
them over the API; a person signs in to the API for a token.

* A user is added without a password. The answer carries a one-time password reset
  token (``cr_...``, the kind ``carescore admin reset-password`` prints) with which the
  person chooses one at ``/reset/<token>``; no mail server is needed, the admin passes
  the link on. An admin may issue a new one at any time (a forgotten password).
* An agency's users are ``agency_admin``, ``agent`` or ``underwriter``; a facility's
  user comes by an invitation (:mod:`scoring.service.web.facility_accounts`).
* An agency always keeps an admin who can sign in: the last one is neither given
  another role nor disabled.
* A disabled user is kept (the audit log names it) but signs in no more: its sessions
  and tokens end at once, and its reset links are refused.
* Signing in to the API gives a ``cu_...`` token that acts as the person, with their
  role, and lasts as a browser session does (:data:`SESSION_HOURS`); only its sha256 is
  kept. What the person does is written to the audit log as ``user:<email>``.

Nothing here reads the clock: ``now`` is given.
"""

from __future__ import annotations

import datetime as dt
from typing import get_args

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scoring.service.accounts import AccountError, Caller, caller_of, create_user
from scoring.service.tables import AgencyRole, Organisation, Role, User
from scoring.service.web.facility_accounts import MAX_NAME, create_password_reset
from scoring.service.web.signin import (
    SESSION_HOURS,
    caller_for,
    end_sessions,
    live_session,
    signed_in_user,
    start_session,
)

SIGN_IN_START = "cu_"
PASSWORD_LINK_HOURS = 72
"""How long a new user's (or a forgotten password's) link to choose a password lasts."""
AGENCY_USER_ROLES: tuple[AgencyRole, ...] = get_args(AgencyRole)
_ADMIN: AgencyRole = "agency_admin"


class LastAdminError(AccountError):
    """A change that would leave the agency without an admin who can sign in."""


def _checked_role(role: str) -> AgencyRole:
    for known in AGENCY_USER_ROLES:
        if role == known:
            return known
    if role in get_args(Role):
        raise AccountError(f"role: {role!r} is a facility's role; an agency's users are not")
    raise AccountError(f"role: {role!r} is not a role ({', '.join(AGENCY_USER_ROLES)})")


def _checked_name(name: str) -> str:
    if not name.strip() or len(name) > MAX_NAME:
        raise AccountError(f"name: a user's name has 1 to {MAX_NAME} characters")
    return name.strip()


def users(session: Session, organisation_id: int) -> list[User]:
    """The organisation's users, oldest first (disabled ones included)."""
    query = select(User).where(User.organisation_id == organisation_id).order_by(User.id)
    return list(session.scalars(query))


def user_of(session: Session, organisation_id: int, user_id: int) -> User | None:
    """The organisation's user of that id; None for another organisation's or none."""
    found = session.get(User, user_id)
    return found if found is not None and found.organisation_id == organisation_id else None


def add_user(
    session: Session, organisation_id: int, email: str, name: str, role: str, *, now: dt.datetime
) -> tuple[User, str, dt.datetime]:
    """A new user of an agency, without a password: the user, the one-time token with
    which they choose one, and when it expires.

    Raises
    ------
    AccountError
        The organisation is not an agency, the role is not an agency's, the name or
        email cannot be used, or a user has the email.
    """
    organisation = session.get(Organisation, organisation_id)
    if organisation is None or organisation.kind != "agency":
        raise AccountError(
            "organisation: only an agency adds users (a facility's comes by invitation)"
        )
    checked = _checked_role(role)
    user_id = create_user(
        session, organisation_id, email.strip(), _checked_name(name), checked, None, now=now
    )
    user = session.get(User, user_id)
    assert user is not None  # just added
    token, expires = password_link(session, user, now=now)
    return user, token, expires


def password_link(session: Session, user: User, *, now: dt.datetime) -> tuple[str, dt.datetime]:
    """A new one-time token with which the user chooses a password (until it is used or
    expires), and when it expires; refused for a disabled user."""
    if user.disabled_at is not None:
        raise AccountError(f"user: {user.email!r} is disabled")
    token = create_password_reset(session, user.email, now=now, hours=PASSWORD_LINK_HOURS)
    return token, now + dt.timedelta(hours=PASSWORD_LINK_HOURS)


def _admins_left(session: Session, user: User) -> int:
    """How many other admins of the user's agency can still sign in."""
    query = select(func.count(User.id)).where(
        User.organisation_id == user.organisation_id,
        User.role == _ADMIN,
        User.disabled_at.is_(None),
        User.id != user.id,
    )
    return int(session.scalar(query) or 0)


def _keep_an_admin(session: Session, user: User, what: str) -> None:
    if user.role == _ADMIN and user.disabled_at is None and _admins_left(session, user) == 0:
        raise LastAdminError(
            f"user: {user.email!r} is the agency's last admin; {what} would leave it none "
            "(make another user an admin first)"
        )


def change_user(
    session: Session, user: User, *, name: str | None = None, role: str | None = None
) -> User:
    """Give the user another name or role (the last admin keeps theirs); the user."""
    if role is not None:
        if user.role not in AGENCY_USER_ROLES:
            raise AccountError(f"role: {user.email!r} is a facility's user; that role stays")
        checked = _checked_role(role)
        if checked != user.role:
            _keep_an_admin(session, user, f"making them {checked}")
            user.role = checked
    if name is not None:
        user.name = _checked_name(name)
    return user


def disable_user(session: Session, user: User, *, now: dt.datetime) -> User:
    """Disable the user (not the last admin): every session and token of theirs ends
    now, and they sign in no more; the user."""
    if user.disabled_at is None:
        _keep_an_admin(session, user, "disabling them")
        user.disabled_at = now
    end_sessions(session, user.id, now=now)
    return user


def sign_in(
    session: Session, email: str, password: str, *, now: dt.datetime
) -> tuple[str, dt.datetime, User] | None:
    """An API token for the user with that email and password (acting as them until it
    expires or they sign out), when it expires, and the user; None for a wrong email or
    password or a disabled user (all the same to the caller)."""
    user = signed_in_user(session, email, password)
    if user is None:
        return None
    token = start_session(session, user.id, now=now, start=SIGN_IN_START)
    return token, now + dt.timedelta(hours=SESSION_HOURS), user


def sign_out(session: Session, token: str, *, now: dt.datetime) -> bool:
    """End the API token's session; whether it was one that could still act."""
    signed_in = live_session(session, token, now=now) if token.startswith(SIGN_IN_START) else None
    if signed_in is None:
        return False
    signed_in[0].revoked_at = now
    return True


def bearer_caller(session: Session, token: str, *, now: dt.datetime) -> Caller | None:
    """Who an ``Authorization: Bearer`` secret stands for: a person's API token
    (``cu_``), or an API key or invitation (:func:`~scoring.service.accounts.caller_of`);
    None for one that is malformed, unknown, expired, revoked or disabled. Stamps its
    use."""
    if not token.startswith(SIGN_IN_START):
        return caller_of(session, token, now=now)
    signed_in = live_session(session, token, now=now)
    if signed_in is None:
        return None
    found, user = signed_in
    found.last_seen_at = now
    return caller_for(session, user)
