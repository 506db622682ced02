"""Channels: where a delivery falls back to (an email address) when its own channel fails.

Revision ID: notify_0003
Revises: notify_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "notify_0003"
down_revision = "notify_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.add_column(sa.Column("fallback_address", sa.String(320)))
