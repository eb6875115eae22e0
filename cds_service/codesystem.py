"""The service's own CodeSystems as FHIR R4 resources, so an EHR can resolve every code a card
or an assessment carries: idds (mappings/codesystem-idds.yaml) and the reasons a card may be
dismissed for (`overrideReasons`, mappings/next-steps.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fhir.resources.R4B.codesystem import CodeSystem

from . import next_steps
from .mappings_schema import MAPPINGS_DIR, codesystem

OVERRIDE_REASON_ID = "idds-override-reason"


def load_codesystem(directory: Path = MAPPINGS_DIR) -> dict[str, Any]:
    raw = codesystem(directory)
    resource = {
        "resourceType": "CodeSystem",
        "id": "idds",
        "url": raw.url,
        "name": raw.name,
        "title": raw.title,
        "status": "active",
        "experimental": False,
        "content": "complete",
        "caseSensitive": True,
        "count": len(raw.concepts),
        "concept": [
            {"code": code, "display": body.display, "definition": body.definition}
            for code, body in raw.concepts.items()
        ],
    }
    CodeSystem.model_validate(resource)  # a broken mapping file stops start-up
    return resource


def override_reason_codesystem(directory: Path = MAPPINGS_DIR) -> dict[str, Any]:
    """The CodeSystem of the cards' `overrideReasons` (GET /fhir/CodeSystem/idds-override-reason)."""
    reasons = next_steps.load(directory).override_reasons  # one system (next_steps_schema.OverrideReasons)
    resource = {
        "resourceType": "CodeSystem",
        "id": OVERRIDE_REASON_ID,
        "url": reasons[0]["system"],
        "name": "IddsCdsOverrideReason",
        "title": "idds-cds reasons for dismissing a card",
        "status": "active",
        "experimental": False,
        "content": "complete",
        "caseSensitive": True,
        "count": len(reasons),
        "concept": [{"code": r["code"], "display": r["display"]} for r in reasons],
    }
    CodeSystem.model_validate(resource)
    return resource
