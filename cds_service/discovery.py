"""The CDS Hooks discovery document, with the Da Vinci CRD extension."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .prefetch import TEMPLATES

SERVICE_IDS = {"order-select": "idds-order-select", "order-sign": "idds-order-sign"}
HOOK_BY_SERVICE = {v: k for k, v in SERVICE_IDS.items()}
CRD_VERSION = "2.1.0"

# Options an EHR may set per call in extension["davinci-crd.configuration"].
CONFIGURATION_OPTIONS: list[dict[str, Any]] = [
    {
        "code": "coverage-info",
        "type": "boolean",
        "name": "Coverage information",
        "description": "Return coverage-information systemActions (order-sign; order-select when no documentation is needed).",
        "default": True,
    },
    {
        "code": "comparison",
        "type": "boolean",
        "name": "Payer comparison",
        "description": "When the payer is unknown, assess every encoded policy and say it is a comparison; false returns no cards.",
        "default": True,
    },
]


def discovery() -> dict[str, Any]:
    services = []
    for hook, service_id in SERVICE_IDS.items():
        services.append(
            {
                "id": service_id,
                "hook": hook,
                "title": f"Intrathecal drug delivery coverage requirements ({hook})",
                "description": (
                    "Tells which of the payer's coverage requirements for an intrathecal pump trial, permanent "
                    "implant or replacement are met, contradicted or undocumented, citing the policy sentence."
                ),
                "prefetch": dict(TEMPLATES),
                "usageRequirements": "Send Coverage in prefetch (or allow a FHIR server) so the payer's policy is chosen.",
                "extension": {
                    "davinci-crd.version": CRD_VERSION,
                    "davinci-crd.configuration-options": CONFIGURATION_OPTIONS,
                },
            }
        )
    return {"services": services}


def configuration(request_extension: dict[str, Any] | None) -> dict[str, Any]:
    """Effective options: defaults overridden by the request's davinci-crd.configuration."""
    chosen = {o["code"]: o["default"] for o in CONFIGURATION_OPTIONS}
    given = (request_extension or {}).get("davinci-crd.configuration")
    if isinstance(given, dict):
        for code, value in given.items():
            if code in chosen and isinstance(value, bool):
                chosen[code] = value
    return chosen


_HOOK_PATH = re.compile(r"^/cds-services/([^/]+)/?$")


def hook_call_service(scope: Mapping[str, Any]) -> str | None:
    """The CDS service id a raw ASGI request calls (POST /cds-services/{id}), else None.

    The audit and metrics middlewares both sit below routing, so they match the path here."""
    if scope.get("type") != "http" or scope.get("method") != "POST":
        return None
    match = _HOOK_PATH.match(scope.get("path", ""))
    return match.group(1) if match else None
