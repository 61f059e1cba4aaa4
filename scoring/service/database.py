"""Connecting to the service's database and bringing its schema up to date.

SQLite (the default: one file in a data folder) runs with write-ahead logging, foreign
keys on and a busy timeout, so that readers never block the writer and concurrent
writers wait rather than fail; PostgreSQL (``postgresql+psycopg://...``) needs nothing
else. The schema is Alembic's: :func:`migrate` upgrades any database to the newest
revision (a new one is created), and is run by ``carescore serve`` on start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_SQLITE_BUSY_MS = 10_000


def sqlite_url(folder: Path) -> str:
    """The URL of the default database: ``carescore.db`` in ``folder``."""
    return f"sqlite+pysqlite:///{folder / 'carescore.db'}"


def connect(url: str) -> Engine:
    """An engine for ``url``; SQLite with WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_settings)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_settings(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
    cursor.close()


def sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions on ``engine``; objects stay readable after a commit."""
    return sessionmaker(engine, expire_on_commit=False)


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (the newest by default)."""
    command.upgrade(_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision of the schema."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head
