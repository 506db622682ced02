"""A co-handling part's own claim and resolve deadlines (escalation arms them as claim@N and
resolve@N), for the department's page and the lead's list of parts.

Revision ID: dispatch_0009
Revises: dispatch_0008
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "dispatch_0009"
down_revision = "dispatch_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assignments") as assignments:
        assignments.add_column(sa.Column("part_claim_due", UTCDateTime))
        assignments.add_column(sa.Column("part_resolve_due", UTCDateTime))
