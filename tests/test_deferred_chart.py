"""An Observation from prefetch is held as its bytes until a fact reads it (cds_service/deferred.py).

The hook route no longer parses the body whole: the chart is taken from the
scanned bytes, and an Observation is built only when its code is in a value
set a fact reads, a reference names it, or a caller asks for every one. These
tests hold that to what matters: every chart is assessed exactly as the
whole-body parse assessed it (statuses, evidence, notes, what was reported),
an Observation nothing reads is never built, and every odd or malformed
Observation is still built and reported as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from copy import deepcopy
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import charts
from cds_service import hook_body
from cds_service.app import create_app
from cds_service.deferred import Deferred
from cds_service.hook_models import HookRequest
from cds_service.pipeline import assess_hook
from cds_service.prefetch import build_record
from cds_service.record import PatientRecord
from cds_service.services import Services
from cds_service.settings import Settings

from .chart import LOINC, Chart, at
from .helpers import services
from .test_fuzz import SCALE


def _record(body: dict[str, Any], wire: bool) -> tuple[HookRequest, PatientRecord]:
    if wire:
        light = hook_body.light(orjson.dumps(body))
        assert light is not None
        req = HookRequest.model_validate(light)
    else:
        req = HookRequest.model_validate(orjson.loads(orjson.dumps(body)))  # the whole-body parse
    return req, asyncio.run(build_record(req, Settings()))


def _assess(
    body: dict[str, Any], wire: bool, dos: Any
) -> tuple[list[dict[str, Any]], list[str], PatientRecord]:
    terminology, store = services()
    req, record = _record(body, wire)
    outcome = assess_hook(req, record, terminology, store, today=dos)
    found = []
    for a in outcome.every_assessment:
        contract = a.as_contract()
        contract.pop("id", None)  # a fresh uuid per assessment
        found.append(contract)
    return found, list(record.issues), record


def _read_alike(body: dict[str, Any], dos: Any) -> list[str]:
    """Assert the chart read from the bytes gives the whole parse's assessments and notes; the notes."""
    whole, whole_notes, _ = _assess(body, wire=False, dos=dos)
    sent, sent_notes, _ = _assess(body, wire=True, dos=dos)
    assert sent == whole
    assert sorted(sent_notes) == sorted(whole_notes)
    return sent_notes


def _vital(c: Chart, **changes: Any) -> dict[str, Any]:
    """A heart rate, as an EHR sends it with the chart (the benchmark's own vital sign): nothing any
    policy reads."""
    obs = charts._quantity_obs(c, "8867-4", "Heart rate", "/min", 72, at(c.days_before(3)), "vital-signs")
    obs.update(changes)
    return obs


def _after_bundling(c: Chart, obs: dict[str, Any], key: str) -> None:
    """Drop `key` from the resource once the chart's Bundle has been built around it (the
    builder names each entry's fullUrl from the resourceType and id)."""
    bundle = c.bundle

    def without(name: str) -> dict[str, Any]:
        built = bundle(name)
        if name == "observations":
            obs.pop(key, None)
        return built

    c.bundle = without  # type: ignore[method-assign]


def _typical() -> Chart:
    return charts.build_chart(charts.SIZES["small"])


# Each variant adds to a realistic chart (an implant after a morphine trial, Cigna) the odd
# Observations an EHR really sends; each must be assessed and reported as the whole parse did.
VARIANTS: dict[str, Callable[[Chart], None]] = {
    "as sent": lambda c: None,
    "a vital sign entered in error": lambda c: _vital(c, status="entered-in-error"),
    "another patient's vital sign": lambda c: _vital(c, subject={"reference": "Patient/someone-else"}),
    "another patient's pain score": lambda c: c.nrs(9, at(c.days_before(2))).update(
        subject={"reference": "Patient/someone-else"}
    ),
    "a pain score entered in error": lambda c: c.nrs(2, at(c.days_before(1))).update(
        status="entered-in-error"
    ),
    "a pain score that is not valid FHIR": lambda c: c.nrs(8, at(c.days_before(1))).update(
        valueInteger="eight"
    ),
    "a code that is a string": lambda c: _vital(c, code="8867-4"),
    "a coding that is a string": lambda c: _vital(c, code={"coding": ["8867-4"]}),
    "a pain score with a non-string code": lambda c: c.nrs(1, at(c.days_before(1)))["code"]["coding"].append(
        {"system": LOINC, "code": 72514}
    ),
    "an observation with no resourceType": lambda c: _after_bundling(c, _vital(c), "resourceType"),
    "an observation with no id": lambda c: _after_bundling(c, _vital(c), "id"),
    "an observation naming its patient as `patient`": lambda c: _vital(
        c, patient={"reference": "Patient/someone-else"}
    ),
    "a subject that is a string": lambda c: _vital(c, subject="Patient/pat-1"),
    "a condition sent among the observations": lambda c: c.resources["observations"].append(
        deepcopy(c.resources["conditions"][0])
    ),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_chart_taken_from_the_bytes_is_assessed_as_the_whole_parse_assesses_it(variant: str) -> None:
    c = _typical()
    VARIANTS[variant](c)
    _read_alike(c.request("order-sign"), c.dos)


def test_an_entry_that_is_not_an_object_is_reported_as_before() -> None:
    c = _typical()
    body = c.request("order-sign")
    body["prefetch"]["observations"]["entry"].append(7)
    body["prefetch"]["observations"]["entry"].append({"fullUrl": "urn:uuid:no-resource"})
    sent_notes = _read_alike(body, c.dos)
    assert sum("was not a FHIR resource" in n for n in sent_notes) == 2


def test_every_policy_is_assessed_from_the_bytes_as_from_the_whole_parse() -> None:
    c = _typical()
    for cov in c.resources["coverage"]:  # a payer with no policy: every policy assessed
        cov["payor"] = [{"display": "Acme Health Plan"}]
        cov["class"] = []
    body = c.request("order-sign")
    whole, _, _ = _assess(body, wire=False, dos=c.dos)
    sent, _, _ = _assess(body, wire=True, dos=c.dos)
    assert len(sent) > 1 and sent == whole


def test_an_observation_no_fact_reads_is_never_built() -> None:
    c = _typical()
    heart_rate = _vital(c)
    _, _, record = _assess(c.request("order-sign"), wire=True, dos=c.dos)
    held = {getattr(x, "ref", None) or f"Observation/{x['id']}": x for x in record.held("Observation")}
    assert isinstance(held[f"Observation/{heart_rate['id']}"], Deferred)
    pain = [
        x
        for x in record.held("Observation")
        if isinstance(x, dict) and x["code"]["coding"][0]["code"] == "72514-3"
    ]
    assert pain, "the pain scores a criterion reads are built"
    assert any(isinstance(x, Deferred) for x in record.held("Observation"))


def test_another_patients_observation_is_dropped_and_reported_without_being_built() -> None:
    c = _typical()
    other = _vital(c, subject={"reference": "Patient/someone-else"})
    _, notes, record = _assess(c.request("order-sign"), wire=True, dos=c.dos)
    assert f"Observation/{other['id']} belongs to another patient and was ignored." in notes
    ids = [x.id if isinstance(x, Deferred) else x["id"] for x in record.held("Observation")]
    assert other["id"] not in ids


def test_a_reference_builds_only_the_observation_it_names() -> None:
    c = _typical()
    first, second = _vital(c), _vital(c)
    _, record = _record(c.request("order-sign"), wire=True)
    (found,) = record.with_id("Observation", second["id"])
    assert found == second
    by_id = {x.id if isinstance(x, Deferred) else x["id"]: x for x in record.held("Observation")}
    assert isinstance(by_id[first["id"]], Deferred) and by_id[second["id"]] is found


def test_asking_for_every_observation_builds_them_all_in_the_records_order() -> None:
    c = _typical()
    _vital(c)
    body = c.request("order-sign")
    _, record = _record(body, wire=True)
    assert record.resources("Observation") == [
        e["resource"] for e in body["prefetch"]["observations"]["entry"]
    ]
    assert not any(isinstance(x, Deferred) for x in record.held("Observation"))


def test_a_prefetched_observation_read_twice_is_one_dict_with_one_verdict() -> None:
    c = _typical()
    pain = c.nrs(6, at(c.days_before(1)))
    _, record = _record(c.request("order-sign"), wire=True)
    (one,) = record.with_id("Observation", pain["id"])
    assert (
        record.resources("Observation")[
            [x.get("id") for x in record.resources("Observation")].index(pain["id"])
        ]
        is one
    )


def test_an_observation_orjson_cannot_build_is_reported_and_never_decides() -> None:
    c = _typical()
    pain = c.nrs(0, at(c.days_before(1)))
    body = orjson.dumps(c.request("order-sign"))
    # A number out of range: valid JSON syntax the scan lets through, that orjson refuses to build.
    body = body.replace(b'"valueInteger":0', b'"valueInteger":1e999', 1)
    light = hook_body.light(body)
    assert light is not None
    req = HookRequest.model_validate(light)
    record = asyncio.run(build_record(req, Settings()))
    (stub,) = record.with_id("Observation", pain["id"])
    assert not record.usable(stub)
    assert f"Observation/{pain['id']} could not be read (number is infinity" in " ".join(record.issues)
    terminology, store = services()
    outcome = assess_hook(req, record, terminology, store, today=c.dos)
    for a in outcome.every_assessment:
        assert all(f"Observation/{pain['id']}" not in c.evidence for c in a.outcome.criteria)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    db = tmp_path_factory.mktemp("deferred") / "audit.sqlite"
    with TestClient(create_app(Services.load(Settings(database_url=f"sqlite:///{db}")))) as c:
        yield c


def _post(client: Any, body: bytes) -> Any:
    return client.post(
        "/cds-services/idds-order-sign", content=body, headers={"Content-Type": "application/json"}
    )


def test_the_route_answers_a_chart_from_its_bytes_with_the_whole_parses_cards(client: Any) -> None:
    c = _typical()
    _vital(c, subject={"reference": "Patient/someone-else"})
    body = c.request("order-sign")
    answer = _post(client, orjson.dumps(body))
    assert answer.status_code == 200
    (card,) = answer.json()["cards"]
    sent = card["extension"]["idds-cds.assessment"]
    whole, _, _ = _assess(body, wire=False, dos=c.dos)
    sent.pop("id")
    assert [sent] == whole


def test_a_condition_orjson_cannot_build_is_a_400_as_the_whole_parse_gave(client: Any) -> None:
    c = _typical()
    body = orjson.dumps(c.request("order-sign"))
    body = body.replace(b'"resourceType":"Condition",', b'"resourceType":"Condition","x":1e999,', 1)
    assert hook_body.light(body) is not None  # the scan lets it through
    answer = _post(client, body)
    assert answer.status_code == 400
    assert "not valid JSON" in answer.text and "infinity" in answer.text


def test_an_observation_orjson_cannot_build_is_a_note_on_the_card_not_a_500(client: Any) -> None:
    c = _typical()
    c.nrs(0, at(c.days_before(1)))
    body = orjson.dumps(c.request("order-sign")).replace(b'"valueInteger":0', b'"valueInteger":1e999', 1)
    answer = _post(client, body)
    assert answer.status_code == 200
    assert "could not be read (number is infinity" in answer.text


# -- any Observation, bent out of shape, is read the same both ways --------------------------

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.sampled_from(["", "final", "72514-3", LOINC, "Patient/pat-1"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["coding", "system", "code", "reference", "text"]), inner, max_size=3
        )
    ),
    max_leaves=6,
)
_FIELDS = st.sampled_from(
    [
        "resourceType",
        "id",
        "status",
        "code",
        "subject",
        "patient",
        "effectiveDateTime",
        "valueInteger",
        "component",
    ]
)


@settings(max_examples=40 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, 1_000), field=_FIELDS, value=_JSON, drop=st.booleans())
def test_any_observation_bent_out_of_shape_is_read_as_the_whole_parse_reads_it(
    which: int, field: str, value: Any, drop: bool
) -> None:
    c = _typical()
    c.nrs(7, at(c.days_before(1)))
    body = c.request("order-sign")
    entries = body["prefetch"]["observations"]["entry"]
    resource = entries[which % len(entries)]["resource"]
    if drop:
        resource.pop(field, None)
    else:
        resource[field] = value
    _read_alike(body, c.dos)


def test_a_resource_added_after_a_lookup_by_id_is_found_by_the_next() -> None:
    c = _typical()
    _, record = _record(c.request("order-sign"), wire=True)
    assert record.with_id("Observation", "added-later") == []
    late = {"resourceType": "Observation", "id": "added-later", "status": "final", "code": {"text": "x"}}
    record.add([late], "a test")
    assert record.with_id("Observation", "added-later") == [late]
    twin = dict(late)
    record.add([twin], "a test")  # two resources sharing an id: both, in the record's order
    assert [id(r) for r in record.with_id("Observation", "added-later")] == [id(late), id(twin)]
    assert record.with_id("Observation", None) == [] and record.with_id("Nothing", "added-later") == []
