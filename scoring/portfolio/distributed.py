"""Rescoring a book on a Dask cluster: the same chunks, the same scoring, the same files.

:func:`score_book_on_dask` reads a book on the workers - a CSV as :mod:`dask.dataframe`
partitions (``dd.read_csv`` with pyarrow's parser, every cell as text), a Parquet
file as runs of row groups read with pyarrow (no round trip through pandas, so
every type is written as text exactly as carescore's reader writes it) - counts
each partition's rows, and cuts the book into
the very chunks :func:`~scoring.portfolio.run.score_book` would read - ``chunk_rows``
rows each, whatever the partitioning - so that chunk-level checks (duplicate
facility ids, questionnaire versions) and the row groups of a Parquet output are
the same. Each chunk becomes :class:`~scoring.responses.reading.RawResponses` on a
worker, with the row number a user sees, and is scored there by
:func:`~scoring.portfolio.batch.score_chunk`. The client collects the chunks in
order, a bounded window at a time, writes each as a part and joins the parts
exactly as ``score_book`` does: the output and the errors file are byte for byte
those of ``score_book`` with the same ``chunk_rows``.

Workers load the rating engine themselves, from the model folder and rating plan
paths (one engine per worker process, cached), and refuse to score when their
copy's sha256 differs from the client's.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import shutil
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from scoring._files import open_regular, require_regular_file
from scoring._outputs import RunLock
from scoring.budget import BUDGET
from scoring.errors import DefinitionError, InputError, Issue
from scoring.portfolio import CHUNK_ROWS
from scoring.portfolio.batch import score_chunk
from scoring.portfolio.book_files import (
    BookFiles,
    check_book_paths,
    check_output,
    errors_path_for,
    errors_table,
    has_parts,
    part_path,
    parts_folder,
    read_parts,
    write_part,
)
from scoring.portfolio.run import (
    BookSummary,
    Progress,
    Tally,
    finish_book,
    resumable_failure,
    run_settings,
)
from scoring.rating.engine import RatingEngine
from scoring.responses.parquet_file import check_parquet_budget
from scoring.responses.reading import (
    RawResponses,
    as_text_columns,
    iter_responses,
    repeated_facility_ids,
)
from scoring.vocabulary import Reason

if TYPE_CHECKING:
    from distributed import Client

PARTITION_BYTES = "64MB"
"""Default size of a CSV partition (``blocksize``) and of a Parquet partition."""

_CSV_SUFFIXES = (".csv",)
_PARQUET_SUFFIXES = (".parquet", ".pq")


class WorkerEngineError(InputError):
    """A worker's model folder or rating plan is not the one the client loaded."""


@dataclass(frozen=True)
class _Job:
    """What a worker needs to score a chunk: paths and settings, never the engine."""

    source: str
    model_dir: str
    plan_path: str | None
    model_sha256: str
    plan_sha256: str
    as_of: dt.date
    limit: str | None
    retention: str | None
    repeated: frozenset[str]
    """Facility ids on more than one row of the whole book (refused wherever they fall)."""


@functools.lru_cache(maxsize=4)
def _worker_engine(
    model_dir: str, plan_path: str | None, model_sha256: str, plan_sha256: str
) -> RatingEngine:
    """The engine of this worker process, loaded once and checked against the client's."""
    where = Issue(
        Reason.UNREADABLE_FILE,
        "the model folder or rating plan cannot be used on a worker; every worker needs "
        "the client's model folder and rating plan at the same path",
        source=model_dir,
    )
    try:
        engine = RatingEngine.load(Path(model_dir), Path(plan_path) if plan_path else None)
    except InputError as exc:
        raise WorkerEngineError([where, *exc.issues]) from exc
    except DefinitionError as exc:
        problems = "; ".join(exc.problems)
        raise WorkerEngineError(
            [where, Issue(Reason.UNREADABLE_FILE, problems, source=exc.source)]
        ) from exc
    found = {"model": engine.model_sha256, "rating plan": engine.plan_sha256}
    wanted = {"model": model_sha256, "rating plan": plan_sha256}
    differ = [name for name in found if found[name] != wanted[name]]
    if differ:
        raise WorkerEngineError(
            [
                Issue(
                    Reason.UNREADABLE_FILE,
                    f"the {name} on this worker is not the one the client loaded "
                    f"(sha256 {found[name][:12]}... on the worker, {wanted[name][:12]}... "
                    "on the client); install the same model folder and rating plan at the "
                    "same path on every worker",
                    source=model_dir if name == "model" else (plan_path or model_dir),
                )
                for name in differ
            ]
        )
    return engine


def _refusal(exc: InputError | DefinitionError) -> tuple[str, list[Issue]]:
    """An error raised on a worker, as data (InputError does not survive pickling)."""
    if isinstance(exc, InputError):
        kind = "worker" if isinstance(exc, WorkerEngineError) else "input"
        return kind, list(exc.issues)
    problems = "; ".join(exc.problems)
    return "worker", [
        Issue(Reason.UNREADABLE_FILE, f"cannot be used on a worker: {problems}", source=exc.source)
    ]


def _raise(kind: str, issues: list[Issue]) -> None:
    if kind == "worker":
        raise WorkerEngineError(issues)
    raise InputError(issues)


def _text_table(frame: pd.DataFrame | pa.Table, header: Sequence[str], source: str) -> pa.Table:
    """A partition as carescore's reader gives it: text columns named by the header."""
    table = (
        frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    )
    if table.num_columns != len(header):
        raise InputError(
            [
                Issue(
                    Reason.UNREADABLE_FILE,
                    f"a partition has {table.num_columns} columns; the header has {len(header)}",
                    source=source,
                )
            ]
        )
    table = table.rename_columns(list(header))
    return pa.table({name: table.column(name).cast(pa.string()) for name in header})


def _csv_pieces(
    frame: pd.DataFrame, bounds: Sequence[int], header: Sequence[str], source: str
) -> list[pa.Table] | tuple[str, list[Issue]]:
    """A CSV partition cut at the chunk boundaries that fall inside it."""
    try:
        table = _text_table(frame, header, source)
    except InputError as exc:
        return _refusal(exc)
    return [table.slice(a, b - a) for a, b in itertools.pairwise(bounds)]


def _parquet_pieces(
    source: str, groups: Sequence[int], bounds: Sequence[int], header: Sequence[str]
) -> list[pa.Table] | tuple[str, list[Issue]]:
    """Row groups of a Parquet book as text (booleans as yes/no), cut at the chunk boundaries."""
    try:
        try:
            table = pq.ParquetFile(source).read_row_groups(list(groups))
        except (pa.ArrowException, OSError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(
                [Issue(Reason.UNREADABLE_FILE, f"cannot read Parquet: {message}", source=source)]
            ) from exc
        table = _text_table(as_text_columns(table, source), header, source)
    except InputError as exc:
        return _refusal(exc)
    return [table.slice(a, b - a) for a, b in itertools.pairwise(bounds)]


def _row_groups(source: Path, partition_bytes: int | str) -> tuple[list[list[int]], list[int]]:
    """Consecutive row groups of about ``partition_bytes`` each, and their row counts."""
    from dask.utils import parse_bytes

    limit = parse_bytes(partition_bytes)
    metadata = pq.ParquetFile(source).metadata
    groups: list[list[int]] = []
    lengths: list[int] = []
    size = limit
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        if size >= limit:
            groups.append([])
            lengths.append(0)
            size = 0
        groups[-1].append(index)
        lengths[-1] += group.num_rows
        size += group.total_byte_size
    return groups, lengths


def _score_pieces(
    job: _Job, first_row: int, partitions: list[Any], indices: list[int]
) -> tuple[str, Any]:
    """Runs on a worker: join a chunk's pieces and score it with ``score_chunk``."""
    pieces = []
    for cut, index in zip(partitions, indices, strict=True):
        if isinstance(cut, tuple):  # the partition was refused
            return cut
        pieces.append(cut[index])
    try:
        engine = _worker_engine(job.model_dir, job.plan_path, job.model_sha256, job.plan_sha256)
        raw_table = pa.concat_tables(pieces).combine_chunks()
        raw = RawResponses(table=raw_table, source=job.source, first_row=first_row)
        result = score_chunk(
            engine,
            raw,
            as_of=job.as_of,
            limit=job.limit,
            retention=job.retention,
            repeated=job.repeated,
        )
    except (InputError, DefinitionError) as exc:
        return _refusal(exc)
    return "scored", (result.scored, result.issues, result.rows_read)


@dataclass(frozen=True)
class _Chunk:
    """One chunk of ``chunk_rows`` rows: its first row and the pieces it is made of."""

    index: int
    first_row: int
    pieces: tuple[tuple[int, int], ...]
    """(partition, piece of that partition), in row order."""


def _plan_chunks(
    lengths: Sequence[int], chunk_rows: int
) -> tuple[list[list[int]], list[_Chunk], dict[int, int]]:
    """Where the chunks of ``score_book`` fall in the partitions.

    Returns each partition's local cut points, the chunks (without ``first_row``'s
    offset), and the last chunk that needs each partition.
    """
    bounds: list[list[int]] = []
    members: dict[int, list[tuple[int, int]]] = {}
    last_use: dict[int, int] = {}
    start = 0
    for partition, length in enumerate(lengths):
        first_cut = (start // chunk_rows + 1) * chunk_rows
        inside = range(first_cut, start + length, chunk_rows)
        cuts = [0, *(r - start for r in inside), length]
        bounds.append(cuts)
        for piece, (a, b) in enumerate(itertools.pairwise(cuts)):
            if b > a:
                chunk = (start + a) // chunk_rows
                members.setdefault(chunk, []).append((partition, piece))
                last_use[partition] = chunk
        start += length
    chunks = [
        _Chunk(index=k, first_row=k * chunk_rows, pieces=tuple(members[k])) for k in sorted(members)
    ]
    return bounds, chunks, last_use


def _refuse_blank_rows(source: Path, chunk_rows: int) -> None:
    """Refuse a CSV book with blank rows: carescore's reader skips them and keeps the
    numbers of the rows after them, which the partitions of ``dd.read_csv`` cannot tell,
    so such a book is scored without Dask (or once its blank rows are removed)."""
    following = 2  # the row after the header
    for raw in iter_responses(source, chunk_rows, columns=("facility_id",)):
        first = raw.first_row or following
        numbers = raw.rows if raw.rows is not None else np.arange(first, first + raw.table.num_rows)
        expected = np.arange(following, following + len(numbers))
        following += len(numbers)
        if np.array_equal(numbers, expected):
            continue
        gap = int(np.flatnonzero(numbers != expected)[0])
        raise InputError(
            [
                Issue(
                    Reason.UNREADABLE_FILE,
                    "the book has blank rows; on Dask the rows after them could not keep "
                    "their numbers: score it without --scheduler and --workers, or remove "
                    "its blank rows",
                    source=str(source),
                    row=int(expected[gap]),
                )
            ]
        )


def _csv_partitions(source: Path, partition_bytes: int | str) -> Any:
    """A CSV book as a dask DataFrame of text, read on the workers."""
    import dask.dataframe as dd

    # pyarrow parses as carescore's reader does: every cell text, an empty cell "",
    # cells may hold line breaks, a row with too many or too few cells is refused
    frame = dd.read_csv(
        str(source),
        blocksize=partition_bytes,
        dtype=str,
        keep_default_na=False,
        na_values=[],
        engine="pyarrow",
        encoding="utf-8",
    )
    # a row of empty cells is not a facility; carescore's reader skips it (those
    # before a facility row are refused first: _refuse_blank_rows)
    return frame.map_partitions(_without_blank_rows, meta=frame._meta)


def _without_blank_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """A partition without its rows of empty cells."""
    blank = (frame.fillna("").apply(lambda column: column.str.strip()) == "").all(axis=1)
    return frame[~blank] if blank.any() else frame


def score_book_on_dask(
    source: Path,
    output: Path,
    *,
    model_dir: Path,
    plan_path: Path | None,
    as_of: dt.date,
    client: Client,
    errors: Path | None = None,
    limit: str | None = None,
    retention: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    partition_bytes: int | str = PARTITION_BYTES,
    window: int | None = None,
    resume: bool = False,
    progress: Progress | None = None,
) -> BookSummary:
    """Score every row of a book on a Dask cluster into ``output`` (Parquet or CSV).

    The output, errors file and manifest are those of
    :func:`~scoring.portfolio.run.score_book` with the same ``chunk_rows``; the
    partitions (``partition_bytes``) only decide how the book is read.

    Parameters
    ----------
    source
        The book, CSV or Parquet, on storage every worker can read at this path.
    output, errors
        Written by this process (the client), atomically, as ``score_book`` does.
    model_dir, plan_path
        The model folder and rating plan, at these paths on every worker.
    client
        A ``distributed.Client``; its workers need carescore installed.
    chunk_rows
        Rows scored together, as in ``score_book``: the same value gives the same files.
    partition_bytes
        About how much of the book a worker reads at a time (``"64MB"``, or bytes).
    window
        Chunks scored at once (default: twice the workers' threads); the client
        holds at most this many chunks' results.

    Raises
    ------
    InputError
        The book cannot be read, or the output type is not supported; nothing written.
    WorkerEngineError
        A worker's model folder or rating plan differs from the client's.
    """
    tally = Tally()
    suffix = source.suffix.lower()
    if suffix not in (*_CSV_SUFFIXES, *_PARQUET_SUFFIXES):
        raise InputError(
            [
                Issue(
                    Reason.UNREADABLE_FILE,
                    f"unsupported file type {suffix or '(none)'!r} for a book on Dask",
                    source=str(source),
                    allowed=", ".join((*_CSV_SUFFIXES, *_PARQUET_SUFFIXES)),
                )
            ]
        )
    check_output(output)
    errors = errors or errors_path_for(output)
    check_book_paths(source, output, errors)
    require_regular_file(source)
    cluster: Any = client  # distributed is not typed
    engine = RatingEngine.load(model_dir, plan_path)
    job = _Job(
        source=str(source),
        model_dir=str(model_dir),
        plan_path=str(plan_path) if plan_path else None,
        model_sha256=engine.model_sha256,
        plan_sha256=engine.plan_sha256,
        as_of=as_of,
        limit=limit,
        retention=retention,
        repeated=repeated_facility_ids(source, chunk_rows),
    )
    # the header checks, and the column names, of carescore's own reader
    header = next(iter_responses(source, 1)).table.column_names
    first_row = 2 if suffix in _CSV_SUFFIXES else 1
    settings = run_settings(engine, source, chunk_rows, limit, retention, as_of)
    seconds = tally.seconds
    clock = time.perf_counter()
    if suffix in _CSV_SUFFIXES:
        _refuse_blank_rows(source, chunk_rows)
        frame = _csv_partitions(source, partition_bytes)
        try:
            lengths = [int(n) for n in cluster.compute(frame.map_partitions(len)).result()]
        except (ValueError, UnicodeError) as exc:  # pandas' ParserError is a ValueError
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(
                [
                    Issue(
                        Reason.UNREADABLE_FILE,
                        f"cannot read the book: {message}",
                        source=str(source),
                    )
                ]
            ) from exc
        partitions = frame.to_delayed()
    else:
        with open_regular(source) as handle:
            check_parquet_budget(pq.ParquetFile(handle), str(source), BUDGET, whole=False)
        row_groups, lengths = _row_groups(source, partition_bytes)
    seconds["read"] += time.perf_counter() - clock
    bounds, chunks, last_use = _plan_chunks(lengths, chunk_rows)
    done_with: dict[int, list[int]] = {}
    for partition, last in last_use.items():
        done_with.setdefault(last, []).append(partition)
    # before anything is written: a second run to either file is refused
    with RunLock(output), RunLock(errors):
        parts, resumed = parts_folder(output, settings, resume)
        window = window or 2 * max(1, sum(cluster.nthreads().values()))

        from dask.delayed import delayed

        cuts: dict[int, Any] = {}
        pending: deque[tuple[_Chunk, Any]] = deque()
        tally.chunks = len(chunks)
        todo = iter(chunks)

        def submit(chunk: _Chunk) -> Any:
            if resumed and has_parts(parts, chunk.index):
                return None
            for partition, _ in chunk.pieces:
                if partition not in cuts:
                    if suffix in _CSV_SUFFIXES:
                        task = delayed(_csv_pieces, pure=True)(
                            partitions[partition], bounds[partition], header, str(source)
                        )
                        cuts[partition] = cluster.compute(task)
                    else:
                        cuts[partition] = cluster.submit(
                            _parquet_pieces,
                            str(source),
                            row_groups[partition],
                            bounds[partition],
                            header,
                        )
            return cluster.submit(
                _score_pieces,
                job,
                first_row + chunk.first_row,
                [cuts[p] for p, _ in chunk.pieces],
                [piece for _, piece in chunk.pieces],
                pure=False,
            )

        clock = time.perf_counter()
        files = BookFiles(output, errors)
        try:
            for chunk in todo:
                pending.append((chunk, submit(chunk)))
                if len(pending) >= window:
                    break
            while pending:
                chunk, future = pending.popleft()
                if future is None:
                    tally.reused += 1
                    scored, error_table = read_parts(parts, chunk.index)
                else:
                    kind, value = future.result()
                    if kind != "scored":
                        for waiting in pending:
                            if waiting[1] is not None:
                                waiting[1].cancel()
                        _raise(kind, value)
                    scored, error_frame, _ = value
                    error_table = errors_table(error_frame)
                    started = time.perf_counter()
                    write_part(error_table, part_path(parts, "errors", chunk.index))
                    write_part(scored, part_path(parts, "scored", chunk.index))
                    seconds["write"] += time.perf_counter() - started
                started = time.perf_counter()
                files.add(scored, error_table)
                seconds["write"] += time.perf_counter() - started
                tally.rows_scored += scored.num_rows
                tally.rows_read += sum(bounds[p][i + 1] - bounds[p][i] for p, i in chunk.pieces)
                for partition in done_with.get(chunk.index, ()):
                    cuts.pop(partition, None)  # its pieces are no longer needed on the cluster
                tally.report(progress)
                following = next(todo, None)
                if following is not None:
                    pending.append((following, submit(following)))
            seconds["score"] += time.perf_counter() - clock - seconds["write"]
            if not chunks:
                raise InputError([Issue(Reason.EMPTY_FILE, "no facility rows", source=str(source))])
            return finish_book(files, parts, source, engine, settings, tally)
        except BaseException as exc:
            files.abort()
            if not resumable_failure(exc, resumed, tally.stopped):
                shutil.rmtree(parts, ignore_errors=True)
            raise
