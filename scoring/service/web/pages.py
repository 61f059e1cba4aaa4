"""What every page shares: templates, headers, forms, the CSRF check, who is signed in.

* Templates are Jinja2 with autoescaping on and undefined names refused, so an answer,
  a name or a message is always shown as text, never as markup.
* Every page is sent with a Content-Security-Policy that allows the service's own
  stylesheet and script only (no inline script or style), and is never framed.
* Forms are URL-encoded, read within :data:`MAX_FORM_BYTES` and :data:`MAX_FORM_FIELDS`
  and refused unless they carry the CSRF token of the browser's CSRF cookie (a random
  token set on the first page; a form from another site cannot know it).
* Who is signed in comes from the session cookie (:mod:`scoring.service.web.signin`);
  a page that needs someone signed in sends the browser to the sign-in page, and back
  after it.
"""

from __future__ import annotations

import hmac
import secrets
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from scoring.service.web.signin import Visitor, visitor_of

HERE = Path(__file__).resolve().parent
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SESSION_COOKIE = "carescore_session"
CSRF_COOKIE = "carescore_csrf"
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 256_000
MAX_FORM_FIELDS = 1_000
_STATIC = {"carescore.css": "text/css", "carescore.js": "text/javascript"}

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class SignInRequired(Exception):  # noqa: N818 (a redirect, not an error)
    """The page needs someone signed in: the browser is sent to sign in, then back."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


Form = Mapping[str, list[str]]


def csrf_token(request: Request) -> str:
    """The browser's CSRF token: its cookie's, or a new one (set by :func:`render`)."""
    known = getattr(request.state, "csrf", None)
    if isinstance(known, str):
        return known
    given = request.cookies.get(CSRF_COOKIE, "")
    token = given if 20 <= len(given) <= 100 and given.isascii() else secrets.token_urlsafe(32)
    request.state.csrf = token
    request.state.csrf_new = token != given
    return token


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from its template, with the CSRF token, who is signed in and the headers
    every page carries."""
    token = csrf_token(request)
    page = environment.get_template(template).render(
        csrf_field=CSRF_FIELD,
        csrf_token=token,
        visitor=getattr(request.state, "visitor", None),
        **context,
    )
    response = HTMLResponse(page, status_code=status)
    _finish(request, response)
    return response


_PAGE_ERRORS = {
    400: "This form cannot be read",
    403: "This cannot be done here",
    404: "Page not found",
    409: "This cannot be changed now",
    412: "This was changed elsewhere",
    413: "This form is too large",
    429: "Too many tries",
}


def is_page(request: Request) -> bool:
    """A request for a person's page (not the API, its schema or its docs)."""
    path = request.url.path
    return not (path.startswith("/v1/") or path in ("/openapi.json", "/docs", "/v1"))


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    """An error as a page in plain words (a 404 says no more than that nothing is
    here: another facility's pages are not found, never forbidden)."""
    heading = _PAGE_ERRORS.get(status, title)
    if status == 404:
        text = "There is nothing at this address, or it is not yours to see."
    else:
        text = detail[:1].upper() + detail[1:] if detail else title
    link = {"href": "/", "text": "Go to the start"}
    return render(request, "message.html", status, heading=heading, text=text, link=link)


def redirect(request: Request, url: str) -> RedirectResponse:
    """See-other to a page of this site (after a form is posted)."""
    response = RedirectResponse(url, status_code=303)
    _finish(request, response)
    return response


def _finish(request: Request, response: Response) -> None:
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    if getattr(request.state, "csrf_new", False):
        response.set_cookie(
            CSRF_COOKIE,
            request.state.csrf,
            httponly=True,
            samesite="strict",
            secure=request.app.state.secure_cookies,
            path="/",
        )


def set_session_cookie(request: Request, response: Response, token: str | None) -> None:
    """Sign the browser in (a token) or out (None)."""
    if token is None:
        response.delete_cookie(SESSION_COOKIE, path="/")
        return
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.app.state.secure_cookies,
        path="/",
    )


async def read_form(request: Request) -> dict[str, list[str]]:
    """A posted form's fields (each a list of its values), once its size and CSRF token
    are checked: 413 beyond :data:`MAX_FORM_BYTES`, 400 for a form that is not
    URL-encoded UTF-8, 403 without the browser's CSRF token."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(400, "a form is sent as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, f"a form has at most {MAX_FORM_BYTES:,} bytes")
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, "the form cannot be read as URL-encoded UTF-8") from exc
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    given = (form.get(CSRF_FIELD) or [""])[0]
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            403, "this form has expired or did not come from this site: open the page again"
        )
    return form


def field(form: Form, name: str) -> str:
    """A form field's first value, stripped ('' when it is not there)."""
    values = form.get(name)
    return values[0].strip() if values else ""


def current_visitor(request: Request) -> Visitor | None:
    """Who is signed in on this request (looked up once), or None."""
    if hasattr(request.state, "visitor"):
        found: Visitor | None = request.state.visitor
        return found
    token = request.cookies.get(SESSION_COOKIE, "")
    state = request.app.state
    found = None
    if token:
        with state.sessions() as session:
            found = visitor_of(session, token, now=state.clock())
            session.commit()
    request.state.visitor = found
    return found


def signed_in(request: Request) -> Visitor:
    """A dependency: who is signed in, or the browser is sent to sign in first."""
    found = current_visitor(request)
    if found is None:
        back_to = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(back_to)
    return found


def safe_next(value: str) -> str:
    """Where to go after signing in: a path of this site only, never another site."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def install(app: FastAPI, secure_cookies: bool) -> None:
    """The pages' shared parts on the app: the stylesheet and script, and the sign-in
    redirect."""
    app.state.secure_cookies = secure_cookies

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        kind = _STATIC.get(name)
        if kind is None:
            raise HTTPException(404, f"no file {name!r} here")
        content = (HERE / "static" / name).read_bytes()
        return Response(content, media_type=kind, headers={"Cache-Control": "max-age=3600"})

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        url = "/login?" + urllib.parse.urlencode({"next": safe_next(exc.back_to)})
        return redirect(request, url)
