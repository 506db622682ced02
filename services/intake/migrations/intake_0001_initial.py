"""Intake's first schema: issues, reporters, timeline and the plumbing tables.

Revision ID: intake_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.outbox import create_plumbing_tables_v1

revision = "intake_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issues",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("category", sa.String(32)),
        sa.Column("street", sa.String(64), nullable=False),
        sa.Column("community", sa.String(100)),
        sa.Column("compound", sa.String(100)),
        sa.Column("building", sa.String(100)),
        sa.Column("address", sa.String(500)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tier", sa.String(16)),
        sa.Column("assigned_unit_id", sa.String(64)),
        sa.Column("assigned_unit_name", sa.String(200)),
        sa.Column("escalation_level", sa.Integer, nullable=False),
        sa.Column("submitted_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_issues_street_status", "issues", ["street", "status"])
    op.create_table(
        "reporters",
        sa.Column("issue_id", sa.String(36), sa.ForeignKey("issues.id"), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
    )
    op.create_table(
        "timeline",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "issue_id", sa.String(36), sa.ForeignKey("issues.id"), nullable=False, index=True
        ),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    create_plumbing_tables_v1(op)
