"""Units' tokens revoked in dispatch (unit.token_revoked) stop here too.

Revision ID: escalation_0003
Revises: escalation_0002
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "escalation_0003"
down_revision = "escalation_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("unit_tokens") as unit_tokens:
        unit_tokens.add_column(sa.Column("revoked_at", UTCDateTime))
