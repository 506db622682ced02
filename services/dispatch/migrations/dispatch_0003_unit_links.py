"""Units' short links (`/u/<code>`, one per assignment sent) and the photos units attach to
their notes and resolutions on the unit pages.

Revision ID: dispatch_0003
Revises: dispatch_0002
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "dispatch_0003"
down_revision = "dispatch_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unit_links",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("issue_id", sa.String(36), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("assignment", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_index("ix_unit_links_issue", "unit_links", ["issue_id"])
    op.create_index("ix_unit_links_unit", "unit_links", ["unit_id", "created_at"])
    op.create_table(
        "photos",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("issue_id", sa.String(36), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("note_id", sa.BigInteger),
        sa.Column("assignment", sa.BigInteger),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_photos_issue", "photos", ["issue_id"])
