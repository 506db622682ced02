"""On RabbitMQ, the events of an issue waiting in a delay queue (the one that failed, those
parked behind it), in order, so that a later event of that issue is not applied before them.

Revision ID: notify_0008
Revises: notify_0007
"""

from alembic import op

from shared.outbox import create_plumbing_tables_v3

revision = "notify_0008"
down_revision = "notify_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_tables_v3(op)
