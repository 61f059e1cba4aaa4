"""Rescoring a whole book: chunk by chunk, every row accounted for, outputs made atomically.

:func:`score_book` reads a book in chunks (:func:`~scoring.responses.reading.iter_responses`)
and scores them on threads (:func:`~scoring.portfolio.batch.score_chunk`). Each
chunk's scored rows and errors are kept as a *part* (an Arrow file) in a work folder
beside the output (``<output>.parts/``), written aside and renamed when complete,
and are added, in book order, to the output and the errors file, which are written
under names ending ``.partial`` (:class:`BookFiles`).

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
same as an uninterrupted run's.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from scoring._outputs import (
    RunLock,
    check_outputs,
    create_new,
    is_real_folder,
    lock_path,
    make_folder,
    require_regular_file,
)
from scoring.errors import InputError, Issue
from scoring.portfolio.batch import (
    TOP_FIXES,
    ChunkResult,
    book_schema,
    dictionary_columns,
    score_chunk,
)
from scoring.rating.engine import RatingEngine
from scoring.responses.reading import (
    RawResponses,
    chunk_id_hashes,
    ids_across_chunks,
    iter_responses,
)
from scoring.responses.validation import ISSUE_COLUMNS
from scoring.vocabulary import Reason

CHUNK_ROWS = 50_000
MANIFEST_SUFFIX = ".manifest.json"
OUTPUT_SUFFIXES = (".parquet", ".csv")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


def check_output(output: Path) -> None:
    """Refuse an output whose type cannot be written (before any work is done)."""
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(
            [
                Issue(
                    Reason.UNREADABLE_FILE,
                    f"the output must be {' or '.join(OUTPUT_SUFFIXES)}",
                    source=str(output),
                    value=output.suffix or "(none)",
                )
            ]
        )


def errors_path_for(output: Path) -> Path:
    """The default errors file beside an output: ``out.parquet`` -> ``out.errors.csv``."""
    return output.with_name(output.stem + ".errors.csv")


def parts_path_for(output: Path) -> Path:
    """The work folder of a run writing ``output``."""
    return output.with_name(output.name + ".parts")


def book_outputs(
    output: Path, errors: Path | None = None
) -> tuple[dict[str, Path], dict[str, Path]]:
    """Every file a run writing ``output`` makes (by role), and its work folder: what
    :func:`~scoring._outputs.check_outputs` compares with the inputs."""
    errors = errors or errors_path_for(output)
    files = {
        "the output": output,
        "the errors file": errors,
        "the manifest": output.with_name(output.name + MANIFEST_SUFFIX),
        "the output's .partial file": output.with_name(output.name + ".partial"),
        "the errors file's .partial file": errors.with_name(errors.name + ".partial"),
        "the manifest's .partial file": output.with_name(
            output.name + MANIFEST_SUFFIX + ".partial"
        ),
        "the output's lock file": lock_path(output),
    }
    return files, {"the work folder": parts_path_for(output)}


def check_book_paths(source: Path, output: Path, errors: Path | None = None) -> None:
    """Refuse outputs that are the book or one another (``PathClashError``)."""
    files, folders = book_outputs(output, errors)
    check_outputs({"the book": source}, files, folders)


def file_stamp(path: Path) -> list[int]:
    """Size and modification time: whether a file changed since it was fingerprinted."""
    status = path.stat()
    return [status.st_size, status.st_mtime_ns]


KINDS = ("scored", "errors")
"""A chunk's parts, in the order :class:`_Part` holds them."""


def part_path(parts: Path, kind: str, index: int) -> Path:
    """A chunk's part in the work folder: ``kind`` is ``scored`` or ``errors``."""
    return parts / f"{kind}-{index:06d}.arrow"


def write_part(table: pa.Table, path: Path) -> None:
    """A chunk's part as an Arrow file, written aside and renamed."""

    def write(sink: BinaryIO) -> None:
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    atomic_write(path, write)


def read_part(path: Path) -> pa.Table:
    with pa.OSFile(str(path), "rb") as source:
        return pa.ipc.open_file(source).read_all()


def read_parts(parts: Path, index: int) -> tuple[pa.Table, pa.Table]:
    """A finished chunk's scored rows and errors, as its parts hold them."""
    scored, errors = (read_part(part_path(parts, kind, index)) for kind in KINDS)
    return scored, errors


def has_parts(parts: Path, index: int) -> bool:
    """Whether a chunk's scored and errors parts are both complete."""
    return all(part_path(parts, kind, index).is_file() for kind in KINDS)


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` through a ``.partial`` file created exclusively, then rename it."""
    aside = path.with_name(path.name + ".partial")
    with create_new(aside) as sink:
        write(sink)
    aside.replace(path)


def _safe_text(column: pa.Array) -> pa.Array:
    """Text a spreadsheet would run as a formula, prefixed with ' so it stays text."""
    values = column.to_pylist()
    return pa.array(
        ["'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v for v in values],
        column.type,
    )


def _for_csv(table: pa.Table) -> pa.Table:
    columns = [
        _safe_text(column.combine_chunks()) if pa.types.is_string(column.type) else column
        for column in table.columns
    ]
    return pa.Table.from_arrays(columns, names=table.column_names)


ERRORS_SCHEMA = pa.schema(
    [pa.field(name, pa.int64() if name == "row" else pa.string()) for name in ISSUE_COLUMNS]
)


def errors_table(frame: pd.DataFrame) -> pa.Table:
    """A chunk's errors (columns of ``ISSUE_COLUMNS``) as a table of ``ERRORS_SCHEMA``."""
    frame = frame.reindex(columns=list(ISSUE_COLUMNS)).reset_index(drop=True)
    arrays = []
    for field_ in ERRORS_SCHEMA:
        column = frame[field_.name]
        if field_.name == "row":
            arrays.append(pa.array(column.astype("Int64"), pa.int64(), from_pandas=True))
        else:
            values = column.astype("object").where(column.notna(), None)
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    return pa.Table.from_arrays(arrays, schema=ERRORS_SCHEMA)


class BookFiles:
    """The output and the errors file of a run, written chunk by chunk in book order
    under names ending ``.partial``, and renamed into place by :meth:`commit` - so no
    file that looks complete exists before the run is."""

    def __init__(self, output: Path, errors: Path) -> None:
        self.output, self.errors = output, errors
        self._output_aside = output.with_name(output.name + ".partial")
        self._errors_aside = errors.with_name(errors.name + ".partial")
        self._csv = output.suffix.lower() != ".parquet"
        schema = book_schema()
        # created exclusively, never through a symlink planted at the .partial name
        self._sinks: list[BinaryIO] = []
        try:
            self._errors_writer = pacsv.CSVWriter(self._sink(self._errors_aside), ERRORS_SCHEMA)
            self._output_writer: pq.ParquetWriter | pacsv.CSVWriter = (
                pacsv.CSVWriter(self._sink(self._output_aside), schema)
                if self._csv
                else pq.ParquetWriter(
                    self._sink(self._output_aside),
                    schema,
                    use_dictionary=dictionary_columns(schema),
                )
            )
        except BaseException:
            for sink in self._sinks:
                sink.close()
            for aside in (self._errors_aside, self._output_aside)[: len(self._sinks)]:
                aside.unlink(missing_ok=True)
            raise

    def _sink(self, path: Path) -> BinaryIO:
        sink = create_new(path)
        self._sinks.append(sink)
        return sink

    def add(self, scored: pa.Table, errors: pa.Table) -> None:
        """The next chunk's scored rows and errors."""
        self._output_writer.write_table(_for_csv(scored) if self._csv else scored)
        self._errors_writer.write_table(_for_csv(errors))

    def commit(self) -> None:
        self._close()
        self._errors_aside.replace(self.errors)
        self._output_aside.replace(self.output)

    def abort(self) -> None:
        """Close and remove the unfinished files (best effort: the run is failing)."""
        with contextlib.suppress(OSError, ValueError, pa.ArrowException):
            self._close()
        for aside in (self._output_aside, self._errors_aside):
            with contextlib.suppress(OSError):
                aside.unlink(missing_ok=True)

    def _close(self) -> None:
        try:
            self._output_writer.close()
            self._errors_writer.close()
        finally:
            for sink in self._sinks:
                sink.close()


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
) -> dict[str, Any]:
    """What makes a run the same run: its input, model, plan and settings. The input is
    hashed here (:func:`input_sha256`, ended early by ``stop``); its stamp is taken here
    unless given, and before the hash, so that a change while it is hashed shows when
    the run ends."""
    stamp = stamp or file_stamp(source)
    return {
        "input": str(source),
        "input_sha256": input_sha256(source, stop),
        "stamp": stamp,
        "model_sha256": engine.model_sha256,
        "rating_plan_sha256": engine.plan_sha256,
        "chunk_rows": chunk_rows,
        "limit": limit,
        "retention": retention,
        "as_of": as_of.isoformat(),
        "fixes": TOP_FIXES,
    }


class HashStoppedError(Exception):
    """The input's hash was stopped: the run is failing."""


def input_sha256(path: Path, stop: threading.Event | None = None) -> str:
    """sha256 of a book, read in 1 MB blocks; only a regular file is read (opened without
    waiting on a pipe), and ``stop`` ends the reading between two blocks
    (:class:`HashStoppedError`), so a failing run never waits for the hash of a whole file."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            require_regular_file(path)  # raises, saying what the path is
            raise InputError([Issue(Reason.UNREADABLE_FILE, "not a file", source=str(path))])
        for block in iter(lambda: handle.read(1 << 20), b""):
            if stop is not None and stop.is_set():
                raise HashStoppedError(str(path))
            digest.update(block)
    return digest.hexdigest()


def parts_folder(output: Path, settings: dict[str, Any], resume: bool) -> tuple[Path, bool]:
    """The work folder for this output; kept only when resuming the very same run.

    A folder without its settings has no parts (they are written after the settings,
    :func:`write_settings`), so there is nothing to resume in it; it is started afresh.
    So is a folder whose settings cannot be read (not written by a run), or a symlink
    in the work folder's place (never followed).
    """
    parts = parts_path_for(output)
    state = parts / "settings.json"
    if resume and is_real_folder(parts) and state.is_file() and not state.is_symlink():
        try:
            found = json.loads(state.read_bytes())
        except (OSError, ValueError):
            found = None  # unreadable: no part in it can be trusted; started afresh
        if found == settings:
            return parts, True
        if found is not None:
            raise InputError(
                [
                    Issue(
                        Reason.UNREADABLE_FILE,
                        "cannot resume: the unfinished run in this folder was for another "
                        "input, model, rating plan or settings; run again without --resume",
                        source=str(parts),
                    )
                ]
            )
    fresh_parts_folder(output)
    write_settings(parts, settings)
    return parts, False


def fresh_parts_folder(output: Path) -> Path:
    """An empty work folder for this output, made exclusively (an unfinished run's is
    removed; a symlink in its place is removed, never followed)."""
    return make_folder(parts_path_for(output))


def write_settings(parts: Path, settings: dict[str, Any]) -> None:
    """The settings of the run a work folder belongs to, written before any part."""

    def write(sink: BinaryIO) -> None:
        sink.write(json.dumps(settings, indent=1, sort_keys=True).encode("utf-8"))

    atomic_write(parts / "settings.json", write)


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
) -> BookSummary:
    """Score every row of a book into ``output`` (Parquet or CSV, by extension).

    Chunks are read in order and scored by ``threads`` threads (most of the work
    runs outside Python's lock: two threads kept 1.75-1.8 cores busy); at most
    ``threads + 1`` chunks are held at once. The output does not depend on the
    number of threads, nor on the chunks a repeated facility id falls in.

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
    check_book_paths(source, output, errors)
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
    )
    hashes: list[np.ndarray] = []  # each chunk's facility-id hashes, to find repeated ids
    pending: collections.deque[tuple[int, Future[_Part]]] = collections.deque()

    def collect() -> None:
        rows, future = pending.popleft()
        part = future.result()
        clock = time.perf_counter()
        files.add(part.scored, part.errors)
        seconds["score"] += part.score_seconds
        seconds["write"] += part.write_seconds + time.perf_counter() - clock
        tally.rows_read += rows
        tally.rows_scored += part.scored.num_rows
        tally.report(progress)

    # parallel by chunk: matrix products stay on one core each (BLAS's own threads
    # would compete with the chunks' threads for the same cores, and lose time)
    with (
        RunLock(output),  # before anything is written: a second run to it is refused
        ThreadPoolExecutor(1) as aside,
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(threads) as pool,
    ):
        files = BookFiles(output, errors)
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
                _score_part, engine, parts, ready, as_of=as_of, limit=limit, retention=retention
            )
            for index, raw in enumerate(iter_responses(source, chunk_rows)):
                seconds["read"] += time.perf_counter() - clock
                hashes.append(chunk_id_hashes(raw.table))
                kept = _kept_part(parts, index) if resumed else None
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
                files = BookFiles(output, errors)
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


def _kept_part(parts: Path, index: int) -> _Part | None:
    """A chunk's parts kept by an interrupted run, or None when they are missing or
    cannot be read (the chunk is scored again)."""
    if not has_parts(parts, index):
        return None
    try:
        return _Part(*read_parts(parts, index))
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
        files.add(scored, errors)
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
) -> _Part:
    """Score one chunk and write its scored and errors parts (once the run's settings
    are written: ``ready``)."""
    clock = time.perf_counter()
    result: ChunkResult = score_chunk(
        engine, raw, as_of=as_of, limit=limit, retention=retention, repeated=repeated
    )
    errors = errors_table(result.errors)
    scored = time.perf_counter()
    ready.result()
    write_part(errors, part_path(parts, "errors", index))
    write_part(result.scored, part_path(parts, "scored", index))
    return _Part(result.scored, errors, scored - clock, time.perf_counter() - scored)


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

    atomic_write(output.with_name(output.name + MANIFEST_SUFFIX), write_manifest)
    shutil.rmtree(parts)
    return summary
