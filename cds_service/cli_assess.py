"""`idds-cds assess`: a FHIR Bundle file assessed offline, as a hook call would assess it.

The draft orders are the Bundle's ServiceRequest / DeviceRequest / MedicationRequest
resources with `status` draft (no sandbox tag needed); the rest is the chart, sent as
the prefetch an EHR would send. `--payer` assesses the orders against a named payer's
policy (a payer name mappings/payers.yaml knows, or a policy id) even when the Bundle
carries no Coverage: the Bundle's own Coverages are set aside for one Coverage of that
payer, and the output says so, since the verdict then rests on the user's word.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .vocabulary import STATUS_WORDS, Status  # the leaf module: the CLI starts without the policy schema

if TYPE_CHECKING:
    from .mappings_schema import Route

CLI_COVERAGE_ID = "idds-cds-cli-payer"

JSON = dict[str, Any]


def status_label(status: Any) -> Any:
    """A criterion's status in the text output: STATUS_WORDS, shouted when it is not met."""
    word = STATUS_WORDS.get(status, status)
    return word if status == Status.MET or word is status else word.upper()


class BadInput(Exception):
    """Something about the input the user can fix; the message says what."""


@dataclass(frozen=True)
class Assessed:
    assessments: list[JSON]  # contract dicts (assessment.md)
    response: JSON  # the hook response: cards and systemActions
    payer_note: str | None = None  # what --payer did, when given


def read_bundle(path: str) -> JSON:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        bundle = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path} is not JSON: {exc}") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        found = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        raise BadInput(f"{path} is not a FHIR Bundle (resourceType is {found!r})")
    if not isinstance(bundle.get("entry"), list):
        raise BadInput(f"{path}: the Bundle has no entry list")
    return bundle


def _resources(bundle: JSON) -> list[JSON]:
    return [
        e["resource"] for e in bundle["entry"] if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]


def split(bundle: JSON) -> tuple[JSON, list[JSON], list[JSON]]:
    """(the Patient, the chart's other resources, the draft orders)."""
    from .orders import DRAFT_TYPES

    resources = _resources(bundle)
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise BadInput(f"the Bundle holds {len(patients)} Patient resources; one is needed")
    if not isinstance(patients[0].get("id"), str) or not patients[0]["id"]:
        raise BadInput("the Bundle's Patient has no id")
    drafts = [r for r in resources if r.get("resourceType") in DRAFT_TYPES and r.get("status") == "draft"]
    chart = [r for r in resources if r is not patients[0] and not any(r is d for d in drafts)]
    return patients[0], chart, drafts


def prefetch(patient: JSON, chart: list[JSON]) -> JSON:
    """The prefetch an EHR would send for the service's templates, from the Bundle's own resources
    (a search's `status` honoured, as the EHR would; the record keeps the patient's resources only)."""
    from .prefetch import RESOURCE_TYPE, TEMPLATES

    out: JSON = {}
    for key, template in TEMPLATES.items():
        rtype = RESOURCE_TYPE.get(key)
        if rtype == "Patient":
            out[key] = patient
            continue
        matches = [r for r in chart if r.get("resourceType") == rtype]
        for name, value in parse_qsl(template.partition("?")[2]):
            if name == "status":
                matches = [r for r in matches if r.get("status") in value.split(",")]
        out[key] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "entry": [{"resource": r, "search": {"mode": "match"}} for r in matches],
        }
    return out


def hook_request(bundle: JSON, order: str | None) -> JSON:
    from .orders import ORDER_TYPES, draft_orders

    patient, chart, drafts = split(bundle)
    orders = [r for r in drafts if r.get("resourceType") in ORDER_TYPES]
    if not orders:
        raise BadInput(
            'the Bundle holds no draft order (a ServiceRequest or DeviceRequest with status "draft")'
        )
    context: JSON = {
        "userId": "Practitioner/idds-cds-cli",
        "patientId": patient["id"],
        "draftOrders": draft_orders(drafts),
    }
    hook = "order-sign"
    if order:
        chosen = [r for r in orders if order in (f"{r['resourceType']}/{r.get('id')}", r.get("id"))]
        if not chosen:
            known = ", ".join(f"{r['resourceType']}/{r.get('id')}" for r in orders)
            raise BadInput(f"no draft order {order!r} in the Bundle (draft orders: {known})")
        hook, context["selections"] = "order-select", [f"{r['resourceType']}/{r.get('id')}" for r in chosen]
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": prefetch(patient, chart),
    }


def with_payer(
    bundle: JSON, payer: str, routes: Sequence[Route], policies: dict[str, str]
) -> tuple[JSON, str]:
    """(the Bundle with one active Coverage of `payer` in place of its own, the sentence saying so).
    `routes`: mappings/payers.yaml's routes; `policies`: policy id → its payer's name."""
    patient, _, _ = split(bundle)
    wanted = payer.strip()
    if wanted in policies:
        matched = [r for r in routes if r.policy == wanted]
        display = policies[wanted]
    else:
        matched = [r for r in routes if r.policy in policies and r.names(wanted.lower())]
        display = wanted
    known = "; ".join(f"{policies[r.policy]} ({r.policy})" for r in routes if r.policy in policies)
    if not wanted or not matched:
        raise BadInput(f"--payer {payer!r} names no payer with an encoded policy (known: {known})")
    if len({r.policy for r in matched}) > 1:
        raise BadInput(f"--payer {payer!r} names several payers; name one (known: {known})")
    route = matched[0]
    own = [r for r in _resources(bundle) if r.get("resourceType") == "Coverage"]
    set_aside = {id(r) for r in own}
    coverage = {
        "resourceType": "Coverage",
        "id": CLI_COVERAGE_ID,
        "status": "active",
        "beneficiary": {"reference": f"Patient/{patient['id']}"},
        "payor": [{"display": display}],
    }
    entries = [e for e in bundle["entry"] if not (isinstance(e, dict) and id(e.get("resource")) in set_aside)]
    note = f"Assessed against {display}'s policy ({route.policy}) because --payer names it"
    if own:
        refs = ", ".join(f"Coverage/{r.get('id')}" for r in own)
        note += f"; the Bundle's own Coverage ({refs}) was set aside"
    else:
        note += "; the Bundle has no Coverage"
    note += "."
    if route.not_for:
        members = ", ".join(ex.members for ex in route.not_for)
        note += f" Whether the patient is one the policy does not apply to ({members}) is not known without their Coverage."
    return bundle | {"entry": [*entries, {"resource": coverage}]}, note


def assess(
    bundle: JSON,
    order: str | None,
    today: date,
    base: str = "http://127.0.0.1:8000",
    payer: str | None = None,
) -> Assessed:
    from pydantic import ValidationError

    from .discovery import configuration
    from .hook_models import HookRequest, HookResponse
    from .hooks import answer
    from .payers import load_routes
    from .prefetch import PatientUnavailable, build_record
    from .services import Services
    from .settings import Settings

    services = Services.load(Settings(allowed_fhir_servers=""))  # offline: nothing is ever fetched
    note = None
    if payer is not None:
        names = {pid: services.store.versions(pid)[-1].payer for pid in services.store.policy_ids}
        bundle, note = with_payer(bundle, payer, load_routes(services.terminology), names)
    body = hook_request(bundle, order)
    try:
        req = HookRequest.model_validate(body)
    except ValidationError as exc:
        raise BadInput(
            f"the Bundle does not make a valid hook request: {exc.errors()[0].get('msg')}"
        ) from None
    try:
        record = asyncio.run(build_record(req, services.settings))
    except PatientUnavailable as exc:
        raise BadInput(f"the Bundle's Patient could not be read ({exc})") from None
    outcome, _, cards, actions = answer(
        req, record, services, base, f"{base}/smart/launch", configuration(req.extension), today
    )
    response: JSON = json.loads(HookResponse(cards=cards, systemActions=actions).to_json())
    assessments = [a for item in outcome.assessments for a in _contract(item)]
    if note:
        for a in assessments:
            a["notes"] = [note, *a.get("notes", [])]
    return Assessed(assessments, response, note)


def _contract(item: Any) -> list[JSON]:
    found: list[JSON] = [a.as_contract() for a in getattr(item, "assessments", [item])]
    return found


def render_text(assessments: list[JSON], width: int = 100) -> str:
    """The checklist: per policy, the determination, then each criterion with its status and the policy's words."""
    if not assessments:
        return "No intrathecal pump order in the Bundle is one this service assesses."
    lines: list[str] = []
    for a in assessments:
        policy, order = a.get("policy", {}), a.get("order", {})
        lines.append(
            f"== {policy.get('payer', '')} {policy.get('id')} ({policy.get('version')}): {a.get('determination')}"
        )
        lines.append(
            f"   order {order.get('reference')} {order.get('code') or ''} ({order.get('phase')}); "
            f"indication {a.get('indication')}; date of service {a.get('dateOfService')}"
        )
        for c in a.get("criteria", []):
            mark = "*" if c.get("blocking") else " "
            lines.append(f" {mark} [{status_label(c.get('status'))}] {c.get('text')}")
            if c.get("note"):
                lines.append(
                    textwrap.fill(c["note"], width, initial_indent="      note: ", subsequent_indent="      ")
                )
            if c.get("source"):
                lines.append(
                    textwrap.fill(
                        f"\u201c{c['source']}\u201d",
                        width,
                        initial_indent="      ",
                        subsequent_indent="      ",
                        max_lines=3,
                        placeholder=" …\u201d",
                    )
                )
        for note in a.get("notes", []):
            lines.append(
                textwrap.fill(note, width, initial_indent="   note: ", subsequent_indent="         ")
            )
        lines.append("")
    lines.append("* decides the outcome")
    return "\n".join(lines)
