"""``carescore serve`` and ``carescore admin``: the service and its bootstrap.

The database is SQLite in a data folder unless ``--database-url`` (or the
``CARESCORE_DATABASE_URL`` environment variable) names another, e.g.
``postgresql+psycopg://carescore@localhost/carescore``; it is created and migrated on
first use. Outside ``--dev``, ``serve`` refuses to start without a secret key of its
own (``CARESCORE_SECRET_KEY``, at least 32 characters): the key that will sign browser
sessions and invitation links; API keys need none (only their hashes are kept).
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import re
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scoring.cli._common import EXIT_INVALID, EXIT_USAGE
from scoring.cli._help import Command, Group

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

DATABASE_ENV = "CARESCORE_DATABASE_URL"
_WORKER_DATA_ENV = "CARESCORE_SERVE_DATA_DIR"
_WORKER_COOKIES_ENV = "CARESCORE_SERVE_SECURE_COOKIES"
SECRET_ENV = "CARESCORE_SECRET_KEY"  # noqa: S105 (the variable's name, not a secret)
_MIN_SECRET = 32
_DEFAULT_SECRETS = {"", "changeme", "change-me", "secret", "dev", "default"}

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        metavar="<folder>",
        help="Where the default SQLite database and uploaded books are kept.",
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        metavar="<url>",
        help=f"Another database, e.g. postgresql+psycopg://user@host/db (or {DATABASE_ENV}).",
    ),
]


_LINK_TOKEN = re.compile(r"/(invite|reset)/[^/?#\s]+")


class HideLinkTokens(logging.Filter):
    """The access log without the token of an invitation or password reset link (the
    path ``/invite/<token>`` is logged as ``/invite/...``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _LINK_TOKEN.sub(r"/\1/...", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def _log_config() -> dict[str, object]:
    """uvicorn's logging, its access log through :class:`HideLinkTokens`."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["hide_link_tokens"] = {"()": HideLinkTokens}
    config["handlers"]["access"]["filters"] = ["hide_link_tokens"]
    return config


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _worker_id() -> str:
    """This process's name among the instances sharing the database: host and pid."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}"


def stopped_here(workers: set[str]) -> set[str]:
    """Of ``workers`` (host:pid ids), those of this machine whose process is gone. A
    process id in use again, or another machine's worker, is left to its lease."""
    host = socket.gethostname()[:80]
    stopped = set()
    for worker in workers:
        name, _, pid = worker.rpartition(":")
        if name != host or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            stopped.add(worker)
        except (PermissionError, OverflowError):
            continue  # alive under another user, or not a process id
    return stopped


def _release_stopped(engine: Engine) -> None:
    """Queue again at once the book jobs left running by this machine's stopped
    workers (a restart), rather than after their leases run out."""
    from sqlalchemy.orm import Session

    from scoring.service.jobs import release_workers, running_workers

    with Session(engine) as session:
        queued = release_workers(session, stopped_here(running_workers(session)), _now())
    if queued:
        typer.echo(f"carescore: {queued} book job(s) left by a stopped worker queued again")


def _adopt_legacy_files(engine: Engine, data_dir: Path) -> None:
    """Copy into the database the book files an earlier version kept in this data
    folder, so that every instance serves them (the folder is left as it is)."""
    from sqlalchemy.orm import Session

    from scoring.service.book_files import adopt_legacy

    if not data_dir.is_dir():
        return
    with Session(engine) as session:
        copied = adopt_legacy(session, data_dir.resolve())
    if copied:
        typer.echo(f"carescore: {copied} book file(s) of {data_dir} copied into the database")


def open_database(data_dir: Path, database_url: str | None) -> Engine:
    """The service's database, created and migrated to the newest schema."""
    from scoring.service.database import connect, migrate, sqlite_url

    url = database_url or os.environ.get(DATABASE_ENV)
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        url = sqlite_url(data_dir.resolve())
    engine = connect(url)
    migrate(engine)
    return engine


def serve_command(
    host: Annotated[
        str, typer.Option("--host", metavar="<address>", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="<port>", min=1, max=65535, help="Port.")
    ] = 8000,
    data_dir: DataDir = Path("carescore-data"),
    database_url: DatabaseUrl = None,
    dev: Annotated[
        bool,
        typer.Option("--dev", help="Development: start without a secret key of its own."),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            metavar="<n>",
            min=1,
            max=64,
            help="Worker processes (one per core; each keeps its own rate limits and "
            "scores books one at a time).",
        ),
    ] = 1,
) -> None:
    """Run the agent API (FastAPI on uvicorn): /v1, the OpenAPI schema at /openapi.json
    and its docs at /docs.

    Exits 1 when the database cannot be opened, 2 when started outside --dev without a
    secret key of its own.
    """
    secret = os.environ.get(SECRET_ENV, "")
    if not dev and (secret.strip().lower() in _DEFAULT_SECRETS or len(secret) < _MIN_SECRET):
        typer.echo(
            f"error: set {SECRET_ENV} to a secret of at least {_MIN_SECRET} characters "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'), "
            "or run with --dev",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    import uvicorn

    from scoring.rating.score import default_engine
    from scoring.service.api import create_app
    from scoring.service.database import sessions

    engine = _admin(data_dir, database_url)  # created and migrated once, here
    _release_stopped(engine)
    _adopt_legacy_files(engine, data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)  # uploaded books and their results
    where = engine.url.render_as_string()
    typer.echo(f"carescore: serving on http://{host}:{port} ({where}, {workers} worker(s))")
    if workers == 1:
        app = create_app(
            sessions(engine),
            default_engine(),
            _now,
            data_dir.resolve(),
            secure_cookies=not dev,
            worker=_worker_id(),
        )
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="info",
            log_config=_log_config(),
            server_header=False,
        )
        return
    engine.dispose()
    os.environ[DATABASE_ENV] = engine.url.render_as_string(hide_password=False)
    os.environ[_WORKER_DATA_ENV] = str(data_dir.resolve())
    os.environ[_WORKER_COOKIES_ENV] = "0" if dev else "1"
    uvicorn.run(
        "scoring.cli.serve:worker_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        log_config=_log_config(),
        server_header=False,
    )


def worker_app() -> FastAPI:
    """The app of one of several worker processes, from what ``serve`` left in the
    environment (the database is already migrated)."""
    from scoring.rating.score import default_engine
    from scoring.service.api import create_app
    from scoring.service.database import connect, sessions

    engine = connect(os.environ[DATABASE_ENV])
    secure = os.environ.get(_WORKER_COOKIES_ENV, "1") != "0"
    files = Path(os.environ[_WORKER_DATA_ENV])
    return create_app(
        sessions(engine),
        default_engine(),
        _now,
        files,
        secure_cookies=secure,
        worker=_worker_id(),
    )


admin_app = typer.Typer(
    help="Create organisations, users and API keys (no web page needed).",
    no_args_is_help=True,
    cls=Group,
)


def _admin(data_dir: Path, database_url: str | None) -> Engine:
    """The database, or exit 1 with a sentence when it cannot be opened."""
    try:
        return open_database(data_dir, database_url)
    except Exception as exc:  # a URL, a driver or a server that cannot be used
        typer.echo(f"error: the database cannot be opened: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from exc


def _run(data_dir: Path, database_url: str | None, work: object) -> object:
    from sqlalchemy.orm import Session

    from scoring.service.accounts import AccountError

    engine = _admin(data_dir, database_url)
    try:
        with Session(engine) as session:
            try:
                assert callable(work)
                made = work(session)
            except AccountError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(EXIT_INVALID) from exc
            session.commit()
    finally:
        engine.dispose()
    return made


@admin_app.command("create-org", cls=Command)
def create_org(
    name: Annotated[str, typer.Argument(metavar="<name>", help="The organisation's name.")],
    kind: Annotated[
        str, typer.Option("--kind", metavar="<agency|facility>", help="What it is.")
    ] = "agency",
    data_dir: DataDir = Path("carescore-data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Create an organisation; prints its id."""
    from scoring.service.accounts import create_organisation

    made = _run(data_dir, database_url, lambda s: create_organisation(s, name, kind, now=_now()))
    typer.echo(str(made))


@admin_app.command("create-user", cls=Command)
def create_user(
    organisation: Annotated[int, typer.Argument(metavar="<org id>", help="Its organisation.")],
    email: Annotated[str, typer.Argument(metavar="<email>", help="The user's email.")],
    name: Annotated[str, typer.Option("--name", metavar="<name>", help="Full name.")] = "",
    role: Annotated[
        str,
        typer.Option(
            "--role",
            metavar="<role>",
            help="agency_admin, agent, underwriter or facility_user.",
        ),
    ] = "agent",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    data_dir: DataDir = Path("carescore-data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Create a user of an organisation; prints its id. A password is read from standard
    input only (never from the command line, where others may see it)."""
    from scoring.service.accounts import create_user as make_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    made = _run(
        data_dir,
        database_url,
        lambda s: make_user(s, organisation, email, name or email, role, password, now=_now()),
    )
    typer.echo(str(made))


@admin_app.command("create-api-key", cls=Command)
def create_api_key(
    organisation: Annotated[int, typer.Argument(metavar="<org id>", help="Its organisation.")],
    name: Annotated[
        str, typer.Option("--name", metavar="<name>", help="What the key is for.")
    ] = "api",
    role: Annotated[
        str,
        typer.Option(
            "--role",
            metavar="<role>",
            help="agency_admin (may do everything), agent, underwriter or facility_user.",
        ),
    ] = "agency_admin",
    data_dir: DataDir = Path("carescore-data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key for an organisation and print it: it is shown this once and
    only its hash is kept. An agency admin's key may then create, list and revoke the
    agency's keys over the API (/v1/api-keys)."""
    from scoring.service.accounts import create_api_key as make_key

    made = _run(
        data_dir,
        database_url,
        lambda s: make_key(s, organisation, name, now=_now(), role=role),
    )
    typer.echo(str(made))


@admin_app.command("revoke-api-key", cls=Command)
def revoke_api_key(
    prefix: Annotated[
        str, typer.Argument(metavar="<prefix>", help="The key's prefix (after cs_).")
    ],
    data_dir: DataDir = Path("carescore-data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an API key: it is refused from now on."""
    from scoring.service.accounts import revoke_api_key as revoke

    _run(data_dir, database_url, lambda s: revoke(s, prefix, now=_now()))
    typer.echo(f"revoked {prefix}")


@admin_app.command("reset-password", cls=Command)
def reset_password(
    email: Annotated[str, typer.Argument(metavar="<email>", help="The user's email.")],
    hours: Annotated[
        int,
        typer.Option("--hours", metavar="<hours>", min=1, max=168, help="How long it works."),
    ] = 24,
    data_dir: DataDir = Path("carescore-data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Print a one-time link to choose a new password: the path /reset/<token> on the
    service, then the token. It is shown this once, works once, and signs the user out
    everywhere when used (no mail server is needed)."""
    from scoring.service.web.facility_accounts import create_password_reset

    made = _run(
        data_dir,
        database_url,
        lambda s: create_password_reset(s, email, now=_now(), hours=hours),
    )
    typer.echo(f"/reset/{made}")
    typer.echo(str(made))
    typer.echo(f"the link works once, within {hours} hours", err=True)


@admin_app.command("release-worker", cls=Command)
def release_worker(
    workers: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[<worker>...]",
            help="Workers known to have stopped (host:pid, as listed without arguments).",
        ),
    ] = None,
    data_dir: DataDir = Path("carescore-data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Queue again at once the books held by workers known to have stopped (a machine
    that is gone), instead of waiting for their leases to run out. Without a worker,
    list the workers holding a book. A worker still running would score its book
    twice: name only those you know have stopped."""
    from scoring.service.jobs import release_workers, running_workers

    def work(session: Session) -> tuple[set[str], int]:
        holding = running_workers(session)
        return holding, release_workers(session, set(workers or ()) & holding, _now())

    made = _run(data_dir, database_url, work)
    assert isinstance(made, tuple)
    holding, queued = made
    if not workers:
        for worker in sorted(holding):
            typer.echo(worker)
        return
    unknown = sorted(set(workers) - holding)
    if unknown:
        typer.echo(f"holding no book: {', '.join(unknown)}", err=True)
    typer.echo(f"{queued} book(s) queued again")
