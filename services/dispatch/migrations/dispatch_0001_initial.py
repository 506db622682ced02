"""Dispatch's first schema: assignments and the plumbing tables.

Revision ID: dispatch_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.outbox import create_plumbing_tables_v1

revision = "dispatch_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("issue_id", sa.String(36), primary_key=True),
        sa.Column("assignment", sa.Integer, nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("street", sa.String(64), nullable=False),
        sa.Column("place_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("resolution", sa.Text),
        sa.Column("dispatched_at", UTCDateTime, nullable=False),
        sa.Column("claimed_at", UTCDateTime),
        sa.Column("resolved_at", UTCDateTime),
    )
    op.create_index("ix_assignments_unit_state", "assignments", ["unit_id", "state"])
    create_plumbing_tables_v1(op)
