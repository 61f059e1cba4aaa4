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
import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from scoring._files import file_sha256
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

    def write(aside: Path) -> None:
        with pa.OSFile(str(aside), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
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


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    aside = path.with_name(path.name + ".partial")
    write(aside)
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
        self._errors_writer = pacsv.CSVWriter(self._errors_aside, ERRORS_SCHEMA)
        self._output_writer: pq.ParquetWriter | pacsv.CSVWriter = (
            pacsv.CSVWriter(self._output_aside, schema)
            if self._csv
            else pq.ParquetWriter(
                self._output_aside, schema, use_dictionary=dictionary_columns(schema)
            )
        )

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
        with contextlib.suppress(OSError, pa.ArrowException):
            self._close()
        for aside in (self._output_aside, self._errors_aside):
            aside.unlink(missing_ok=True)

    def _close(self) -> None:
        self._output_writer.close()
        self._errors_writer.close()


def run_settings(
    engine: RatingEngine,
    source: Path,
    chunk_rows: int,
    limit: str | None,
    retention: str | None,
    as_of: dt.date,
    *,
    stamp: list[int] | None = None,
) -> dict[str, Any]:
    """What makes a run the same run: its input, model, plan and settings. The input is
    hashed here; its stamp is taken here unless given, and before the hash, so that a
    change while it is hashed shows when the run ends."""
    stamp = stamp or file_stamp(source)
    return {
        "input": str(source),
        "input_sha256": file_sha256(source),
        "stamp": stamp,
        "model_sha256": engine.model_sha256,
        "rating_plan_sha256": engine.plan_sha256,
        "chunk_rows": chunk_rows,
        "limit": limit,
        "retention": retention,
        "as_of": as_of.isoformat(),
        "fixes": TOP_FIXES,
    }


def parts_folder(output: Path, settings: dict[str, Any], resume: bool) -> tuple[Path, bool]:
    """The work folder for this output; kept only when resuming the very same run.

    A folder without its settings has no parts (they are written after the settings,
    :func:`write_settings`), so there is nothing to resume in it; it is started afresh.
    """
    parts = output.with_name(output.name + ".parts")
    state = parts / "settings.json"
    if resume and state.is_file():
        if json.loads(state.read_text()) == settings:
            return parts, True
        raise InputError(
            [
                Issue(
                    Reason.UNREADABLE_FILE,
                    "cannot resume: the unfinished run in this folder was for another input, "
                    "model, rating plan or settings; run again without --resume",
                    source=str(parts),
                )
            ]
        )
    fresh_parts_folder(output)
    write_settings(parts, settings)
    return parts, False


def fresh_parts_folder(output: Path) -> Path:
    """An empty work folder for this output (an unfinished run's is removed)."""
    parts = output.with_name(output.name + ".parts")
    if parts.exists():
        shutil.rmtree(parts)
    parts.mkdir(parents=True)
    return parts


def write_settings(parts: Path, settings: dict[str, Any]) -> None:
    """The settings of the run a work folder belongs to, written before any part."""

    def write(aside: Path) -> None:
        aside.write_text(json.dumps(settings, indent=1, sort_keys=True), encoding="utf-8")

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
    settle = functools.partial(
        run_settings, engine, source, chunk_rows, limit, retention, as_of, stamp=file_stamp(source)
    )
    hashes: list[np.ndarray] = []  # each chunk's facility-id hashes, to find repeated ids
    pending: collections.deque[tuple[int, Future[_Part]]] = collections.deque()
    files = BookFiles(output, errors)

    def collect() -> None:
        rows, future = pending.popleft()
        part = future.result()
        clock = time.perf_counter()
        files.add(part.scored, part.errors)
        seconds["score"] += part.score_seconds
        seconds["write"] += part.write_seconds + time.perf_counter() - clock
        tally.rows_read += rows
        tally.rows_scored += part.scored.num_rows
        if progress is not None:
            progress(tally.rows_read, tally.rows_scored)

    # parallel by chunk: matrix products stay on one core each (BLAS's own threads
    # would compete with the chunks' threads for the same cores, and lose time)
    with (
        ThreadPoolExecutor(1) as aside,
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(threads) as pool,
    ):
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
                if resumed and has_parts(parts, index):
                    tally.reused += 1
                    done: Future[_Part] = Future()
                    done.set_result(_Part(*read_parts(parts, index)))
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
            pool.shutdown(cancel_futures=True)
            files.abort()
            if isinstance(exc, InputError) and parts is not None and not resumed:
                # an input that cannot be scored leaves no work folder: resuming it would
                # fail again. The settings are written first, or not at all (cancelled).
                if not ready.cancel():
                    ready.exception()
                shutil.rmtree(parts, ignore_errors=True)
            raise


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

    def write_manifest(aside: Path) -> None:
        aside.write_text(manifest, encoding="utf-8")

    atomic_write(output.with_name(output.name + MANIFEST_SUFFIX), write_manifest)
    shutil.rmtree(parts)
    return summary
