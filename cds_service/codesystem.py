"""The idds CodeSystem as a FHIR R4 resource, built from mappings/codesystem-idds.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fhir.resources.R4B.codesystem import CodeSystem

from .mappings_schema import MAPPINGS_DIR, codesystem


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
