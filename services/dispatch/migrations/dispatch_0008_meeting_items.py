"""What a work-day meeting raised from its agenda: the issue, the unit that took it, what it
promised and by when; whether the promise was kept is read from the case at the next meeting.

Revision ID: dispatch_0008
Revises: dispatch_0007
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "dispatch_0008"
down_revision = "dispatch_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meeting_items",
        sa.Column("meeting_id", sa.String(36), primary_key=True),
        sa.Column("issue_id", sa.String(36), primary_key=True),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("promise", sa.Text, nullable=False),
        sa.Column("promised_by", UTCDateTime, nullable=False),
        sa.Column("raised_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_meeting_items_issue_id", "meeting_items", ["issue_id"])
