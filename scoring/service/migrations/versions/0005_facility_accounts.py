"""Facility accounts in the browser: sessions, password resets, a facility's own
organisation, and invitations that set up one account.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    # Columns are added in place: a batch copy of the facility table (SQLite's way to
    # add a constraint) would drop the table, which the rows referencing it forbid.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE facility ADD COLUMN facility_organisation_id INTEGER "
            "REFERENCES organisation (id)"
        )
    else:
        op.add_column("facility", sa.Column("facility_organisation_id", sa.Integer()))
        op.create_foreign_key(
            "fk_facility_facility_organisation",
            "facility",
            "organisation",
            ["facility_organisation_id"],
            ["id"],
        )
    op.create_index(
        "ix_facility_facility_organisation_id", "facility", ["facility_organisation_id"]
    )
    op.add_column("invitation", sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_web_session_user_id", "web_session", ["user_id"])
    op.create_table(
        "password_reset",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False, unique=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_password_reset_user_id", "password_reset", ["user_id"])


def downgrade() -> None:
    op.drop_table("password_reset")
    op.drop_table("web_session")
    with op.batch_alter_table("invitation") as invitation:
        invitation.drop_column("accepted_at")
    with op.batch_alter_table("facility") as facility:
        facility.drop_index("ix_facility_facility_organisation_id")
        facility.drop_constraint("fk_facility_facility_organisation", type_="foreignkey")
        facility.drop_column("facility_organisation_id")
