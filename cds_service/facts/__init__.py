"""Facts: what the record says, computed once per request and cited by resource."""

from .base import Duration, Fact, FactContext
from .registry import compute

__all__ = ["Duration", "Fact", "FactContext", "compute"]
