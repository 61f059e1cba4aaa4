"""Organisations, users and API keys: created by ``carescore admin``, checked by the API.

An API key is ``cs_<prefix>_<secret>``: the prefix finds it, and only the sha256 of the
whole key is kept, so a stolen database gives no key (a key is a random 256-bit
secret, so a fast hash is enough; a person's password is hashed with argon2).
Revoked keys are refused; each use is stamped on the key. A key carries one role
(:mod:`scoring.service.roles`): what it may do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring.service.roles import API_KEY_ROLES
from scoring.service.tables import (
    ORGANISATION_KINDS,
    ROLES,
    ApiKey,
    Invitation,
    Organisation,
    Role,
    User,
    utc,
)

KEY_START = "cs_"
INVITE_START = "ci_"
SHARE_START = "cx_"
SHARE_DAYS = 14
INVITATION_DAYS = 14
_PREFIX_BYTES, _SECRET_BYTES = 6, 32
DEFAULT_KEY_ROLE = "agency_admin"
"""A key's role unless given: what every key could do before keys had roles."""


@dataclass(frozen=True)
class Caller:
    """Who is calling: an organisation, and the actor written to the audit log.

    A facility answering through an invitation acts in the inviting agency's
    organisation, on its own facility only (``facility_id``), and may read, answer and
    submit its assessments, nothing else."""

    organisation_id: int
    actor: str
    facility_id: int | None = None
    may_score: bool = True
    """False for an invitation (read, answer, submit only); a facility's own signed-in
    user may also score its submitted assessments and see their scores."""
    role: Role = "facility_user"
    """What the caller may do (:data:`scoring.service.roles.PERMISSIONS`)."""


class AccountError(ValueError):
    """An organisation, user or key that cannot be created or found, and why."""


def _refuse(what: str, message: str) -> AccountError:
    return AccountError(f"{what}: {message}")


def create_organisation(session: Session, name: str, kind: str, *, now: dt.datetime) -> int:
    """A new organisation (an ``agency`` or a ``facility``); its id."""
    if kind not in ORGANISATION_KINDS:
        kinds = ", ".join(ORGANISATION_KINDS)
        raise _refuse("kind", f"{kind!r} is not an organisation kind ({kinds})")
    if not name.strip():
        raise _refuse("name", "an organisation needs a name")
    organisation = Organisation(name=name.strip(), kind=kind, created_at=now)
    session.add(organisation)
    session.flush()
    return organisation.id


def _organisation(session: Session, organisation_id: int) -> Organisation:
    found = session.get(Organisation, organisation_id)
    if found is None:
        raise _refuse("organisation", f"no organisation {organisation_id}")
    return found


def create_user(
    session: Session,
    organisation_id: int,
    email: str,
    name: str,
    role: str,
    password: str | None,
    *,
    now: dt.datetime,
) -> int:
    """A new user of an organisation, with one role; the password kept as its argon2
    hash (none: the user signs in by an invitation only)."""
    _organisation(session, organisation_id)
    if role not in ROLES:
        raise _refuse("role", f"{role!r} is not a role ({', '.join(ROLES)})")
    if not is_email(email):
        raise _refuse("email", f"{email!r} is not an email address, like name@example.org")
    if session.scalar(select(User.id).where(User.email == email.lower())) is not None:
        raise _refuse("email", f"a user with the email {email!r} exists")
    hashed = PasswordHasher().hash(password) if password else None
    user = User(
        organisation_id=organisation_id,
        email=email.lower(),
        name=name,
        role=role,
        password_hash=hashed,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user.id


MAX_EMAIL = 320


def is_email(text: str) -> bool:
    """Whether ``text`` looks like an email address: something, ``@``, a domain with a
    dot, no space, at most :data:`MAX_EMAIL` characters (whether mail reaches it is
    not checked: the service sends none)."""
    local, at, domain = text.partition("@")
    return bool(local and at and "." in domain) and len(text) <= MAX_EMAIL and " " not in text


def create_api_key(
    session: Session,
    organisation_id: int,
    name: str,
    *,
    now: dt.datetime,
    role: str = DEFAULT_KEY_ROLE,
) -> str:
    """A new API key of an organisation, with one role (``agency_admin`` unless
    given; ``facility_user`` for a facility's organisation only, ``agent`` and
    ``underwriter`` for an agency's): the key itself, which is shown once and never
    kept."""
    organisation = _organisation(session, organisation_id)
    if role not in API_KEY_ROLES:
        raise _refuse("role", f"{role!r} is not a role of a key ({', '.join(API_KEY_ROLES)})")
    if role != DEFAULT_KEY_ROLE and (role == "facility_user") != (organisation.kind == "facility"):
        fits, kind = (
            ("a facility's", "an agency")
            if role == "facility_user"
            else ("an agency's", "a facility")
        )
        raise _refuse("role", f"{role!r} is {fits} role; {organisation.name!r} is {kind}")
    if not name.strip() or len(name) > 200:
        raise _refuse("name", "a key's name has 1 to 200 characters")
    prefix, key = new_secret(KEY_START)
    made = ApiKey(
        organisation_id=organisation_id,
        name=name,
        prefix=prefix,
        secret_sha256=digest(key),
        created_at=now,
    )
    if role != DEFAULT_KEY_ROLE:  # else the column's own default, as before roles
        made.role = role
    session.add(made)
    session.flush()
    return key


def api_keys(session: Session, organisation_id: int) -> list[ApiKey]:
    """An organisation's API keys, oldest first (revoked ones included)."""
    query = select(ApiKey).where(ApiKey.organisation_id == organisation_id).order_by(ApiKey.id)
    return list(session.scalars(query))


def revoke_api_key(
    session: Session, prefix: str, *, now: dt.datetime, organisation_id: int | None = None
) -> ApiKey:
    """Revoke the key whose prefix is ``prefix`` (of ``organisation_id`` only, when
    given): it is refused from now on. The key, revoked."""
    query = select(ApiKey).where(ApiKey.prefix == prefix)
    if organisation_id is not None:
        query = query.where(ApiKey.organisation_id == organisation_id)
    found = session.scalar(query)
    if found is None:
        raise _refuse("api_key", f"no API key with the prefix {prefix!r}")
    found.revoked_at = found.revoked_at or now
    return found


def create_invitation(
    session: Session,
    organisation_id: int,
    facility_id: int,
    email: str | None,
    *,
    now: dt.datetime,
    days: int = INVITATION_DAYS,
) -> tuple[str, dt.datetime]:
    """An invitation for one facility to answer its own assessment: its token (shown
    once, kept only as a hash) and when it expires."""
    prefix, token = new_secret(INVITE_START)
    expires = now + dt.timedelta(days=days)
    session.add(
        Invitation(
            organisation_id=organisation_id,
            facility_id=facility_id,
            prefix=prefix,
            secret_sha256=digest(token),
            email=email,
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    return token, expires


def caller_of(session: Session, key: str, *, now: dt.datetime) -> Caller | None:
    """The caller a presented API key or invitation token stands for; None for one that
    is malformed, unknown, revoked or expired (all the same to the caller). Stamps its
    last use."""
    if key.startswith(INVITE_START):
        return _invited(session, key, now)
    prefix = prefix_of(key, KEY_START)
    if prefix is None:
        return None
    found = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if found is None or found.revoked_at is not None:
        return None
    if not hmac.compare_digest(found.secret_sha256, digest(key)):
        return None
    found.last_used_at = now
    return Caller(found.organisation_id, f"api_key:{prefix}", role=role_of(found.role))


def _invited(session: Session, token: str, now: dt.datetime) -> Caller | None:
    prefix = prefix_of(token, INVITE_START)
    if prefix is None:
        return None
    found = session.scalar(select(Invitation).where(Invitation.prefix == prefix))
    if found is None or found.revoked_at is not None or found.accepted_at is not None:
        return None  # once it has set up the facility's account, the account is the way in
    if utc(found.expires_at) <= now or not hmac.compare_digest(found.secret_sha256, digest(token)):
        return None
    found.last_used_at = now
    return Caller(
        found.organisation_id,
        f"invitation:{prefix}",
        found.facility_id,
        may_score=False,
        role="facility_user",
    )


def role_of(stored: str) -> Role:
    """A stored role as a :data:`Role` (an unknown one as the narrowest,
    ``facility_user``)."""
    return next((role for role in ROLES if role == stored), "facility_user")


def new_secret(start: str) -> tuple[str, str]:
    """A new key or token, ``<start><prefix>_<secret>``: its prefix and the whole of it."""
    prefix = secrets.token_hex(_PREFIX_BYTES)
    return prefix, f"{start}{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"


def prefix_of(key: str, start: str) -> str | None:
    """The prefix of a presented key or token of that kind; None when it is not one."""
    if not key.startswith(start):
        return None
    prefix, _, secret = key[len(start) :].partition("_")
    return prefix if prefix and secret else None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
