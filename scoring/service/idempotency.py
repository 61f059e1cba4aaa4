"""``Idempotency-Key`` on POSTs: a retried request gets the first answer, not a second
record.

The first request with a key claims it (a row, unique per organisation and key)
before it runs; its answer is kept with it. The same key with the same request
(method, path, query and body) gets the kept answer again; with another request it
is refused (422); while the first is still running, 409. An answer of 500 or more is
not kept, so the request can be retried.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scoring.service.tables import IdempotentRequest

MAX_KEY = 200


@dataclass(frozen=True)
class Kept:
    """The answer kept for a key."""

    status: int
    body: bytes
    content_type: str | None


@dataclass(frozen=True)
class Refused:
    """Why a key cannot be used for this request: an HTTP status and a sentence."""

    status: int
    detail: str


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """sha256 of what makes two requests the same one."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def claim(
    session: Session, organisation_id: int, key: str, request_sha256: str, now: dt.datetime
) -> int | Kept | Refused:
    """Claim ``key`` for this request: the claim's id to :func:`settle` once answered,
    the answer kept for it, or why it cannot be used."""
    found = session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.organisation_id == organisation_id, IdempotentRequest.key == key
        )
    )
    if found is None:
        made = IdempotentRequest(
            organisation_id=organisation_id,
            key=key,
            request_sha256=request_sha256,
            created_at=now,
        )
        session.add(made)
        try:
            session.commit()
        except IntegrityError:  # claimed by a request running at the same time
            session.rollback()
            return Refused(409, "a request with this Idempotency-Key is being answered")
        return made.id
    if found.request_sha256 != request_sha256:
        return Refused(422, "this Idempotency-Key was used for another request")
    if found.status is None or found.body is None:
        return Refused(409, "a request with this Idempotency-Key is being answered")
    return Kept(found.status, found.body, found.content_type)


def settle(
    session: Session, claim_id: int, status: int, body: bytes, content_type: str | None
) -> None:
    """Keep the answer of a claimed request (or let the key go after a server error)."""
    found = session.get(IdempotentRequest, claim_id)
    if found is None:
        return
    if status >= 500:
        session.delete(found)
    else:
        found.status, found.body, found.content_type = status, body, content_type
    session.commit()
