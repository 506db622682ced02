"""Units act by SMS: the reply codes they answer with, the replies received (each applied once),
and the claim deadlines a unit's dispatch notice waits for.

Revision ID: notify_0005
Revises: notify_0004
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "notify_0005"
down_revision = "notify_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_codes",
        sa.Column("unit_id", sa.String(64), primary_key=True),
        sa.Column("issue_id", sa.String(36), primary_key=True),
        sa.Column("assignment", sa.Integer, primary_key=True),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("closed_at", UTCDateTime),
    )
    op.create_index(
        "uq_reply_codes_open",
        "reply_codes",
        ["unit_id", "code"],
        unique=True,
        postgresql_where=sa.text("closed_at IS NULL"),
        sqlite_where=sa.text("closed_at IS NULL"),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("unit_id", sa.String(64)),
        sa.Column("issue_id", sa.String(36)),
        sa.Column("assignment", sa.Integer),
        sa.Column("action", sa.String(16)),
        sa.Column("answered_at", UTCDateTime),
        sa.UniqueConstraint("provider", "message_id", name="uq_inbound_message"),
    )
    op.create_table(
        "claim_deadlines",
        sa.Column("issue_id", sa.String(36), primary_key=True),
        sa.Column("assignment", sa.Integer, primary_key=True),
        sa.Column("due_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "held_notices",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("issue_id", sa.String(36), nullable=False),
        sa.Column("assignment", sa.Integer, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("held_until", UTCDateTime, nullable=False),
    )
    op.create_index("ix_held_notices_assignment", "held_notices", ["issue_id", "assignment"])
