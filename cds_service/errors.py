"""FHIR OperationOutcome bodies for 4xx answers."""

from __future__ import annotations

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
