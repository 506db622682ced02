"""The public showcase (雙亮): the resolved issues a street office approved, and the photos it
chose for each.

Revision ID: dispatch_0007
Revises: dispatch_0006
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "dispatch_0007"
down_revision = "dispatch_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "showcase_entries",
        sa.Column("issue_id", sa.String(36), primary_key=True),
        sa.Column("street", sa.String(64), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("approved_by", sa.String(64), nullable=False),
        sa.Column("approved_at", UTCDateTime, nullable=False),
        sa.Column("withdrawn_at", UTCDateTime),
    )
    op.create_index("ix_showcase_entries_street", "showcase_entries", ["street"])
    op.create_table(
        "showcase_photos",
        sa.Column("issue_id", sa.String(36), primary_key=True),
        sa.Column("photo_id", sa.String(32), primary_key=True),
    )
