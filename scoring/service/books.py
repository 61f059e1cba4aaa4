"""Books uploaded over the API and scored in the background by the batch engine.

An upload is written to the service's data folder as it arrives (refused beyond
:data:`MAX_BOOK_BYTES`), then :func:`scoring.portfolio.run.score_book` scores it -
the same run as ``carescore batch``, with the same reader and its budget, so a
hostile file is refused as the CLI refuses it - on one background worker, one book at
a time. The job row tells its progress (rows done) and, when done, rows read = rows
scored + rows rejected; the scored book (CSV), its errors and its warnings are kept
beside the upload for download.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import AsyncIterable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from scoring.errors import InputError
from scoring.portfolio.run import score_book
from scoring.rating.engine import RatingEngine
from scoring.service.tables import BookJob

MAX_BOOK_BYTES = 256 * 1024 * 1024
"""The largest book accepted over HTTP (a larger one is scored with ``carescore batch``)."""
BOOK_SUFFIXES = (".csv", ".xlsx", ".parquet")
FILES = {"scored": "scored.csv", "errors": "scored.errors.csv", "warnings": "scored.warnings.csv"}
"""The files of a scored book, by what they are."""


class TooLargeError(ValueError):
    """An upload beyond :data:`MAX_BOOK_BYTES`."""


def job_folder(data: Path, job_id: int) -> Path:
    return data / "books" / str(job_id)


def book_name(filename: str) -> str:
    """The name a book is kept under: the uploaded file's own name, without any folder;
    ValueError for a name the batch engine cannot read by."""
    name = Path(filename.replace("\\", "/")).name
    suffix = Path(name).suffix.lower()
    if not name or name.startswith(".") or suffix not in BOOK_SUFFIXES:
        raise ValueError(f"a book is named *{', *'.join(BOOK_SUFFIXES)}; got {filename!r}")
    return name


async def save_upload(chunks: AsyncIterable[bytes], target: Path) -> str:
    """Write an upload to ``target`` as it arrives; its sha256.

    Raises
    ------
    TooLargeError
        Beyond :data:`MAX_BOOK_BYTES` (nothing is kept).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    try:
        with target.open("xb") as handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > MAX_BOOK_BYTES:
                    raise TooLargeError(f"a book is at most {MAX_BOOK_BYTES:,} bytes over HTTP")
                digest.update(chunk)
                handle.write(chunk)
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    return digest.hexdigest()


def run_job(
    sessions: sessionmaker[Session],
    engine: RatingEngine,
    data: Path,
    job_id: int,
    clock: Callable[[], dt.datetime],
) -> None:
    """Score a queued book and record how it went (run by the background worker)."""
    with sessions() as session:
        job = session.get(BookJob, job_id)
        if job is None or job.status != "queued":
            return
        job.status = "running"
        session.commit()
        folder = job_folder(data, job_id)
        source = folder / job.filename
        results = folder / "results"
        results.mkdir(exist_ok=True)

        def progress(done: int, _scored: int) -> None:
            job.rows_done = done
            session.commit()

        try:
            summary = score_book(
                source,
                results / FILES["scored"],
                engine,
                as_of=job.as_of,
                limit=job.limit_code,
                retention=job.retention_code,
                progress=progress,
            )
        except InputError as exc:
            job.status = "failed"
            job.problem = _problem(exc, folder)
        except Exception as exc:  # a bug or the environment: the job says so, never hangs
            session.rollback()
            job.status = "failed"
            job.problem = {"detail": f"the book could not be scored ({type(exc).__name__})"}
        else:
            job.status = "done"
            job.rows_done = summary.rows_read
            job.rows_read = summary.rows_read
            job.rows_scored = summary.rows_scored
            job.rows_rejected = summary.rows_rejected
        job.finished_at = clock()
        session.commit()


def _problem(exc: InputError, folder: Path) -> dict[str, Any]:
    """The reader's refusal, naming the book as it was uploaded (not where it is kept)."""
    where = f"{folder}/"
    issues = [
        {k: v.replace(where, "") if isinstance(v, str) else v for k, v in i.to_dict().items()}
        for i in exc.issues
    ]
    return {"detail": str(exc).replace(where, ""), "issues": issues}


def result_file(data: Path, job_id: int, kind: str) -> bytes:
    """A scored book's file (``scored``, ``errors`` or ``warnings``), naming the book as it
    was uploaded (its ``source`` column is the name, not where the service keeps it)."""
    folder = job_folder(data, job_id)
    content = (folder / "results" / FILES[kind]).read_bytes()
    return content.replace(f"{folder}/".encode(), b"")
