"""What a note is: a unit's progress, a return's explanation, or a supervisor's urging (督办
意见), so the unit's page shows each for what it is.

Revision ID: dispatch_0006
Revises: dispatch_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "dispatch_0006"
down_revision = "dispatch_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notes") as notes:
        notes.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="progress")
        )
