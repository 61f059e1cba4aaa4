"""The Dask cluster a command runs on: one at a scheduler's address (beyond this
machine), or a local cluster of worker processes. Dask is optional
(``carescore[dask]``); without it, or without a reachable scheduler, the command
exits 1 with a sentence."""

from __future__ import annotations

import contextlib
from typing import Any

import typer

from scoring.cli._common import EXIT_INVALID


def require_dask(options: str) -> None:
    """Exit 1 with a sentence when Dask is not installed (checked before any input is
    read); ``options`` names the options that need it."""
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        typer.echo(
            f"error: {options} needs Dask, which is not installed: pip install 'carescore[dask]'",
            err=True,
        )
        raise typer.Exit(EXIT_INVALID) from exc


def dask_client(
    stack: contextlib.ExitStack, *, scheduler: str | None, workers: int, options: str
) -> Any:
    """A client of the cluster at ``scheduler``, or of a local cluster of ``workers``
    processes, closed with ``stack``."""
    require_dask(options)
    from distributed import Client, LocalCluster

    try:
        if scheduler is not None:
            return stack.enter_context(Client(scheduler))  # type: ignore[no-untyped-call]
        # the scheduler's web server on a free port, so that two local runs do not collide
        cluster = stack.enter_context(
            LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers, threads_per_worker=1, dashboard_address=":0"
            )
        )
        return stack.enter_context(Client(cluster))  # type: ignore[no-untyped-call]
    except OSError as exc:
        where = f"reach the Dask scheduler {scheduler}" if scheduler else "start a Dask cluster"
        typer.echo(f"error: cannot {where}: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from exc
