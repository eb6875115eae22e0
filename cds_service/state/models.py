"""Tables for the state every worker must share: recent assessments, SMART launches and
sessions, seen JWT `jti`s. In the audit trail's database and Alembic history (0002).

Every row has `expires_at` (seconds since the epoch): a row past it is never read as
live, and the purge deletes it. Secrets are never keys: a SMART `state` or session id is
stored as its SHA-256, and what it unlocks (PKCE verifier, access token) is encrypted with
a key derived from that secret, which only the browser holds (cds_service/state/store.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ..audit.models import Base, Json


class RecentAssessment(Base):
    """An assessment the service answered, for /assessments/{id} and the checklist (the id is a capability)."""

    __tablename__ = "recent_assessment"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    body: Mapped[dict[str, Any]] = mapped_column(Json)


class SmartLaunch(Base):
    """A started EHR launch, by SHA-256 of its `state`; the payload (PKCE verifier…) encrypted."""

    __tablename__ = "smart_launch"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class SmartSession(Base):
    """A SMART session, by SHA-256 of its cookie; the payload (access token…) encrypted."""

    __tablename__ = "smart_session"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class SeenJti(Base):
    """A caller JWT's (iss, jti), by SHA-256, kept until the token could no longer be accepted."""

    __tablename__ = "seen_jti"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
