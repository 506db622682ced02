"""The attributes a gateway sends that its issue's category does not ask for (FixMyStreet's
fixmystreet_id, report_url, easting...), kept in intake for that gateway alone.

Revision ID: intake_0004
Revises: intake_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0004"
down_revision = "intake_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issues") as issues:
        issues.add_column(sa.Column("extra_attributes", sa.Text))
