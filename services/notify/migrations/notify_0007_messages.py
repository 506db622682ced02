"""The message each delivery went in, written down before it is handed to a provider: after a
crash between the provider's acceptance and notify's record, the same message (same members,
same text, same idempotency key) goes again, never a new bundle under a new key.

Revision ID: notify_0007
Revises: notify_0006
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "notify_0007"
down_revision = "notify_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.add_column(sa.Column("message_key", sa.String(36)))
    op.create_index("ix_deliveries_message_key", "deliveries", ["message_key"])
    op.create_table(
        "messages",
        sa.Column("key", sa.String(36), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
