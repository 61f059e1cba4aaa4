"""The agent API's requests and answers (pydantic), and the records as answers.

Requests refuse unknown fields; answers say what each field means in the OpenAPI
schema. A record becomes an answer here, and only here (times as UTC).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from scoring.service.accounts import Caller
from scoring.service.tables import (
    AgencyRole,
    ApiKey,
    Assessment,
    BookJob,
    Facility,
    Organisation,
    Role,
    Score,
    User,
    utc,
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FacilityIn(_Body):
    reference: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)


class FacilityPatch(_Body):
    name: str = Field(min_length=1, max_length=200)


class Attestation(_Body):
    attested_name: str = Field(min_length=1, max_length=200)
    attestation: str = Field(min_length=1, max_length=4000)
    """The text the person attests to (that the answers are true and complete)."""


class FacilityOut(BaseModel):
    id: int
    reference: str
    name: str
    created_at: dt.datetime
    row_version: int


class AssessmentOut(BaseModel):
    id: int
    facility_id: int
    version: int
    status: str
    questionnaire_id: str
    questionnaire_version: str
    assessed_on: dt.date | None
    answered_by: str
    attested_name: str | None
    attested_at: dt.datetime | None
    attestation: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    row_version: int
    document: dict[str, Any]


class ScoreOut(BaseModel):
    id: int
    assessment_id: int
    assessment_version: int
    limit: str
    retention: str
    outcome: str
    tier: str
    premium: float
    technical_premium: float
    model_sha256: str
    plan_sha256: str
    created_at: dt.datetime
    result: dict[str, Any] | None = None


class AnswerChange(BaseModel):
    question_id: str
    before: str | None
    after: str | None


class ScoreChange(BaseModel):
    outcome: list[str]
    tier: list[str]
    premium: list[float]
    layer: list[list[str]]
    rules_added: list[str]
    rules_removed: list[str]


class Changes(BaseModel):
    """What changed between two versions of a facility's assessment."""

    before: int
    after: int
    answers: list[AnswerChange]
    score: ScoreChange | None
    """Between the newest score of each version; None unless both were scored."""


class Problem(BaseModel):
    """An error (RFC 9457 problem details), with every issue of an invalid input."""

    type: str
    title: str
    status: int
    detail: str
    issues: list[dict[str, Any]] | None = None
    role: str | None = None
    """A refusal by role: the caller's role, and the action it may not perform."""
    action: str | None = None


class BookOut(BaseModel):
    id: int
    filename: str
    input_sha256: str
    status: str
    """``queued``, ``running``, ``done`` or ``failed``."""
    rows_done: int
    rows_read: int | None
    rows_scored: int | None
    rows_rejected: int | None
    """When done: rows read = rows scored + rows rejected."""
    problem: dict[str, Any] | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


class InvitationIn(_Body):
    email: str | None = Field(default=None, max_length=320)
    """Whom the link is for (kept with it; the service sends no mail)."""


class ShareIn(_Body):
    token: str = Field(min_length=1, max_length=200)
    """The facility's share code (``cx_...``)."""
    reference: str = Field(min_length=1, max_length=100)
    """The agency's own id for the facility."""


class InvitationOut(BaseModel):
    token: str
    """Shown once: the facility's bearer token (``Authorization: Bearer ci_...``) for
    its own facility's assessments - read, answer, submit."""
    facility_id: int
    expires_at: dt.datetime


class ApiKeyIn(_Body):
    name: str = Field(min_length=1, max_length=200)
    """What the key is for."""
    role: Role = "agent"
    """What it may do: ``agency_admin``, ``agent``, ``underwriter`` or ``facility_user``."""


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    """The key's first characters after ``cs_`` (the key itself is never shown again)."""
    role: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str
    """Shown once: ``Authorization: Bearer cs_...``. Only its sha256 is kept."""


class UserIn(_Body):
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(min_length=1, max_length=200)
    role: AgencyRole = "agent"
    """What the person may do: ``agency_admin``, ``agent`` or ``underwriter``."""


class UserPatch(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: AgencyRole | None = None


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    """When an admin disabled the user: they sign in no more."""
    has_password: bool
    """Whether the user has chosen a password (a new user has not, until they use the
    link)."""


class PasswordLink(BaseModel):
    password_token: str
    """Shown once: the person chooses a password at ``/reset/<password_token>`` on this
    service, once, before ``expires_at``. Only its sha256 is kept."""
    path: str
    """The page to give the person: ``/reset/<password_token>``."""
    expires_at: dt.datetime


class UserCreated(UserOut):
    password_link: PasswordLink


class SignIn(_Body):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=200)


class CallerOut(BaseModel):
    organisation_id: int
    organisation_name: str
    organisation_kind: str
    """``agency`` or ``facility``."""
    role: str
    actor: str
    """How the audit log names the caller: ``api_key:<prefix>``, ``user:<email>`` or
    ``invitation:<prefix>``."""
    facility_id: int | None
    """The one facility an invitation or a facility's user acts on; None for an
    agency's caller."""
    may_score: bool


class SignedIn(BaseModel):
    token: str
    """Shown once: ``Authorization: Bearer cu_...`` acts as the person, with their role,
    until ``expires_at`` or ``DELETE /v1/sessions/current``."""
    expires_at: dt.datetime
    role: str
    organisation_id: int


class Page(BaseModel):
    items: list[Any]
    next_after: int | None
    """Pass as ``after`` for the next page; None on the last page."""


def api_key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        role=key.role,
        created_at=utc(key.created_at),
        last_used_at=_utc_or_none(key.last_used_at),
        revoked_at=_utc_or_none(key.revoked_at),
    )


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        created_at=utc(user.created_at),
        disabled_at=_utc_or_none(user.disabled_at),
        has_password=user.password_hash is not None,
    )


def caller_out(organisation: Organisation, caller: Caller) -> CallerOut:
    return CallerOut(
        organisation_id=organisation.id,
        organisation_name=organisation.name,
        organisation_kind=organisation.kind,
        role=caller.role,
        actor=caller.actor,
        facility_id=caller.facility_id,
        may_score=caller.may_score,
    )


def password_link_out(token: str, expires: dt.datetime) -> PasswordLink:
    return PasswordLink(password_token=token, path=f"/reset/{token}", expires_at=utc(expires))


def _utc_or_none(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else utc(value)


def book_out(job: BookJob) -> BookOut:
    return BookOut(
        id=job.id,
        filename=job.filename,
        input_sha256=job.input_sha256,
        status=job.status,
        rows_done=job.rows_done,
        rows_read=job.rows_read,
        rows_scored=job.rows_scored,
        rows_rejected=job.rows_rejected,
        problem=job.problem,
        created_at=utc(job.created_at),
        finished_at=_utc_or_none(job.finished_at),
    )


def facility_out(facility: Facility) -> FacilityOut:
    return FacilityOut(
        id=facility.id,
        reference=facility.reference,
        name=facility.name,
        created_at=utc(facility.created_at),
        row_version=facility.row_version,
    )


def assessment_out(assessment: Assessment) -> AssessmentOut:
    return AssessmentOut(
        id=assessment.id,
        facility_id=assessment.facility_id,
        version=assessment.version,
        status=assessment.status,
        questionnaire_id=assessment.questionnaire_id,
        questionnaire_version=assessment.questionnaire_version,
        assessed_on=assessment.assessed_on,
        answered_by=assessment.answered_by,
        attested_name=assessment.attested_name,
        attested_at=_utc_or_none(assessment.attested_at),
        attestation=assessment.attestation,
        created_at=utc(assessment.created_at),
        updated_at=utc(assessment.updated_at),
        row_version=assessment.row_version,
        document=dict(assessment.answers),
    )


def score_out(assessment: Assessment, kept: Score, *, whole: bool) -> ScoreOut:
    result = kept.result
    return ScoreOut(
        id=kept.id,
        assessment_id=assessment.id,
        assessment_version=assessment.version,
        limit=kept.limit_code,
        retention=kept.retention_code,
        outcome=str(result["outcome"]),
        tier=str(result["tier"]),
        premium=float(str(result["premium"])),
        technical_premium=float(str(result["technical_premium"])),
        model_sha256=kept.model_sha256,
        plan_sha256=kept.plan_sha256,
        created_at=utc(kept.created_at),
        result=dict(result) if whole else None,
    )
