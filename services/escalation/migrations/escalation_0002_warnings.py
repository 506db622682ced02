"""Warnings before deadlines, supervision, pauses, extensions, and the units' token hashes
that dispatch publishes, so supervisors can act here with the token they already have.

Revision ID: escalation_0002
Revises: escalation_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "escalation_0002"
down_revision = "escalation_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clocks") as clocks:
        clocks.add_column(sa.Column("category", sa.String(32)))
        clocks.add_column(sa.Column("paused_seconds", sa.Float))
    op.create_table(
        "warnings",
        sa.Column("issue_id", sa.String(36), primary_key=True),
        sa.Column("clock", sa.String(16), primary_key=True),
        sa.Column("assignment", sa.Integer, primary_key=True),
        sa.Column("level", sa.Integer, primary_key=True),
        sa.Column("fraction", sa.Float, primary_key=True),
        sa.Column("to_unit_id", sa.String(64), nullable=False),
        sa.Column("deadline", UTCDateTime, nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
    )
    op.create_index(
        "ix_warnings_armed_due",
        "warnings",
        ["due_at"],
        postgresql_where=sa.text("state = 'armed'"),
        sqlite_where=sa.text("state = 'armed'"),
    )
    op.create_table(
        "extensions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("issue_id", sa.String(36), nullable=False, index=True),
        sa.Column("clock", sa.String(16), nullable=False),
        sa.Column("by_unit_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("from_due", UTCDateTime, nullable=False),
        sa.Column("to_due", UTCDateTime, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "unit_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("unit_id", sa.String(64), nullable=False),
    )
