"""The SMART on FHIR coverage checklist: EHR launch, standalone view, printable summary.

Included in the service with `app.include_router(smart_router)`.
"""

from . import views  # noqa: F401  (registers /smart/checklist and /smart/summary on the router)
from .routes import router as smart_router

__all__ = ["smart_router"]
