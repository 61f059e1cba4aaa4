"""The service's tables (SQLAlchemy 2): what is kept, and why.

* an **organisation** is an agency (whose agents assess facilities) or a facility
  (invited to answer for itself);
* a **user** belongs to one organisation with one role; a password is kept only as
  its argon2 hash; a disabled user is kept (the audit log names it) but signs in no
  more;
* an **API key** belongs to one organisation and carries one role
  (:mod:`scoring.service.roles`): only its sha256 is kept (the key is shown once), with
  its prefix to find it, when it was last used and revoked;
* a **facility** belongs to the agency that assesses it;
* an **assessment** is one version of a facility's answers: a draft may change
  (each change raises its ``row_version``, which a writer must quote, and the database
  refuses a change made from an older one even when two arrive at once); a submitted one
  is a legal attestation and never changes: a change is a new version;
* a **score** is immutable: the ScoreResult JSON with the layer and the model and plan
  it came from;
* the **audit log** has every read and write of an assessment, and every change an
  admin makes to the agency's users: who, what, when;
* an **idempotent request** is the answer kept for a POST's ``Idempotency-Key``;
* a **book job** is an uploaded book scored in the background, with its progress and
  counts, and the lease of the worker running it (who, its last heartbeat, how many
  attempts); a **book file** is a chunk of an uploaded book or of its results, kept in
  the database so that every instance of the service reads the same files;
* an **invitation** lets one facility answer and submit its own assessment (its token
  is kept only as a hash, and expires), and sets up one facility account, once;
* a **share** is a one-time code with which a facility gives an agency a copy of its
  submitted assessments (only its hash is kept; it expires);
* a **web session** is a person signed in through the browser, or to the API for a
  ``cu_`` token (only its token's hash is kept); a **password reset** is a one-time
  token an admin prints or gets from the API for a new user.

Times are UTC, stored as ISO 8601 text by SQLAlchemy's DateTime(timezone=True).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal, get_args

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

OrganisationKind = Literal["agency", "facility"]
Role = Literal["agency_admin", "agent", "underwriter", "facility_user"]
AgencyRole = Literal["agency_admin", "agent", "underwriter"]
"""The roles of an agency's users (a facility's user comes by an invitation)."""
AssessmentStatus = Literal["draft", "submitted"]
ROLES: tuple[Role, ...] = get_args(Role)
ORGANISATION_KINDS: tuple[OrganisationKind, ...] = get_args(OrganisationKind)


def utc(value: dt.datetime) -> dt.datetime:
    """A stored time as UTC (SQLite gives times back without their zone)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: DateTime(timezone=True)}


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime]


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]
    disabled_at: Mapped[dt.datetime | None]
    """When the agency's admin disabled the user: no sign-in, no session, no token from
    then on (the row stays, for the audit log names it)."""


class ApiKey(Base):
    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    """The key's first characters after ``cs_``: how a presented key is found."""
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    role: Mapped[str] = mapped_column(String(20), server_default="agency_admin")
    """What the key may do (:data:`scoring.service.roles.PERMISSIONS`)."""

    # the role's default is read when asked for, not on insert: a key is made the same
    # way on a database of any revision
    __mapper_args__ = {"eager_defaults": False}  # noqa: RUF012 (SQLAlchemy reads it)


class Facility(Base):
    __tablename__ = "facility"
    __table_args__ = (UniqueConstraint("organisation_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    reference: Mapped[str] = mapped_column(String(100))
    """The agency's own id of the facility (unique within the agency)."""
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]
    row_version: Mapped[int] = mapped_column(nullable=False)
    """Raised by every change; a change quoting an older one is refused."""
    facility_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id"), index=True
    )
    """The facility's own organisation, once it has an account (by an invitation, or by
    signing up alone, when the facility is also the organisation it belongs to)."""

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012 (SQLAlchemy reads it)


class Assessment(Base):
    __tablename__ = "assessment"
    __table_args__ = (UniqueConstraint("facility_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    version: Mapped[int]
    """1 for a facility's first assessment, one more for each after it."""
    questionnaire_id: Mapped[str] = mapped_column(String(100))
    questionnaire_version: Mapped[str] = mapped_column(String(40))
    assessed_on: Mapped[dt.date | None]
    answers: Mapped[dict[str, object]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    answered_by: Mapped[str] = mapped_column(String(200))
    attested_name: Mapped[str | None] = mapped_column(String(200))
    attested_at: Mapped[dt.datetime | None]
    attestation: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    row_version: Mapped[int] = mapped_column(nullable=False)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012 (SQLAlchemy reads it)


class Score(Base):
    __tablename__ = "score"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"), index=True)
    limit_code: Mapped[str] = mapped_column(String(40))
    retention_code: Mapped[str] = mapped_column(String(40))
    result: Mapped[dict[str, object]] = mapped_column(JSON)
    model_sha256: Mapped[str] = mapped_column(String(64))
    plan_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_assessment", "assessment_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    """Who: ``api_key:<prefix>`` or ``user:<email>``."""
    action: Mapped[str] = mapped_column(String(40))
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessment.id"))
    subject: Mapped[str | None] = mapped_column(String(200))
    """What else the event is about: ``user:<id>`` for a change to one of the agency's
    users."""
    at: Mapped[dt.datetime]


class IdempotentRequest(Base):
    """A POST made with an ``Idempotency-Key``: the same key again gives the same answer,
    not a second record (an agency system retrying after a lost response)."""

    __tablename__ = "idempotent_request"
    __table_args__ = (UniqueConstraint("organisation_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[str] = mapped_column(String(64))
    """Of the method, path, query and body: a key reused for another request is refused."""
    status: Mapped[int | None]
    """None while the first request is being answered."""
    body: Mapped[bytes | None]
    content_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime]


class BookJob(Base):
    """A book uploaded to be scored by the batch engine, in the background."""

    __tablename__ = "book_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    input_sha256: Mapped[str] = mapped_column(String(64))
    limit_code: Mapped[str | None] = mapped_column(String(40))
    retention_code: Mapped[str | None] = mapped_column(String(40))
    as_of: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(20), index=True)
    """``queued``, ``running``, ``done`` or ``failed``."""
    rows_done: Mapped[int]
    rows_read: Mapped[int | None]
    rows_scored: Mapped[int | None]
    rows_rejected: Mapped[int | None]
    problem: Mapped[dict[str, object] | None] = mapped_column(JSON)
    """Why a failed book could not be read: the CLI's message and issues."""
    created_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    """The worker running it (while ``running``)."""
    heartbeat_at: Mapped[dt.datetime | None]
    """The running worker's last sign of life: an older one than the lease is expired."""
    attempts: Mapped[int] = mapped_column(server_default="0")
    """How many times a worker claimed it."""


class BookFile(Base):
    """A chunk of a book job's file: the upload (``book``) or a result (``scored``,
    ``errors``, ``warnings``), in order of ``seq``."""

    __tablename__ = "book_file"
    __table_args__ = (UniqueConstraint("job_id", "kind", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("book_job.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Invitation(Base):
    """A link that lets one facility answer its own assessment: only the sha256 of its
    token is kept; it expires and may be revoked."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    """The agency that invited."""
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    accepted_at: Mapped[dt.datetime | None]
    """When the facility set up its account with it: a link sets up one account, once."""


class WebSession(Base):
    """A person signed in through the browser: only the sha256 of the cookie's token is
    kept; it expires, and signing out revokes it."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class PasswordReset(Base):
    """A one-time token to set a user's password, printed by ``carescore admin
    reset-password`` (no mail server is needed): only its sha256 is kept; it expires."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class Share(Base):
    """A facility's one-time code to give an agency its submitted assessments: only its
    sha256 is kept; it expires, and is taken once."""

    __tablename__ = "share"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    """The organisation holding the facility that shares."""
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    taken_at: Mapped[dt.datetime | None]
    taken_by: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    """The agency that took it."""
