"""Organisations, users, API keys, facilities, assessments, scores and the audit log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _organisation() -> sa.Column[object]:
    owner = sa.ForeignKey("organisation.id")
    return sa.Column("organisation_id", sa.Integer(), owner, nullable=False)


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        _when("created_at"),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), primary_key=True),
        _organisation(),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        _when("created_at"),
    )
    op.create_index("ix_user_account_organisation_id", "user_account", ["organisation_id"])
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), primary_key=True),
        _organisation(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False, unique=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        _when("created_at"),
        _when("last_used_at", nullable=True),
        _when("revoked_at", nullable=True),
    )
    op.create_index("ix_api_key_organisation_id", "api_key", ["organisation_id"])
    op.create_table(
        "facility",
        sa.Column("id", sa.Integer(), primary_key=True),
        _organisation(),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _when("created_at"),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("organisation_id", "reference"),
    )
    op.create_index("ix_facility_organisation_id", "facility", ["organisation_id"])
    op.create_table(
        "assessment",
        sa.Column("id", sa.Integer(), primary_key=True),
        _organisation(),
        sa.Column("facility_id", sa.Integer(), sa.ForeignKey("facility.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("questionnaire_id", sa.String(100), nullable=False),
        sa.Column("questionnaire_version", sa.String(40), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("answered_by", sa.String(200), nullable=False),
        sa.Column("attested_name", sa.String(200), nullable=True),
        _when("attested_at", nullable=True),
        sa.Column("attestation", sa.Text(), nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("facility_id", "version"),
    )
    op.create_index("ix_assessment_organisation_id", "assessment", ["organisation_id"])
    op.create_index("ix_assessment_facility_id", "assessment", ["facility_id"])
    op.create_table(
        "score",
        sa.Column("id", sa.Integer(), primary_key=True),
        _organisation(),
        sa.Column("assessment_id", sa.Integer(), sa.ForeignKey("assessment.id"), nullable=False),
        sa.Column("limit_code", sa.String(40), nullable=False),
        sa.Column("retention_code", sa.String(40), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("plan_sha256", sa.String(64), nullable=False),
        _when("created_at"),
    )
    op.create_index("ix_score_organisation_id", "score", ["organisation_id"])
    op.create_index("ix_score_assessment_id", "score", ["assessment_id"])
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        _organisation(),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("assessment_id", sa.Integer(), sa.ForeignKey("assessment.id"), nullable=True),
        _when("at"),
    )
    op.create_index("ix_audit_event_organisation_id", "audit_event", ["organisation_id"])
    op.create_index("ix_audit_event_assessment", "audit_event", ["assessment_id", "at"])


def downgrade() -> None:
    for table in ("audit_event", "score", "assessment", "facility", "api_key", "user_account"):
        op.drop_table(table)
    op.drop_table("organisation")
