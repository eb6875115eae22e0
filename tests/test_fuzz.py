"""Fuzzing the HTTP surface: whatever an EHR (or anyone) sends, never a 5xx.

Hook requests are realistic charts bent out of shape by hypothesis (fields
removed, values of the wrong type, random resources, unicode, big bundles);
the answer must be a CDS response or a 4xx OperationOutcome, and each answered
hook call must leave exactly one audit record. Schemathesis then walks the
OpenAPI document. Both are bounded so the suite stays fast.
"""

from __future__ import annotations

import copy
import os
import uuid
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cds_service.app import create_app
from cds_service.audit.models import HookCall
from cds_service.audit.store import store_for
from cds_service.services import Services
from cds_service.settings import Settings

from .cds_conformance import check_response
from .chart import Chart

pytestmark = pytest.mark.slow  # fuzzing: thousands of generated requests

# `make fuzz` (IDDS_FUZZ_PROFILE=long) runs every search here ten times longer; `make test` the quick profile.
SCALE = 10 if os.environ.get("IDDS_FUZZ_PROFILE", "quick") == "long" else 1
SERVICES = {"order-sign": "/cds-services/idds-order-sign", "order-select": "/cds-services/idds-order-select"}
RESOURCE_TYPES = [
    "Observation",
    "Condition",
    "Procedure",
    "MedicationStatement",
    "Device",
    "Coverage",
    "ServiceRequest",
    "DeviceRequest",
    "MedicationRequest",
    "AllergyIntolerance",
    "Patient",
    "OperationOutcome",
    "Bundle",
    "Basic",
    "",
    "💉",
]
SYSTEMS = [
    "http://loinc.org",
    "http://snomed.info/sct",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://www.ama-assn.org/go/cpt",
    "http://idds-cds.org/fhir/CodeSystem/idds",
    "urn:x",
    "",
]
CODES = [
    "72514-3",
    "G35",
    "M96.1",
    "62362",
    "62322",
    "E0782",
    "pump-status",
    "battery-near-end",
    "modified-ashworth",
    "mas-1+",
    "C79.4",
    "A41",
    "7052",
    "1292",
    "",
    "∞",
    "\x00",
]


@pytest.fixture(scope="module")
def app_and_store(tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz") / "audit.sqlite"
    s = Settings(database_url=f"sqlite:///{db}")
    services = Services.load(s)
    with TestClient(create_app(services)) as client:
        yield client, store_for(s)


# -- strategies -------------------------------------------------------------------------

text = st.text(max_size=40)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
codings = st.fixed_dictionaries(
    {"system": st.sampled_from(SYSTEMS), "code": st.sampled_from(CODES) | text}, optional={"display": text}
)
concepts = (
    st.fixed_dictionaries({}, optional={"coding": st.lists(codings, max_size=3), "text": text}) | json_values
)
periods = st.fixed_dictionaries(
    {},
    optional={
        "start": st.sampled_from(["2026-01-01", "2025-13-40", "", "2026-09-14T10:00:00Z"]) | text,
        "end": st.sampled_from(["2026-06-01", "yesterday"]) | text,
    },
)
resources = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(RESOURCE_TYPES), "id": text | st.integers()},
    optional={
        "status": st.sampled_from(["final", "active", "completed", "draft", "entered-in-error"])
        | json_values,
        "code": concepts,
        "codeCodeableConcept": concepts,
        "medicationCodeableConcept": concepts,
        "subject": st.just({"reference": "Patient/pat-1"}) | json_values,
        "patient": st.just({"reference": "Patient/pat-1"}) | json_values,
        "valueInteger": st.integers(-5, 20) | json_values,
        "valueQuantity": st.fixed_dictionaries(
            {"value": st.floats(allow_nan=False, allow_infinity=False) | text, "unit": text}
        ),
        "valueCodeableConcept": concepts,
        "valueBoolean": st.booleans() | json_values,
        "effectiveDateTime": st.sampled_from(["2026-09-01", "2026-09-01T25:00:00Z", ""]) | text,
        "effectivePeriod": periods,
        "performedPeriod": periods,
        "occurrenceDateTime": text,
        "clinicalStatus": concepts,
        "reasonCode": st.lists(concepts, max_size=2),
        "dosage": json_values,
        "component": json_values,
        "extension": json_values,
    },
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:6]):
            out += _paths(v, (*prefix, i))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


def _get(node: Any, key: str) -> Any:
    return node.get(key) if isinstance(node, dict) else None


def base_request(kind: str, hook: str) -> dict[str, Any]:
    c = Chart(payer=None if kind == "no-payer" else "Cigna Healthcare")
    if kind == "spasticity":
        c.condition(icd10="G35", display="Multiple sclerosis")
        c.score("modified-ashworth", "3")
        c.order("62322", drug="baclofen")
    elif kind == "replacement":
        c.condition(icd10="G35", display="Multiple sclerosis")
        c.pump("battery-near-end")
        c.order("62362")
    else:
        c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
        c.nrs(8)
        c.medication("oxycodone", c.days_before(400), c.days_before(10))
        c.order("62350", reason_icd10="M96.1")
    return c.request(hook=hook)


@st.composite
def hook_requests(draw) -> tuple[str, dict[str, Any]]:
    hook = draw(st.sampled_from(sorted(SERVICES)))
    req = base_request(draw(st.sampled_from(["spasticity", "replacement", "pain", "no-payer"])), hook)
    req["hookInstance"] = str(uuid.uuid4())
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["delete", "retype", "add-resource", "add-order", "grow", "unicode"]))
        paths = _paths(req)
        if action in ("delete", "retype", "unicode"):
            path = draw(st.sampled_from(paths))
            parent = _parent(req, path)
            if action == "delete":
                del parent[path[-1]]
            elif action == "retype":
                parent[path[-1]] = draw(json_values)
            else:
                parent[path[-1]] = draw(st.text(min_size=1, max_size=300))
        elif action in ("add-resource", "add-order"):
            key = draw(
                st.sampled_from(["observations", "conditions", "devices", "procedures", "medications"])
            )
            where = (
                _get(_get(req, "context"), "draftOrders")
                if action == "add-order"
                else _get(_get(req, "prefetch"), key)
            )
            if isinstance(where, dict) and isinstance(where.get("entry"), list):
                where["entry"].extend(
                    {"resource": r} for r in draw(st.lists(resources, min_size=1, max_size=5))
                )
        else:  # a big bundle: the same observations many times over, within reason
            bundle = _get(_get(req, "prefetch"), "observations")
            if isinstance(bundle, dict) and isinstance(bundle.get("entry"), list) and bundle["entry"]:
                times = draw(st.integers(5, 60))
                bundle["entry"] = [copy.deepcopy(e) for e in bundle["entry"] for _ in range(times)][:600]
    # mostly to the service of the hook it was built for; now and then to the other one
    service = hook if draw(st.integers(0, 9)) else ("order-select" if hook == "order-sign" else "order-sign")
    return service, req


def _recorded(store, instance: str) -> int:
    with Session(store.engine) as s:
        return s.scalar(
            select(func.count()).select_from(HookCall).where(HookCall.hook_instance == instance[:200])
        )


def _assert_cds_or_outcome(r) -> None:
    assert r.status_code < 500, r.text[:500]
    body = r.json()
    if r.status_code == 200:
        check_response(body)
    else:
        assert 400 <= r.status_code < 500
        assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["severity"] == "error"


# -- hypothesis over hook requests ------------------------------------------------------------


@settings(
    max_examples=100 * SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(call=hook_requests())
def test_mangled_hook_requests_never_get_a_5xx(app_and_store, call):
    client, store = app_and_store
    service, req = call
    instance = req.get("hookInstance")
    readable = isinstance(instance, str) and bool(instance)
    before = _recorded(store, instance) if readable else 0
    r = client.post(SERVICES[service], json=req)
    event(f"status {r.status_code}" + (f", {len(r.json()['cards'])} card(s)" if r.status_code == 200 else ""))
    _assert_cds_or_outcome(r)
    if readable and "\x00" not in instance:  # exactly one more record under its hook instance
        assert _recorded(store, instance) == before + 1


SWEEP_VALUES = {
    "missing": None,
    "null": None,
    "number": 7,
    "string": "x",
    "list": [],
    "object": {},
    "true": True,
}


@pytest.mark.parametrize("kind", SWEEP_VALUES)
def test_every_field_missing_or_of_a_wrong_type_never_gets_a_5xx(app_and_store, kind):
    """The deterministic companion of the random search: each field of a realistic request (first
    entry of each bundle, six levels deep) removed or replaced by a value of another type, one at a time."""
    client, _ = app_and_store
    for hook, service in SERVICES.items():
        base = base_request("replacement", hook)
        for path in _paths(base):
            if len(path) > 6 or any(isinstance(step, int) and step > 0 for step in path):
                continue
            req = copy.deepcopy(base)
            parent = _parent(req, path)
            if kind == "missing":
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(SWEEP_VALUES[kind])
            r = client.post(service, json=req)
            assert r.status_code < 500, (path, kind, r.text[:300])
            _assert_cds_or_outcome(r)


@settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=json_values | st.binary(max_size=200))
def test_arbitrary_bodies_never_get_a_5xx(app_and_store, body):
    client, _ = app_and_store
    if isinstance(body, bytes):
        r = client.post(SERVICES["order-sign"], content=body, headers={"Content-Type": "application/json"})
    else:
        r = client.post(SERVICES["order-sign"], json=body)
    _assert_cds_or_outcome(r)


@settings(max_examples=40 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    feedback=st.fixed_dictionaries(
        {
            "feedback": st.lists(
                st.fixed_dictionaries(
                    {
                        "card": text,
                        "outcome": st.sampled_from(["accepted", "overridden", "maybe"]),
                        "outcomeTimestamp": text,
                    },
                    optional={"overrideReason": json_values, "acceptedSuggestions": json_values},
                ),
                max_size=3,
            )
        }
    )
    | json_values
)
def test_arbitrary_feedback_never_gets_a_5xx(app_and_store, feedback):
    client, _ = app_and_store
    r = client.post(SERVICES["order-sign"] + "/feedback", json=feedback)
    assert r.status_code < 500, r.text[:300]
    if r.status_code != 200:
        assert r.json()["resourceType"] == "OperationOutcome"


# -- schemathesis over the OpenAPI document ---------------------------------------------------


@pytest.fixture(scope="module")
def openapi(app_and_store):
    client, _ = app_and_store
    return schemathesis.openapi.from_asgi("/openapi.json", client.app)


schema = schemathesis.pytest.from_fixture("openapi")


@schema.parametrize()
@settings(max_examples=25 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_operations_never_answer_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error])
