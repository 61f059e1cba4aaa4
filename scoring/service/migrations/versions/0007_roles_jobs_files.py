"""Roles of API keys, leases of book jobs, and book files kept in the database.

Every existing key becomes an ``agency_admin`` key (it could do everything before, and
still can). A job gains its worker's lease (``claimed_by``, ``heartbeat_at``) and its
count of attempts; a book's upload and results are kept as chunks in ``book_file``
(books uploaded before this revision keep theirs in the data folder, where the service
still reads them).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.add_column(
        "api_key",
        sa.Column("role", sa.String(20), nullable=False, server_default="agency_admin"),
    )
    op.add_column("book_job", sa.Column("claimed_by", sa.String(100), nullable=True))
    op.add_column("book_job", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "book_job", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_index("ix_book_job_status", "book_job", ["status"])
    op.create_table(
        "book_file",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("book_job.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("job_id", "kind", "seq"),
    )
    op.create_index("ix_book_file_job_id", "book_file", ["job_id"])


def downgrade() -> None:
    op.drop_table("book_file")
    op.drop_index("ix_book_job_status", "book_job")
    with op.batch_alter_table("book_job") as batch:
        batch.drop_column("attempts")
        batch.drop_column("heartbeat_at")
        batch.drop_column("claimed_by")
    with op.batch_alter_table("api_key") as batch:
        batch.drop_column("role")
