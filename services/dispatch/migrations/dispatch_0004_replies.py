"""The building the resident named, for the unit's SMS; the start of each unit token, so an
operator can tell a unit's tokens apart when revoking one.

Revision ID: dispatch_0004
Revises: dispatch_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "dispatch_0004"
down_revision = "dispatch_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as cases:
        cases.add_column(sa.Column("building", sa.String(100)))
    with op.batch_alter_table("unit_tokens") as unit_tokens:
        unit_tokens.add_column(sa.Column("prefix", sa.String(12)))
    op.create_index("ix_unit_tokens_unit_id", "unit_tokens", ["unit_id"])
