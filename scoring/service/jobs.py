"""Book jobs run by any worker of any instance, at most one at a time, and again
after a worker stops.

A queued job is **claimed** by one ``UPDATE ... WHERE id = :id AND status = 'queued'``:
the database lets exactly one claimer change the row, on SQLite and PostgreSQL alike,
so two workers (of one instance or of several) never run the same job. The claimer
holds a **lease**: its id (``claimed_by``) and a heartbeat time, renewed as each chunk
of the book is scored. A job whose heartbeat is older than the lease (its worker died,
or the service restarted) is queued again - on start-up, and before every claim - and
a worker that lost its lease stops and records nothing. Each claim counts an attempt:
a job that fails for a reason other than its input is queued again until
:data:`MAX_ATTEMPTS`, then failed with a sentence; a book the reader refuses fails at
once with the reader's reasons.

The clock and the worker's id are given (the library reads neither a clock nor the
environment); :class:`BookRunner` is one instance's background worker.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from scoring.rating.engine import RatingEngine
from scoring.service.books import score_job
from scoring.service.tables import BookJob

LEASE = dt.timedelta(minutes=5)
"""How long a claim lasts without a heartbeat (a chunk of a book takes far less)."""
MAX_ATTEMPTS = 3
"""Claims of one job before it is failed."""
POLL_SECONDS = 5.0
"""How often an idle worker looks for queued jobs (an upload wakes its own at once)."""
_NO_SYNC = {"synchronize_session": False}


class LeaseLostError(RuntimeError):
    """The worker's claim on a job expired and another may hold it: stop, keep nothing."""


class StoppingError(RuntimeError):
    """The worker is stopping: give the job back to the queue."""


def _changed(session: Session, statement: Any) -> int:
    result = cast(CursorResult[Any], session.execute(statement, execution_options=_NO_SYNC))
    return int(result.rowcount)


def requeue_expired(
    session: Session,
    now: dt.datetime,
    *,
    lease: dt.timedelta = LEASE,
    max_attempts: int = MAX_ATTEMPTS,
) -> int:
    """Queue again every running job whose lease expired before ``now`` (fail those
    out of attempts, saying so); how many were queued again. Committed."""
    expired = or_(BookJob.heartbeat_at.is_(None), BookJob.heartbeat_at < now - lease)
    return _requeue(session, expired, now, max_attempts)


def running_workers(session: Session) -> set[str]:
    """The workers holding a running job (their ids, e.g. host and process id)."""
    held = select(BookJob.claimed_by).where(
        BookJob.status == "running", BookJob.claimed_by.is_not(None)
    )
    return {str(worker) for worker in session.scalars(held.distinct())}


def release_workers(
    session: Session,
    workers: Collection[str],
    now: dt.datetime,
    *,
    max_attempts: int = MAX_ATTEMPTS,
) -> int:
    """Queue again, without waiting for their leases, the running jobs of ``workers``
    known to have stopped (e.g. the processes of this machine that are gone after a
    restart); how many were queued again. Committed."""
    if not workers:
        return 0
    return _requeue(session, BookJob.claimed_by.in_(sorted(workers)), now, max_attempts)


def _requeue(session: Session, which: Any, now: dt.datetime, max_attempts: int) -> int:
    """Queue again the running jobs ``which`` selects, or fail those out of attempts."""
    expired = (BookJob.status == "running", which)
    detail = (
        f"the book was started {max_attempts} times and never finished: each time, the "
        "worker scoring it stopped (a restart, or the machine ran out of memory?); "
        "split it, or score it with carescore batch"
    )
    _changed(
        session,
        update(BookJob)
        .where(*expired, BookJob.attempts >= max_attempts)
        .values(status="failed", problem={"detail": detail}, finished_at=now),
    )
    queued = _changed(
        session,
        update(BookJob).where(*expired).values(status="queued", claimed_by=None, heartbeat_at=None),
    )
    session.commit()
    return queued


def claim(session: Session, job_id: int, worker: str, now: dt.datetime) -> bool:
    """Claim a queued job for ``worker``: True for the one claimer that wins it.
    Committed."""
    won = _changed(
        session,
        update(BookJob)
        .where(BookJob.id == job_id, BookJob.status == "queued")
        .values(
            status="running", claimed_by=worker, heartbeat_at=now, attempts=BookJob.attempts + 1
        ),
    )
    session.commit()
    return won == 1


def claim_next(session: Session, worker: str, now: dt.datetime) -> int | None:
    """Claim the oldest queued job another worker does not win first; its id, or None
    when none is queued."""
    while True:
        queued = list(
            session.scalars(
                select(BookJob.id).where(BookJob.status == "queued").order_by(BookJob.id).limit(8)
            )
        )
        session.commit()
        if not queued:
            return None
        for job_id in queued:
            if claim(session, job_id, worker, now):
                return job_id


def heartbeat(session: Session, job_id: int, worker: str, now: dt.datetime, rows_done: int) -> bool:
    """Renew ``worker``'s lease on a job and record its progress; False when the lease
    is no longer the worker's. Committed."""
    kept = _changed(
        session,
        update(BookJob)
        .where(BookJob.id == job_id, BookJob.status == "running", BookJob.claimed_by == worker)
        .values(heartbeat_at=now, rows_done=rows_done),
    )
    session.commit()
    return kept == 1


def settle(session: Session, job_id: int, worker: str, values: dict[str, Any]) -> bool:
    """Record how ``worker``'s run of a job went (``values`` of its columns) with what
    the session holds (its result files), if the lease is still the worker's; else
    nothing is kept. Whether it was recorded."""
    kept = _changed(
        session,
        update(BookJob)
        .where(BookJob.id == job_id, BookJob.status == "running", BookJob.claimed_by == worker)
        .values(**values),
    )
    if kept != 1:
        session.rollback()
        return False
    session.commit()
    return True


def run_claimed(
    sessions: sessionmaker[Session],
    engine: RatingEngine,
    data: Path,
    job_id: int,
    worker: str,
    clock: Callable[[], dt.datetime],
    *,
    max_attempts: int = MAX_ATTEMPTS,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Score a job ``worker`` has claimed, renewing its lease as it goes, and record
    the outcome (done, failed, or queued again for another attempt)."""
    with sessions() as session:
        job = session.get(BookJob, job_id)
        if job is None or job.claimed_by != worker:
            return
        attempts = job.attempts

        def keep_alive(rows_done: int) -> None:
            if stopping():
                raise StoppingError("the worker is stopping")
            if not heartbeat(session, job_id, worker, clock(), rows_done):
                raise LeaseLostError(f"book {job_id} is no longer this worker's")

        try:
            values = score_job(session, engine, data, job, keep_alive)
        except LeaseLostError:
            session.rollback()
            return
        except StoppingError:
            session.rollback()
            values = {"status": "queued", "claimed_by": None, "heartbeat_at": None}
        except Exception as exc:  # a bug or the environment: tried again, then failed
            session.rollback()
            if attempts < max_attempts:
                values = {"status": "queued", "claimed_by": None, "heartbeat_at": None}
            else:
                detail = (
                    f"the book could not be scored ({type(exc).__name__}), "
                    f"{attempts} times: tell the service's administrator"
                )
                values = {"status": "failed", "problem": {"detail": detail}}
        if values["status"] in ("done", "failed"):
            values["finished_at"] = clock()
        settle(session, job_id, worker, values)


class BookRunner:
    """One instance's background worker: runs queued books one at a time, when woken
    (an upload) and every ``poll_seconds`` (books uploaded to other instances, and
    jobs whose worker stopped).

    Parameters
    ----------
    sessions, engine, data, clock
        The database, the model and rating plan, a folder for the files of the book
        being scored, and the current UTC time.
    worker
        This worker's id, unique among the instances sharing the database (e.g. host
        and process id).
    lease, max_attempts, poll_seconds
        See :data:`LEASE`, :data:`MAX_ATTEMPTS` and :data:`POLL_SECONDS`.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        engine: RatingEngine,
        data: Path,
        clock: Callable[[], dt.datetime],
        worker: str,
        *,
        lease: dt.timedelta = LEASE,
        max_attempts: int = MAX_ATTEMPTS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.sessions, self.engine, self.data, self.clock = sessions, engine, data, clock
        self.worker, self.lease, self.max_attempts = worker, lease, max_attempts
        self.poll_seconds = poll_seconds
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="carescore-book")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending = False
        self._poller: threading.Thread | None = None

    def wake(self) -> None:
        """Look for queued books soon (once, however often woken meanwhile)."""
        with self._lock:
            if self._pending or self._stop.is_set():
                return
            self._pending = True
        self._pool.submit(self.drain)

    def drain(self) -> int:
        """Queue again the jobs whose lease expired, then run queued books until none
        is left; how many were run."""
        with self._lock:
            self._pending = False
        ran = 0
        with self.sessions() as session:
            now = self.clock()
            requeue_expired(session, now, lease=self.lease, max_attempts=self.max_attempts)
            while not self._stop.is_set():
                job_id = claim_next(session, self.worker, self.clock())
                if job_id is None:
                    break
                run_claimed(
                    self.sessions,
                    self.engine,
                    self.data,
                    job_id,
                    self.worker,
                    self.clock,
                    max_attempts=self.max_attempts,
                    stopping=self._stop.is_set,
                )
                ran += 1
        return ran

    def start(self) -> None:
        """Run what is queued (and what a stopped worker left), then look every
        ``poll_seconds``."""
        self.wake()
        self._poller = threading.Thread(target=self._poll, name="carescore-book-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.wake()

    def stop(self) -> None:
        """Stop: a book being scored goes back to the queue at its next chunk, and this
        returns once it has, so that no connection is still held when the database is
        closed."""
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._poller is not None:
            self._poller.join()
