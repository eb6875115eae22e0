"""Everything loaded once at start-up, handed to routes by dependency injection."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx
from fastapi import Request

from .codes import Terminology
from .codesystem import load_codesystem
from .payers import load_routes
from .policy_store import PolicyStore
from .questionnaire.build import questionnaires
from .settings import Settings, get_settings


@dataclass
class Services:
    settings: Settings
    terminology: Terminology
    store: PolicyStore
    codesystem: dict[str, Any]
    # Assessments by id for the checklist app and /assessments/{id}: (expires at, contract dict);
    # bounded, most recent kept, each for settings.assessment_ttl_seconds (the id is a capability).
    recent: dict[str, tuple[float, Any]] = field(default_factory=dict)
    fhir_transport: httpx.AsyncBaseTransport | None = None  # tests inject one
    clock: Callable[[], float] = time.monotonic  # for the assessments' time to live; tests move it
    # What each assessment's prior-authorization packet needs of the chart (cds_service/packet.py).
    packets: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, settings: Settings | None = None) -> "Services":
        terminology = Terminology()
        load_routes(terminology)  # a malformed mappings/payers.yaml stops start-up, not a request
        store = PolicyStore.load()
        questionnaires(store)  # generated once, validated: a broken mappings/questionnaire.yaml stops start-up
        return cls(settings or get_settings(), terminology, store, load_codesystem())

    def remember(self, key: str, value: Any, limit: int = 2000) -> None:
        """Keep an assessment for the checklist; a comparison's own assessments are kept
        under their ids as well, so each policy's detail opens on its own too."""
        expires = self.clock() + self.settings.assessment_ttl_seconds
        self.recent[key] = (expires, value)
        items = value.get("assessments") if isinstance(value, dict) else None
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                self.recent[item["id"]] = (expires, item)
        while len(self.recent) > limit:
            self.recent.pop(next(iter(self.recent)))

    def recall(self, key: str | None) -> Any | None:
        """The remembered assessment, or None when unknown or past its time to live."""
        found = self.recent.get(key) if key else None
        if found is None:
            return None
        if found[0] < self.clock():
            self.recent.pop(key, None)
            return None
        return found[1]


async def get_services(request: Request) -> Services:
    return request.app.state.services
