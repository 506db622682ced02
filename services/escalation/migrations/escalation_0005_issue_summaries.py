"""What each issue is about, for the leader's supervision board: category, place and a short
description (phone numbers masked) from the lead unit's issue.dispatched.

Revision ID: escalation_0005
Revises: escalation_0004
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "escalation_0005"
down_revision = "escalation_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issue_summaries",
        sa.Column("issue_id", sa.String(36), primary_key=True),
        sa.Column("category", sa.String(32)),
        sa.Column("category_name", sa.String(64)),
        sa.Column("place_id", sa.String(64)),
        sa.Column("place_name", sa.String(128)),
        sa.Column("building", sa.String(100)),
        sa.Column("description", sa.String(160), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
