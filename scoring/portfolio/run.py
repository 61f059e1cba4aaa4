"""Rescoring a whole book: chunk by chunk, every row accounted for, outputs made atomically.

:func:`score_book` reads a book in chunks (:func:`~scoring.responses.reading.iter_responses`)
and scores them on threads (:func:`~scoring.portfolio.batch.score_chunk`). Each
chunk's scored rows and errors are kept as a *part* (an Arrow file) in a work folder
beside the output (``<output>.parts/``), written aside and renamed when complete,
and are added, in book order, to the output and the errors file, which are written
under names ending ``.partial`` (:class:`~scoring.portfolio.book_files.BookFiles`).

A facility id on more than one row is refused on every row it is on. Within a
chunk, validation sees it; across chunks, each chunk's id hashes are kept as the
book is read (8 bytes a row), and when a book has ids in more than one chunk, the
chunks holding them are scored again knowing those ids, and the output and errors
file are made again from the parts - the files any chunking gives.

When every chunk is done and the input has not changed, the output and errors file
are renamed into place, a manifest is written beside the output, and the work
folder is removed. The input's sha256 (part of what makes a run the same run, for
``resume``) is taken on a thread while the book is read, and no part is written
before it is. An interrupted run leaves no
file that looks complete; ``resume=True`` keeps the parts of the same input and
settings and scores only the chunks that are missing, so the final files are the
same as an uninterrupted run's; a run that fails in a way ``resume`` could not finish
(an input that cannot be scored, a bug) removes its work folder.

Before anything is read, every file the run writes is checked against the book and
against one another (:func:`~scoring.portfolio.book_files.check_book_paths`), and
the run then holds a lock on its output and its errors file
(:class:`~scoring._outputs.RunLock`): a second run to either is refused, and the
first run's files are untouched.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import json
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits

from scoring._files import file_sha256, require_regular_file
from scoring._outputs import RunLock, write_through
from scoring.errors import InputError, Issue
from scoring.portfolio import CHUNK_ROWS
from scoring.portfolio.batch import (
    TOP_FIXES,
    ChunkResult,
    score_chunk,
)
from scoring.portfolio.book_files import (
    MANIFEST_SUFFIX,
    BookFiles,
    check_book_paths,
    check_output,
    errors_path_for,
    errors_table,
    file_stamp,
    fresh_parts_folder,
    has_parts,
    part_path,
    parts_folder,
    read_advice_part,
    read_parts,
    write_part,
    write_settings,
)
from scoring.rating.engine import RatingEngine
from scoring.responses.reading import (
    RawResponses,
    chunk_id_hashes,
    ids_across_chunks,
    iter_responses,
)
from scoring.vocabulary import Reason


@dataclass(frozen=True)
class BookSummary:
    """What a run did: rows read = rows scored + rows rejected, always."""

    input: str
    output: str
    errors: str
    rows_read: int
    rows_scored: int
    rows_rejected: int
    chunks: int
    chunks_resumed: int
    seconds: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    warnings: str = ""
    """The warnings file: every warning, of scored and rejected rows."""
    rows_warned: int = 0
    """Scored rows with at least one warning (a blank or unknown answer priced as
    worst, a cell read one of two ways ...)."""
    advice: str = ""
    """The advice file, when asked for: one row per facility and fix."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Progress = Callable[[int, int], None]
"""Called after each chunk with (rows done, rows scored so far)."""


@dataclass
class Tally:
    """What a run has done so far; :func:`finish_book` turns it into a ``BookSummary``."""

    started: float = field(default_factory=time.perf_counter)
    """``time.perf_counter()`` when the run started."""
    chunks: int = 0
    reused: int = 0
    """Chunks whose parts an interrupted run had finished."""
    rows_read: int = 0
    rows_scored: int = 0
    seconds: dict[str, float] = field(
        default_factory=lambda: {"read": 0.0, "score": 0.0, "write": 0.0}
    )
    """Time spent reading, scoring and writing, summed over threads or workers."""
    stopped: bool = False
    """The caller stopped the run (its progress callback raised): its parts are kept."""

    def report(self, progress: Progress | None) -> None:
        """Tell ``progress`` how far the run is; an exception it raises stops the run."""
        if progress is None:
            return
        try:
            progress(self.rows_read, self.rows_scored)
        except BaseException:
            self.stopped = True
            raise


def run_settings(
    engine: RatingEngine,
    source: Path,
    chunk_rows: int,
    limit: str | None,
    retention: str | None,
    as_of: dt.date,
    *,
    stamp: list[int] | None = None,
    stop: threading.Event | None = None,
    advice: bool = False,
) -> dict[str, Any]:
    """What makes a run the same run: its input, model, plan and settings. The input is
    hashed here (:func:`~scoring._files.file_sha256`, ended early by ``stop``); its
    stamp is taken here unless given, and before the hash, so that a change while it is
    hashed shows when the run ends."""
    stamp = stamp or file_stamp(source)
    return {
        "input": str(source),
        "input_sha256": file_sha256(source, stop),
        "stamp": stamp,
        "model_sha256": engine.model_sha256,
        "rating_plan_sha256": engine.plan_sha256,
        "chunk_rows": chunk_rows,
        "limit": limit,
        "retention": retention,
        "as_of": as_of.isoformat(),
        "fixes": TOP_FIXES,
        "warnings": True,
        "advice": advice,
    }


def score_book(
    source: Path,
    output: Path,
    engine: RatingEngine,
    *,
    as_of: dt.date,
    errors: Path | None = None,
    limit: str | None = None,
    retention: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    resume: bool = False,
    progress: Progress | None = None,
    threads: int = 1,
    advice: Path | None = None,
) -> BookSummary:
    """Score every row of a book into ``output`` (Parquet or CSV, by extension).

    Chunks are read in order and scored by ``threads`` threads (most of the work
    runs outside Python's lock: two threads kept 1.75-1.8 cores busy); at most
    ``threads + 1`` chunks are held at once. The output does not depend on the
    number of threads, nor on the chunks a repeated facility id falls in.

    ``advice`` (a CSV) gets one row per facility and fix
    (:mod:`scoring.portfolio.book_advice`).

    Raises
    ------
    InputError
        The input cannot be read (unsupported type, ragged or truncated rows, not
        UTF-8 ...), the output type is not supported, or a resume does not match.
        No output or errors file is written then.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1; got {threads}")
    tally = Tally()
    check_output(output)
    errors = errors or errors_path_for(output)
    seconds = tally.seconds
    clock = time.perf_counter()
    check_book_paths(source, output, errors, advice)
    require_regular_file(source)
    stop = threading.Event()  # ends the input's hash when the run fails
    settle = functools.partial(
        run_settings,
        engine,
        source,
        chunk_rows,
        limit,
        retention,
        as_of,
        stamp=file_stamp(source),
        stop=stop,
        advice=advice is not None,
    )
    hashes: list[np.ndarray] = []  # each chunk's facility-id hashes, to find repeated ids
    pending: collections.deque[tuple[int, Future[_Part]]] = collections.deque()

    def collect() -> None:
        rows, future = pending.popleft()
        part = future.result()
        clock = time.perf_counter()
        files.add(part.scored, part.errors, part.advice)
        seconds["score"] += part.score_seconds
        seconds["write"] += part.write_seconds + time.perf_counter() - clock
        tally.rows_read += rows
        tally.rows_scored += part.scored.num_rows
        tally.report(progress)

    # parallel by chunk: matrix products stay on one core each (BLAS's own threads
    # would compete with the chunks' threads for the same cores, and lose time)
    with (
        # before anything is written: a second run to either file is refused
        RunLock(output),
        RunLock(errors),
        ThreadPoolExecutor(1) as aside,
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(threads) as pool,
    ):
        files = BookFiles(output, errors, advice)
        ready: Future[dict[str, Any]] = Future()
        parts: Path | None = None
        resumed = False
        try:
            if resume:  # parts are kept only for the same input: it is hashed first
                settings = settle()
                parts, resumed = parts_folder(output, settings, resume)
                ready.set_result(settings)
            else:  # the input is hashed, and the settings written, while it is read
                parts, resumed = fresh_parts_folder(output), False
                ready = aside.submit(_settled, parts, settle)
            score = functools.partial(
                _score_part,
                engine,
                parts,
                ready,
                as_of=as_of,
                limit=limit,
                retention=retention,
                advice=advice is not None,
            )
            for index, raw in enumerate(iter_responses(source, chunk_rows)):
                seconds["read"] += time.perf_counter() - clock
                hashes.append(chunk_id_hashes(raw.table))
                kept = _kept_part(parts, index, advice is not None) if resumed else None
                if kept is not None:
                    tally.reused += 1
                    done: Future[_Part] = Future()
                    done.set_result(kept)
                    pending.append((raw.table.num_rows, done))
                else:
                    pending.append((raw.table.num_rows, pool.submit(score, index, raw)))
                tally.chunks += 1
                while len(pending) > threads:
                    collect()
                clock = time.perf_counter()
            while pending:
                collect()
            shared = ids_across_chunks(source, chunk_rows, hashes)
            if shared:
                _rescore(source, chunk_rows, shared, pool, score, threads)
                files.abort()
                files = BookFiles(output, errors, advice)
                tally.rows_scored = _rebuild(files, parts, tally.chunks)
            return finish_book(files, parts, source, engine, ready.result(), tally)
        except BaseException as exc:
            stop.set()
            # the chunks being scored end before their folder may be removed
            pool.shutdown(wait=True, cancel_futures=True)
            files.abort()
            if parts is not None and not resumable_failure(exc, resumed, tally.stopped):
                # a run that --resume could not finish leaves no work folder. The
                # settings are written first, or not at all (cancelled, or the hash
                # stopped at its next block: never waited on for a whole file).
                if not ready.cancel():
                    ready.exception()
                shutil.rmtree(parts, ignore_errors=True)
            raise


def resumable_failure(exc: BaseException, resumed: bool, stopped: bool = False) -> bool:
    """Whether ``--resume`` can finish a run that failed with ``exc``: after an
    interruption (Ctrl-C, or the caller stopping it: ``stopped``) or an environment
    failure (a full disk), yes; after an input that cannot be scored, or a bug, no (it
    would fail again) - except that a resumed run keeps the parts it was given."""
    if stopped:
        return True
    if isinstance(exc, InputError):
        return resumed
    return isinstance(exc, (KeyboardInterrupt, SystemExit, OSError, MemoryError))


def _kept_part(parts: Path, index: int, advice: bool) -> _Part | None:
    """A chunk's parts kept by an interrupted run, or None when they are missing or
    cannot be read (the chunk is scored again)."""
    if not has_parts(parts, index, advice):
        return None
    try:
        return _Part(*read_parts(parts, index), advice=read_advice_part(parts, index, advice))
    except (OSError, pa.ArrowException):
        return None


def _settled(parts: Path, settle: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    settings = settle()
    write_settings(parts, settings)
    return settings


def _rescore(
    source: Path,
    chunk_rows: int,
    shared: dict[str, tuple[int, ...]],
    pool: ThreadPoolExecutor,
    score: Callable[..., _Part],
    threads: int,
) -> None:
    """Score again, knowing every id found in more than one chunk, the chunks those ids
    are in: their parts become those of a run that knew them from the start."""
    redo = {index for chunks in shared.values() for index in chunks}
    last = max(redo)
    repeated = frozenset(shared)
    running: collections.deque[Future[_Part]] = collections.deque()
    for index, raw in enumerate(iter_responses(source, chunk_rows)):
        if index in redo:
            running.append(pool.submit(score, index, raw, repeated))
            while len(running) > threads:
                running.popleft().result()
        if index == last:
            break
    for future in running:
        future.result()


def _rebuild(files: BookFiles, parts: Path, chunks: int) -> int:
    """The output and errors file made again from every chunk's parts; rows scored."""
    scored_rows = 0
    for index in range(chunks):
        scored, errors = read_parts(parts, index)
        files.add(scored, errors, read_advice_part(parts, index, files.advice is not None))
        scored_rows += scored.num_rows
    return scored_rows


@dataclass(frozen=True)
class _Part:
    """One chunk, scored and its parts written: its scored rows and errors, and the time
    they took (none for parts kept from an interrupted run)."""

    scored: pa.Table
    errors: pa.Table
    score_seconds: float = 0.0
    write_seconds: float = 0.0
    advice: pa.Table | None = None


def _score_part(
    engine: RatingEngine,
    parts: Path,
    ready: Future[dict[str, Any]],
    index: int,
    raw: RawResponses,
    repeated: frozenset[str] = frozenset(),
    *,
    as_of: dt.date,
    limit: str | None,
    retention: str | None,
    advice: bool = False,
) -> _Part:
    """Score one chunk and write its scored and errors parts, and its advice part when
    the run writes advice (once the run's settings are written: ``ready``)."""
    clock = time.perf_counter()
    result: ChunkResult = score_chunk(
        engine,
        raw,
        as_of=as_of,
        limit=limit,
        retention=retention,
        repeated=repeated,
        advice=advice,
    )
    errors = errors_table(result.issues)
    scored = time.perf_counter()
    ready.result()
    if result.advice is not None:
        write_part(result.advice, part_path(parts, "advice", index))
    write_part(errors, part_path(parts, "errors", index))
    write_part(result.scored, part_path(parts, "scored", index))
    return _Part(result.scored, errors, scored - clock, time.perf_counter() - scored, result.advice)


def finish_book(
    files: BookFiles,
    parts: Path,
    source: Path,
    engine: RatingEngine,
    settings: dict[str, Any],
    tally: Tally,
) -> BookSummary:
    """Check the input did not change, put the output and errors file in place, write
    the manifest, tidy up. The summary's ``seconds`` gain ``elapsed``: the run's
    wall-clock time."""
    if file_stamp(source) != settings["stamp"]:
        files.abort()
        raise InputError(
            [
                Issue(
                    Reason.UNREADABLE_FILE,
                    "the input changed while it was read; nothing was written - run again "
                    "once the file is complete",
                    source=str(source),
                )
            ]
        )
    clock = time.perf_counter()
    files.commit()
    seconds = tally.seconds
    seconds["write"] += time.perf_counter() - clock
    seconds["elapsed"] = time.perf_counter() - tally.started
    output, errors = files.output, files.errors
    summary = BookSummary(
        input=str(source),
        output=str(output),
        errors=str(errors),
        rows_read=tally.rows_read,
        rows_scored=tally.rows_scored,
        rows_rejected=tally.rows_read - tally.rows_scored,
        chunks=tally.chunks,
        chunks_resumed=tally.reused,
        seconds={k: round(v, 3) for k, v in seconds.items()},
        warnings=str(files.warnings),
        rows_warned=files.rows_warned,
        advice=str(files.advice or ""),
        versions={
            "model_id": engine.model.model_id,
            "model_sha256": engine.model_sha256,
            "rating_plan": engine.plan.key,
            "rating_plan_sha256": engine.plan_sha256,
            "questionnaire": engine.questionnaire.key,
            "input_sha256": settings["input_sha256"],
        },
    )
    manifest = json.dumps(summary.to_dict(), indent=1) + "\n"

    def write_manifest(sink: BinaryIO) -> None:
        sink.write(manifest.encode("utf-8"))

    write_through(output.with_name(output.name + MANIFEST_SUFFIX), write_manifest)
    shutil.rmtree(parts)
    return summary
