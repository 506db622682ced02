"""When an issue was last reopened: events from before it no longer move its status.

Revision ID: intake_0003
Revises: intake_0002
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "intake_0003"
down_revision = "intake_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issues") as issues:
        issues.add_column(sa.Column("reopened_at", UTCDateTime))
