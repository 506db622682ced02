"""Delivery receipts: what the provider later says became of a message.

Revision ID: notify_0002
Revises: notify_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "notify_0002"
down_revision = "notify_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.add_column(sa.Column("receipt_status", sa.String(16)))
        deliveries.add_column(sa.Column("receipt_at", UTCDateTime))
    op.create_index(
        "ix_deliveries_provider_message", "deliveries", ["provider", "provider_message_id"]
    )
