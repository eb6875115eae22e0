"""Audit trail: hook calls, assessments, feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "hook_call",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hook", sa.String(64)),
        sa.Column("hook_instance", sa.String(200), nullable=False),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("caller", sa.String(300)),
        sa.Column("patient_id", sa.String(200)),
        sa.Column("fhir_server", sa.String(500)),
        sa.Column("request_summary", Json, nullable=False),
        sa.Column("cards", sa.Integer, nullable=False),
        sa.Column("system_actions", sa.Integer, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
    )
    op.create_index("ix_hook_call_received_at", "hook_call", ["received_at"])
    op.create_index("ix_hook_call_hook_instance", "hook_call", ["hook_instance"])
    op.create_index("ix_hook_call_patient_id", "hook_call", ["patient_id"])
    op.create_table(
        "assessment",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "hook_call_id", sa.String(36), sa.ForeignKey("hook_call.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("policy_id", sa.String(100), nullable=False),
        sa.Column("policy_version", sa.String(50), nullable=False),
        sa.Column("order_ref", sa.String(300)),
        sa.Column("order_code", sa.String(50)),
        sa.Column("phase", sa.String(30)),
        sa.Column("indication", sa.String(50)),
        sa.Column("determination", sa.String(50), nullable=False),
        sa.Column("criteria", Json, nullable=False),
    )
    op.create_index("ix_assessment_hook_call_id", "assessment", ["hook_call_id"])
    op.create_index("ix_assessment_determination", "assessment", ["determination"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("card_id", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("override_reason", Json),
        sa.Column("accepted_suggestions", Json, nullable=False),
        sa.Column("outcome_timestamp", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("caller", sa.String(300)),
    )
    op.create_index("ix_feedback_card_id", "feedback", ["card_id"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("assessment")
    op.drop_table("hook_call")
