"""A facility's account in the browser: set up by an invitation or by signing up alone,
and a password set again by a one-time reset token.

* An **invitation** (the ``ci_...`` token an agency's ``POST
  /v1/facilities/{id}/invitations`` returns) sets up one account, once: a new
  organisation of kind ``facility``, its ``facility_user``, and the agency's facility
  linked to it. The agency still holds the facility; its user sees that facility only.
* A facility **signing up alone** gets an organisation that is also the one its
  facility belongs to: no agency finds it, unless the facility shares it.
* A **password reset** token (``cr_<prefix>_<secret>``, printed by ``carescore admin
  reset-password``) is kept as its sha256 only, expires, works once, and signs the user
  out everywhere.

Passwords are kept as argon2 hashes. Nothing here reads the clock: ``now`` is given.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from scoring.service.accounts import (
    INVITE_START,
    AccountError,
    create_organisation,
    create_user,
    digest,
    is_email,
    new_secret,
    prefix_of,
)
from scoring.service.tables import Facility, Invitation, Organisation, PasswordReset, User, utc
from scoring.service.web.signin import end_sessions

RESET_START = "cr_"
RESET_HOURS = 24
MIN_PASSWORD = 12
MAX_PASSWORD = 200
"""argon2 hashes any length; a bound keeps one sign-in from costing much."""
MAX_NAME = 200
SELF_REFERENCE = "self"
"""The reference of the facility of an organisation that signed up alone."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with what was given: the form field it is about, and a sentence."""

    field: str
    text: str


class AccountFormError(AccountError):
    """What was given cannot set up or change an account: every problem, each tied to
    its field (``problems``)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(problem.text for problem in problems))
        self.problems = tuple(problems)


EMAIL_TAKEN = Problem("email", "An account with this email address exists: sign in instead")


@dataclass(frozen=True)
class InvitationView:
    """What an invitation link shows before it is accepted."""

    facility_name: str
    agency_name: str
    email: str


def password_problems(password: str, email: str) -> list[Problem]:
    """What is wrong with a new password (none: it may be used)."""
    if len(password) < MIN_PASSWORD:
        return [Problem("password", f"Enter a password of at least {MIN_PASSWORD} characters")]
    if len(password) > MAX_PASSWORD:
        return [Problem("password", f"Enter a password of at most {MAX_PASSWORD} characters")]
    if email and password.strip().lower() == email.strip().lower():
        return [Problem("password", "Choose a password that is not your email address")]
    return []


def _person_problems(session: Session, email: str, name: str, password: str) -> list[Problem]:
    problems: list[Problem] = []
    if not name:
        problems.append(Problem("name", "Enter your name"))
    elif len(name) > MAX_NAME:
        problems.append(Problem("name", f"Enter a name of at most {MAX_NAME} characters"))
    if not is_email(email):
        problems.append(Problem("email", "Enter an email address, like name@example.org"))
    elif session.scalar(select(User.id).where(User.email == email)) is not None:
        problems.append(EMAIL_TAKEN)
    problems.extend(password_problems(password, email))
    return problems


def _new_user(
    session: Session,
    organisation_name: str,
    email: str,
    name: str,
    password: str,
    *,
    now: dt.datetime,
) -> tuple[int, int]:
    """A facility organisation and its user: their ids."""
    organisation_id = create_organisation(session, organisation_name, "facility", now=now)
    try:
        user_id = create_user(
            session, organisation_id, email, name, "facility_user", password, now=now
        )
    except AccountError as exc:  # the email, taken since it was checked
        raise AccountFormError([EMAIL_TAKEN]) from exc
    return organisation_id, user_id


def _invitation(session: Session, token: str, now: dt.datetime) -> Invitation:
    """The invitation a token stands for, while it may still set up an account."""
    prefix = prefix_of(token, INVITE_START)
    found = None
    if prefix is not None:
        found = session.scalar(select(Invitation).where(Invitation.prefix == prefix))
    if found is None or not hmac.compare_digest(found.secret_sha256, digest(token)):
        raise AccountError("This invitation link is not valid: check that it was copied whole")
    if found.accepted_at is not None:
        raise AccountError(
            "This invitation link has already been used to set up an account: sign in instead"
        )
    if found.revoked_at is not None:
        raise AccountError("This invitation link was withdrawn: ask your agent for a new one")
    if utc(found.expires_at) <= now:
        raise AccountError("This invitation link has expired: ask your agent for a new one")
    facility = session.get(Facility, found.facility_id)
    if facility is None or facility.facility_organisation_id is not None:
        raise AccountError("This facility has an account already: sign in instead")
    return found


def read_invitation(session: Session, token: str, *, now: dt.datetime) -> InvitationView:
    """The facility and agency of an invitation that may still set up an account;
    :class:`~scoring.service.accounts.AccountError` (a sentence) when it may not."""
    found = _invitation(session, token, now)
    facility = session.get(Facility, found.facility_id)
    agency = session.get(Organisation, found.organisation_id)
    return InvitationView(
        facility_name=facility.name if facility is not None else "",
        agency_name=agency.name if agency is not None else "",
        email=found.email or "",
    )


def accept_invitation(
    session: Session, token: str, email: str, name: str, password: str, *, now: dt.datetime
) -> int:
    """Set up the invited facility's account: its own organisation, its user and the
    agency's facility linked to it; the new user's id.

    Raises
    ------
    AccountError
        The link is not valid, expired, withdrawn or used (a sentence).
    AccountFormError
        What was given cannot make an account (every problem, by field).
    """
    found = _invitation(session, token, now)
    email, name = email.strip().lower(), name.strip()
    problems = _person_problems(session, email, name, password)
    if problems:
        raise AccountFormError(problems)
    accepted = session.execute(
        update(Invitation)
        .where(Invitation.id == found.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=now, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(accepted, "rowcount", 0) != 1:  # accepted at the same moment elsewhere
        raise AccountError(
            "This invitation link has already been used to set up an account: sign in instead"
        )
    facility = session.get(Facility, found.facility_id)
    assert facility is not None  # checked by _invitation
    organisation_id, user_id = _new_user(session, facility.name, email, name, password, now=now)
    facility.facility_organisation_id = organisation_id
    session.flush()
    return user_id


def sign_up(
    session: Session,
    facility_name: str,
    email: str,
    name: str,
    password: str,
    *,
    now: dt.datetime,
) -> int:
    """A facility on its own, for a self-assessment no insurer sees unless it is shared:
    an organisation that holds its one facility, and its user; the user's id.

    Raises
    ------
    AccountFormError
        What was given cannot make an account (every problem, by field).
    """
    facility_name, email, name = facility_name.strip(), email.strip().lower(), name.strip()
    problems: list[Problem] = []
    if not facility_name:
        problems.append(Problem("facility_name", "Enter the facility's name"))
    elif len(facility_name) > MAX_NAME:
        text = f"Enter a facility name of at most {MAX_NAME} characters"
        problems.append(Problem("facility_name", text))
    problems.extend(_person_problems(session, email, name, password))
    if problems:
        raise AccountFormError(problems)
    organisation_id, user_id = _new_user(session, facility_name, email, name, password, now=now)
    session.add(
        Facility(
            organisation_id=organisation_id,
            reference=SELF_REFERENCE,
            name=facility_name,
            created_at=now,
            facility_organisation_id=organisation_id,
        )
    )
    session.flush()
    return user_id


def create_password_reset(
    session: Session, email: str, *, now: dt.datetime, hours: int = RESET_HOURS
) -> str:
    """A one-time token to set the password of the user with that email, valid for
    ``hours``: shown once, kept only as its hash.

    Raises
    ------
    AccountError
        No user has that email.
    """
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise AccountError(f"email: no user with the email {email.strip()!r}")
    prefix, token = new_secret(RESET_START)
    session.add(
        PasswordReset(
            user_id=user.id,
            prefix=prefix,
            secret_sha256=digest(token),
            created_at=now,
            expires_at=now + dt.timedelta(hours=hours),
        )
    )
    session.flush()
    return token


def _reset(session: Session, token: str, now: dt.datetime) -> tuple[PasswordReset, User]:
    prefix = prefix_of(token, RESET_START)
    found = None
    if prefix is not None:
        found = session.scalar(select(PasswordReset).where(PasswordReset.prefix == prefix))
    if found is None or not hmac.compare_digest(found.secret_sha256, digest(token)):
        raise AccountError("This password reset link is not valid: ask for a new one")
    if found.used_at is not None:
        raise AccountError("This password reset link has already been used: ask for a new one")
    if utc(found.expires_at) <= now:
        raise AccountError("This password reset link has expired: ask for a new one")
    user = session.get(User, found.user_id)
    if user is None or user.disabled_at is not None:
        raise AccountError("This password reset link is not valid: ask for a new one")
    return found, user


def read_password_reset(session: Session, token: str, *, now: dt.datetime) -> str:
    """The email of the user a reset token may still set the password of;
    :class:`~scoring.service.accounts.AccountError` (a sentence) when it may not."""
    return _reset(session, token, now)[1].email


def reset_password(session: Session, token: str, new_password: str, *, now: dt.datetime) -> int:
    """Set a user's password by a reset token, once, and sign them out everywhere;
    the user's id.

    Raises
    ------
    AccountError
        The token is not valid, expired or used (a sentence).
    AccountFormError
        The new password cannot be used.
    """
    found, user = _reset(session, token, now)
    problems = password_problems(new_password, user.email)
    if problems:
        raise AccountFormError(problems)
    used = session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == found.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(used, "rowcount", 0) != 1:  # used at the same moment elsewhere
        raise AccountError("This password reset link has already been used: ask for a new one")
    session.execute(  # the user's other links are spent too
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire(found)
    user.password_hash = PasswordHasher().hash(new_password)
    end_sessions(session, user.id, now=now)
    session.flush()
    return user.id
