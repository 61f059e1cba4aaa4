"""Rescoring a whole book: chunk by chunk, every row accounted for, outputs made atomically.

:func:`score_book` reads a book in chunks (:func:`~scoring.responses.reading.iter_responses`),
scores each (:func:`~scoring.portfolio.batch.score_chunk`) and writes each chunk's
scored rows and errors as a *part* in a work folder beside the output
(``<output>.parts/``), each part written aside and renamed when complete. When
every chunk is done the parts are joined into the output and the errors file
(again written aside, then renamed), a manifest is written beside the output,
and the work folder is removed. An interrupted run leaves no file that looks
complete; ``resume=True`` keeps the parts of the same input and settings and
scores only the chunks that are missing, so the final files are the same as an
uninterrupted run's.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import json
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from scoring._files import file_sha256
from scoring.errors import InputError, Issue
from scoring.portfolio.batch import TOP_FIXES, ChunkResult, book_schema, score_chunk
from scoring.rating.engine import RatingEngine
from scoring.responses.reading import RawResponses, iter_responses, repeated_facility_ids
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


def write_table(table: pa.Table, path: Path) -> None:
    def write(aside: Path) -> None:
        pq.write_table(table, aside)

    atomic_write(path, write)


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


def write_errors_part(frame: pd.DataFrame, path: Path) -> None:
    frame = frame.reindex(columns=list(ISSUE_COLUMNS)).reset_index(drop=True)
    arrays = []
    for field_ in ERRORS_SCHEMA:
        column = frame[field_.name]
        if field_.name == "row":
            arrays.append(pa.array(column.astype("Int64"), pa.int64(), from_pandas=True))
        else:
            values = column.astype("object").where(column.notna(), None)
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    table = pa.Table.from_arrays(arrays, schema=ERRORS_SCHEMA)
    write_table(table, path)


def run_settings(
    engine: RatingEngine,
    source: Path,
    chunk_rows: int,
    limit: str | None,
    retention: str | None,
    as_of: dt.date,
) -> dict[str, Any]:
    return {
        "input": str(source),
        "input_sha256": file_sha256(source),
        "stamp": file_stamp(source),
        "model_sha256": engine.model_sha256,
        "rating_plan_sha256": engine.plan_sha256,
        "chunk_rows": chunk_rows,
        "limit": limit,
        "retention": retention,
        "as_of": as_of.isoformat(),
        "fixes": TOP_FIXES,
    }


def parts_folder(output: Path, settings: dict[str, Any], resume: bool) -> tuple[Path, bool]:
    """The work folder for this output; kept only when resuming the very same run."""
    parts = output.with_name(output.name + ".parts")
    state = parts / "settings.json"
    if resume and state.is_file() and json.loads(state.read_text()) == settings:
        return parts, True
    if resume and parts.exists():
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
    if parts.exists():
        shutil.rmtree(parts)
    parts.mkdir(parents=True)
    state.write_text(json.dumps(settings, indent=1, sort_keys=True))
    return parts, False


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

    Chunks are read in order and scored by ``threads`` threads (the numeric work
    runs outside Python's lock, so two threads keep two cores busy); at most
    ``threads + 1`` chunks are held at once. The output does not depend on the
    number of threads.

    Raises
    ------
    InputError
        The input cannot be read (unsupported type, ragged or truncated rows, not
        UTF-8 ...), the output type is not supported, or a resume does not match.
        No output or errors file is written then.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1; got {threads}")
    started = time.perf_counter()
    check_output(output)
    errors = errors or errors_path_for(output)
    settings = run_settings(engine, source, chunk_rows, limit, retention, as_of)
    parts, resumed = parts_folder(output, settings, resume)
    seconds = {"read": 0.0, "score": 0.0, "write": 0.0}
    chunks = reused = rows_read = rows_scored = 0
    clock = time.perf_counter()
    repeated = repeated_facility_ids(source, chunk_rows)
    score = functools.partial(
        _score_part,
        engine,
        parts,
        as_of=as_of,
        limit=limit,
        retention=retention,
        repeated=repeated,
    )
    pending: collections.deque[tuple[int, Future[_Part]]] = collections.deque()

    def collect() -> None:
        nonlocal rows_read, rows_scored
        rows, future = pending.popleft()
        part = future.result()
        seconds["score"] += part.score_seconds
        seconds["write"] += part.write_seconds
        rows_read += rows
        rows_scored += part.rows_scored
        if progress is not None:
            progress(rows_read, rows_scored)

    # parallel by chunk: matrix products stay on one core each (BLAS's own threads
    # would compete with the chunks' threads for the same cores, and lose time)
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        try:
            for index, raw in enumerate(iter_responses(source, chunk_rows)):
                seconds["read"] += time.perf_counter() - clock
                scored_part = parts / f"scored-{index:06d}.parquet"
                errors_part = parts / f"errors-{index:06d}.parquet"
                if resumed and scored_part.is_file() and errors_part.is_file():
                    reused += 1
                    done: Future[_Part] = Future()
                    done.set_result(_Part(pq.ParquetFile(scored_part).metadata.num_rows))
                    pending.append((raw.table.num_rows, done))
                else:
                    pending.append((raw.table.num_rows, pool.submit(score, index, raw)))
                chunks += 1
                while len(pending) > threads:
                    collect()
                clock = time.perf_counter()
            while pending:
                collect()
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    return finish_book(
        parts,
        chunks,
        source,
        output,
        errors,
        engine,
        settings,
        rows_read=rows_read,
        rows_scored=rows_scored,
        reused=reused,
        seconds=seconds,
        started=started,
    )


@dataclass(frozen=True)
class _Part:
    """One chunk's parts written: how many rows were scored, and the time it took."""

    rows_scored: int
    score_seconds: float = 0.0
    write_seconds: float = 0.0


def _score_part(
    engine: RatingEngine,
    parts: Path,
    index: int,
    raw: RawResponses,
    *,
    as_of: dt.date,
    limit: str | None,
    retention: str | None,
    repeated: frozenset[str],
) -> _Part:
    """Score one chunk and write its scored and errors parts."""
    clock = time.perf_counter()
    result: ChunkResult = score_chunk(
        engine, raw, as_of=as_of, limit=limit, retention=retention, repeated=repeated
    )
    scored = time.perf_counter()
    write_errors_part(result.errors, parts / f"errors-{index:06d}.parquet")
    write_table(result.scored, parts / f"scored-{index:06d}.parquet")
    return _Part(result.rows_scored, scored - clock, time.perf_counter() - scored)


def finish_book(
    parts: Path,
    chunks: int,
    source: Path,
    output: Path,
    errors: Path,
    engine: RatingEngine,
    settings: dict[str, Any],
    *,
    rows_read: int,
    rows_scored: int,
    reused: int,
    seconds: dict[str, float],
    started: float,
) -> BookSummary:
    """Check the input did not change, join the parts, write the manifest, tidy up.

    ``seconds`` holds the time spent reading, scoring and writing (summed over the
    threads or workers that did it); ``elapsed`` is added: the run's wall-clock time
    since ``started`` (a ``time.perf_counter()`` reading).
    """
    if file_stamp(source) != settings["stamp"]:
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
    join_parts(parts, chunks, output, errors)
    seconds["write"] += time.perf_counter() - clock
    seconds["elapsed"] = time.perf_counter() - started
    summary = BookSummary(
        input=str(source),
        output=str(output),
        errors=str(errors),
        rows_read=rows_read,
        rows_scored=rows_scored,
        rows_rejected=rows_read - rows_scored,
        chunks=chunks,
        chunks_resumed=reused,
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


def _parts(parts: Path, kind: str, chunks: int) -> Iterator[pa.Table]:
    for index in range(chunks):
        yield pq.read_table(parts / f"{kind}-{index:06d}.parquet")


def join_parts(parts: Path, chunks: int, output: Path, errors: Path) -> None:
    """Join the parts into the output and the errors file, each written aside first."""
    schema = book_schema()

    def write_output(aside: Path) -> None:
        if output.suffix.lower() == ".parquet":
            with pq.ParquetWriter(aside, schema) as writer:
                for table in _parts(parts, "scored", chunks):
                    writer.write_table(table)
        else:
            with pacsv.CSVWriter(aside, schema) as writer:
                for table in _parts(parts, "scored", chunks):
                    writer.write_table(_for_csv(table))

    def write_errors(aside: Path) -> None:
        with pacsv.CSVWriter(aside, ERRORS_SCHEMA) as writer:
            for table in _parts(parts, "errors", chunks):
                writer.write_table(_for_csv(table))

    atomic_write(errors, write_errors)
    atomic_write(output, write_output)
