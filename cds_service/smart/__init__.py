"""The SMART on FHIR coverage checklist: EHR launch, standalone view, printable summary.

Included in the service with `app.include_router(smart_router)`.
"""

from .routes import router as smart_router

__all__ = ["smart_router"]
