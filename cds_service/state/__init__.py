"""State every worker shares, in the audit trail's database (cds_service/state/store.py)."""

from .store import SharedState, state_for

__all__ = ["SharedState", "state_for"]
