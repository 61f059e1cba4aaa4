"""``carescore accumulate SCORED_BOOK -o REPORT_DIR``: where a book is concentrated and
what a 1-in-100 or 1-in-200 year costs."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Annotated

import typer

from scoring.cli._common import (
    EXIT_USAGE,
    fail_environment,
    fail_input,
    parse_as_of,
    refuse_clashes,
    require_files,
)
from scoring.cli._dask import dask_client, require_dask
from scoring.cli.score import ModelOption, PlanOption, load_engine
from scoring.errors import DefinitionError, InputError


def accumulate_command(
    book: Annotated[
        Path,
        typer.Argument(
            help="A scored book: the output of carescore batch (.csv or .parquet).", dir_okay=False
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Folder to write the report into.", file_okay=False),
    ],
    years: Annotated[
        int,
        typer.Option(
            "--years",
            min=1,
            max=1_000_000,
            help="Years to simulate (each keeps one figure per event and vendor).",
        ),
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the simulation.")] = 0,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=256,
            help="Threads drawing blocks of years; with --dask, the local cluster's worker "
            "processes.",
        ),
    ] = 1,
    dask: Annotated[
        bool,
        typer.Option(
            "--dask",
            # help is rich markup: [dask] is escaped, or it would vanish as a tag
            help="Draw the years on a local Dask cluster of --workers processes, the same "
            "figures as on this process (needs carescore\\[dask]).",
        ),
    ] = False,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="Draw the years on this Dask cluster, e.g. tcp://host:8786, the same "
            "figures as on this process (needs carescore\\[dask]).",
        ),
    ] = None,
    days: Annotated[
        float | None,
        typer.Option("--days", help="Duration of every scenario (default: each event's median)."),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events", help="Event catalogue (default: the bundled one).", dir_okay=False
        ),
    ] = None,
    model: ModelOption = None,
    rating_plan: PlanOption = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Assessment date the book was scored at (YYYY-MM-DD)."),
    ] = None,
) -> None:
    """Simulate a year of the whole book many times - independent claims from the loss
    model plus the event catalogue's correlated vendor and technology events - and
    write the exposure concentration, the AEP and OEP curves, PML and TVaR, each
    vendor's part of the tail and the scenarios (HTML, CSV, JSON) into the --output
    folder.

    With --dask the blocks of years are drawn on a local Dask cluster (--workers
    processes), with --scheduler on the Dask cluster at that address (for books
    beyond one machine); a seed gives the same figures, byte for byte, as on one
    process.

    Exits 0 when written, 1 when the book, model, plan or catalogue cannot be used, a
    file cannot be written, Dask is not installed for --dask or --scheduler, or the
    scheduler cannot be reached; 2 for usage errors (an output that is an input among
    them, --dask with --scheduler).
    """
    if days is not None and not 0 < days <= 3650:
        typer.echo(f"error: --days must be above 0 and at most 3650; got {days:g}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if dask and scheduler is not None:
        typer.echo("error: give --dask (a local cluster) or --scheduler, not both", err=True)
        raise typer.Exit(EXIT_USAGE)
    on_dask = dask or scheduler is not None
    options = "--dask" if dask else "--scheduler"
    if on_dask:
        require_dask(options)
    from scoring._outputs import partial_path
    from scoring.accumulation.analysis import accumulate
    from scoring.accumulation.book import check_versions, read_scored_book
    from scoring.accumulation.catalogue import load_catalogues
    from scoring.accumulation.exposure import scored_book_exposure
    from scoring.accumulation.report import REPORT_FILES, write_report
    from scoring.model.loss_model import default_model_dir
    from scoring.report._words import money

    files: dict[str, Path | None] = {}
    for name in REPORT_FILES:
        files[f"the report's {name}"] = output / name
        files[f"the report's {name}.partial"] = partial_path(output / name)
    refuse_clashes(
        {
            "the book": book,
            "--events": events,
            "--model": model or default_model_dir(),
            "--rating-plan": rating_plan,
        },
        files,
    )
    require_files(book, events)
    date = parse_as_of(as_of)
    engine = load_engine(model, rating_plan)

    try:
        catalogue, vendors = load_catalogues(events, engine.questionnaire)
    except DefinitionError as exc:
        typer.echo(f"error: event catalogue {exc.source} cannot be used:", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from exc
    try:
        frame = read_scored_book(book)
        check_versions(frame, engine, str(book))
        exposure = scored_book_exposure(
            frame, engine, catalogue, vendors, as_of=date, source=str(book)
        )
    except InputError as exc:
        fail_input(exc, as_json=False)
    with contextlib.ExitStack() as stack:
        draw = None
        if on_dask:
            from scoring.accumulation.distributed import simulate_on_dask

            client = dask_client(stack, scheduler=scheduler, workers=workers, options=options)
            draw = functools.partial(simulate_on_dask, client)
        result = accumulate(
            exposure,
            catalogue,
            years=years,
            seed=seed,
            workers=1 if on_dask else workers,
            scenario_days=days,
            draw=draw,
        )
    try:
        write_report(result, output)
    except OSError as exc:
        fail_environment(exc, f"writing {output}")
    typer.echo(
        f"{book}: {result.facilities:,} facilities, {years:,} years simulated (seed {seed}); "
        f"mean {money(result.simulated_mean)} a year "
        f"(independent claims {money(result.simulated_attritional_mean)}, "
        f"the loss model's {money(result.expected_layer_loss)})"
    )
    for figure in result.tail:
        if figure.curve == "aep":
            typer.echo(
                f"1 in {figure.return_period}: PML {money(figure.pml)}, TVaR {money(figure.tvar)}"
            )
    top = result.contributions.iloc[0] if len(result.contributions) else None
    if top is not None:
        typer.echo(
            f"largest part of the 1-in-200 tail: {top['event']} at {top['vendor']} "
            f"({top['share_of_1_in_200_tvar']:.0%})"
        )
    typer.echo(f"report: {output / 'accumulation.html'}")
