"""Alembic's environment: migrations run on the engine :mod:`scoring.service.database`
hands over (never on a URL read from a file or the environment)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from scoring.service.tables import Base

engine = context.config.attributes["engine"]
assert isinstance(engine, Engine)
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
