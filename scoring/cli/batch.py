"""``carescore batch INPUT -o OUTPUT``: rescore a whole book, every row accounted for."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from scoring.cli._common import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    fail_environment,
    fail_input,
    parse_as_of,
    refuse_clashes,
    require_files,
)
from scoring.cli._dask import dask_client
from scoring.cli.score import ModelOption, PlanOption, cover_options, load_engine
from scoring.errors import InputError
from scoring.portfolio import CHUNK_ROWS

if TYPE_CHECKING:  # scoring is imported when the command runs, not for its help
    from scoring.portfolio.run import BookSummary

MAX_DEFAULT_THREADS = 4
"""Threads ``carescore batch`` uses unless told: more cores than this rarely pay for the
memory each chunk in flight takes."""


def batch_command(
    source: Annotated[
        Path,
        typer.Argument(
            help="The book: CSV, XLSX or Parquet in the questionnaire's column format.",
            metavar="BOOK",
            exists=True,
            dir_okay=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Scored book: .parquet or .csv.", dir_okay=False),
    ],
    errors: Annotated[
        Path | None,
        typer.Option(
            "--errors",
            help="Rejected rows and their reasons (CSV); default: <output>.errors.csv.",
            dir_okay=False,
        ),
    ] = None,
    advice: Annotated[
        Path | None,
        typer.Option(
            "--advice",
            metavar="FILE",
            help="Also write each facility's best fixes here (CSV), one row per facility "
            "and fix: the question, the answer now and advised, the saving, the cost band, "
            "the tier and outcome the fix reaches, the frameworks.",
            dir_okay=False,
        ),
    ] = None,
    model: ModelOption = None,
    rating_plan: PlanOption = None,
    limit: Annotated[
        str | None,
        typer.Option("--limit", help="Rate every facility at this limit (a code or label)."),
    ] = None,
    retention: Annotated[
        str | None,
        typer.Option(
            "--retention", help="Rate every facility at this retention (a code or label)."
        ),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows read and scored at a time.")
    ] = CHUNK_ROWS,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue an interrupted run from its last finished chunk."),
    ] = False,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            # help is rich markup: [dask] is escaped, or it would vanish as a tag
            help="Score on this Dask cluster, e.g. tcp://host:8786 (needs carescore\\[dask]).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Score on a local Dask cluster of N worker processes (needs carescore\\[dask]).",
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            min=1,
            help="Chunks scored at once, one core each; default: the cores available, "
            f"at most {MAX_DEFAULT_THREADS}. Each thread holds a chunk in memory.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Assessment date (YYYY-MM-DD) for rows without one."),
    ] = None,
) -> None:
    """Score every facility of a book; rejected rows go to the errors file with reasons,
    warnings (answers priced as worst ...) to <output>.warnings.csv.

    Exits 0 when every row was scored, 1 when some rows were rejected (they are in
    the errors file), the book, model or rating plan cannot be used, or another run
    is writing the same output (then no output is written), 2 for usage errors (an
    output that is an input or another output among them).
    """
    if advice is not None and advice.suffix.lower() != ".csv":
        typer.echo(f"error: --advice must be a .csv file; got {advice}", err=True)
        raise typer.Exit(EXIT_USAGE)
    from scoring.model.loss_model import default_model_dir
    from scoring.portfolio.book_files import book_outputs, errors_path_for
    from scoring.portfolio.run import score_book
    from scoring.responses.reading import count_rows

    files, folders = book_outputs(output, errors, advice)
    refuse_clashes(
        {
            "the book": source,
            "--model": model or default_model_dir(),
            "--rating-plan": rating_plan,
        },
        dict(files),
        dict(folders),
    )
    require_files(source, rating_plan)
    engine = load_engine(model, rating_plan)
    limit, retention = cover_options(engine, limit, retention)
    if scheduler is not None and workers is not None:
        typer.echo("error: give --scheduler or --workers, not both", err=True)
        raise typer.Exit(EXIT_USAGE)
    if advice is not None and (scheduler is not None or workers is not None):
        typer.echo("error: --advice is written by a run on this machine, not on Dask", err=True)
        raise typer.Exit(EXIT_USAGE)
    if threads is not None and (scheduler is not None or workers is not None):
        typer.echo("error: --threads is for this machine; a Dask cluster has its own", err=True)
        raise typer.Exit(EXIT_USAGE)
    settings: dict[str, Any] = {
        "as_of": parse_as_of(as_of),
        "errors": errors or errors_path_for(output),
        "limit": limit,
        "retention": retention,
        "chunk_rows": chunk_rows,
        "resume": resume,
    }
    with contextlib.ExitStack() as stack:
        if scheduler is None and workers is None:
            run = functools.partial(
                score_book,
                source,
                output,
                engine,
                threads=threads or _cores(),
                advice=advice,
                **settings,
            )
        else:
            client = dask_client(
                stack, scheduler=scheduler, workers=workers or 1, options="--scheduler / --workers"
            )
            from scoring.portfolio.distributed import score_book_on_dask

            run = functools.partial(
                score_book_on_dask,
                source,
                output,
                model_dir=model or default_model_dir(),
                plan_path=rating_plan,
                client=client,
                **settings,
            )
        try:
            if not quiet and sys.stderr.isatty():
                summary = _with_progress_bar(run, count_rows(source))
            else:
                summary = run()
        except InputError as exc:
            fail_input(exc, as_json=False)
        except OSError as exc:
            fail_environment(exc)
        except KeyboardInterrupt:
            _interrupted(output)
    _report(summary)
    raise typer.Exit(EXIT_OK if summary.rows_rejected == 0 else EXIT_INVALID)


def _interrupted(output: Path) -> NoReturn:
    """Ctrl-C: say what was kept and the command that goes on from it; exit 130."""
    from scoring.portfolio.book_files import parts_path_for

    parts = parts_path_for(output)
    if any(parts.glob("scored-*.arrow")):
        typer.echo(
            f"interrupted: no output was written; the chunks scored so far are kept in "
            f"{parts} - run the same command again with --resume to go on from them",
            err=True,
        )
    else:
        typer.echo("interrupted before any chunk was scored: nothing was written", err=True)
    raise typer.Exit(EXIT_INTERRUPTED)


def _cores() -> int:
    """The cores this process may run on, at most ``MAX_DEFAULT_THREADS``."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available, MAX_DEFAULT_THREADS))


def _with_progress_bar(run: Callable[..., BookSummary], total: int | None) -> BookSummary:
    """Run with a progress bar (rows, rows/s, time left) on the terminal's stderr."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("scoring"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("book", total=total, rate="")

        def progress(done: int, scored: int) -> None:
            elapsed = bar.tasks[task].elapsed or 0.0
            rate = f"{done / elapsed:,.0f} rows/s" if elapsed > 0 else ""
            bar.update(task, completed=done, rate=rate)

        summary: BookSummary = run(progress=progress)
        return summary


def _report(summary: BookSummary) -> None:
    seconds = summary.seconds.get("elapsed", 0.0)
    rate = summary.rows_read / seconds if seconds > 0 else 0.0
    typer.echo(
        f"{summary.input}: {summary.rows_read:,} rows read = {summary.rows_scored:,} scored "
        f"+ {summary.rows_rejected:,} rejected ({summary.chunks:,} chunk(s)"
        + (f", {summary.chunks_resumed:,} resumed" if summary.chunks_resumed else "")
        + f"; {seconds:,.1f} s, {rate:,.0f} rows/s)"
    )
    typer.echo(f"scored: {summary.output}")
    typer.echo(f"rejected rows: {summary.errors}")
    if summary.advice:
        typer.echo(f"advice: {summary.advice}")
    if summary.warnings:
        typer.echo(
            f"warnings: {summary.warnings} ({summary.rows_warned:,} scored row(s) with "
            "warnings, e.g. blank or unknown answers priced as the worst answer: see the "
            "columns warnings and priced_as_worst)"
        )
    versions = summary.versions
    typer.echo(
        f"{versions['model_id']} ({versions['model_sha256'][:12]}), {versions['rating_plan']}, "
        f"{versions['questionnaire']}"
    )
