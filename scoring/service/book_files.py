"""A book job's files, kept in the database so that every instance of the service
reads the same ones.

An uploaded book and its results (the scored book, its errors and its warnings) are
rows of ``book_file``: chunks of at most :data:`CHUNK_BYTES`, in order. The database
is the one thing several instances already share (and back up), so a book uploaded to
one instance is scored by whichever claims it and downloaded from any. Files are
written and read a chunk at a time: neither an upload nor a download is held in
memory whole.

Books uploaded before the files moved into the database were kept in a data folder
(``<data>/books/<id>/``): :func:`adopt_legacy` copies them into the database (``serve``
does it as it starts), and until then they are read from that folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from scoring.service.tables import BookFile, BookJob

CHUNK_BYTES = 1024 * 1024
"""The largest chunk kept in one row."""
FileKind = Literal["book", "scored", "errors", "warnings"]
RESULT_NAMES: dict[str, str] = {
    "scored": "scored.csv",
    "errors": "scored.errors.csv",
    "warnings": "scored.warnings.csv",
}
"""The file the batch engine writes for each kind of result."""
RESULT_KINDS: tuple[FileKind, ...] = ("scored", "errors", "warnings")


def store(session: Session, job_id: int, kind: FileKind, pieces: Iterable[bytes]) -> int:
    """Keep ``pieces`` as the job's file of that kind (replacing any kept before), in
    chunks of at most :data:`CHUNK_BYTES`; its size in bytes. Not committed."""
    session.execute(delete(BookFile).where(BookFile.job_id == job_id, BookFile.kind == kind))
    pending, seq, size = bytearray(), 0, 0
    for piece in pieces:
        pending += piece
        size += len(piece)
        while len(pending) >= CHUNK_BYTES:
            session.add(
                BookFile(job_id=job_id, kind=kind, seq=seq, data=bytes(pending[:CHUNK_BYTES]))
            )
            del pending[:CHUNK_BYTES]
            seq += 1
            session.flush()
    if pending or seq == 0:
        session.add(BookFile(job_id=job_id, kind=kind, seq=seq, data=bytes(pending)))
    session.flush()
    return size


def store_path(
    session: Session, job_id: int, kind: FileKind, path: Path, *, strip: bytes = b""
) -> int:
    """Keep the file at ``path`` as the job's file of that kind, each line without
    ``strip`` (where the service ran the book, so that a row names the book as it was
    uploaded); its size in bytes. Not committed."""

    def pieces() -> Iterator[bytes]:
        with path.open("rb") as handle:
            if strip:  # a CSV the service wrote, by lines
                for line in handle:
                    yield line.replace(strip, b"")
            else:  # an upload, which may have no line at all
                while block := handle.read(CHUNK_BYTES):
                    yield block

    return store(session, job_id, kind, pieces())


def has(session: Session, job_id: int, kind: FileKind) -> bool:
    """Whether the job's file of that kind is kept."""
    query = select(BookFile.id).where(BookFile.job_id == job_id, BookFile.kind == kind).limit(1)
    return session.scalar(query) is not None


def chunks(sessions: sessionmaker[Session], job_id: int, kind: FileKind) -> Iterator[bytes]:
    """The job's file of that kind, a chunk at a time (each read on its own, so that a
    download holds one chunk in memory)."""
    with sessions() as session:
        ids = list(
            session.scalars(
                select(BookFile.id)
                .where(BookFile.job_id == job_id, BookFile.kind == kind)
                .order_by(BookFile.seq)
            )
        )
    for chunk_id in ids:
        with sessions() as session:
            data = session.scalar(select(BookFile.data).where(BookFile.id == chunk_id))
        if data:
            yield data


def copy_to(session: Session, job_id: int, kind: FileKind, target: Path) -> bool:
    """Write the job's file of that kind to ``target``; False when none is kept."""
    ids = list(
        session.scalars(
            select(BookFile.id)
            .where(BookFile.job_id == job_id, BookFile.kind == kind)
            .order_by(BookFile.seq)
        )
    )
    if not ids:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("xb") as handle:
        for chunk_id in ids:
            handle.write(
                session.scalar(select(BookFile.data).where(BookFile.id == chunk_id)) or b""
            )
    return True


def legacy_folder(data: Path, job_id: int) -> Path:
    """Where a book uploaded before its files moved into the database was kept."""
    return data / "books" / str(job_id)


def legacy_result(data: Path, job_id: int, kind: str) -> bytes | None:
    """A result of a book scored before its files moved into the database (None when
    this instance's data folder does not have it), naming the book as uploaded."""
    folder = legacy_folder(data, job_id)
    path = folder / "results" / RESULT_NAMES[kind]
    if not path.is_file():
        return None
    return path.read_bytes().replace(f"{folder}/".encode(), b"")


def adopt_legacy(session: Session, data: Path) -> int:
    """Copy into the database every file of ``data``'s legacy folders that it does not
    keep yet (the uploaded book, and its results naming the book as uploaded), so that
    every instance serves them; the folders are left as they are. How many files were
    copied. Committed job by job."""
    copied = 0
    for job_id, filename in session.execute(select(BookJob.id, BookJob.filename)).all():
        folder = legacy_folder(data, job_id)
        if not folder.is_dir():
            continue
        found: list[tuple[FileKind, Path, bytes]] = [("book", folder / filename, b"")]
        strip = f"{folder}/".encode()
        found += [(kind, folder / "results" / RESULT_NAMES[kind], strip) for kind in RESULT_KINDS]
        for kind, path, named in found:
            if path.is_file() and not path.is_symlink() and not has(session, job_id, kind):
                store_path(session, job_id, kind, path, strip=named)
                copied += 1
        session.commit()
    return copied
