"""Who calls the agent API, in one place: every ``/v1`` route that needs a caller takes
:data:`Me`, the caller's :class:`~scoring.service.tenant.Tenant`.

The dependency finds the caller by its ``Authorization: Bearer`` secret (an API key, an
invitation, or a person's token: :func:`scoring.service.people.bearer_caller`), counts
the call against the caller's rate limit, and checks the caller's role against the
action the route performs (:data:`scoring.service.roles.ROUTE_ACTIONS`) before the
route runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi import Path as PathParam
from starlette.exceptions import HTTPException

from scoring.service.people import bearer_caller
from scoring.service.roles import ROUTE_ACTIONS, require
from scoring.service.tenant import Tenant

MAX_ID = 2_147_483_647
"""Ids and versions are 32-bit integers in the database; larger ones exist nowhere."""
Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]


def bearer(authorization: str | None) -> str:
    """The key or token of an ``Authorization: Bearer ...`` header (empty without one)."""
    return (authorization or "").removeprefix("Bearer ").strip()


def _tenant(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Iterator[Tenant]:
    """The caller's organisation, from its key or token. Each route commits its reads
    and writes before it answers (:meth:`Tenant.commit`); anything else is rolled back."""
    state = request.app.state
    key = bearer(authorization)
    now = state.clock()
    with state.sessions() as session:
        caller = bearer_caller(session, key, now=now) if key else None
        if caller is None:
            raise HTTPException(
                401,
                "a valid API key, invitation or sign-in token is needed: "
                "Authorization: Bearer cs_...",
            )
        session.commit()  # the key's last use
        wait = state.rate.wait(caller.actor, now)
        if wait > 0:
            seconds = 3600 if math.isinf(wait) else max(1, math.ceil(wait))
            raise HTTPException(
                429,
                f"too many requests from this key: try again in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )
        route = request.scope.get("route")
        require(caller.role, ROUTE_ACTIONS.get(getattr(route, "name", "")))
        yield Tenant(session, caller, state.engine, now)


Me = Annotated[Tenant, Depends(_tenant)]
"""The caller's organisation: what a route reads and writes through."""
