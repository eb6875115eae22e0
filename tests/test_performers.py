"""The evaluator a psych evaluation references is read from the EHR's FHIR server when the chart
does not carry it (cds_service/performers.py): Molina's "by a license mental health
professional" is then proven from the PractitionerRole itself. A read that fails, a reference
to another server, or no allowed server leaves the evaluator unproven: never criteria-met."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from cds_service.hook_models import HookRequest
from cds_service.pipeline import assess_hook
from cds_service.prefetch import build_record
from cds_service.settings import Settings
from tests.chart import EVALUATORS, Chart, _concept
from tests.helpers import criterion, services
from tests.policies.test_molina_mcp_160 import nonmalignant_chart

EHR = "https://ehr.example.org/fhir"
PSYCH = "molina-160-nonmalignant-e-psych-favorable"


def role(rid: str, evaluator: str) -> dict[str, Any]:
    system, code, display = EVALUATORS[evaluator]
    return {
        "resourceType": "PractitionerRole",
        "id": rid,
        "active": True,
        "practitioner": {"reference": "Practitioner/prac-77"},
        "specialty": [_concept((system, code, display))],
    }


def run(c: Chart, handler: Any, allowed: str = EHR) -> tuple[dict[str, Any], list[str]]:
    seen: list[str] = []

    def record_and_answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return handler(request)

    terminology, store = services()
    req = HookRequest.model_validate(c.request(fhir_server=EHR))
    record = asyncio.run(
        build_record(req, Settings(allowed_fhir_servers=allowed), httpx.MockTransport(record_and_answer))
    )
    outcome = assess_hook(req, record, terminology, store, today=c.dos)
    (a,) = [x.as_contract() for x in outcome.every_assessment if x.policy.policy == "molina-mcp-160"]
    return a, seen


def chart_naming(reference: str) -> Chart:
    c = nonmalignant_chart(omit=("psych",))
    c.psych("favorable", performer=[{"reference": reference}])
    return c


def test_a_referenced_psychologist_is_read_from_the_fhir_server_and_proves_the_evaluator():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/PractitionerRole/role-9"):
            return httpx.Response(200, json=role("role-9", "psychologist"))
        return httpx.Response(404, json={"resourceType": "OperationOutcome", "issue": []})

    a, seen = run(chart_naming("PractitionerRole/role-9"), handler)
    cr = criterion(a, PSYCH)
    assert cr["status"] == "met"
    assert "PractitionerRole/role-9" in cr["evidence"]
    assert "/fhir/PractitionerRole/role-9" in seen


def test_a_referenced_orthopaedic_surgeon_read_from_the_server_is_unknown():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=role("role-9", "orthopaedic-surgeon"))

    a, _ = run(chart_naming("PractitionerRole/role-9"), handler)
    assert criterion(a, PSYCH)["status"] == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_an_evaluator_the_server_cannot_return_is_unknown():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"resourceType": "OperationOutcome", "issue": []})

    a, _ = run(chart_naming("PractitionerRole/role-9"), handler)
    assert criterion(a, PSYCH)["status"] == "unknown"


def test_a_server_answering_with_another_resource_proves_nothing():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=role("someone-else", "psychologist"))

    a, _ = run(chart_naming("PractitionerRole/role-9"), handler)
    assert criterion(a, PSYCH)["status"] == "unknown"


def test_a_reference_to_another_server_is_not_read():
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing may be fetched: {request.url}")

    a, seen = run(chart_naming("https://elsewhere.example.org/fhir/PractitionerRole/role-9"), handler)
    assert seen == []
    assert criterion(a, PSYCH)["status"] == "unknown"


def test_no_practitioner_is_read_from_a_server_that_is_not_allowed():
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing may be fetched: {request.url}")

    a, seen = run(chart_naming("PractitionerRole/role-9"), handler, allowed="https://other.example.org/fhir")
    assert seen == []
    assert criterion(a, PSYCH)["status"] == "unknown"
