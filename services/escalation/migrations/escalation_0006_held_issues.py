"""On RabbitMQ, the events of an issue waiting in a delay queue (the one that failed, those
parked behind it), in order, so that a later event of that issue is not applied before them.

Revision ID: escalation_0006
Revises: escalation_0005
"""

from alembic import op

from shared.outbox import create_plumbing_tables_v3

revision = "escalation_0006"
down_revision = "escalation_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_tables_v3(op)
