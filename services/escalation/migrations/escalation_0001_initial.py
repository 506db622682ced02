"""Escalation's first schema: clocks, escalations and the plumbing tables.

Revision ID: escalation_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.outbox import create_plumbing_tables_v1

revision = "escalation_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clocks",
        sa.Column("issue_id", sa.String(36), primary_key=True),
        sa.Column("clock", sa.String(16), primary_key=True),
        sa.Column("assignment", sa.Integer, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("street", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_clocks_armed_due",
        "clocks",
        ["due_at"],
        postgresql_where=sa.text("state = 'armed'"),
        sqlite_where=sa.text("state = 'armed'"),
    )
    op.create_table(
        "escalations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("issue_id", sa.String(36), nullable=False, index=True),
        sa.Column("clock", sa.String(16), nullable=False),
        sa.Column("assignment", sa.Integer, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("from_unit_id", sa.String(64), nullable=False),
        sa.Column("to_unit_id", sa.String(64), nullable=False),
        sa.Column("missed_deadline", UTCDateTime, nullable=False),
        sa.Column("fired_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("issue_id", "clock", "assignment", "level", name="uq_escalation_step"),
    )
    create_plumbing_tables_v1(op)
