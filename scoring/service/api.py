"""The agent API (``/v1``): facilities, their assessments, and scores, over HTTP.

An edge over the library, like the CLI: :class:`~scoring.service.tenant.Tenant` does
every read and write, scoped to the caller's organisation; answers are validated and
scored by the library. Callers authenticate with an API key (``Authorization: Bearer
cs_...``), or as a person with a token from ``POST /v1/sessions``
(:mod:`scoring.service.people_routes`). Errors are problem details (RFC 9457,
``application/problem+json``); a 422 lists every issue in the CLI's issue format. A
record's version is its ETag, and a write to it must quote it in ``If-Match`` (428
without, 412 when stale). Lists are paged by id (``after``, ``size``). A POST with an
``Idempotency-Key`` is answered once: the same key again replays that answer
(:mod:`scoring.service.idempotency`). Each route names the one action it performs
(:data:`scoring.service.roles.ROUTE_ACTIONS`); the caller's role is checked against
:data:`scoring.service.roles.PERMISSIONS` in one place, the caller dependency
(:mod:`scoring.service.caller`), before the route runs (403 naming the role and the
action).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from scoring import __version__
from scoring.errors import InputError
from scoring.rating.engine import RatingEngine
from scoring.rating.peers import peer_scores
from scoring.rating.result import ScoreResult
from scoring.report.html import render_html
from scoring.service import book_files, people_routes
from scoring.service.books import MAX_BOOK_BYTES, TooLargeError, book_name, save_upload
from scoring.service.caller import MAX_ID, Id, Me, bearer
from scoring.service.idempotency import MAX_KEY, Kept, Refused, claim, fingerprint, settle
from scoring.service.jobs import LEASE, BookRunner
from scoring.service.people import bearer_caller
from scoring.service.rate import RateLimit
from scoring.service.roles import API_KEY_ROLES, RoleError
from scoring.service.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    AssessmentOut,
    Attestation,
    BookOut,
    Changes,
    FacilityIn,
    FacilityOut,
    FacilityPatch,
    InvitationIn,
    InvitationOut,
    Page,
    Problem,
    ScoreOut,
    ShareIn,
    api_key_out,
    assessment_out,
    book_out,
    facility_out,
    score_out,
)
from scoring.service.tables import BookJob, utc
from scoring.service.tenant import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    StaleVersionError,
    Tenant,
)
from scoring.service.web.pages import error_page, is_page
from scoring.service.web.site import mount

MAX_BODY_BYTES = 1_000_000
"""A request body larger than this is refused (413) before it is read."""
PROBLEM = "application/problem+json"
_Out = TypeVar("_Out", bound=BaseModel)
_REPORT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


def _lifespan(runner: BookRunner | None) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if runner is not None:
            runner.start()
        yield
        if runner is not None:
            runner.stop()

    return lifespan


def _errors() -> dict[int | str, dict[str, Any]]:
    """The problem answers every route may give, in the schema."""
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        status: {"model": Problem, "description": title, "content": {PROBLEM: problem}}
        for status, title in _TITLES.items()
    }


def create_app(
    sessions: sessionmaker[Session],
    engine: RatingEngine,
    clock: Callable[[], dt.datetime],
    files: Path,
    rate: RateLimit | None = None,
    *,
    secure_cookies: bool = True,
    worker: str | None = None,
    run_books: bool = True,
    lease: dt.timedelta = LEASE,
) -> FastAPI:
    """The API over a database (``sessions``), one model and rating plan (``engine``),
    a clock (``clock``: the current UTC time, given so that the library reads none) and
    a private folder for the book being scored (``files``; uploads and results are kept
    in the database), and each API key's rate limit (``rate``,
    :class:`~scoring.service.rate.RateLimit`'s defaults when None); with the facility's
    pages (:mod:`scoring.service.web`), whose cookies are sent over HTTPS only unless
    ``secure_cookies`` is False (plain HTTP on one's own machine).

    Books are scored by a background worker (:class:`~scoring.service.jobs.BookRunner`)
    named ``worker`` (unique among the instances on the database: e.g. host and process
    id; a random one when None), holding each job for ``lease`` between heartbeats; with
    ``run_books`` False this instance takes uploads but scores none (another does)."""
    runner = (
        BookRunner(sessions, engine, files, clock, worker or uuid.uuid4().hex, lease=lease)
        if run_books
        else None
    )
    app = FastAPI(
        title="carescore",
        version=__version__,
        summary="Cyber-insurance risk scoring for care facilities: the agent API.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        responses=_errors(),
        lifespan=_lifespan(runner),
    )
    app.state.sessions, app.state.engine, app.state.clock = sessions, engine, clock
    app.state.rate = rate if rate is not None else RateLimit()
    _handlers(app)
    mount(app, secure_cookies=secure_cookies)
    app.include_router(people_routes.router)

    @app.middleware("http")
    async def _idempotency(request: Request, call_next: Any) -> Any:
        key = request.headers.get("idempotency-key")
        if request.method != "POST" or key is None:
            return await call_next(request)
        if not 1 <= len(key) <= MAX_KEY:
            detail = f"an Idempotency-Key has 1 to {MAX_KEY} characters"
            return _problem(422, "Invalid input", detail)
        body = await request.body()
        request_sha256 = fingerprint(request.method, request.url.path, request.url.query, body)
        authorization = request.headers.get("authorization")
        decision = await run_in_threadpool(_claim, app, authorization, key, request_sha256)
        if decision is None:  # no valid caller: the route answers 401
            return await call_next(request)
        if isinstance(decision, Refused):
            return _problem(decision.status, _TITLES[decision.status], decision.detail)
        if isinstance(decision, Kept):
            replayed = Response(decision.body, decision.status, media_type=decision.content_type)
            replayed.headers["Idempotent-Replayed"] = "true"
            return replayed
        response = await call_next(request)
        content = b"".join([chunk async for chunk in response.body_iterator])
        kind = response.headers.get("content-type")
        await run_in_threadpool(_settle, app, decision, response.status_code, content, kind)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return Response(content, response.status_code, headers=headers)

    @app.middleware("http")
    async def _limits_and_headers(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        most = MAX_BOOK_BYTES if request.url.path == "/v1/books" else MAX_BODY_BYTES
        if length is not None and (not length.isdigit() or int(length) > most):
            response: Any = _problem(413, "Request body too large", f"at most {most:,} bytes")
        else:
            response = await call_next(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.post("/v1/books", status_code=202, response_model=BookOut, tags=["books"])
    async def upload_book(
        me: Me,
        request: Request,
        filename: Annotated[str, Query(min_length=1, max_length=200)],
        as_of: dt.date | None = None,
        limit: Annotated[str | None, Query(max_length=40)] = None,
        retention: Annotated[str | None, Query(max_length=40)] = None,
    ) -> BookOut:
        """Upload a book (the file's bytes as the body; CSV, XLSX or Parquet by
        ``filename``) to be scored in the background, as ``carescore batch`` scores it."""
        try:
            name = book_name(filename)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        incoming = files / "books" / f"incoming-{uuid.uuid4().hex}"
        target = incoming / name
        try:
            sha256 = await save_upload(request.stream(), target)
        except TooLargeError as exc:
            raise HTTPException(413, str(exc)) from exc
        try:
            job = await run_in_threadpool(
                _queue_book, me, target, sha256, as_of or me.now.date(), limit, retention
            )
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        if runner is not None:
            runner.wake()
        return book_out(job)

    @app.get("/v1/books/{book_id}", response_model=BookOut, tags=["books"])
    def get_book(me: Me, book_id: Id) -> BookOut:
        job = me.book_job(book_id)
        me.commit()
        return book_out(job)

    @app.get(
        "/v1/books/{book_id}/files/{kind}",
        response_class=Response,
        tags=["books"],
        responses={200: {"content": {"text/csv": {}}, "description": "The file, as CSV."}},
    )
    def book_file(me: Me, book_id: Id, kind: Literal["scored", "errors", "warnings"]) -> Any:
        job = me.book_job(book_id)
        me.commit()
        if job.status != "done":
            raise ConflictError(f"book {book_id} is {job.status}: its files come when it is done")
        name = f"{Path(job.filename).stem}.{kind}.csv"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        if not book_files.has(me.session, job.id, kind):
            content = book_files.legacy_result(files, job.id, kind)
            return Response(content or b"", media_type="text/csv", headers=headers)
        pieces = book_files.chunks(sessions, job.id, kind)
        return StreamingResponse(pieces, media_type="text/csv", headers=headers)

    @app.get("/v1/api-keys", response_model=list[ApiKeyOut], tags=["api keys"])
    def list_api_keys(me: Me) -> list[ApiKeyOut]:
        """The organisation's API keys (never the keys themselves): role, when each was
        created, last used and revoked."""
        found = me.api_keys()
        me.commit()
        return [api_key_out(k) for k in found]

    @app.post("/v1/api-keys", status_code=201, response_model=ApiKeyCreated, tags=["api keys"])
    def create_api_key(me: Me, body: ApiKeyIn) -> ApiKeyCreated:
        """A new API key of the organisation, with a role: the key is in this answer
        only (keep it now); only its sha256 is kept."""
        if body.role not in API_KEY_ROLES:
            raise HTTPException(422, f"a key's role is one of {', '.join(API_KEY_ROLES)}")
        key, made = me.create_api_key(body.name, body.role)
        me.commit()
        return ApiKeyCreated(key=key, **api_key_out(made).model_dump())

    @app.delete("/v1/api-keys/{key_id}", response_model=ApiKeyOut, tags=["api keys"])
    def revoke_api_key(me: Me, key_id: Id) -> ApiKeyOut:
        """Revoke a key of the organisation: refused from now on (to rotate a key,
        create the new one, move the client to it, then revoke the old one)."""
        revoked = me.revoke_api_key(key_id)
        me.commit()
        return api_key_out(revoked)

    @app.get("/v1/facilities", response_model=Page, tags=["facilities"])
    def list_facilities(
        me: Me,
        after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
        size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
    ) -> Page:
        found = me.facilities(after=after, size=size)
        me.commit()
        items = [facility_out(f) for f in found]
        return Page(items=items, next_after=found[-1].id if len(found) == size else None)

    @app.post("/v1/facilities", status_code=201, response_model=FacilityOut, tags=["facilities"])
    def create_facility(me: Me, body: FacilityIn, response: Response) -> FacilityOut:
        facility = me.create_facility(body.reference, body.name)
        me.commit()
        return _tagged(response, facility_out(facility), facility.row_version)

    @app.get("/v1/facilities/{facility_id}", response_model=FacilityOut, tags=["facilities"])
    def get_facility(me: Me, facility_id: Id, response: Response) -> FacilityOut:
        facility = me.facility(facility_id)
        me.commit()
        return _tagged(response, facility_out(facility), facility.row_version)

    @app.patch("/v1/facilities/{facility_id}", response_model=FacilityOut, tags=["facilities"])
    def update_facility(
        me: Me,
        facility_id: Id,
        body: FacilityPatch,
        response: Response,
        if_match: Annotated[str | None, Header()] = None,
    ) -> FacilityOut:
        facility = me.update_facility(facility_id, body.name, _version(if_match))
        me.commit()
        return _tagged(response, facility_out(facility), facility.row_version)

    @app.get(
        "/v1/facilities/{facility_id}/assessments",
        response_model=list[AssessmentOut],
        tags=["assessments"],
    )
    def list_assessments(me: Me, facility_id: Id) -> list[AssessmentOut]:
        found = me.assessments(facility_id)
        me.commit()
        return [assessment_out(a) for a in found]

    @app.post(
        "/v1/facilities/{facility_id}/assessments",
        status_code=201,
        response_model=AssessmentOut,
        tags=["assessments"],
    )
    def create_assessment(
        me: Me, facility_id: Id, document: dict[str, Any], response: Response
    ) -> AssessmentOut:
        answered_by = str(document.get("answered_by") or me.caller.actor)
        assessment = me.create_assessment(facility_id, document, answered_by)
        me.commit()
        return _tagged(response, assessment_out(assessment), assessment.row_version)

    @app.get("/v1/assessments/{assessment_id}", response_model=AssessmentOut, tags=["assessments"])
    def get_assessment(me: Me, assessment_id: Id, response: Response) -> AssessmentOut:
        assessment = me.assessment(assessment_id)
        me.commit()
        return _tagged(response, assessment_out(assessment), assessment.row_version)

    @app.put("/v1/assessments/{assessment_id}", response_model=AssessmentOut, tags=["assessments"])
    def update_assessment(
        me: Me,
        assessment_id: Id,
        document: dict[str, Any],
        response: Response,
        if_match: Annotated[str | None, Header()] = None,
    ) -> AssessmentOut:
        assessment = me.update_assessment(assessment_id, document, _version(if_match))
        me.commit()
        return _tagged(response, assessment_out(assessment), assessment.row_version)

    @app.post(
        "/v1/assessments/{assessment_id}/submit",
        response_model=AssessmentOut,
        tags=["assessments"],
    )
    def submit_assessment(
        me: Me,
        assessment_id: Id,
        body: Attestation,
        response: Response,
        if_match: Annotated[str | None, Header()] = None,
    ) -> AssessmentOut:
        assessment = me.submit(
            assessment_id, body.attested_name, body.attestation, _version(if_match)
        )
        me.commit()
        return _tagged(response, assessment_out(assessment), assessment.row_version)

    @app.post(
        "/v1/assessments/{assessment_id}/score",
        status_code=201,
        response_model=ScoreOut,
        tags=["scores"],
    )
    def score_assessment(
        me: Me,
        assessment_id: Id,
        limit: str | None = None,
        retention: str | None = None,
    ) -> ScoreOut:
        kept = me.score(assessment_id, limit, retention)
        assessment = me.assessment(assessment_id, action="read")
        me.commit()
        return score_out(assessment, kept, whole=True)

    @app.get("/v1/scores/{score_id}", response_model=ScoreOut, tags=["scores"])
    def get_score(me: Me, score_id: Id) -> ScoreOut:
        assessment, kept = me.score_record(score_id)
        me.commit()
        return score_out(assessment, kept, whole=True)

    @app.get(
        "/v1/scores/{score_id}/report",
        response_class=HTMLResponse,
        tags=["scores"],
        responses={200: {"content": {"text/html": {}}, "description": "The HTML report."}},
    )
    def score_report(me: Me, score_id: Id) -> HTMLResponse:
        assessment, kept = me.score_record(score_id)
        me.commit()
        result = ScoreResult.model_validate(kept.result)
        answers = assessment.answers.get("answers")
        kind = answers.get("facility_type") if isinstance(answers, dict) else None
        scores, label = _peers(engine, None if kind is None else str(kind))
        page = render_html(result, peers=scores, peers_label=label)
        return HTMLResponse(page, headers={"Content-Security-Policy": _REPORT_POLICY})

    @app.post(
        "/v1/facilities/{facility_id}/invitations",
        status_code=201,
        response_model=InvitationOut,
        tags=["facilities"],
    )
    def invite_facility(me: Me, facility_id: Id, body: InvitationIn) -> InvitationOut:
        """Let the facility answer its own assessment: a token for it alone, which
        expires in 14 days."""
        token, expires = me.invite(facility_id, body.email)
        me.commit()
        return InvitationOut(token=token, facility_id=facility_id, expires_at=utc(expires))

    @app.post("/v1/shares", status_code=201, response_model=FacilityOut, tags=["facilities"])
    def take_share(me: Me, body: ShareIn, response: Response) -> FacilityOut:
        """Take a facility's share code: a facility of the agency's own, under its
        reference, with a copy of each assessment the facility had submitted (its
        attestation kept). A code is taken once, within 14 days."""
        facility = me.take_share(body.token, body.reference)
        me.commit()
        return _tagged(response, facility_out(facility), facility.row_version)

    @app.get("/v1/facilities/{facility_id}/changes", response_model=Changes, tags=["scores"])
    def facility_changes(
        me: Me,
        facility_id: Id,
        before: Annotated[int, Query(ge=1, le=MAX_ID)],
        after: Annotated[int, Query(ge=1, le=MAX_ID)],
    ) -> Changes:
        found = me.changes(facility_id, before, after)
        me.commit()
        return Changes.model_validate(found)

    @app.get("/v1/facilities/{facility_id}/scores", response_model=list[ScoreOut], tags=["scores"])
    def list_scores(me: Me, facility_id: Id) -> list[ScoreOut]:
        found = me.scores(facility_id)
        me.commit()
        return [score_out(a, s, whole=False) for a, s in found]

    return app


def _queue_book(
    me: Tenant,
    upload: Path,
    sha256: str,
    as_of: dt.date,
    limit: str | None,
    retention: str | None,
) -> BookJob:
    """A queued job with its uploaded book kept in the database, committed together."""
    job = me.create_book_job(upload.name, sha256, as_of, limit, retention)
    book_files.store_path(me.session, job.id, "book", upload)
    me.commit()
    return job


@functools.lru_cache(maxsize=16)
def _peers(engine: RatingEngine, facility_type: str | None) -> tuple[list[int], str]:
    """The report's peers (the CLI's): synthetic reference facilities of the type."""
    scores, label = peer_scores(engine, facility_type)
    return [int(s) for s in scores], label


def _claim(
    app: FastAPI, authorization: str | None, key: str, request_sha256: str
) -> int | Kept | Refused | None:
    state = app.state
    now = state.clock()
    api_key = bearer(authorization)
    with state.sessions() as session:
        caller = bearer_caller(session, api_key, now=now) if api_key else None
        if caller is None:
            return None
        session.commit()
        return claim(session, caller.organisation_id, key, request_sha256, now)


def _settle(app: FastAPI, claim_id: int, status: int, body: bytes, kind: str | None) -> None:
    with app.state.sessions() as session:
        settle(session, claim_id, status, body, kind)


def _tagged(response: Response, body: _Out, row_version: int) -> _Out:
    response.headers["ETag"] = f'"{row_version}"'
    return body


def _version(if_match: str | None) -> int:
    if if_match is None:
        raise HTTPException(428, 'quote the record\'s ETag in If-Match (e.g. If-Match: "3")')
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise HTTPException(412, f"If-Match {if_match!r} is not a version of this record")
    return int(text)


def _problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


_TITLES = {
    401: "Unauthorised",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    422: "Invalid input",
    428: "Precondition required",
    429: "Too many requests",
}


def _answer(request: Request, status: int, title: str, detail: str) -> Response:
    """An error as problem details for the API, as a page for a person's browser."""
    if is_page(request):
        return error_page(request, status, title, detail)
    return _problem(status, title, detail)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        title = _TITLES.get(exc.status_code, "Error")
        answer = _answer(request, exc.status_code, title, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            answer.headers[name] = value
        return answer

    @app.exception_handler(NotFoundError)
    async def _missing(request: Request, exc: NotFoundError) -> Response:
        return _answer(request, 404, "Not found", f"no {exc} here")

    @app.exception_handler(RoleError)
    async def _role(request: Request, exc: RoleError) -> Response:
        if is_page(request):
            return error_page(request, 403, "Forbidden", str(exc))
        return _problem(403, "Forbidden", str(exc), role=exc.role, action=exc.action)

    @app.exception_handler(ForbiddenError)
    async def _forbidden(request: Request, exc: ForbiddenError) -> Response:
        return _answer(request, 403, "Forbidden", str(exc))

    @app.exception_handler(StaleVersionError)
    async def _stale(request: Request, exc: StaleVersionError) -> Response:
        return _answer(request, 412, "Precondition failed", str(exc))

    @app.exception_handler(ConflictError)
    async def _conflict(request: Request, exc: ConflictError) -> Response:
        return _answer(request, 409, "Conflict", str(exc))

    @app.exception_handler(InputError)
    async def _invalid(_request: Request, exc: InputError) -> JSONResponse:
        issues = [issue.to_dict() for issue in exc.issues]
        return _problem(422, "Invalid input", str(exc), issues=issues)

    @app.exception_handler(RequestValidationError)
    async def _malformed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            {
                "reason": "invalid_request",
                "message": str(error.get("msg", "")),
                "severity": "error",
                "source": ".".join(str(p) for p in error.get("loc", ())),
            }
            for error in exc.errors()
        ]
        return _problem(422, "Invalid input", "the request does not follow the API", issues=issues)
