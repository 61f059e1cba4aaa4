"""An agency's people managed over the API: a user may be disabled, and the audit log
says which user an admin's change was about.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.add_column(
        "user_account", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("audit_event", sa.Column("subject", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("subject")
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("disabled_at")
