"""Books uploaded over the API and scored in the background by the batch engine.

An upload is written to a private folder as it arrives (refused beyond
:data:`MAX_BOOK_BYTES`), then kept in the database (:mod:`scoring.service.book_files`)
with its queued job. A worker that claims the job (:mod:`scoring.service.jobs`) copies
the book to a folder of its own and :func:`scoring.portfolio.run.score_book` scores it -
the same run as ``carescore batch``, with the same reader and its budget, so a hostile
file is refused as the CLI refuses it. The job row tells its progress (rows done) and,
when done, rows read = rows scored + rows rejected; the scored book (CSV), its errors
and its warnings are kept in the database for download from any instance.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import AsyncIterable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from scoring.errors import InputError
from scoring.portfolio.run import score_book
from scoring.rating.engine import RatingEngine
from scoring.service.book_files import (
    RESULT_KINDS,
    RESULT_NAMES,
    copy_to,
    legacy_folder,
    store_path,
)
from scoring.service.tables import BookJob

MAX_BOOK_BYTES = 256 * 1024 * 1024
"""The largest book accepted over HTTP (a larger one is scored with ``carescore batch``)."""
BOOK_SUFFIXES = (".csv", ".xlsx", ".parquet")
FILES = RESULT_NAMES
"""The files of a scored book, by what they are."""


class TooLargeError(ValueError):
    """An upload beyond :data:`MAX_BOOK_BYTES`."""


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


def score_job(
    session: Session,
    engine: RatingEngine,
    data: Path,
    job: BookJob,
    keep_alive: Callable[[int], None],
) -> dict[str, Any]:
    """Score a claimed job's book in a folder of its own under ``data`` (removed
    after), keeping its result files in the session (not committed); the job's columns
    as the run ended (``done``, or ``failed`` with the reader's refusal).
    ``keep_alive(rows_done)`` is called as each chunk is scored; what it raises stops
    the run and is raised here."""
    folder = data / "books" / f"run-{job.id}-{uuid.uuid4().hex[:12]}"
    try:
        source = folder / job.filename
        if not copy_to(session, job.id, "book", source):
            kept = legacy_folder(data, job.id) / job.filename
            if not kept.is_file():
                detail = (
                    f"{job.filename}: the uploaded book is neither in the database nor in "
                    "this instance's data folder: upload it again"
                )
                return {"status": "failed", "problem": {"detail": detail}}
            folder.mkdir(parents=True)
            shutil.copyfile(kept, source)
        results = folder / "results"
        results.mkdir()
        try:
            summary = score_book(
                source,
                results / RESULT_NAMES["scored"],
                engine,
                as_of=job.as_of,
                limit=job.limit_code,
                retention=job.retention_code,
                progress=lambda done, _scored: keep_alive(done),
            )
        except InputError as exc:
            return {"status": "failed", "problem": _problem(exc, folder)}
        where = f"{folder}/".encode()
        for kind in RESULT_KINDS:
            if (results / RESULT_NAMES[kind]).is_file():
                store_path(session, job.id, kind, results / RESULT_NAMES[kind], strip=where)
        return {
            "status": "done",
            "rows_done": summary.rows_read,
            "rows_read": summary.rows_read,
            "rows_scored": summary.rows_scored,
            "rows_rejected": summary.rows_rejected,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _problem(exc: InputError, folder: Path) -> dict[str, Any]:
    """The reader's refusal, naming the book as it was uploaded (not where it is kept)."""
    where = f"{folder}/"
    issues = [
        {k: v.replace(where, "") if isinstance(v, str) else v for k, v in i.to_dict().items()}
        for i in exc.issues
    ]
    return {"detail": str(exc).replace(where, ""), "issues": issues}
