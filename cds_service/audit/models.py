"""The audit trail's tables: what was asked, what was answered, what the clinician did with it.

Da Vinci CRD asks services to keep a record of every hook call and response.
Kept: identifiers and decisions. Not kept: tokens (never) and the patient's
chart (the request summary holds order references and codes only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

Json = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class HookCall(Base):
    """One row per hook call answered, 4xx included when the hook instance was readable."""

    __tablename__ = "hook_call"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    hook: Mapped[str | None] = mapped_column(String(64))
    hook_instance: Mapped[str] = mapped_column(String(200), index=True)
    service_id: Mapped[str] = mapped_column(String(100))
    caller: Mapped[str | None] = mapped_column(String(300))  # iss of the verified JWT, when auth is on
    patient_id: Mapped[str | None] = mapped_column(String(200), index=True)
    fhir_server: Mapped[str | None] = mapped_column(String(500))  # scheme://host/path only
    request_summary: Mapped[dict[str, Any]] = mapped_column(Json)  # orders, selections, prefetch keys
    cards: Mapped[int] = mapped_column(Integer)
    system_actions: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int] = mapped_column(Integer)

    assessments: Mapped[list[AssessmentRow]] = relationship(
        back_populates="hook_call", cascade="all, delete-orphan"
    )


class AssessmentRow(Base):
    """One per card: the id is the card's uuid and the CRD coverage-assertion-id."""

    __tablename__ = "assessment"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hook_call_id: Mapped[str] = mapped_column(ForeignKey("hook_call.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[str] = mapped_column(String(100))
    policy_version: Mapped[str] = mapped_column(String(50))
    order_ref: Mapped[str | None] = mapped_column(String(300))
    order_code: Mapped[str | None] = mapped_column(String(50))
    phase: Mapped[str | None] = mapped_column(String(30))
    indication: Mapped[str | None] = mapped_column(String(50))
    determination: Mapped[str] = mapped_column(String(50), index=True)
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(Json)  # [{id, status, evidence}]

    hook_call: Mapped[HookCall] = relationship(back_populates="assessments")


class FeedbackRow(Base):
    """A clinician's outcome for a card (CDS Hooks feedback)."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(String(100))
    card_id: Mapped[str] = mapped_column(String(200), index=True)  # = assessment.id when the card was ours
    outcome: Mapped[str] = mapped_column(String(20))
    override_reason: Mapped[dict[str, Any] | None] = mapped_column(Json)
    accepted_suggestions: Mapped[list[Any]] = mapped_column(Json)
    outcome_timestamp: Mapped[str] = mapped_column(String(64))  # as the EHR sent it
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    caller: Mapped[str | None] = mapped_column(String(300))
