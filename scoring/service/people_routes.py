"""The agent API's routes for people: an agency admin manages the agency's users, and
a person signs in for a token that acts as them (:mod:`scoring.service.people`).

Sign-in tries are limited per email and per client address, as the browser's are
(:class:`~scoring.service.web.account_pages.AccountLimits`); a wrong email and a wrong
password get the same answer.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Header, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from scoring.service import people
from scoring.service.caller import Id, Me, bearer
from scoring.service.schemas import (
    CallerOut,
    PasswordLink,
    SignedIn,
    SignIn,
    UserCreated,
    UserIn,
    UserOut,
    UserPatch,
    caller_out,
    password_link_out,
    user_out,
)
from scoring.service.tables import utc
from scoring.service.tenant import NotFoundError
from scoring.service.web.account_pages import attempt_wait

router = APIRouter()


@router.get("/v1/me", response_model=CallerOut, tags=["users"])
def who_am_i(me: Me) -> CallerOut:
    """Who this key or token acts as: its organisation, its role, how the audit log
    names it, and the one facility it is limited to, if any."""
    organisation = me.organisation()
    me.commit()
    return caller_out(organisation, me.caller)


@router.get("/v1/users", response_model=list[UserOut], tags=["users"])
def list_users(me: Me) -> list[UserOut]:
    """The agency's users, oldest first (disabled ones included; never a password)."""
    found = me.users()
    me.commit()
    return [user_out(u) for u in found]


@router.post("/v1/users", status_code=201, response_model=UserCreated, tags=["users"])
def add_user(me: Me, body: UserIn) -> UserCreated:
    """Add a person to the agency, with a role. They have no password yet: give them
    the answer's link (``/reset/cr_...`` on this service), with which they choose one
    within 72 hours. The link is in this answer only."""
    user, token, expires = me.add_user(body.email, body.name, body.role)
    me.commit()
    return UserCreated(
        **user_out(user).model_dump(), password_link=password_link_out(token, expires)
    )


@router.get("/v1/users/{user_id}", response_model=UserOut, tags=["users"])
def get_user(me: Me, user_id: Id) -> UserOut:
    found = me.user(user_id)
    me.commit()
    return user_out(found)


@router.patch("/v1/users/{user_id}", response_model=UserOut, tags=["users"])
def change_user(me: Me, user_id: Id, body: UserPatch) -> UserOut:
    """Give the user another name or role (409 for the agency's last admin's role)."""
    if body.name is None and body.role is None:
        raise HTTPException(422, "give the user's new name or role (or both)")
    changed = me.change_user(user_id, body.name, body.role)
    me.commit()
    return user_out(changed)


@router.delete("/v1/users/{user_id}", response_model=UserOut, tags=["users"])
def disable_user(me: Me, user_id: Id) -> UserOut:
    """Disable the user: their sessions and tokens end now and they sign in no more
    (the record stays, as the audit log names it; 409 for the agency's last admin)."""
    disabled = me.disable_user(user_id)
    me.commit()
    return user_out(disabled)


@router.post(
    "/v1/users/{user_id}/password-link",
    status_code=201,
    response_model=PasswordLink,
    tags=["users"],
)
def user_password_link(me: Me, user_id: Id) -> PasswordLink:
    """A new link with which the user chooses a password (a forgotten one, or a lost
    first link): in this answer only; it works once, within 72 hours."""
    token, expires = me.password_link(user_id)
    me.commit()
    return password_link_out(token, expires)


@router.post("/v1/sessions", status_code=201, response_model=SignedIn, tags=["users"])
async def sign_in(request: Request, body: SignIn) -> SignedIn:
    """Sign in as a person: a token that acts as them, with their role, for 12 hours
    (``Authorization: Bearer cu_...``). 401 for a wrong email or password, 429 after
    too many tries."""
    return await run_in_threadpool(_sign_in, request, body)


def _sign_in(request: Request, body: SignIn) -> SignedIn:
    email = body.email.strip().lower()
    wait = attempt_wait(request, email)
    if wait > 0:
        seconds = 3600 if math.isinf(wait) else max(1, math.ceil(wait))
        raise HTTPException(
            429, f"too many sign-in tries: try again in {seconds} s", {"Retry-After": str(seconds)}
        )
    state = request.app.state
    with state.sessions() as session:
        signed_in = people.sign_in(session, email, body.password, now=state.clock())
        session.commit()
        if signed_in is None:
            raise HTTPException(401, "the email address or the password is not right")
        token, expires, user = signed_in
        return SignedIn(
            token=token,
            expires_at=utc(expires),
            role=user.role,
            organisation_id=user.organisation_id,
        )


@router.delete("/v1/sessions/current", status_code=204, tags=["users"])
def sign_out(me: Me, authorization: str | None = Header(default=None)) -> Response:
    """End the token this request is made with (a person's sign-in token; an API key is
    revoked by ``DELETE /v1/api-keys/{key_id}``)."""
    if not people.sign_out(me.session, bearer(authorization), now=me.now):
        raise NotFoundError("sign-in session for this token (an API key is not one)")
    me.commit()
    return Response(status_code=204)
