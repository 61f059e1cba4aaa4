"""Book jobs: claimed by one worker at a time, run again after a worker stops, failed
after too many attempts, and their files kept where every instance reads them.

Each test runs on SQLite and on the real PostgreSQL the suite starts.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from scoring import default_engine
from scoring.service import book_files, jobs
from scoring.service.accounts import create_api_key, create_organisation
from scoring.service.api import create_app
from scoring.service.database import connect, migrate, sessions
from scoring.service.jobs import (
    BookRunner,
    claim,
    claim_next,
    heartbeat,
    release_workers,
    requeue_expired,
    running_workers,
    settle,
)
from scoring.service.rate import RateLimit
from scoring.service.tables import BookFile, BookJob
from tests.conftest import EXAMPLES

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
UNLIMITED = RateLimit(burst=10**9)
PORTFOLIO = EXAMPLES / "portfolio.csv"


@dataclass
class Setup:
    database: Engine
    headers: dict[str, str]
    organisation: int


@pytest.fixture
def setup(database_url: str) -> Iterator[Setup]:
    database = connect(database_url)
    migrate(database)
    with Session(database) as session:
        organisation = create_organisation(session, "Maple Agency", "agency", now=NOW)
        key = create_api_key(session, organisation, "books", now=NOW)
        session.commit()
    yield Setup(database, {"Authorization": f"Bearer {key}"}, organisation)
    database.dispose()


def _app(setup: Setup, folder: Path, *, run_books: bool = True, worker: str = "w") -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    return create_app(
        sessions(setup.database),
        default_engine(),
        lambda: NOW,
        folder,
        UNLIMITED,
        worker=worker,
        run_books=run_books,
    )


def _queued(setup: Setup, count: int) -> list[int]:
    with Session(setup.database) as session:
        made = [
            BookJob(
                organisation_id=setup.organisation,
                filename="book.csv",
                input_sha256="0" * 64,
                as_of=dt.date(2026, 11, 29),
                status="queued",
                rows_done=0,
                created_at=NOW,
            )
            for _ in range(count)
        ]
        session.add_all(made)
        session.commit()
        return [job.id for job in made]


def _done_before_files_were_kept(setup: Setup) -> int:
    """A job scored by an earlier version, which kept its files in the data folder."""
    (job_id,) = _queued(setup, 1)
    with Session(setup.database) as session:
        session.execute(update(BookJob).where(BookJob.id == job_id).values(status="done"))
        session.commit()
    return job_id


def _upload(client: TestClient, setup: Setup) -> int:
    queued = client.post(
        "/v1/books?filename=portfolio.csv&as_of=2026-11-29",
        content=PORTFOLIO.read_bytes(),
        headers=setup.headers,
    )
    assert queued.status_code == 202, queued.text
    return int(queued.json()["id"])


def _finished(client: TestClient, setup: Setup, book: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/v1/books/{book}", headers=setup.headers).json()
        if job["status"] in ("done", "failed"):
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"book {book} still {job['status']}")


def _race(setup: Setup, claimers: int, work: Any) -> list[Any]:
    """``work(session, name)`` in ``claimers`` threads at once, each on its own
    connection; what each returned."""
    start = threading.Barrier(claimers)
    results: list[Any] = [None] * claimers

    def one(n: int) -> None:
        with Session(setup.database) as session:
            start.wait()
            results[n] = work(session, f"worker-{n}")

    threads = [threading.Thread(target=one, args=(n,)) for n in range(claimers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_of_several_workers_claiming_one_job_at_once_exactly_one_wins(setup: Setup) -> None:
    for job_id in _queued(setup, 5):
        won = _race(setup, 6, lambda session, name, j=job_id: claim(session, j, name, NOW))
        assert won.count(True) == 1, won
        with Session(setup.database) as session:
            job = session.get(BookJob, job_id)
            assert job is not None
            assert (job.status, job.attempts) == ("running", 1)
            assert job.claimed_by == f"worker-{won.index(True)}"


def test_workers_taking_the_next_job_at_once_each_take_a_different_one(setup: Setup) -> None:
    queued = _queued(setup, 4)
    taken = _race(setup, 6, lambda session, name: claim_next(session, name, NOW))
    assert sorted(t for t in taken if t is not None) == queued
    assert taken.count(None) == 2


def test_an_expired_lease_is_queued_again_and_the_old_worker_keeps_nothing(setup: Setup) -> None:
    (job_id,) = _queued(setup, 1)
    later = NOW + jobs.LEASE + dt.timedelta(seconds=1)
    with Session(setup.database) as session:
        assert claim(session, job_id, "first", NOW)
        assert heartbeat(session, job_id, "first", NOW, 10)
        assert requeue_expired(session, NOW + jobs.LEASE) == 0  # a lease still held
        assert claim_next(session, "second", NOW) is None
        assert requeue_expired(session, later) == 1
        assert claim(session, job_id, "second", later)
        assert not heartbeat(session, job_id, "first", later, 20)
        assert not settle(session, job_id, "first", {"status": "done"})
        job = session.get(BookJob, job_id)
        assert job is not None
        session.refresh(job)
        assert (job.status, job.claimed_by, job.attempts, job.rows_done) == (
            "running",
            "second",
            2,
            10,
        )


def test_the_jobs_of_stopped_workers_are_queued_again_at_once_and_no_other(
    setup: Setup,
) -> None:
    stopped, alive, out_of_attempts = _queued(setup, 3)
    with Session(setup.database) as session:
        assert claim(session, stopped, "here:101", NOW)
        assert claim(session, alive, "here:102", NOW)
        assert claim(session, out_of_attempts, "here:103", NOW)
        session.execute(update(BookJob).where(BookJob.id == out_of_attempts).values(attempts=3))
        session.commit()
        assert running_workers(session) == {"here:101", "here:102", "here:103"}
        assert release_workers(session, set(), NOW) == 0
        # leases still held: only naming the worker as stopped releases its job
        assert release_workers(session, {"here:101", "here:103"}, NOW) == 1
        states = {job.id: job.status for job in session.scalars(select(BookJob))}
        assert states == {stopped: "queued", alive: "running", out_of_attempts: "failed"}
        assert claim_next(session, "here:104", NOW) == stopped


def test_an_operator_lists_the_workers_holding_books_and_releases_the_ones_gone(
    setup: Setup, database_url: str
) -> None:
    from typer.testing import CliRunner

    from scoring.cli.app import app as cli

    gone, alive = _queued(setup, 2)
    with Session(setup.database) as session:
        assert claim(session, gone, "far-away:7", NOW)
        assert claim(session, alive, "elsewhere:8", NOW)
        session.commit()
    runner = CliRunner()
    url = ["--database-url", database_url]
    listed = runner.invoke(cli, ["admin", "release-worker", *url])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == ["elsewhere:8", "far-away:7"]
    released = runner.invoke(cli, ["admin", "release-worker", "far-away:7", "nobody:9", *url])
    assert released.exit_code == 0, released.output
    assert released.stdout.strip() == "1 book(s) queued again"
    assert "holding no book: nobody:9" in released.stderr
    with Session(setup.database) as session:
        states = {job.id: (job.status, job.claimed_by) for job in session.scalars(select(BookJob))}
    assert states == {gone: ("queued", None), alive: ("running", "elsewhere:8")}


def test_a_restarted_service_finds_this_machines_stopped_workers_only() -> None:
    from scoring.cli.serve import stopped_here

    host = socket.gethostname()[:80]
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    gone = f"{host}:{int(ended.stdout)}"
    here = f"{host}:{os.getpid()}"
    elsewhere = f"another-{host}:{int(ended.stdout)}"
    assert stopped_here({gone, here, elsewhere, f"{host}:not-a-pid"}) == {gone}


def test_a_job_out_of_attempts_is_failed_with_a_sentence(setup: Setup) -> None:
    (job_id,) = _queued(setup, 1)
    with Session(setup.database) as session:
        session.execute(
            update(BookJob)
            .where(BookJob.id == job_id)
            .values(status="running", claimed_by="gone", heartbeat_at=NOW, attempts=3)
        )
        session.commit()
        assert requeue_expired(session, NOW + dt.timedelta(hours=1)) == 0
        job = session.get(BookJob, job_id)
        assert job is not None
        session.refresh(job)
        assert job.status == "failed"
        assert job.problem is not None
        assert "started 3 times and never finished" in str(job.problem["detail"])


def test_a_run_that_breaks_is_tried_again_then_failed_saying_how_often(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[int] = []

    def broken(*_args: Any) -> dict[str, Any]:
        tries.append(1)
        raise OSError("the disk is full")

    monkeypatch.setattr(jobs, "score_job", broken)
    (job_id,) = _queued(setup, 1)
    runner = BookRunner(
        sessions(setup.database), default_engine(), tmp_path, lambda: NOW, "w", max_attempts=2
    )
    assert runner.drain() == 2
    assert len(tries) == 2
    with Session(setup.database) as session:
        job = session.get(BookJob, job_id)
        assert job is not None
        assert (job.status, job.attempts) == ("failed", 2)
        assert job.problem == {
            "detail": "the book could not be scored (OSError), 2 times: tell the service's "
            "administrator"
        }


def test_a_job_left_running_by_a_stopped_worker_is_run_again_after_a_restart(
    setup: Setup, tmp_path: Path
) -> None:
    with TestClient(_app(setup, tmp_path / "before", run_books=False)) as before:
        book = _upload(before, setup)
    with Session(setup.database) as session:  # the worker died half way through
        session.execute(
            update(BookJob)
            .where(BookJob.id == book)
            .values(
                status="running",
                claimed_by="dead:1",
                heartbeat_at=NOW - dt.timedelta(hours=1),
                attempts=1,
                rows_done=120,
            )
        )
        session.commit()
    with TestClient(_app(setup, tmp_path / "after", worker="after:2")) as after:
        job = _finished(after, setup, book)
        assert job["status"] == "done", job
        assert job["rows_read"] == job["rows_scored"] + job["rows_rejected"] == 240
        scored = after.get(f"/v1/books/{book}/files/scored", headers=setup.headers)
        assert scored.status_code == 200
        lines = scored.content.decode().splitlines()
        assert len(lines) == 1 + job["rows_scored"]
        assert str(tmp_path) not in scored.text
    with Session(setup.database) as session:
        stored = session.get(BookJob, book)
        assert stored is not None
        assert (stored.attempts, stored.claimed_by) == (2, "after:2")


def test_a_book_uploaded_to_one_instance_is_scored_and_downloaded_by_another(
    setup: Setup, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    with TestClient(_app(setup, first, run_books=False)) as one:
        book = _upload(one, setup)
        with TestClient(_app(setup, second, worker="second:1")) as other:
            job = _finished(other, setup, book)
            assert job["status"] == "done", job
            assert job["rows_read"] == job["rows_scored"] + job["rows_rejected"] == 240
            for kind in ("scored", "errors", "warnings"):
                here = one.get(f"/v1/books/{book}/files/{kind}", headers=setup.headers)
                there = other.get(f"/v1/books/{book}/files/{kind}", headers=setup.headers)
                assert here.status_code == there.status_code == 200
                assert here.content == there.content
    assert not [p for p in first.rglob("*") if p.is_file()]  # nothing kept in a folder
    assert not [p for p in second.rglob("*") if p.is_file()]


def test_a_book_is_kept_in_chunks_and_read_back_byte_for_byte(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(book_files, "CHUNK_BYTES", 1_000)
    (job_id,) = _queued(setup, 1)
    upload = tmp_path / "book.csv"
    upload.write_bytes(bytes(range(256)) * 30)  # 7,680 bytes, no line to split by
    with Session(setup.database) as session:
        assert book_files.store_path(session, job_id, "book", upload) == 7_680
        session.commit()
        sizes = session.scalars(
            select(func.length(BookFile.data)).where(BookFile.job_id == job_id)
        ).all()
        assert sorted(sizes) == [680] + [1_000] * 7
        assert book_files.copy_to(session, job_id, "book", tmp_path / "copy" / "book.csv")
    read = b"".join(book_files.chunks(sessions(setup.database), job_id, "book"))
    assert read == upload.read_bytes() == (tmp_path / "copy" / "book.csv").read_bytes()


def test_a_worker_that_stops_gives_its_book_back_to_the_queue(setup: Setup, tmp_path: Path) -> None:
    with TestClient(_app(setup, tmp_path / "in", run_books=False)) as client:
        book = _upload(client, setup)
    with Session(setup.database) as session:
        assert claim(session, book, "stopping", NOW)
    jobs.run_claimed(
        sessions(setup.database),
        default_engine(),
        tmp_path,
        book,
        "stopping",
        lambda: NOW,
        stopping=lambda: True,
    )
    with Session(setup.database) as session:
        job = session.get(BookJob, book)
        assert job is not None
        assert (job.status, job.claimed_by, job.attempts) == ("queued", None, 1)
        assert not book_files.has(session, book, "scored")


def test_a_book_scored_before_its_files_were_in_the_database_is_still_downloaded(
    setup: Setup, tmp_path: Path
) -> None:
    job_id = _done_before_files_were_kept(setup)
    folder = tmp_path / "books" / str(job_id)
    (folder / "results").mkdir(parents=True)
    (folder / "results" / "scored.csv").write_text(f"source,row\n{folder}/book.csv,1\n")
    with TestClient(_app(setup, tmp_path, run_books=False)) as client:
        got = client.get(f"/v1/books/{job_id}/files/scored", headers=setup.headers)
        assert got.status_code == 200
        assert got.text == "source,row\nbook.csv,1\n"


def test_files_kept_in_a_data_folder_are_copied_into_the_database_for_every_instance(
    setup: Setup, tmp_path: Path
) -> None:
    job_id = _done_before_files_were_kept(setup)
    old = tmp_path / "old"
    folder = old / "books" / str(job_id)
    (folder / "results").mkdir(parents=True)
    (folder / "book.csv").write_bytes(b"facility_id\nF-1\n")
    (folder / "results" / "scored.csv").write_text(f"source,row\n{folder}/book.csv,1\n")
    with Session(setup.database) as session:
        assert book_files.adopt_legacy(session, old) == 2
        assert book_files.adopt_legacy(session, old) == 0  # once only
    assert (folder / "results" / "scored.csv").is_file()  # the folder is left as it was
    with TestClient(_app(setup, tmp_path / "elsewhere", run_books=False)) as other:
        got = other.get(f"/v1/books/{job_id}/files/scored", headers=setup.headers)
        assert got.status_code == 200
        assert got.text == "source,row\nbook.csv,1\n"
    with Session(setup.database) as session:
        assert b"".join(book_files.chunks(sessions(setup.database), job_id, "book")) == (
            b"facility_id\nF-1\n"
        )
        assert not book_files.has(session, job_id, "errors")
