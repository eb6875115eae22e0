"""Shared state: recent assessments, SMART launches and sessions, seen JWT jtis.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "recent_assessment",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("body", Json, nullable=False),
    )
    op.create_index("ix_recent_assessment_expires_at", "recent_assessment", ["expires_at"])
    for table in ("smart_launch", "smart_session"):
        op.create_table(
            table,
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("expires_at", sa.Float, nullable=False),
            sa.Column("sealed", sa.LargeBinary, nullable=False),
        )
        op.create_index(f"ix_{table}_expires_at", table, ["expires_at"])
    op.create_table(
        "seen_jti",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_seen_jti_expires_at", "seen_jti", ["expires_at"])


def downgrade() -> None:
    for table in ("seen_jti", "smart_session", "smart_launch", "recent_assessment"):
        op.drop_table(table)
