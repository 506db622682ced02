"""Notify's first schema: deliveries and the plumbing tables.

Revision ID: notify_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.outbox import create_plumbing_tables_v1

revision = "notify_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("cause_type", sa.String(64), nullable=False),
        sa.Column("issue_id", sa.String(36), nullable=False, index=True),
        sa.Column("recipient_key", sa.String(100), nullable=False),
        sa.Column("recipient_unit_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("provider", sa.String(32)),
        sa.Column("provider_message_id", sa.String(128)),
        sa.Column("last_error", sa.String(200)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime),
        sa.UniqueConstraint("event_id", "recipient_key", "channel", name="uq_delivery"),
    )
    op.create_index(
        "ix_deliveries_pending",
        "deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    create_plumbing_tables_v1(op)
