"""Every read and write of the service, scoped to one organisation in one place.

A :class:`Tenant` is the caller's organisation; each query it makes is filtered by
that organisation, so another organisation's facility, assessment or score is
simply not found (the API answers 404, never 403, and never says it exists). Reads
and writes of an assessment are written to the audit log.

Answers are validated by :func:`scoring.validate_document` and scored by
:func:`scoring.score`, as ``carescore validate`` and ``carescore score`` do. A draft
may be incomplete (answers still required are not issues yet); any other issue is
refused. Submitting validates in full and attests; a submitted assessment never
changes (a change is a new version of the facility's assessment).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from scoring.errors import InputError, Issue
from scoring.rating.engine import RatingEngine
from scoring.rating.result import ScoreResult
from scoring.rating.score import score
from scoring.responses.intake import validate_document
from scoring.service import people
from scoring.service.accounts import (
    KEY_START,
    SHARE_DAYS,
    SHARE_START,
    AccountError,
    Caller,
    api_keys,
    create_api_key,
    create_invitation,
    digest,
    new_secret,
    prefix_of,
)
from scoring.service.tables import (
    ApiKey,
    Assessment,
    AuditEvent,
    BookJob,
    Facility,
    Organisation,
    Score,
    Share,
    User,
    utc,
)
from scoring.vocabulary import AnswerState, Reason, Severity

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class NotFoundError(LookupError):
    """Nothing of that id in the caller's organisation."""


class ConflictError(ValueError):
    """A write that cannot be made as asked (a submitted assessment, a taken reference)."""


class ForbiddenError(PermissionError):
    """Something the caller may not do (an invited facility scoring, say)."""


class StaleVersionError(ConflictError):
    """A write that quoted a version of the record that is no longer its newest."""


@dataclass
class Tenant:
    """The caller's organisation: what it may read and write."""

    session: Session
    caller: Caller
    engine: RatingEngine
    now: dt.datetime

    # -- facilities ----------------------------------------------------------------------
    def facilities(self, *, after: int = 0, size: int = PAGE_SIZE) -> list[Facility]:
        """The organisation's facilities by id, ``size`` after the id ``after``."""
        query = (
            select(Facility)
            .where(Facility.organisation_id == self.caller.organisation_id, Facility.id > after)
            .order_by(Facility.id)
            .limit(_size(size))
        )
        if self.caller.facility_id is not None:
            query = query.where(Facility.id == self.caller.facility_id)
        return list(self.session.scalars(query))

    def facility(self, facility_id: int) -> Facility:
        found = self.session.get(Facility, facility_id)
        if found is None or not self._mine(found.organisation_id, found.id):
            raise NotFoundError(f"facility {facility_id}")
        return found

    def _mine(self, organisation_id: int, facility_id: int) -> bool:
        """A record of the caller's organisation (and, invited, of its facility)."""
        if organisation_id != self.caller.organisation_id:
            return False
        return self.caller.facility_id is None or self.caller.facility_id == facility_id

    def _agency_only(self, what: str) -> None:
        if self.caller.facility_id is not None:
            raise ForbiddenError(f"a facility may answer and submit, not {what}")

    def _scoring(self, what: str) -> None:
        """Scores are the agency's, and the facility's own signed-in users'."""
        if not self.caller.may_score:
            raise ForbiddenError(f"an invitation may answer and submit, not {what}")

    def create_facility(self, reference: str, name: str) -> Facility:
        self._agency_only("add facilities")
        taken = select(Facility.id).where(
            Facility.organisation_id == self.caller.organisation_id,
            Facility.reference == reference,
        )
        if self.session.scalar(taken) is not None:
            raise ConflictError(f"a facility with the reference {reference!r} exists")
        facility = Facility(
            organisation_id=self.caller.organisation_id,
            reference=reference,
            name=name,
            created_at=self.now,
        )
        self.session.add(facility)
        self.session.flush()
        return facility

    def update_facility(self, facility_id: int, name: str, row_version: int) -> Facility:
        facility = self.facility(facility_id)
        self._agency_only("rename the facility")
        _check_version(facility.row_version, row_version, f"facility {facility_id}")
        facility.name = name
        flag_modified(facility, "name")  # every accepted write is a new version
        return facility

    # -- assessments ---------------------------------------------------------------------
    def assessments(self, facility_id: int) -> list[Assessment]:
        facility = self.facility(facility_id)
        query = (
            select(Assessment)
            .where(
                Assessment.organisation_id == self.caller.organisation_id,
                Assessment.facility_id == facility.id,
            )
            .order_by(Assessment.version)
        )
        found = list(self.session.scalars(query))
        for assessment in found:
            self._audit("list", assessment.id)
        return found

    def assessment(self, assessment_id: int, *, action: str = "read") -> Assessment:
        found = self.session.get(Assessment, assessment_id)
        if found is None or not self._mine(found.organisation_id, found.facility_id):
            raise NotFoundError(f"assessment {assessment_id}")
        self._audit(action, found.id)
        return found

    def create_assessment(
        self, facility_id: int, document: Mapping[str, Any], answered_by: str
    ) -> Assessment:
        """A new draft: the facility's next version of its answers."""
        facility = self.facility(facility_id)
        stored = self._checked(facility, document, complete=False)
        latest = select(func.max(Assessment.version)).where(Assessment.facility_id == facility.id)
        version = (self.session.scalar(latest) or 0) + 1
        assessment = Assessment(
            organisation_id=self.caller.organisation_id,
            facility_id=facility.id,
            version=version,
            questionnaire_id=stored["questionnaire"],
            questionnaire_version=stored["questionnaire_version"],
            assessed_on=_date(stored.get("assessed_on")),
            answers=stored,
            status="draft",
            answered_by=answered_by,
            created_at=self.now,
            updated_at=self.now,
        )
        self.session.add(assessment)
        self.session.flush()
        self._audit("create", assessment.id)
        return assessment

    def update_assessment(
        self, assessment_id: int, document: Mapping[str, Any], row_version: int
    ) -> Assessment:
        assessment = self.assessment(assessment_id, action="update")
        _check_draft(assessment)
        _check_version(assessment.row_version, row_version, f"assessment {assessment_id}")
        stored = self._checked(self.facility(assessment.facility_id), document, complete=False)
        assessment.answers = stored
        assessment.questionnaire_id = stored["questionnaire"]
        assessment.questionnaire_version = stored["questionnaire_version"]
        assessment.assessed_on = _date(stored.get("assessed_on"))
        assessment.updated_at = self.now
        flag_modified(assessment, "answers")  # every accepted write is a new version
        return assessment

    def submit(
        self, assessment_id: int, attested_name: str, attestation: str, row_version: int
    ) -> Assessment:
        """Validate in full and attest: the assessment never changes after this."""
        assessment = self.assessment(assessment_id, action="submit")
        _check_draft(assessment)
        _check_version(assessment.row_version, row_version, f"assessment {assessment_id}")
        self._checked(self.facility(assessment.facility_id), assessment.answers, complete=True)
        assessment.status = "submitted"
        assessment.attested_name = attested_name
        assessment.attestation = attestation
        assessment.attested_at = self.now
        assessment.updated_at = self.now
        return assessment

    # -- scores --------------------------------------------------------------------------
    def score(self, assessment_id: int, limit: str | None, retention: str | None) -> Score:
        """Score a submitted assessment at an offered limit and retention (the
        applicant's requested ones, else the plan's defaults), and keep the score."""
        assessment = self.assessment(assessment_id, action="score")
        self._scoring("score")
        if assessment.status != "submitted":
            raise ConflictError(f"assessment {assessment_id} is a draft: submit it to score it")
        result = score(
            assessment.answers,
            as_of=self._as_of(assessment),
            limit=limit,
            retention=retention,
            engine=self.engine,
        )
        kept = Score(
            organisation_id=self.caller.organisation_id,
            assessment_id=assessment.id,
            limit_code=result.layer.limit,
            retention_code=result.layer.retention,
            result=result.model_dump(mode="json"),
            model_sha256=self.engine.model_sha256,
            plan_sha256=self.engine.plan_sha256,
            created_at=self.now,
        )
        self.session.add(kept)
        self.session.flush()
        return kept

    def latest_score(self, assessment_id: int) -> Score | None:
        """The newest score of an assessment (None before it is scored)."""
        assessment = self.assessment(assessment_id, action="read_score")
        self._scoring("see scores")
        return self._latest_score(assessment)

    def what_if(
        self,
        assessment_id: int,
        answers: Mapping[str, str],
        limit: str | None = None,
        retention: str | None = None,
    ) -> ScoreResult:
        """A submitted assessment priced as if some answers were changed (fixes made),
        by the same engine, without keeping anything but the audit line: the stored
        answers never change."""
        assessment = self.assessment(assessment_id, action="what_if")
        self._scoring("price changes")
        if assessment.status != "submitted":
            raise ConflictError(f"assessment {assessment_id} is a draft: submit it first")
        document: dict[str, Any] = dict(assessment.answers)
        stored = document.get("answers")
        document["answers"] = {**(stored if isinstance(stored, dict) else {}), **answers}
        return score(
            document,
            as_of=self._as_of(assessment),
            limit=limit,
            retention=retention,
            engine=self.engine,
            advise=False,
        )

    def scores(self, facility_id: int) -> list[tuple[Assessment, Score]]:
        """A facility's scores over time, oldest first, each with its assessment."""
        facility = self.facility(facility_id)
        self._scoring("see scores")
        query = (
            select(Assessment, Score)
            .join(Score, Score.assessment_id == Assessment.id)
            .where(
                Score.organisation_id == self.caller.organisation_id,
                Assessment.facility_id == facility.id,
            )
            .order_by(Score.id)
        )
        return [(row[0], row[1]) for row in self.session.execute(query)]

    def commit(self) -> None:
        """Make the request's reads and writes durable (the audit log's included).

        Raises
        ------
        StaleVersionError
            Another request changed a record this one changed, since it was read.
        """
        try:
            self.session.commit()
        except StaleDataError as exc:
            self.session.rollback()
            raise StaleVersionError(
                "the record was changed by another request meanwhile: read it again and "
                "repeat the change"
            ) from exc

    def score_record(self, score_id: int) -> tuple[Assessment, Score]:
        """A kept score and its assessment."""
        kept = self.session.get(Score, score_id)
        if kept is None or kept.organisation_id != self.caller.organisation_id:
            raise NotFoundError(f"score {score_id}")
        self._scoring("see scores")
        return self.assessment(kept.assessment_id, action="read_score"), kept

    def changes(self, facility_id: int, before: int, after: int) -> dict[str, Any]:
        """What changed between two versions of a facility's assessment: the answers
        (as validated: ``12`` and ``"12"`` are the same answer), and, between the
        newest score of each, the outcome, tier, premium and rules."""
        facility = self.facility(facility_id)
        self._scoring("compare scores")
        versions = {}
        for version in (before, after):
            query = select(Assessment).where(
                Assessment.organisation_id == self.caller.organisation_id,
                Assessment.facility_id == facility.id,
                Assessment.version == version,
            )
            found = self.session.scalar(query)
            if found is None:
                raise NotFoundError(f"version {version} of facility {facility_id}'s assessment")
            self._audit("compare", found.id)
            versions[version] = found
        old, new = versions[before], versions[after]
        old_answers, new_answers = self._validated(old), self._validated(new)
        changed = [
            {"question_id": q, "before": old_answers.get(q), "after": new_answers.get(q)}
            for q in dict.fromkeys([*old_answers, *new_answers])
            if old_answers.get(q) != new_answers.get(q)
        ]
        return {
            "before": before,
            "after": after,
            "answers": changed,
            "score": _score_change(self._latest_score(old), self._latest_score(new)),
        }

    # -- books ---------------------------------------------------------------------------
    def create_book_job(
        self,
        filename: str,
        input_sha256: str,
        as_of: dt.date,
        limit: str | None,
        retention: str | None,
    ) -> BookJob:
        """A queued book (its file already saved under the job's id)."""
        self._agency_only("upload books")
        for code, offered, what in (
            (limit, self.engine.plan.limits, "limit"),
            (retention, self.engine.plan.retentions, "retention"),
        ):
            if code is not None and code not in {o.code for o in offered}:
                codes = ", ".join(o.code for o in offered)
                raise InputError(
                    [
                        Issue(
                            Reason.NOT_A_CHOICE,
                            f"the rating plan offers no {what} {code!r}",
                            source=filename,
                            question_id=f"requested_{what}",
                            value=code,
                            allowed=codes,
                        )
                    ]
                )
        job = BookJob(
            organisation_id=self.caller.organisation_id,
            filename=filename,
            input_sha256=input_sha256,
            limit_code=limit,
            retention_code=retention,
            as_of=as_of,
            status="queued",
            rows_done=0,
            created_at=self.now,
        )
        self.session.add(job)
        self.session.flush()
        return job

    def book_job(self, job_id: int) -> BookJob:
        found = self.session.get(BookJob, job_id)
        if found is None or found.organisation_id != self.caller.organisation_id:
            raise NotFoundError(f"book {job_id}")
        self._agency_only("see books")
        return found

    # -- API keys ------------------------------------------------------------------------
    def api_keys(self) -> list[ApiKey]:
        """The organisation's API keys, oldest first."""
        return api_keys(self.session, self.caller.organisation_id)

    def create_api_key(self, name: str, role: str) -> tuple[str, ApiKey]:
        """A new key of the organisation: the key (shown once) and its record."""
        self._agency_only("manage API keys")
        try:
            key = create_api_key(
                self.session, self.caller.organisation_id, name, now=self.now, role=role
            )
        except AccountError as exc:
            raise ConflictError(str(exc)) from exc
        prefix = prefix_of(key, KEY_START)
        made = self.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        assert made is not None  # just added
        return key, made

    def revoke_api_key(self, key_id: int) -> ApiKey:
        """Revoke a key of the organisation: refused from now on."""
        found = self.session.get(ApiKey, key_id)
        if found is None or found.organisation_id != self.caller.organisation_id:
            raise NotFoundError(f"API key {key_id}")
        found.revoked_at = found.revoked_at or self.now
        return found

    # -- people --------------------------------------------------------------------------
    def organisation(self) -> Organisation:
        """The caller's own organisation."""
        found = self.session.get(Organisation, self.caller.organisation_id)
        if found is None:
            raise NotFoundError(f"organisation {self.caller.organisation_id}")
        return found

    def users(self) -> list[User]:
        """The organisation's users, oldest first."""
        return people.users(self.session, self.caller.organisation_id)

    def user(self, user_id: int) -> User:
        """The organisation's user of that id."""
        found = people.user_of(self.session, self.caller.organisation_id, user_id)
        if found is None:
            raise NotFoundError(f"user {user_id}")
        return found

    def add_user(self, email: str, name: str, role: str) -> tuple[User, str, dt.datetime]:
        """A new user of the agency: the user, the one-time token with which they choose
        a password, and when it expires."""
        self._agency_only("add users")
        try:
            made = people.add_user(
                self.session, self.caller.organisation_id, email, name, role, now=self.now
            )
        except AccountError as exc:
            raise ConflictError(str(exc)) from exc
        self._audit_user("add_user", made[0])
        return made

    def change_user(self, user_id: int, name: str | None, role: str | None) -> User:
        """Give the organisation's user another name or role."""
        found = self.user(user_id)
        try:
            people.change_user(self.session, found, name=name, role=role)
        except AccountError as exc:
            raise ConflictError(str(exc)) from exc
        self._audit_user("change_user", found)
        return found

    def disable_user(self, user_id: int) -> User:
        """Disable the organisation's user: they sign in no more."""
        found = self.user(user_id)
        try:
            people.disable_user(self.session, found, now=self.now)
        except AccountError as exc:
            raise ConflictError(str(exc)) from exc
        self._audit_user("disable_user", found)
        return found

    def password_link(self, user_id: int) -> tuple[str, dt.datetime]:
        """A new one-time token with which the organisation's user chooses a password."""
        found = self.user(user_id)
        try:
            made = people.password_link(self.session, found, now=self.now)
        except AccountError as exc:
            raise ConflictError(str(exc)) from exc
        self._audit_user("password_link", found)
        return made

    def _audit_user(self, action: str, user: User) -> None:
        self.session.flush()
        self.session.add(
            AuditEvent(
                organisation_id=self.caller.organisation_id,
                actor=self.caller.actor,
                action=action,
                subject=f"user:{user.id}",
                at=self.now,
            )
        )

    # -- invitations ---------------------------------------------------------------------
    def invite(self, facility_id: int, email: str | None) -> tuple[str, dt.datetime]:
        """An invitation for the facility to answer its own assessment: the token (shown
        once) and when it expires."""
        facility = self.facility(facility_id)
        self._agency_only("invite")
        return create_invitation(
            self.session, self.caller.organisation_id, facility.id, email, now=self.now
        )

    # -- shares --------------------------------------------------------------------------
    def share(self, facility_id: int) -> tuple[str, dt.datetime]:
        """A one-time code with which the facility gives an agency a copy of its
        submitted assessments as they are now: the code (shown once) and its expiry."""
        facility = self.facility(facility_id)
        if self.caller.facility_id is None or not self.caller.may_score:
            raise ForbiddenError("only the facility's own account may share its assessments")
        submitted = select(func.count(Assessment.id)).where(
            Assessment.facility_id == facility.id, Assessment.status == "submitted"
        )
        if not self.session.scalar(submitted):
            raise ConflictError("submit an assessment before sharing it")
        prefix, token = new_secret(SHARE_START)
        expires = self.now + dt.timedelta(days=SHARE_DAYS)
        self.session.add(
            Share(
                organisation_id=self.caller.organisation_id,
                facility_id=facility.id,
                prefix=prefix,
                secret_sha256=digest(token),
                created_at=self.now,
                expires_at=expires,
            )
        )
        self.session.flush()
        return token, expires

    def take_share(self, token: str, reference: str) -> Facility:
        """An agency takes a facility's share code: a facility of its own (under its
        ``reference``) with a copy of each assessment the facility had submitted, its
        attestation kept. A code is taken once, before it expires."""
        self._agency_only("take a share code")
        prefix = prefix_of(token, SHARE_START)
        found = None
        if prefix is not None:
            found = self.session.scalar(select(Share).where(Share.prefix == prefix))
        if (
            found is None
            or found.taken_at is not None
            or utc(found.expires_at) <= self.now
            or not hmac.compare_digest(found.secret_sha256, digest(token))
        ):
            raise NotFoundError("share code that can still be taken")
        shared = self.session.get(Facility, found.facility_id)
        assert shared is not None  # a share's facility is kept by a foreign key
        facility = self.create_facility(reference, shared.name)
        found.taken_at, found.taken_by = self.now, self.caller.organisation_id
        query = (
            select(Assessment)
            .where(Assessment.facility_id == shared.id, Assessment.status == "submitted")
            .order_by(Assessment.version)
        )
        for version, original in enumerate(self.session.scalars(query), start=1):
            answers = dict(original.answers)
            answers["facility_id"] = reference
            copy = Assessment(
                organisation_id=self.caller.organisation_id,
                facility_id=facility.id,
                version=version,
                questionnaire_id=original.questionnaire_id,
                questionnaire_version=original.questionnaire_version,
                assessed_on=original.assessed_on,
                answers=answers,
                status="submitted",
                answered_by=original.answered_by,
                attested_name=original.attested_name,
                attested_at=original.attested_at,
                attestation=original.attestation,
                created_at=self.now,
                updated_at=self.now,
            )
            self.session.add(copy)
            self.session.flush()
            self._audit("shared_in", copy.id)
        return facility

    # -- helpers -------------------------------------------------------------------------
    def _validated(self, assessment: Assessment) -> dict[str, str]:
        """An assessment's answers as validated, each as text (unanswered left out)."""
        as_of = assessment.assessed_on or assessment.created_at.date()
        validation = validate_document(assessment.answers, self.engine.questionnaire, as_of=as_of)
        row = validation.answers.iloc[0]
        states = validation.states.iloc[0]
        texts: dict[str, str] = {}
        for question in self.engine.questionnaire.questions:
            if question.id not in row.index:
                continue
            state = AnswerState(int(states[question.id]))
            if state is AnswerState.ANSWERED:
                texts[question.id] = _text(row[question.id])
            elif state in (AnswerState.UNKNOWN, AnswerState.NOT_APPLICABLE):
                texts[question.id] = state.name.lower()
        return texts

    def _latest_score(self, assessment: Assessment) -> Score | None:
        query = (
            select(Score)
            .where(
                Score.organisation_id == self.caller.organisation_id,
                Score.assessment_id == assessment.id,
            )
            .order_by(Score.id.desc())
            .limit(1)
        )
        return self.session.scalar(query)

    def _as_of(self, assessment: Assessment) -> dt.date:
        if assessment.assessed_on is not None:
            return assessment.assessed_on
        stamped = assessment.attested_at or self.now
        return stamped.date()

    def _checked(
        self, facility: Facility, document: Mapping[str, Any], *, complete: bool
    ) -> dict[str, Any]:
        """The document as stored (the facility's reference and name filled in), once
        validated; its issues refused (a draft's answers still required excepted)."""
        stored = dict(document)
        stored["facility_id"] = facility.reference
        stored.setdefault("facility_name", facility.name)
        stored.setdefault("questionnaire", self.engine.questionnaire.id)
        stored.setdefault("questionnaire_version", self.engine.questionnaire.version)
        as_of = _date(stored.get("assessed_on")) or self.now.date()
        validation = validate_document(stored, self.engine.questionnaire, as_of=as_of)
        refused: Sequence[Issue] = [
            issue
            for issue in validation.issue_list(Severity.ERROR)
            if complete or issue.reason is not Reason.REQUIRED
        ]
        if refused:
            raise InputError(refused)
        return stored

    def _audit(self, action: str, assessment_id: int) -> None:
        self.session.add(
            AuditEvent(
                organisation_id=self.caller.organisation_id,
                actor=self.caller.actor,
                action=action,
                assessment_id=assessment_id,
                at=self.now,
            )
        )


def _text(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _score_change(old: Score | None, new: Score | None) -> dict[str, Any] | None:
    """Outcome, tier, premium and rules of two scores side by side (None without both)."""
    if old is None or new is None:
        return None
    rules = [{str(r["id"]) for r in _rules(s)} for s in (old, new)]
    return {
        "outcome": [old.result["outcome"], new.result["outcome"]],
        "tier": [old.result["tier"], new.result["tier"]],
        "premium": [old.result["premium"], new.result["premium"]],
        "layer": [[old.limit_code, old.retention_code], [new.limit_code, new.retention_code]],
        "rules_added": sorted(rules[1] - rules[0]),
        "rules_removed": sorted(rules[0] - rules[1]),
    }


def _rules(kept: Score) -> list[dict[str, Any]]:
    rules = kept.result.get("rules", [])
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def _size(size: int) -> int:
    return max(1, min(size, MAX_PAGE_SIZE))


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _check_version(stored: int, given: int, what: str) -> None:
    if stored != given:
        raise StaleVersionError(
            f"{what} is at version {stored}, not {given}: read it again and repeat the change"
        )


def _check_draft(assessment: Assessment) -> None:
    if assessment.status != "draft":
        raise ConflictError(
            f"assessment {assessment.id} is submitted and never changes: create a new "
            "version of the facility's assessment"
        )
