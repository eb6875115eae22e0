"""`idds-cds`: the service's command line (a console script, pyproject.toml).

    idds-cds assess CHART.json [--order ID] [--date YYYY-MM-DD] [--format text|json|cards]
    idds-cds check-policies [FILE ...]
    idds-cds policy-table [--write README.md]
    idds-cds integration-tables [--write docs/integration.md]
    idds-cds serve [--host 127.0.0.1] [--port 8000] [--workers N]

`assess` runs the hook pipeline on a FHIR Bundle file with no server: the draft orders
are the Bundle's ServiceRequest / DeviceRequest / MedicationRequest resources with
`status` draft (no sandbox tag needed), the rest is the chart, sent as the prefetch an EHR
would send. Exit status: 0 assessed, 2 bad input (a message on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

ORDER_TYPES = ("ServiceRequest", "DeviceRequest")
DRAFT_TYPES = ("ServiceRequest", "DeviceRequest", "MedicationRequest")
STATUS_LABEL = {"met": "met", "not-met": "NOT MET", "unknown": "NOT DOCUMENTED"}


class BadInput(Exception):
    """Something about the input the user can fix; the message says what."""


# -- assess -----------------------------------------------------------------------------------


def read_bundle(path: str) -> dict[str, Any]:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        bundle = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path} is not JSON: {exc}") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadInput(
            f"{path} is not a FHIR Bundle (resourceType is {bundle.get('resourceType') if isinstance(bundle, dict) else type(bundle).__name__!r})"
        )
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        raise BadInput(f"{path}: the Bundle has no entry list")
    return bundle


def split(bundle: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(the Patient, the chart's other resources, the draft orders)."""
    resources = [
        e["resource"] for e in bundle["entry"] if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise BadInput(f"the Bundle holds {len(patients)} Patient resources; one is needed")
    if not isinstance(patients[0].get("id"), str) or not patients[0]["id"]:
        raise BadInput("the Bundle's Patient has no id")
    drafts = [r for r in resources if r.get("resourceType") in DRAFT_TYPES and r.get("status") == "draft"]
    chart = [r for r in resources if r is not patients[0] and not any(r is d for d in drafts)]
    return patients[0], chart, drafts


def prefetch(patient: dict[str, Any], chart: list[dict[str, Any]]) -> dict[str, Any]:
    """The prefetch an EHR would send for the service's templates, from the Bundle's own resources
    (a search's `status` honoured, as the EHR would; the record keeps the patient's resources only)."""
    from .prefetch import RESOURCE_TYPE, TEMPLATES

    out: dict[str, Any] = {}
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


def hook_request(bundle: dict[str, Any], order: str | None) -> dict[str, Any]:
    patient, chart, drafts = split(bundle)
    orders = [r for r in drafts if r.get("resourceType") in ORDER_TYPES]
    if not orders:
        raise BadInput(
            'the Bundle holds no draft order (a ServiceRequest or DeviceRequest with status "draft")'
        )
    context: dict[str, Any] = {
        "userId": "Practitioner/idds-cds-cli",
        "patientId": patient["id"],
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in drafts],
        },
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


def assess(bundle: dict[str, Any], order: str | None, today: date, base: str = "http://127.0.0.1:8000"):
    """(assessments as contract dicts, the hook response as JSON)."""
    from pydantic import ValidationError

    from .discovery import configuration
    from .hook_models import HookRequest, HookResponse
    from .hooks import answer
    from .prefetch import PatientUnavailable, build_record
    from .services import Services
    from .settings import Settings

    body = hook_request(bundle, order)
    try:
        req = HookRequest.model_validate(body)
    except ValidationError as exc:
        raise BadInput(
            f"the Bundle does not make a valid hook request: {exc.errors()[0].get('msg')}"
        ) from None
    services = Services.load(Settings(allowed_fhir_servers=""))  # offline: nothing is ever fetched
    try:
        record = asyncio.run(build_record(req, services.settings))
    except PatientUnavailable as exc:
        raise BadInput(f"the Bundle's Patient could not be read ({exc})") from None
    outcome, _, cards, actions = answer(
        req, record, services, base, f"{base}/smart/launch", configuration(req.extension), today
    )
    response = json.loads(HookResponse(cards=cards, systemActions=actions).to_json())
    return [a for item in outcome.assessments for a in _contract(item)], response


def _contract(item: Any) -> list[dict[str, Any]]:
    return [a.as_contract() for a in getattr(item, "assessments", [item])]


def render_text(assessments: list[dict[str, Any]], width: int = 100) -> str:
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
            lines.append(f" {mark} [{STATUS_LABEL.get(c.get('status'), c.get('status'))}] {c.get('text')}")
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


def cmd_assess(args: argparse.Namespace) -> int:
    try:
        today = date.fromisoformat(args.date) if args.date else date.today()
    except ValueError:
        raise BadInput(f"--date {args.date!r} is not a date (YYYY-MM-DD)") from None
    assessments, response = assess(read_bundle(args.chart), args.order, today)
    if args.format == "json":
        print(json.dumps(assessments, indent=2, ensure_ascii=False))
    elif args.format == "cards":
        print(json.dumps(response, indent=2, ensure_ascii=False))
    else:
        print(render_text(assessments))
    return 0


# -- policies ---------------------------------------------------------------------------------


def cmd_check_policies(args: argparse.Namespace) -> int:
    from .policy_store import PolicyFileError, PolicyStore, cited_sentences, load_policy_file

    try:
        store = (
            PolicyStore([load_policy_file(Path(a)) for a in args.files]) if args.files else PolicyStore.load()
        )
    except (PolicyFileError, OSError) as exc:
        print(f"policy error: {exc}", file=sys.stderr)
        return 1
    for p in store.all():
        print(f"ok {p.policy}@{p.version} ({len(cited_sentences(p))} cited sentences)")
    return 0


def _print_or_write(rendered: str, write: str | None, replace_block) -> int:
    """A generated block: printed, or written between its markers in the named file."""
    if write:
        path = Path(write)
        path.write_text(replace_block(path.read_text(encoding="utf-8"), rendered), encoding="utf-8")
    else:
        print(rendered)
    return 0


def cmd_policy_table(args: argparse.Namespace) -> int:
    from .policy_store import PolicyStore
    from .policy_table import replace_block, table

    return _print_or_write(table(PolicyStore.load()), args.write, replace_block)


def cmd_integration_tables(args: argparse.Namespace) -> int:
    from .integration_doc import replace_block, tables

    return _print_or_write(tables(), args.write, replace_block)


# -- serve ------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .audit.store import store_for
    from .logs import configure, uvicorn_log_config
    from .settings import get_settings

    settings = get_settings()
    configure(settings)
    settings.check()
    store_for(settings)  # the migrations, once, before any worker starts
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every worker writes its metrics here; /metrics adds them up, whichever worker answers.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="idds-metrics-")
    uvicorn.run(
        "cds_service.app:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,
        log_config=uvicorn_log_config(settings),
    )
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="idds-cds", description="CDS Hooks coverage requirements for intrathecal pumps"
    )
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("assess", help="assess a FHIR Bundle file offline and print the checklist")
    a.add_argument("chart", metavar="CHART.json")
    a.add_argument("--order", help="assess this draft order only (id or Type/id)")
    a.add_argument("--date", help="the assessment's date, YYYY-MM-DD (default today)")
    a.add_argument("--format", choices=("text", "json", "cards"), default="text")
    a.set_defaults(run=cmd_assess)
    c = sub.add_parser("check-policies", help="load and check every policy file (or the files named)")
    c.add_argument("files", nargs="*")
    c.set_defaults(run=cmd_check_policies)
    t = sub.add_parser("policy-table", help="print the README's policy table, or write it into a file")
    t.add_argument("--write", metavar="FILE")
    t.set_defaults(run=cmd_policy_table)
    i = sub.add_parser(
        "integration-tables", help="print docs/integration.md's generated tables, or write them into it"
    )
    i.add_argument("--write", metavar="FILE")
    i.set_defaults(run=cmd_integration_tables)
    s = sub.add_parser("serve", help="run the service (uvicorn)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    s.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "1")))
    s.set_defaults(run=cmd_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except BadInput as exc:
        print(f"idds-cds {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
