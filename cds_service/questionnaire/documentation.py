"""POST /smart/documentation: the checklist's documentation form, saved to the EHR.

The answers become a completed QuestionnaireResponse (questionnaire/form.py), written to the
FHIR server that accepts writes: the open sandbox server, or the EHR of this launch's session
(named by the form's `session` field, as the checklist's URL names it) when its SMART scope
grants the write. Otherwise, or when the save fails, the page says why, keeps every answer
and offers the response as a download.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..services import ServicesDep
from ..templating import NO_STORE
from .form import download, entry_for, form_view, response_from_form

log = logging.getLogger("idds")
router = APIRouter()


def _may_write(scope: str | None) -> bool:
    """SMART v1 (`.write`, `.*`) or v2 (`.c`, `.cruds`…) scope to create QuestionnaireResponse."""
    for granted in (scope or "").split():
        who, _, rest = granted.partition("/")
        resource, _, perm = rest.partition(".")
        if (
            who in ("patient", "user")
            and resource in ("QuestionnaireResponse", "*")
            and (perm in ("write", "*") or (perm and set(perm) <= set("cruds") and "c" in perm))
        ):
            return True
    return False


@dataclass
class Notice:
    """Said above the form when the answers were not saved: why, and the download instead."""

    role: str  # status | alert
    headline: str
    text: str
    download: dict[str, str] | None = None


def _notice(role: str, headline: str, text: str, qr: dict[str, Any]) -> Notice:
    name, href = download(qr)
    return Notice(role, headline, text, {"name": name, "href": href})


def _form_page(
    sheet: Any,
    hidden: dict[str, str],
    values: dict[str, str],
    messages: list[str],
    notice: Notice | None = None,
    status: int = 200,
) -> HTMLResponse:
    from ..smart.html import render  # the checklist's own page frame

    back = (
        hidden
        if hidden.get("iss") or hidden.get("session")
        else {"assessment": sheet.assessment.get("id", "")}
    )
    page = render(
        "documentation.html",
        title="Complete the documentation",
        notice=notice,
        form=form_view(sheet, hidden, values, messages),
        back_href="/smart/checklist?" + urlencode(back),
    )
    return HTMLResponse(page, status_code=status, headers=NO_STORE)


@router.post("/smart/documentation", response_class=HTMLResponse)
async def save_documentation(services: ServicesDep, request: Request) -> Response:
    from ..smart.checklist import sheet as make_sheet
    from ..smart.html import error_page
    from ..smart.routes import SESSION_PARAM, session_of

    raw = await request.body()
    if len(raw) > services.settings.max_body_bytes:
        return HTMLResponse(
            error_page("Too large", "The form is larger than the service accepts."), 413, headers=NO_STORE
        )
    values = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
    found = services.recall(values.get("assessment", ""))
    if not isinstance(found, dict) or "policy" not in found:
        return HTMLResponse(
            error_page(
                "Assessment not found",
                "This assessment is no longer kept by the service. "
                "Select the order again, then complete the documentation.",
            ),
            404,
            headers=NO_STORE,
        )
    sheet = make_sheet(found, services.store)
    entry = entry_for(sheet)
    if entry is None or values.get("questionnaire") != f"{entry.url}|{entry.version}":
        return HTMLResponse(
            error_page(
                "Questionnaire mismatch",
                "The form does not belong to this assessment's "
                "questionnaire (policy version); reopen the checklist.",
            ),
            400,
            headers=NO_STORE,
        )
    iss, patient = values.get("iss"), values.get("patient")
    sid = values.get(SESSION_PARAM)
    session = await run_in_threadpool(session_of, request, sid) if sid else None
    target: tuple[str, str | None] | None = None  # (server, token) that accepts the write
    if iss and patient:
        if not services.settings.fhir_server_allowed(iss):
            return HTMLResponse(
                error_page(
                    "FHIR server not allowed", "This FHIR server is not on IDDS_ALLOWED_FHIR_SERVERS."
                ),
                403,
                headers=NO_STORE,
            )
        target = (iss, None)
        hidden = {"iss": iss, "patient": patient}
    elif session is not None:
        patient = session.patient
        target = (session.iss, session.access_token) if _may_write(session.scope) else None
        hidden = {"patient": patient, SESSION_PARAM: sid or ""}
    else:
        hidden = {"patient": patient} if patient else {}
    if not patient:
        return _form_page(
            sheet, hidden, values, ["Say which patient (FHIR id) these answers are about."], status=422
        )
    qr, errors = response_from_form(entry, found, patient, values)
    if qr is None:
        return _form_page(sheet, hidden, values, errors, status=422)
    if target is None:
        why = (
            "The app may not write to this EHR's FHIR server (the SMART scope patient/QuestionnaireResponse.write "
            "was not granted)"
            if session is not None
            else "No FHIR server that accepts writes is known for this checklist"
        )
        kept = (
            "Your answers are kept below; download the response and file it in the patient's chart, "
            "then select the order again."
        )
        return _form_page(sheet, hidden, values, [], _notice("status", why, kept, qr))
    server, token = target
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        async with httpx.AsyncClient(
            transport=services.fhir_transport, timeout=services.settings.fhir_timeout_seconds
        ) as client:
            saved = await client.post(
                f"{server.rstrip('/')}/QuestionnaireResponse", content=orjson.dumps(qr), headers=headers
            )
        failed: str | None = (
            None if saved.status_code in (200, 201) else f"the FHIR server answered HTTP {saved.status_code}"
        )
    except httpx.HTTPError as exc:
        failed = f"the FHIR server could not be reached ({type(exc).__name__})"
    if failed:
        log.warning("questionnaire response not saved: %s", failed)
        kept = "Your answers are kept below; try again, or download the response."
        return _form_page(
            sheet, hidden, values, [], _notice("alert", f"Not saved: {failed}", kept, qr), status=502
        )
    log.info("questionnaire response saved for assessment %s", found.get("id"))
    back = "/smart/checklist?" + urlencode(
        hidden if iss or session is not None else {"assessment": found.get("id", "")}
    )
    return RedirectResponse(back, status_code=303, headers=NO_STORE)
