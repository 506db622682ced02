"""The deliveries to one address by time: every delivery planned asks how many went to its
address within the rate window, which without this index read the whole table (at a
property company's thousands of notices a day, the work of each grew with all before it).

Revision ID: notify_0009
Revises: notify_0008
"""

from alembic import op

revision = "notify_0009"
down_revision = "notify_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_address_created", "deliveries", ["address", "created_at"])
