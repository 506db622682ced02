"""When the event behind a delivery happened, so latency is measured from the event itself.

Revision ID: notify_0004
Revises: notify_0003
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "notify_0004"
down_revision = "notify_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.add_column(sa.Column("event_at", UTCDateTime))
