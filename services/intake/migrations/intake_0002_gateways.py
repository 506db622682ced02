"""Gateways: API keys, idempotency, feedback, and the fuller issue (title, coordinates, media,
attributes, deadlines) that Open311 and the v1 API expose.

Revision ID: intake_0002
Revises: intake_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "intake_0002"
down_revision = "intake_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issues") as issues:
        issues.add_column(sa.Column("gateway", sa.String(100)))
        issues.add_column(sa.Column("external_id", sa.String(100)))
        issues.add_column(sa.Column("title", sa.String(200)))
        issues.add_column(sa.Column("lat", sa.Float))
        issues.add_column(sa.Column("lon", sa.Float))
        issues.add_column(sa.Column("media_urls", sa.Text))
        issues.add_column(sa.Column("attributes", sa.Text))
        issues.add_column(sa.Column("claim_deadline", UTCDateTime))
        issues.add_column(sa.Column("resolve_deadline", UTCDateTime))
        issues.add_column(sa.Column("status_note", sa.Text))
    op.create_index("ix_issues_submitted", "issues", ["submitted_at", "id"])
    op.create_index("ix_issues_gateway_submitted", "issues", ["gateway", "submitted_at"])
    with op.batch_alter_table("reporters") as reporters:
        reporters.add_column(sa.Column("email", sa.String(254)))
        reporters.add_column(
            sa.Column("consent", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("gateway", sa.String(100), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("gateway", sa.String(100), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("issue_id", sa.String(36), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "issue_id", sa.String(36), sa.ForeignKey("issues.id"), nullable=False, index=True
        ),
        sa.Column("satisfied", sa.Boolean, nullable=False),
        sa.Column("rating", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
