"""The live chart for the checklist: the patient's record and draft orders from a FHIR
server, assessed by the same pipeline as the hooks.

Why a synthetic hook request: `build_record` already knows which queries feed
the assessment, how to page and what to report when a query fails; going
through it means the checklist can never see a different chart than a hook
with no prefetch would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool

from .. import urls
from ..assessment import Assessment, Comparison
from ..hook_models import HookRequest
from ..orders import ORDER_TYPES, draft_orders
from ..pipeline import HookOutcome, assess_hook
from ..prefetch import PatientUnavailable, build_record, fetcher_for
from ..record import PatientRecord
from ..services import Services

# Draft orders the EHR may have saved on its FHIR server (status draft).
DRAFT_QUERIES = {
    "service-requests": "ServiceRequest?patient={pid}&status=draft",
    "device-requests": "DeviceRequest?patient={pid}&status=draft",
    "medication-requests": "MedicationRequest?patient={pid}&status=draft",
}


@dataclass
class LiveChart:
    record: PatientRecord
    outcome: HookOutcome | None
    orders: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def _wanted(resource: dict[str, Any], order: str | None) -> bool:
    if not order:
        return True
    ref = f"{resource.get('resourceType')}/{resource.get('id')}"
    return order in (ref, resource.get("id"))


async def load(
    services: Services,
    iss: str,
    patient_id: str,
    token: str | None,
    order: str | None = None,
    today: date | None = None,
) -> LiveChart:
    """Fetch, then assess every draft IDDS order (or just `order`). Raises PatientUnavailable."""
    settings = services.settings
    notes: list[str] = []
    if not urls.fhir_id_ok(patient_id):
        raise PatientUnavailable(patient_id)  # not a FHIR id: nothing to fetch, and no URL built from it
    # One deadline for the draft orders and the chart together.
    deadline_at = asyncio.get_running_loop().time() + settings.fhir_deadline_seconds
    fetcher = fetcher_for(settings, iss, token, services.fhir_transport, deadline_at)
    results = await fetcher.fetch_all(
        {k: q.format(pid=urls.quote_id(patient_id)) for k, q in DRAFT_QUERIES.items()}
    )
    draft: list[dict[str, Any]] = []
    for key, result in results.items():
        draft += [r for r in result.resources if isinstance(r, dict)]
        if result.error:
            notes.append(f"Draft orders ({key}) could not be read: {result.error}.")
    chosen = [r for r in draft if r.get("resourceType") in ORDER_TYPES and _wanted(r, order)]
    request = HookRequest.model_validate(
        {
            "hook": "order-select",
            "hookInstance": str(uuid.uuid4()),
            "fhirServer": iss,
            "fhirAuthorization": {"access_token": token, "token_type": "Bearer"} if token else None,
            "context": {
                "patientId": patient_id,
                "selections": [f"{r['resourceType']}/{r.get('id')}" for r in chosen],
                "draftOrders": draft_orders(draft),
            },
        }
    )
    record = await build_record(request, settings, services.fhir_transport, deadline_at)
    if not chosen:
        notes.append(
            "No draft intrathecal pump order was found for this patient on the FHIR server"
            + (f" matching {order!r}." if order else ".")
        )
        return LiveChart(record, None, [], notes)
    # CPU-bound: in a worker thread, so one big chart never stalls the other calls.
    outcome = await run_in_threadpool(
        assess_hook,
        request,
        record,
        services.terminology,
        services.store,
        today or date.today(),
        settings.max_orders_per_call,
    )
    await run_in_threadpool(_keep, services, outcome.assessments)
    return LiveChart(record, outcome, chosen, notes)


def _keep(services: Services, assessments: Sequence[Assessment | Comparison]) -> None:
    for a in assessments:
        services.remember(a.id, a.as_contract())
