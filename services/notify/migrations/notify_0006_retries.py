"""The embedded bus sets a failing event aside (and its issue's later events behind it) in
a retry table instead of retrying it inline, so one poison event stalls nothing else.

Revision ID: notify_0006
Revises: notify_0005
"""

from alembic import op

from shared.outbox import create_plumbing_tables_v2

revision = "notify_0006"
down_revision = "notify_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_tables_v2(op)
