"""Only the resources that decide a criterion are validated, and a malformed one is still reported.

The record validates lazily (bench/ shows why: a FHIR validation costs as much
as decoding twenty resources). These tests pin the two halves of that
bargain: a malformed resource that would have decided is reported and the
next valid one is used; resources that decide nothing are not validated.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson

from cds_service.facts import FactContext, compute
from cds_service.hook_models import Card, HookRequest, HookResponse, Source
from cds_service.prefetch import build_record
from cds_service.record import PatientRecord
from cds_service.settings import Settings

from .chart import ICD10, SNOMED, Chart, at
from .helpers import services

BROKEN_VALUE = {"valueInteger": "seven"}  # a string where an integer belongs


def context(chart: Chart) -> FactContext:
    terminology, _ = services()
    req = HookRequest.model_validate(chart.request())
    record = asyncio.run(build_record(req, Settings()))
    return FactContext(record, terminology, chart.dos, None, None)


def validated(ctx: FactContext) -> set[str]:
    """References of the resources validated so far."""
    by_id = {id(r): r for rs in ctx.record.by_type.values() for r in rs}
    return {f"{by_id[k]['resourceType']}/{by_id[k]['id']}" for k in ctx.record._validity if k in by_id}


def reported(ctx: FactContext, resource: dict) -> bool:
    return any(
        f"{resource['resourceType']}/{resource['id']} was not valid FHIR" in i for i in ctx.record.issues
    )


def test_an_invalid_latest_nrs_is_reported_and_the_previous_valid_nrs_is_used():
    c = Chart()
    previous = c.nrs(6, c.days_before(20))
    latest = c.nrs(9, c.days_before(2))
    latest.update(BROKEN_VALUE)
    ctx = context(c)
    f = compute(ctx, "pain_nrs_latest", {})
    assert f.value == 6 and f.evidence == (f"Observation/{previous['id']}",)
    assert reported(ctx, latest)


def test_a_long_score_history_validates_only_the_score_that_decides():
    c = Chart()
    old = [c.nrs(7, c.days_before(30 + i)) for i in range(200)]
    old[50].update(BROKEN_VALUE)  # malformed, but decides nothing
    latest = c.nrs(5, c.days_before(1))
    ctx = context(c)
    assert compute(ctx, "pain_nrs_latest", {}).value == 5
    nrs_checked = {ref for ref in validated(ctx) if ref.startswith("Observation/")}
    assert nrs_checked == {f"Observation/{latest['id']}"}
    assert not reported(ctx, old[50])


def test_an_invalid_baseline_before_the_trial_is_reported_and_the_one_before_is_the_baseline():
    c = Chart()
    t = at(c.days_before(10), 8)
    c.trial(t)
    base = c.nrs(8, t - timedelta(days=3))
    broken = c.nrs(10, t - timedelta(hours=2))
    broken.update(BROKEN_VALUE)
    c.nrs(2, t + timedelta(hours=13))
    ctx = context(c)
    f = compute(ctx, "trial_pain_relief_percent", {"held_for_hours": 12})
    assert f.value == 75.0  # 8 → 2, not 10 → 2
    assert f"Observation/{base['id']}" in f.evidence
    assert reported(ctx, broken)


def test_an_invalid_score_inside_the_trial_window_is_reported_and_left_out():
    c = Chart()
    t = at(c.days_before(10), 8)
    c.trial(t)
    c.nrs(8, t - timedelta(hours=2))
    broken = c.nrs(1, t + timedelta(hours=6))
    broken.update(BROKEN_VALUE)
    kept = c.nrs(4, t + timedelta(hours=13))
    ctx = context(c)
    f = compute(ctx, "trial_pain_relief_percent", {"held_for_hours": 12})
    assert f.value == 50.0 and f"Observation/{kept['id']}" in f.evidence
    assert f"Observation/{broken['id']}" not in f.evidence
    assert reported(ctx, broken)


def test_an_invalid_latest_trial_procedure_is_reported_and_the_previous_trial_anchors():
    c = Chart()
    first = c.trial(at(c.days_before(30), 8))
    second = c.trial(at(c.days_before(10), 8))
    second["bodySite"] = "lumbar"  # a string where a list of CodeableConcepts belongs
    ctx = context(c)
    found, why = ctx.trial()
    assert why is None and found.procedure["id"] == first["id"]
    assert reported(ctx, second)


def test_an_invalid_latest_pump_status_is_reported_and_the_previous_status_is_used():
    c = Chart()
    pump = c.pump("battery-near-end")
    newer = next(o for o in c.resources["observations"] if o.get("device"))
    older = dict(
        newer, id="obs-older", effectiveDateTime=at(c.days_before(80)).isoformat().replace("+00:00", "Z")
    )
    c.resources["observations"].append(older)
    newer["valueCodeableConcept"] = "battery-depleted"  # a string where a CodeableConcept belongs
    ctx = context(c)
    f = compute(ctx, "pump_status", {})
    assert f.value == "battery-near-end" and f.evidence[0] == "Observation/obs-older"
    assert reported(ctx, newer)
    assert f"Device/{pump['id']}" in f.evidence


def test_therapy_courses_validate_only_the_kinds_a_criterion_asks_for():
    c = Chart()
    pt = c.therapy("physical-therapy", c.days_before(400), c.days_before(100), outcome="ineffective")
    opioid = c.medication("oxycodone", c.days_before(400), c.days_before(10))
    c.medication("tizanidine", c.days_before(300), c.days_before(200))["dosage"] = "twice daily"  # malformed
    ctx = context(c)
    f = compute(ctx, "therapy_failed_duration", {"class": "rehab-exercise"})
    assert f.evidence == (f"Procedure/{pt['id']}",)
    assert validated(ctx) & {f"MedicationStatement/{opioid['id']}"} == set()
    assert not any("was not valid FHIR" in i for i in ctx.record.issues)


def test_an_invalid_course_of_the_asked_kind_is_reported_and_not_counted():
    c = Chart()
    good = c.therapy("physical-therapy", c.days_before(400), c.days_before(300), outcome="ineffective")
    bad = c.therapy("physical-therapy", c.days_before(290), c.days_before(100), outcome="ineffective")
    bad["performedPeriod"] = {"start": "last spring"}
    ctx = context(c)
    f = compute(ctx, "therapy_failed_duration", {"class": "rehab-exercise"})
    assert f.evidence == (f"Procedure/{good['id']}",)
    assert reported(ctx, bad)


def test_only_conditions_that_could_name_an_indication_are_validated():
    c = Chart()
    pain = c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    unrelated = c.condition(icd10="E11.9", display="Type 2 diabetes mellitus")
    unrelated["onsetDateTime"] = "a while ago"  # malformed, decides nothing
    ctx = context(c)
    assert compute(ctx, "diagnosis_documented", {"indication": "nonmalignant-pain"}).value is True
    assert f"Condition/{pain['id']}" in validated(ctx)
    assert f"Condition/{unrelated['id']}" not in validated(ctx)


def test_value_set_membership_is_the_same_through_the_memo_and_ignores_non_string_codes():
    terminology, _ = services()
    for system, code, value_set in (
        (ICD10, "M96.1", "indication-nonmalignant-pain"),
        (ICD10, "m961", "indication-nonmalignant-pain"),
        (SNOMED, "91251008", "therapy:physical-therapy"),
        ("http://www.ama-assn.org/go/cpt", "98941", "therapy:chiropractic"),
    ):
        concept = {"coding": [{"system": system, "code": code}]}
        alias = terminology.alias(system)
        expected = terminology.value_sets[value_set].has(alias, code)
        assert terminology.in_set(concept, value_set) is expected is True
        assert terminology.in_set(concept, value_set) is True  # second call: from the memo
    weird = {"coding": [{"system": ICD10, "code": 961}, {"system": ["x"], "code": "M96.1"}, "M96.1"]}
    assert terminology.in_set(weird, "indication-nonmalignant-pain") is False
    assert terminology.observation_sets_of(weird) == frozenset()


def test_a_record_validates_each_resource_once():
    record = PatientRecord("pat-1")
    res = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}}
    calls = []
    original = record._validate
    record._validate = lambda r: calls.append(r) or original(r)  # type: ignore[method-assign]
    assert record.usable(res) and record.usable(res)
    assert len(calls) == 1


def test_the_response_bytes_are_what_fastapi_would_have_serialised():
    response = HookResponse(
        cards=[
            Card(
                uuid="u",
                summary="s",
                indicator="info",
                source=Source(label="l"),
                extension={"idds-cds.assessment": {"indication": None, "notes": []}},
            )
        ]
    )
    assert orjson.loads(response.to_json()) == response.model_dump(mode="json", exclude_none=True)
    assert b'"detail"' not in response.to_json()  # absent fields left out
    assert b'"indication":null' in response.to_json()  # nulls inside the contract kept, as before


# -- the verdict is remembered by content (issue 13): the same chart comes with every order-select --------


def _validations(monkeypatch) -> list[str]:
    from cds_service import record as record_module

    seen: list[str] = []
    real = PatientRecord._validate_now
    monkeypatch.setattr(
        PatientRecord,
        "_validate_now",
        lambda self, res: seen.append(record_module.resource_ref(res)) or real(self, res),
    )
    record_module._VERDICTS.clear()
    return seen


def test_the_same_chart_sent_again_is_not_validated_again_and_its_invalid_nrs_is_reported_again(monkeypatch):
    seen = _validations(monkeypatch)
    c = Chart()
    previous = c.nrs(6, c.days_before(20))
    latest = c.nrs(9, c.days_before(2))
    latest.update(BROKEN_VALUE)
    first = context(c)
    assert compute(first, "pain_nrs_latest", {}).value == 6 and reported(first, latest)
    checked = len(seen)
    assert f"Observation/{latest['id']}" in seen and f"Observation/{previous['id']}" in seen
    second = context(c)
    f = compute(second, "pain_nrs_latest", {})
    assert f.value == 6 and f.evidence == (f"Observation/{previous['id']}",)
    assert reported(second, latest)
    assert len(seen) == checked  # every verdict came from the first request


def test_a_resource_differing_in_one_field_is_validated_on_its_own(monkeypatch):
    seen = _validations(monkeypatch)
    c = Chart()
    nrs = c.nrs(7, c.days_before(2))
    assert compute(context(c), "pain_nrs_latest", {}).value == 7
    nrs.update(BROKEN_VALUE)  # same id, now malformed: a verdict of its own, not the valid one
    ctx = context(c)
    assert compute(ctx, "pain_nrs_latest", {}).value is None
    assert reported(ctx, nrs) and seen.count(f"Observation/{nrs['id']}") == 2
