"""The facility's assessment in the browser: the wizard, review, submit, report,
"what if" and history pages.

Every read and write goes through :class:`~scoring.service.tenant.Tenant` as the
signed-in facility user (its own facility only, audited); answers are validated by the
validator (:mod:`scoring.service.web.wizard` turns forms into documents and verdicts
into pages) and priced by the engine, as ``carescore score`` prices a YAML file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from scoring.errors import InputError
from scoring.questionnaire.definition import Question, Questionnaire, Section
from scoring.questionnaire.loader import default_catalog
from scoring.rating.result import Fix, ScoreResult
from scoring.service.tables import Assessment
from scoring.service.tenant import ConflictError, NotFoundError, StaleVersionError, Tenant
from scoring.service.web import wizard
from scoring.service.web.pages import Form, field, read_form, redirect, render, signed_in
from scoring.service.web.signin import Visitor
from scoring.vocabulary import Reason, Severity

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Visitor, Depends(signed_in)]
Id = Annotated[int, PathParam(ge=1, le=2_147_483_647)]
Number = Annotated[int, PathParam(ge=1, le=1_000)]
_ATTESTATION = (
    "I confirm that these answers are true and complete to the best of my knowledge, "
    "and I understand that an insurer may rely on them."
)
_OUTCOME_WORDS = {
    "quote": "An insurer using this rating plan would be expected to offer cover.",
    "refer": "An underwriter would need to look at your answers before offering cover.",
    "decline": "Cover would likely be declined today. The fixes below change that.",
}


@contextlib.contextmanager
def _tenant(request: Request, visitor: Visitor) -> Iterator[tuple[Tenant, int]]:
    """The signed-in facility's tenant and its facility's id."""
    caller = visitor.caller
    if caller is None or caller.facility_id is None:
        raise NotFoundError("facility for this account")
    state = request.app.state
    with state.sessions() as session:
        yield Tenant(session, caller, state.engine, state.clock()), caller.facility_id


def _questionnaire(me: Tenant) -> Questionnaire:
    questionnaire: Questionnaire = me.engine.questionnaire
    return questionnaire


def _as_of(me: Tenant, assessment: Assessment) -> dt.date:
    return assessment.assessed_on or me.now.date()


def _numbered(questionnaire: Questionnaire, number: int) -> Section:
    """The questionnaire's section of that number (1 for the first); 404 beyond the last."""
    if number > len(questionnaire.sections):
        raise NotFoundError(f"section {number}")
    return questionnaire.sections[number - 1]


def _row_version(form: Form) -> int:
    """The version of the record the form was made from (-1, which no record has, when
    the field is not a number: the write is then refused as stale)."""
    text = field(form, "row_version")
    return int(text) if text.isdigit() else -1


def _section_url(assessment_id: int, number: int, question_id: str | None = None) -> str:
    url = f"/assessments/{assessment_id}/sections/{number}"
    return f"{url}?check=1#q-{question_id}" if question_id else url


def _progress(questionnaire: Questionnaire, validation: Any) -> list[dict[str, Any]]:
    """Each section with whether every question it shows and requires is answered (a
    blank one may be allowed, but it is priced as the weakest answer)."""
    left = wizard.unanswered(questionnaire, validation)
    return [
        {
            "number": n,
            "title": s.title,
            "done": not any(q.id in left for q in s.questions),
        }
        for n, s in enumerate(questionnaire.sections, start=1)
    ]


@router.get("/assessments")
def assessments_page(request: Request, visitor: SignedIn) -> Response:
    if visitor.caller is not None and visitor.caller.facility_id is None:
        return render(
            request,
            "message.html",
            heading=f"Signed in to {visitor.organisation_name}",
            text=(
                "These pages are where a facility answers its own assessment. An "
                "agency's people work through the agent API: sign in there with "
                "POST /v1/sessions for a token that acts as you."
            ),
            link={"href": "/docs", "text": "The agent API's reference"},
        )
    with _tenant(request, visitor) as (me, facility_id):
        facility = me.facility(facility_id)
        found = me.assessments(facility_id)
        me.commit()
    drafts = [a for a in found if a.status == "draft"]
    return render(
        request,
        "assessments.html",
        facility=facility,
        assessments=list(reversed(found)),
        draft=drafts[-1] if drafts else None,
        submitted=any(a.status == "submitted" for a in found),
    )


@router.post("/assessments")
async def start_assessment(request: Request, visitor: SignedIn) -> Response:
    await read_form(request)

    def start() -> int:
        with _tenant(request, visitor) as (me, facility_id):
            found = me.assessments(facility_id)
            drafts = [a for a in found if a.status == "draft"]
            if drafts:
                return drafts[-1].id
            document = wizard.blank_document(_questionnaire(me))
            if found:  # start from the last answers: only what changed needs answering
                previous = found[-1].answers.get("answers")
                document["answers"] = dict(previous) if isinstance(previous, dict) else {}
            document["assessed_on"] = me.now.date().isoformat()
            document["answered_by"] = visitor.name
            made = me.create_assessment(facility_id, document, visitor.name)
            me.commit()
            return made.id

    made = await run_in_threadpool(start)
    return redirect(request, _section_url(made, 1))


@router.post("/share")
async def share_assessments(request: Request, visitor: SignedIn) -> Response:
    """A one-time code for the facility's agent: it gives the agent's agency a copy of
    the facility's submitted assessments as they are now."""
    await read_form(request)

    def share() -> Response:
        with _tenant(request, visitor) as (me, facility_id):
            token, expires = me.share(facility_id)
            me.commit()
        return render(request, "share.html", token=token, expires=expires)

    return await run_in_threadpool(share)


@router.get("/assessments/{assessment_id}")
def assessment_page(request: Request, visitor: SignedIn, assessment_id: Id) -> Response:
    with _tenant(request, visitor) as (me, _):
        assessment = me.assessment(assessment_id)
        me.commit()
    if assessment.status == "draft":
        return redirect(request, _section_url(assessment_id, 1))
    return redirect(request, f"/assessments/{assessment_id}/report")


def _draft(me: Tenant, assessment_id: int) -> Assessment:
    assessment = me.assessment(assessment_id)
    if assessment.status != "draft":
        raise ConflictError(f"assessment {assessment_id} is submitted")
    return assessment


@router.get("/assessments/{assessment_id}/sections/{number}")
def section_page(
    request: Request, visitor: SignedIn, assessment_id: Id, number: Number
) -> Response:
    with _tenant(request, visitor) as (me, _):
        assessment = me.assessment(assessment_id)
        me.commit()
        if assessment.status != "draft":
            return redirect(request, f"/assessments/{assessment_id}/report")
        questionnaire = _questionnaire(me)
        _numbered(questionnaire, number)
        document = dict(assessment.answers)
        draft = wizard.settle(document, questionnaire, as_of=_as_of(me, assessment))
    check = request.query_params.get("check") == "1"
    return _section(request, assessment, questionnaire, number, draft, check=check)


def _section(
    request: Request,
    assessment: Assessment,
    questionnaire: Questionnaire,
    number: int,
    draft: wizard.Draft,
    *,
    check: bool,
    problems: list[wizard.Problem] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    view = wizard.section_view(
        questionnaire, number, draft.document, draft.validation, show_required=check
    )
    return render(
        request,
        "section.html",
        status=status,
        assessment=assessment,
        view=view,
        sections=_progress(questionnaire, draft.validation),
        total=len(questionnaire.sections),
        problems=problems or [],
        notice=notice,
    )


@router.post("/assessments/{assessment_id}/sections/{number}")
async def save_section(
    request: Request, visitor: SignedIn, assessment_id: Id, number: Number
) -> Response:
    form = await read_form(request)
    go = field(form, "go")
    version = _row_version(form)

    def save() -> Response:
        with _tenant(request, visitor) as (me, _):
            assessment = me.assessment(assessment_id)
            if assessment.status != "draft":
                me.commit()
                return redirect(request, f"/assessments/{assessment_id}/report")
            questionnaire = _questionnaire(me)
            section = _numbered(questionnaire, number)
            as_of = _as_of(me, assessment)
            before = wizard.visible(
                wizard.settle(assessment.answers, questionnaire, as_of=as_of).validation
            )
            answers = wizard.read_section(form, section)
            document = wizard.with_section(assessment.answers, section, answers)
            draft = wizard.settle(document, questionnaire, as_of=as_of)
            blocking = [
                p
                for p in wizard.problems(
                    questionnaire,
                    draft.validation,
                    lambda n, q: _section_url(assessment_id, n, q),
                    severity=Severity.ERROR,
                )
                if p.reason != Reason.REQUIRED.value
            ]
            if blocking:
                me.commit()
                return _section(
                    request,
                    assessment,
                    questionnaire,
                    number,
                    draft,
                    check=False,
                    problems=blocking,
                    status=422,
                )
            try:
                saved = me.update_assessment(assessment_id, draft.document, version)
                me.commit()
            except StaleVersionError:
                return render(
                    request,
                    "message.html",
                    status=409,
                    heading="These answers were changed elsewhere",
                    text="Another window or person saved this assessment after you opened "
                    "this page. Open the section again to see the newest answers.",
                    link={"href": _section_url(assessment_id, number), "text": "Open it again"},
                )
            appeared = [
                q.id
                for q in section.questions
                if q.id in wizard.visible(draft.validation) - before
                and q.id not in (draft.document.get("answers") or {})
            ]
            if appeared and go != "save":
                notice = "More questions appeared because of your answers: please answer them too."
                return _section(
                    request, saved, questionnaire, number, draft, check=False, notice=notice
                )
            if go == "back" and number > 1:
                return redirect(request, _section_url(assessment_id, number - 1))
            if go == "next" and number < len(questionnaire.sections):
                return redirect(request, _section_url(assessment_id, number + 1))
            if go in ("next", "review"):
                return redirect(request, f"/assessments/{assessment_id}/review")
            if go == "exit":
                return redirect(request, "/assessments")
            return redirect(request, _section_url(assessment_id, number) + "?saved=1")

    return await run_in_threadpool(save)


@router.post("/assessments/{assessment_id}/sections/{number}/relevance")
async def section_relevance(
    request: Request, visitor: SignedIn, assessment_id: Id, number: Number
) -> Response:
    """Which of the section's questions show for the answers on the page now (the
    page's script hides the others; nothing is saved)."""
    form = await read_form(request)

    def shown() -> list[str]:
        with _tenant(request, visitor) as (me, _):
            assessment = _draft(me, assessment_id)
            me.commit()
            questionnaire = _questionnaire(me)
            section = _numbered(questionnaire, number)
            document = wizard.with_section(
                assessment.answers, section, wizard.read_section(form, section)
            )
            draft = wizard.settle(document, questionnaire, as_of=_as_of(me, assessment))
            now_visible = wizard.visible(draft.validation)
            return [q.id for q in section.questions if q.id in now_visible]

    return JSONResponse({"visible": await run_in_threadpool(shown)})


@router.get("/assessments/{assessment_id}/review")
def review_page(request: Request, visitor: SignedIn, assessment_id: Id) -> Response:
    with _tenant(request, visitor) as (me, _):
        assessment = me.assessment(assessment_id)
        me.commit()
        if assessment.status != "draft":
            return redirect(request, f"/assessments/{assessment_id}/report")
        questionnaire = _questionnaire(me)
        draft = wizard.settle(assessment.answers, questionnaire, as_of=_as_of(me, assessment))
    return _review(request, assessment, questionnaire, draft)


def _review(
    request: Request,
    assessment: Assessment,
    questionnaire: Questionnaire,
    draft: wizard.Draft,
    *,
    refused: list[str] | None = None,
    status: int = 200,
) -> Response:
    def link(number: int, question_id: str) -> str:
        return _section_url(assessment.id, number, question_id)

    errors = wizard.problems(questionnaire, draft.validation, link, severity=Severity.ERROR)
    warnings = wizard.problems(questionnaire, draft.validation, link, severity=Severity.WARNING)
    return render(
        request,
        "review.html",
        status=status,
        assessment=assessment,
        errors=errors,
        warnings=warnings,
        sections=_progress(questionnaire, draft.validation),
        attestation=_ATTESTATION,
        refused=refused or [],
    )


@router.post("/assessments/{assessment_id}/submit")
async def submit_assessment(request: Request, visitor: SignedIn, assessment_id: Id) -> Response:
    form = await read_form(request)
    name = field(form, "attested_name")[:200]
    confirmed = field(form, "confirm") == "yes"
    version = _row_version(form)

    def submit() -> Response:
        with _tenant(request, visitor) as (me, _):
            assessment = me.assessment(assessment_id)
            if assessment.status != "draft":
                me.commit()
                return redirect(request, f"/assessments/{assessment_id}/report")
            questionnaire = _questionnaire(me)
            draft = wizard.settle(assessment.answers, questionnaire, as_of=_as_of(me, assessment))
            refused = []
            if not name:
                refused.append("Please type your full name to sign the attestation.")
            if not confirmed:
                refused.append("Please tick the box to confirm the attestation.")
            if refused or not draft.validation.is_valid:
                me.commit()
                return _review(
                    request, assessment, questionnaire, draft, refused=refused, status=422
                )
            try:
                me.submit(assessment_id, name, _ATTESTATION, version)
                me.score(assessment_id, None, None)
                me.commit()
            except (StaleVersionError, InputError):
                return render(
                    request,
                    "message.html",
                    status=409,
                    heading="These answers changed before they were submitted",
                    text="Review them again, then submit.",
                    link={"href": f"/assessments/{assessment_id}/review", "text": "Review again"},
                )
            return redirect(request, f"/assessments/{assessment_id}/report")

    return await run_in_threadpool(submit)


def _labels(questionnaire: Questionnaire) -> dict[str, Question]:
    return {q.id: q for q in questionnaire.questions}


def _answer_words(question: Question | None, value: str) -> str:
    """An answer code in the questionnaire's words."""
    if question is None:
        return value
    for choice in question.choices or ():
        if choice.code == value:
            return choice.label
    if value in ("yes", "no"):
        return value.capitalize()
    return f"{value} {question.unit}" if question.unit else value


def _todo(result: ScoreResult, questionnaire: Questionnaire) -> list[dict[str, Any]]:
    """The costed to-do list: each fix in the advice's order, what to answer instead,
    what it is worth and the framework references (HPH CPG goals by their titles)."""
    questions = _labels(questionnaire)
    cpg_titles = default_catalog().titles["cpg"]
    items = []
    advice = result.advice
    for fix in advice.fixes if advice is not None else ():
        target = fix.best or fix.next
        if set(target.answers) == {fix.question_id}:
            goal = [_answer_words(questions.get(fix.question_id), target.answers[fix.question_id])]
        else:
            goal = [
                f"{questions[q].label if q in questions else q}: "
                f"{_answer_words(questions.get(q), v)}"
                for q, v in target.answers.items()
            ]
        references = []
        if fix.hicp:
            references.append("HICP " + ", ".join(fix.hicp))
        if fix.cpg:
            references.append("HPH CPG " + ", ".join(cpg_titles.get(c, c) for c in fix.cpg))
        if fix.cis:
            references.append("CIS v8 " + ", ".join(fix.cis))
        items.append({"fix": fix, "target": target, "goal": goal, "references": references})
    return items


def _fix_answers(fix: Fix) -> dict[str, str]:
    return dict((fix.best or fix.next).answers)


@router.get("/assessments/{assessment_id}/report")
def report_page(request: Request, visitor: SignedIn, assessment_id: Id) -> Response:
    return _report(request, visitor, assessment_id, chosen=None)


@router.post("/assessments/{assessment_id}/what-if")
async def what_if(request: Request, visitor: SignedIn, assessment_id: Id) -> Response:
    form = await read_form(request)
    chosen = [v for v in form.get("fix", []) if v][:100]
    return await run_in_threadpool(_report, request, visitor, assessment_id, chosen)


def _report(
    request: Request, visitor: Visitor, assessment_id: int, chosen: list[str] | None
) -> Response:
    with _tenant(request, visitor) as (me, _):
        assessment = me.assessment(assessment_id)
        if assessment.status != "submitted":
            me.commit()
            return redirect(request, f"/assessments/{assessment_id}/review")
        kept = me.latest_score(assessment_id)
        if kept is None:
            kept = me.score(assessment_id, None, None)
        result = ScoreResult.model_validate(kept.result)
        questionnaire = _questionnaire(me)
        todo = _todo(result, questionnaire)
        scenario = None
        if chosen is not None:
            fixes = {item["fix"].question_id: item["fix"] for item in todo}
            answers: dict[str, str] = {}
            for question_id in chosen:
                if question_id in fixes:
                    answers.update(_fix_answers(fixes[question_id]))
            if answers:
                scenario = me.what_if(assessment_id, answers, kept.limit_code, kept.retention_code)
        me.commit()
    return render(
        request,
        "report.html",
        assessment=assessment,
        result=result,
        outcome_words=_OUTCOME_WORDS[result.outcome],
        todo=todo,
        chosen=set(chosen or ()),
        scenario=scenario,
        questions=_labels(questionnaire),
    )


@router.get("/history")
def history_page(request: Request, visitor: SignedIn) -> Response:
    with _tenant(request, visitor) as (me, facility_id):
        facility = me.facility(facility_id)
        found = me.assessments(facility_id)
        rows = []
        for assessment in found:
            kept = me.latest_score(assessment.id) if assessment.status == "submitted" else None
            rows.append({"assessment": assessment, "result": None if kept is None else kept.result})
        submitted = [a for a in found if a.status == "submitted"]
        changes = [
            me.changes(facility_id, old.version, new.version)
            for old, new in itertools.pairwise(submitted)
        ]
        me.commit()
        questions = _labels(_questionnaire(me))
    return render(
        request,
        "history.html",
        facility=facility,
        rows=list(reversed(rows)),
        changes=list(reversed(changes)),
        questions=questions,
        words=_answer_words,
    )
