#!/usr/bin/env python3
"""Fire a CDS Hooks call for a sandbox patient at a running idds-cds service and print the cards.

    python sandbox/fire.py cigna-pain-trial-gaps              # order-select with prefetch
    python sandbox/fire.py --all                               # every patient, checked against expected.json
    python sandbox/fire.py --hook order-sign nia-pain-trial-met
    python sandbox/fire.py --no-prefetch --fhir-server http://127.0.0.1:8090/fhir molina-cancer-trial

Prefetch is built the way an EHR builds it: from the service's own discovery
document (GET /cds-services), each template's {{context.patientId}} filled in
and answered from the patient's Bundle as a searchset Bundle. So the sandbox
exercises whatever templates the service publishes today, not a copy of them.

Exit status: 0 when every determination matches sandbox/expected.json, 1 when
one differs (or a call fails), 2 on bad arguments. tests/test_sandbox.py runs
the same loop in-process.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl

from cds_service.cli_assess import status_label  # the CLI's words for a status
from cds_service.orders import ORDER_TYPES
from cds_service.vocabulary import Determination

HERE = Path(__file__).resolve().parent
EXPECTED_FILE = HERE / "expected.json"
SANDBOX_TAG_SYSTEM = "http://idds-cds.org/fhir/CodeSystem/idds-sandbox"
SERVICE_FOR_HOOK = {"order-select": "idds-order-select", "order-sign": "idds-order-sign"}
# Search parameters that name the patient, and the element each one reads.
PATIENT_PARAMS = ("patient", "subject", "beneficiary")
PATIENT_ELEMENTS = ("subject", "patient", "beneficiary")


class Client(Protocol):
    """requests.Session and starlette's TestClient both fit."""

    def get(self, url: str, **kw: Any) -> Any: ...

    def post(self, url: str, **kw: Any) -> Any: ...


# -- the patient's Bundle --------------------------------------------------------------------


def load_expected(path: Path = EXPECTED_FILE) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["patients"]


def load_bundle(name: str, expected: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A patient by id (from expected.json) or a path to any Bundle file."""
    path = Path(name)
    if not path.exists():
        entry = (expected or {}).get(name)
        path = HERE / (entry["file"] if entry else f"patients/{name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


def is_draft(resource: dict[str, Any]) -> bool:
    tags = (resource.get("meta") or {}).get("tag") or ()
    return any(t.get("system") == SANDBOX_TAG_SYSTEM and t.get("code") == "draft-order" for t in tags)


def split(bundle: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(chart resources, draft orders)."""
    resources = [e["resource"] for e in bundle.get("entry") or () if isinstance(e.get("resource"), dict)]
    return [r for r in resources if not is_draft(r)], [r for r in resources if is_draft(r)]


def patient_of(resources: Iterable[dict[str, Any]]) -> dict[str, Any]:
    for r in resources:
        if r.get("resourceType") == "Patient":
            return r
    raise ValueError("the Bundle holds no Patient")


# -- prefetch from the discovery templates ---------------------------------------------------


def _refers_to(resource: dict[str, Any], patient_id: str) -> bool:
    for element in PATIENT_ELEMENTS:
        ref = (
            (resource.get(element) or {}).get("reference")
            if isinstance(resource.get(element), dict)
            else None
        )
        if isinstance(ref, str):
            return ref == f"Patient/{patient_id}" or ref.endswith(f"/Patient/{patient_id}")
    return False


def answer(template: str, patient_id: str, resources: list[dict[str, Any]], warnings: list[str]) -> Any:
    """The prefetch value for one template, answered from the patient's own resources.

    Understood: `Type/{id}` reads and `Type?patient=|subject=|beneficiary=` searches with
    `status=`; any other parameter is reported and not applied (the sandbox has only
    this patient's data, so the answer is at most too broad, never another chart).
    """
    query = template.replace("{{context.patientId}}", patient_id)
    path, _, qs = query.partition("?")
    rtype, _, rid = path.partition("/")
    if rid:
        for r in resources:
            if r.get("resourceType") == rtype and r.get("id") == rid:
                return r
        return None
    matches = [r for r in resources if r.get("resourceType") == rtype]
    for key, value in parse_qsl(qs):
        name = key.split(":")[0]
        if name in PATIENT_PARAMS:
            pid = value.split("/")[-1]
            matches = [r for r in matches if _refers_to(r, pid)]
        elif name == "status":
            wanted = set(value.split(","))
            matches = [r for r in matches if r.get("status") in wanted]
        elif not name.startswith("_"):
            warnings.append(f"prefetch {template!r}: parameter {key!r} not applied by fire.py")
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matches),
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, r['resourceType'] + '/' + r['id'])}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in matches
        ],
    }


def discovery_templates(client: Client, base: str, hook: str) -> dict[str, str]:
    response = client.get(f"{base}/cds-services")
    response.raise_for_status()
    for service in response.json().get("services", []):
        if service.get("id") == SERVICE_FOR_HOOK[hook]:
            return dict(service.get("prefetch") or {})
    raise RuntimeError(f"the service publishes no {SERVICE_FOR_HOOK[hook]}")


def hook_request(
    bundle: dict[str, Any],
    hook: str,
    templates: dict[str, str] | None,
    fhir_server: str | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """The CDS Hooks request an EHR would send for the patient's draft orders.

    `templates` None sends no prefetch at all (the service must fetch from `fhir_server`).
    """
    chart, drafts = split(bundle)
    pid = patient_of(chart)["id"]
    context: dict[str, Any] = {
        "userId": "Practitioner/sandbox-clinician",
        "patientId": pid,
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in drafts],
        },
    }
    if hook == "order-select":
        context["selections"] = [
            f"{r['resourceType']}/{r['id']}" for r in drafts if r["resourceType"] in ORDER_TYPES
        ]
    request: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if templates is not None:
        request["prefetch"] = {
            key: answer(t, pid, chart, warnings if warnings is not None else [])
            for key, t in templates.items()
        }
    if fhir_server:
        request["fhirServer"] = fhir_server
    return request


# -- the answer -------------------------------------------------------------------------------


def card_assessments(card: dict[str, Any]) -> list[dict[str, Any]]:
    """A card's assessments: its one `idds-cds.assessment`, or a comparison's `idds-cds.assessments`."""
    ext = card.get("extension") if isinstance(card.get("extension"), dict) else {}
    if isinstance(ext.get("idds-cds.assessment"), dict):
        return [ext["idds-cds.assessment"]]
    items = ext.get("idds-cds.assessments")
    return [a for a in items if isinstance(a, dict)] if isinstance(items, list) else []


def assessments(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for c in response.get("cards", []) if isinstance(c, dict) for a in card_assessments(c)]


def determinations(response: dict[str, Any]) -> dict[str, list[str]]:
    """policy@version -> the determinations of its assessments (one per order and indication)."""
    out: dict[str, list[str]] = {}
    for a in assessments(response):
        out.setdefault(f"{a['policy']['id']}@{a['policy']['version']}", []).append(a["determination"])
    return out


def mismatches(expected: dict[str, str], actual: dict[str, list[str]]) -> list[str]:
    problems = []
    for key in sorted(set(expected) | set(actual)):
        want, got = expected.get(key), actual.get(key, [])
        if want is None:
            problems.append(f"{key}: unexpected card(s) {', '.join(got)}")
        elif got != [want]:
            problems.append(f"{key}: expected {want}, got {', '.join(got) or 'no card'}")
    return problems


def open_items(card: dict[str, Any], a: dict[str, Any]) -> list[dict[str, Any]]:
    """The criteria that decide the outcome: the service marks them `blocking`.

    The assessment lists every criterion, also alternatives that were not
    needed (an "any of" already met elsewhere); only blocking ones are gaps.
    """
    return [c for c in a.get("criteria", []) if c.get("blocking")]


def render(
    patient: str, hook: str, response: dict[str, Any], expected: dict[str, str] | None, width: int = 100
) -> str:
    """Cards as a clinician would skim them: summary, determination, what is missing and why.
    A comparison (no payer's policy applies) is one card; each policy it compares is listed under it."""
    lines = [f"== {patient} ({hook})"]
    cards = response.get("cards", [])
    if not cards:
        lines.append("   no cards (nothing to assess, or the order is out of scope)")
    for card in cards:
        lines.append(f"-- [{card.get('indicator')}] {card.get('summary')}")
        folded = (card.get("extension") or {}).get("idds-cds.comparison")
        indent = "   "
        if isinstance(folded, dict):
            lines.append(
                f"   comparison ({folded.get('reason')}): {len(card_assessments(card))} policies, none the patient's payer's verdict"
            )
            indent = "      "
        for a in card_assessments(card) or [{}]:
            _render_assessment(lines, card, a, expected, width, indent)
    actions = response.get("systemActions", [])
    if actions:
        lines.append(f"-- systemActions: {len(actions)} coverage-information update(s)")
    return "\n".join(lines)


def _render_assessment(
    lines: list[str],
    card: dict[str, Any],
    a: dict[str, Any],
    expected: dict[str, str] | None,
    width: int,
    ind: str,
) -> None:
    key = f"{a.get('policy', {}).get('id')}@{a.get('policy', {}).get('version')}"
    want = (expected or {}).get(key)
    verdict = (
        ""
        if expected is None
        else ("  [as expected]" if want == a.get("determination") else f"  [EXPECTED {want or 'no card'}]")
    )
    order = a.get("order", {})
    lines.append(f"{ind}{a.get('determination')}{verdict}")
    lines.append(
        f"{ind}policy {key}; order {order.get('reference')} {order.get('code')} ({order.get('phase')}); "
        f"indication {a.get('indication')}; date of service {a.get('dateOfService')}"
    )
    if a.get("determination") == Determination.NOT_APPLICABLE and "idds-cds.assessment" in (
        card.get("extension") or {}
    ):
        first = (card.get("detail") or "").split("\n")[0]
        lines.append(ind + first.split(" – ", 1)[-1])
    for c in open_items(card, a):
        lines.append(f"{ind}{status_label(c['status'])}: {c['text']}")
        if c.get("note"):
            lines.append(
                textwrap.fill(
                    c["note"], width, initial_indent=f"{ind}   note: ", subsequent_indent=f"{ind}   "
                )
            )
        lines.append(
            textwrap.fill(
                f"\u201c{c['source']}\u201d",
                width,
                initial_indent=f"{ind}   ",
                subsequent_indent=f"{ind}   ",
                max_lines=3,
                placeholder=" …\u201d",
            )
        )
    for note in a.get("notes", []):
        lines.append(
            textwrap.fill(note, width, initial_indent=f"{ind}note: ", subsequent_indent=f"{ind}      ")
        )


# -- the loop ---------------------------------------------------------------------------------


def fire(
    client: Client,
    base: str,
    bundle: dict[str, Any],
    hook: str,
    prefetch: bool = True,
    fhir_server: str | None = None,
    templates: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], list[str]]:
    """POST one hook; (HTTP status, JSON body, warnings)."""
    warnings: list[str] = []
    if prefetch and templates is None:
        templates = discovery_templates(client, base, hook)
    request = hook_request(bundle, hook, templates if prefetch else None, fhir_server, warnings)
    response = client.post(f"{base}/cds-services/{SERVICE_FOR_HOOK[hook]}", json=request)
    try:
        body = response.json()
    except ValueError:
        body = {"error": response.text[:500]}
    return response.status_code, body, warnings


def run(
    client: Client,
    base: str,
    patients: list[str],
    hook: str | None = None,
    prefetch: bool = True,
    fhir_server: str | None = None,
    out: Any = sys.stdout,
) -> list[str]:
    """Fire for each patient, print the cards, return every problem found."""
    expected_all = load_expected()
    problems: list[str] = []
    for name in patients:
        bundle = load_bundle(name, expected_all)
        entry = expected_all.get(name) or expected_all.get(patient_of(split(bundle)[0])["id"])
        the_hook = hook or (entry or {}).get("hook", "order-select")
        status, body, warnings = fire(client, base, bundle, the_hook, prefetch, fhir_server)
        for w in dict.fromkeys(warnings):
            print(f"   warning: {w}", file=out)
        if status != 200:
            problems.append(f"{name}: HTTP {status}: {json.dumps(body)[:300]}")
            print(f"== {name}: HTTP {status}\n{json.dumps(body, indent=2)[:2000]}", file=out)
            continue
        expected = entry["expected"] if entry else None
        print(render(name, the_hook, body, expected), file=out)
        if expected is not None:
            problems += [f"{name}: {p}" for p in mismatches(expected, determinations(body))]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Send a CDS Hooks call for sandbox patients and print the cards."
    )
    parser.add_argument("patients", nargs="*", help="patient ids (see sandbox/README.md) or Bundle files")
    parser.add_argument("--all", action="store_true", help="every patient in sandbox/expected.json")
    parser.add_argument(
        "--hook", choices=sorted(SERVICE_FOR_HOOK), help="default: the patient's hook in expected.json"
    )
    parser.add_argument("--service", default="http://127.0.0.1:8000", help="base URL of the idds-cds service")
    parser.add_argument(
        "--no-prefetch", action="store_true", help="send no prefetch: the service fetches from --fhir-server"
    )
    parser.add_argument(
        "--fhir-server", help="fhirServer to send (it must be on the service's IDDS_ALLOWED_FHIR_SERVERS)"
    )
    parser.add_argument("--list", action="store_true", help="list the patients and what each shows")
    args = parser.parse_args(argv)
    expected = load_expected()
    if args.list:
        for pid, entry in expected.items():
            print(f"{pid:38} {entry['shows']}")
        return 0
    patients = list(expected) if args.all else args.patients
    if not patients:
        parser.error("name a patient or use --all (--list shows them)")
    if args.no_prefetch and not args.fhir_server:
        print(
            "warning: --no-prefetch without --fhir-server: the service has nothing to read the chart from",
            file=sys.stderr,
        )
    import requests  # only the command line needs it; the tests pass their own client

    with requests.Session() as session:
        try:
            problems = run(
                session, args.service.rstrip("/"), patients, args.hook, not args.no_prefetch, args.fhir_server
            )
        except requests.ConnectionError:
            print(f"cannot reach the service at {args.service} (start it with `make run`)", file=sys.stderr)
            return 1
    if problems:
        print("\nDeterminations that differ from sandbox/expected.json:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"\n{len(patients)} patient(s): every determination as expected.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
