"""On RabbitMQ, the events of an issue waiting in a delay queue (the one that failed, those
parked behind it), in order, so that a later event of that issue is not applied before them.

Revision ID: dispatch_0010
Revises: dispatch_0009
"""

from alembic import op

from shared.outbox import create_plumbing_tables_v3

revision = "dispatch_0010"
down_revision = "dispatch_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_tables_v3(op)
