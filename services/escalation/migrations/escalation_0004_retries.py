"""The embedded bus sets a failing event aside (and its issue's later events behind it) in
a retry table instead of retrying it inline, so one poison event stalls nothing else.

Revision ID: escalation_0004
Revises: escalation_0003
"""

from alembic import op

from shared.outbox import create_plumbing_tables_v2

revision = "escalation_0004"
down_revision = "escalation_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_tables_v2(op)
