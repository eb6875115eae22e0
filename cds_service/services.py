"""Everything loaded once at start-up, handed to routes by dependency injection.

The aliases below are how a route asks for them (FastAPI's `Annotated[…, Depends(…)]`):
`ServicesDep`, `SettingsDep`. Both come from the app (`create_app(services)` or
`create_app(settings=…)`, else loaded from the environment at start-up), never from a
module-level cache: a test gives an app its own configuration (the SMART app's included,
`Services.smart`), or overrides `app.dependency_overrides[get_services]` (settings follow it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import httpx
from fastapi import Depends, Request

from .codes import Terminology
from .codesystem import load_codesystem
from .payers import load_routes
from .policy_store import PolicyStore
from .questionnaire.build import questionnaires
from .settings import Settings
from .state import SharedState, state_for

if TYPE_CHECKING:
    from .smart.config import SmartSettings


def _smart_settings() -> SmartSettings:
    # Imported here: the smart package imports this module for its routes' dependencies.
    from .smart.config import SmartSettings

    return SmartSettings()


@dataclass
class Services:
    settings: Settings
    terminology: Terminology
    store: PolicyStore
    codesystem: dict[str, Any]
    fhir_transport: httpx.AsyncBaseTransport | None = None  # tests inject one
    # Wall-clock seconds for the assessments' time to live (shared by every worker); tests move it.
    clock: Callable[[], float] = time.time
    # Prior-authorization packet data by assessment id: (expires at, data); see remember_packet.
    packets: dict[str, Any] = field(default_factory=dict)
    # The SMART app's configuration (IDDS_SMART_*), read with the rest at start-up.
    smart: SmartSettings = field(default_factory=_smart_settings)

    @classmethod
    def load(cls, settings: Settings | None = None, smart: SmartSettings | None = None) -> Services:
        terminology = Terminology()
        load_routes(terminology)  # a malformed mappings/payers.yaml stops start-up, not a request
        store = PolicyStore.load()
        questionnaires(
            store
        )  # generated once, validated: a broken mappings/questionnaire.yaml stops start-up
        services = cls(settings or Settings(), terminology, store, load_codesystem())
        if smart is not None:
            services.smart = smart
        return services

    @property
    def state(self) -> SharedState:
        """The database every worker shares (the audit trail's): assessments, SMART sessions, jtis."""
        return state_for(self.settings)

    def remember(self, key: str, value: Any) -> None:
        """Keep an assessment for the checklist, in the shared database, for
        settings.assessment_ttl_seconds; a comparison's own assessments are kept under
        their ids as well, so each policy's detail opens on its own too. Blocking: call
        it from a worker thread where the event loop matters."""
        now = self.clock()
        items = {key: value}
        nested = value.get("assessments") if isinstance(value, dict) else None
        for item in nested if isinstance(nested, list) else ():
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                items[item["id"]] = item
        self.state.put_assessments(items, now + self.settings.assessment_ttl_seconds, now)

    def remember_packet(self, key: str, value: Any, limit: int = 2000) -> None:
        """What an assessment's prior-authorization packet needs of the chart: the chart's own
        resources (PHI), so kept in this process's memory only, bounded and for the same time
        to live, never in the shared database (which holds ids and determinations)."""
        self.packets[key] = (self.clock() + self.settings.assessment_ttl_seconds, value)
        while len(self.packets) > limit:
            self.packets.pop(next(iter(self.packets)))

    def recall_packet(self, key: str) -> Any | None:
        found = self.packets.get(key)
        if found is None or found[0] < self.clock():
            self.packets.pop(key, None)
            return None
        return found[1]

    def recall(self, key: str | None) -> Any | None:
        """The remembered assessment (whichever worker answered it), or None when unknown or past its time to live."""
        return self.state.get_assessment(key, self.clock()) if key else None


class NotStarted(RuntimeError):
    """A route was called on an app whose lifespan never ran and that was given no services."""


# Both dependencies are coroutines although they never wait: FastAPI runs a plain `def`
# dependency in a worker thread, and these two would cost every call two thread hops (a
# hand-off and a wake-up each) to read an attribute.
async def get_services(request: Request) -> Services:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        raise NotStarted("the app has no services: run its lifespan or pass them to create_app")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_app_settings(services: ServicesDep) -> Settings:
    return services.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
