"""/smart/checklist and /smart/summary: one assessment's (or one launch's) checklist.

Which chart a page shows comes from its own URL only: the card's assessment
(`assessment`, read-only), this launch's session (`session`, see smart/routes.py), or an
open sandbox server (`iss` + `patient`, auth off). Never from a cookie, so a page never
shows a patient other than the one its launch named.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from .. import urls
from ..prefetch import PatientUnavailable
from ..services import Services, ServicesDep
from ..templating import NO_STORE
from . import chart as live
from .checklist import sheet
from .evidence import index
from .html import View, checklist_page, summary_page
from .oauth import Session, host_of
from .routes import SESSION_PARAM, _error, router, session_of

log = logging.getLogger("idds.smart")
READ_ONLY_NOTE = (
    "Shown from the assessment made when the order was selected: the chart is not read again here."
)


def _app_context_assessment(session: Session) -> str | None:
    if not session.app_context:
        return None
    found = parse_qs(session.app_context).get("assessment")
    return found[0] if found else None


async def _view(
    request: Request,
    services: Services,
    assessment: str | None,
    iss: str | None,
    patient: str | None,
    order: str | None,
    sid: str | None,
) -> View | HTMLResponse:
    store = services.store
    if sid:
        return await _session_view(request, services, sid, order)
    if assessment:
        found = await run_in_threadpool(services.recall, assessment)
        if found is None:
            return _error(
                "Assessment not found",
                "This assessment is no longer kept by the service (only recent ones are). "
                "Select the order again to get a fresh one.",
                404,
            )
        return View([sheet(found, store)], notes=[READ_ONLY_NOTE], params={"assessment": assessment})
    if iss or patient:
        if services.settings.require_auth:
            return _error(
                "Open the checklist from the EHR",
                "Opening a chart by `iss` and `patient` is for open sandbox "
                "servers and is turned off while caller authentication is on.",
                403,
            )
        if not (iss and patient):
            return _error(
                "Cannot open the checklist", "Give both `iss` (an open FHIR server) and `patient`.", 400
            )
        if not services.settings.fhir_server_allowed(iss):
            return _error(
                "FHIR server not allowed", "This FHIR server is not on IDDS_ALLOWED_FHIR_SERVERS.", 403
            )
        params = {"iss": iss, "patient": patient, **({"order": order} if order else {})}
        return await _live_view(services, iss, patient, None, order, params, None)
    return _error(
        "Open the checklist from the EHR",
        "No SMART session: launch the app from the EHR, follow a card's checklist link, "
        "or open /smart/checklist?iss=…&patient=… for an open sandbox server.",
        401,
    )


async def _session_view(
    request: Request, services: Services, sid: str, order: str | None
) -> View | HTMLResponse:
    session = await run_in_threadpool(session_of, request, sid)
    if session is None:
        return _error(
            "The sign-in has ended",
            "This checklist's SMART session is unknown or has expired. Open the app again from the EHR.",
            401,
        )
    if services.settings.require_auth and not urls.is_https(session.iss):
        log.info("checklist: %s is plain http; the token is not sent", host_of(session.iss))
        return _error(
            "The chart could not be read",
            "The EHR's FHIR server address is plain http. With caller authentication on, the service "
            "never sends an access token in the clear; the EHR must publish its FHIR server over https.",
            502,
        )
    return await _live_view(
        services,
        session.iss,
        session.patient,
        session.access_token,
        order,
        {SESSION_PARAM: sid, **({"order": order} if order else {})},
        _app_context_assessment(session),
    )


async def _live_view(
    services: Services,
    iss: str,
    patient: str,
    token: str | None,
    order: str | None,
    params: dict[str, str],
    remembered: str | None,
) -> View | HTMLResponse:
    try:
        found = await live.load(services, iss, patient, token, order)
    except PatientUnavailable as exc:
        return _error(
            "Patient not found",
            f"The patient's record could not be read from the FHIR server ({exc}).",
            404,
        )
    chart = index(found.record)
    notes = list(found.notes) + list(
        dict.fromkeys([*found.record.unavailable.values(), *found.record.issues])
    )
    sheets: list[Any]
    if found.outcome is not None:
        sheets = [sheet(a, services.store, chart) for a in found.outcome.assessments]
        if not sheets:
            notes.append("The draft orders found are not intrathecal pump orders this service assesses.")
    elif remembered and (kept := await run_in_threadpool(services.recall, remembered)) is not None:
        # The EHR keeps draft orders to itself; the card's assessment stands in for them.
        sheets = [sheet(kept, services.store, chart)]
        notes = [n for n in notes if not n.startswith("No draft")]
    else:
        sheets = []
    log.info("checklist: patient=%s assessments=%d", patient, len(sheets))
    return View(sheets, found.record.patient, patient, notes, params)


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


@router.get("/checklist", response_class=HTMLResponse)
async def checklist(
    services: ServicesDep,
    request: Request,
    assessment: str | None = None,
    iss: str | None = None,
    patient: str | None = None,
    order: str | None = None,
    missing: str | None = None,
    session: str | None = None,
) -> HTMLResponse:
    view = await _view(request, services, assessment, iss, patient, order, session)
    if isinstance(view, HTMLResponse):
        return view
    return HTMLResponse(checklist_page(view, _flag(missing)), headers=NO_STORE)


@router.get("/summary", response_class=HTMLResponse)
async def summary(
    services: ServicesDep,
    request: Request,
    assessment: str | None = None,
    iss: str | None = None,
    patient: str | None = None,
    order: str | None = None,
    session: str | None = None,
) -> HTMLResponse:
    view = await _view(request, services, assessment, iss, patient, order, session)
    if isinstance(view, HTMLResponse):
        return view
    return HTMLResponse(summary_page(view), headers=NO_STORE)
