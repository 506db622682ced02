"""Cases and assignments apart: an issue may be sent to several units in turn (returns,
reopening) and at once (co-handling), plus notes, unit tokens and work-day meetings.

Revision ID: dispatch_0002
Revises: dispatch_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "dispatch_0002"
down_revision = "dispatch_0001"
branch_labels = None
depends_on = None
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.rename_table("assignments", "assignments_v1")
    op.drop_index("ix_assignments_unit_state", table_name="assignments_v1")
    op.create_table(
        "cases",
        sa.Column("issue_id", sa.String(36), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32)),
        sa.Column("tier", sa.String(16)),
        sa.Column("flags", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("street", sa.String(64), nullable=False),
        sa.Column("place_id", sa.String(64), nullable=False),
        sa.Column("duplicate_key", sa.String(200)),
        sa.Column("lead_unit_id", sa.String(64)),
        sa.Column("returns", sa.Integer, nullable=False),
        sa.Column("reopened", sa.Integer, nullable=False),
        sa.Column("linked_to", sa.String(36)),
        sa.Column("meeting_id", sa.String(36)),
        sa.Column("promised_by", UTCDateTime),
        sa.Column("escalation_level", sa.Integer, nullable=False),
        sa.Column("claim_due", UTCDateTime),
        sa.Column("resolve_due", UTCDateTime),
        sa.Column("resolution", sa.Text),
        sa.Column("closed_reason", sa.String(32)),
        sa.Column("submitted_at", UTCDateTime, nullable=False),
        sa.Column("resolved_at", UTCDateTime),
        sa.Column("feedback_due", UTCDateTime),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_cases_street_state", "cases", ["street", "state"])
    op.create_index("ix_cases_duplicates", "cases", ["category", "duplicate_key", "state"])
    op.create_index(
        "ix_cases_feedback_due",
        "cases",
        ["feedback_due"],
        postgresql_where=sa.text("state = 'resolved'"),
        sqlite_where=sa.text("state = 'resolved'"),
    )
    op.create_index("ix_cases_meeting", "cases", ["meeting_id"])
    op.create_table(
        "assignments",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("issue_id", sa.String(36), nullable=False, index=True),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("return_reason", sa.String(32)),
        sa.Column("resolution", sa.Text),
        sa.Column("dispatched_at", UTCDateTime, nullable=False),
        sa.Column("claimed_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
    )
    op.create_index("ix_assignments_unit_state", "assignments", ["unit_id", "state"])
    op.execute("""
        INSERT INTO cases (issue_id, state, category, tier, flags, description, street, place_id, lead_unit_id,
                           returns, reopened, escalation_level, resolution, submitted_at, resolved_at, updated_at)
        SELECT issue_id, state, category, tier, '{}', '', street, place_id, unit_id, 0, 0, 0, resolution,
               dispatched_at, resolved_at, dispatched_at FROM assignments_v1""")
    op.execute("""
        INSERT INTO assignments (issue_id, unit_id, role, forced, state, resolution, dispatched_at, claimed_at,
                                 finished_at)
        SELECT issue_id, unit_id, 'lead', false, state, resolution, dispatched_at, claimed_at, resolved_at
        FROM assignments_v1""")
    op.drop_table("assignments_v1")
    op.create_table(
        "notes",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("issue_id", sa.String(36), nullable=False, index=True),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "unit_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_table(
        "meetings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("street", sa.String(64), nullable=False),
        sa.Column("held_on", sa.String(10), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("attending", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
