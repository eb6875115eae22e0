"""FHIR OperationOutcome bodies for 4xx answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse


def operation_outcome(status: int, diagnostics: str, code: str = "invalid") -> JSONResponse:
    return JSONResponse(
        status_code=status,
        media_type="application/fhir+json",
        content={
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
        },
    )


def describe(errors: Sequence[Any]) -> str:
    """Pydantic's (or FastAPI's) validation errors as one diagnostics line: where and what, the first five."""
    parts = []
    for e in errors[:5]:
        where = ".".join(str(p) for p in e.get("loc", ()))
        parts.append(f"{where}: {e.get('msg')}")
    return "; ".join(parts) or "invalid request"
