"""The co-handling parts of a big issue (聯辦) on its public status: each department, where its
part stands and its own deadlines.

Revision ID: intake_0006
Revises: intake_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0006"
down_revision = "intake_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issues") as issues:
        issues.add_column(sa.Column("parts", sa.Text))
