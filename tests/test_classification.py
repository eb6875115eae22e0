"""Order phase and indication, as the clinical-data contract defines them."""

from __future__ import annotations

import pytest

from .chart import HCPCS, Chart
from .helpers import assessments


def phases(chart: Chart, hook: str = "order-sign") -> dict[str, str]:
    return {a["order"]["reference"]: a["order"]["phase"] for a in assessments(chart, hook)}


def indications(chart: Chart) -> set[str | None]:
    return {a["indication"] for a in assessments(chart)}


@pytest.mark.parametrize(
    "drug,route",
    [
        ("morphine", "intrathecal"),
        ("ziconotide", "intrathecal"),
        ("baclofen", "intrathecal"),
        ("clonidine", "epidural"),
        ("bupivacaine", "epidural"),
        ("hydromorphone", "epidural"),
    ],
)
def test_62320_to_62327_with_a_trial_injectate_is_a_trial(drug, route):
    c = Chart()
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.order("62324", drug=drug, route=route)
    assert phases(c) == {"ServiceRequest/sr-1": "trial"}


def test_the_intrathecal_trial_marker_makes_an_injection_a_trial_without_a_medication_request():
    c = Chart()
    c.order("62322", detail_code="intrathecal-trial")
    assert phases(c) == {"ServiceRequest/sr-1": "trial"}


def test_an_epidural_steroid_injection_with_bupivacaine_is_not_a_trial():
    """A 62321 of methylprednisolone with bupivacaine is an epidural steroid injection (no card)."""
    c = Chart()
    c.condition(icd10="M54.16", display="Radiculopathy, lumbar region")
    c.order("62321", drug="methylprednisolone", route="epidural")
    c.draft.append(
        {
            **c.draft[-1],
            "id": "sr-1-med-2",
            "medicationCodeableConcept": {
                "coding": [
                    {
                        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                        "code": "1815",
                        "display": "bupivacaine",
                    }
                ]
            },
        }
    )
    assert phases(c) == {}


def test_bupivacaine_alone_epidurally_is_still_a_trial():
    c = Chart()
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.order("62321", drug="bupivacaine", route="epidural")
    assert phases(c) == {"ServiceRequest/sr-1": "trial"}


def test_an_oral_opioid_beside_an_injection_does_not_make_it_a_trial():
    c = Chart()
    c.order("62323", drug="morphine", route="oral")
    assert phases(c) == {}


@pytest.mark.parametrize("code", ["62350", "62351", "62360", "62361", "62362", "E0782", "E0783"])
def test_implant_codes_without_an_active_pump_are_permanent(code):
    c = Chart()
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump(None, device_status="inactive")  # an explanted pump does not count
    c.order(code)
    assert phases(c) == {"ServiceRequest/sr-1": "permanent"}


@pytest.mark.parametrize("code", ["62360", "62361", "62362", "E0782", "E0783"])
def test_pump_codes_with_an_active_pump_are_replacement(code):
    c = Chart()
    c.pump("battery-near-end")
    c.order(code)
    assert phases(c) == {"ServiceRequest/sr-1": "replacement"}


def test_a_pump_recognised_by_its_text_alone_counts_as_implanted():
    c = Chart()
    device = c.pump("battery-near-end")
    device["type"] = {"text": "Implantable infusion pump, programmable"}
    c.order("62362")
    assert phases(c) == {"ServiceRequest/sr-1": "replacement"}


@pytest.mark.parametrize("code", ["E0785", "E0786"])
def test_e0785_and_e0786_are_always_replacement_also_as_a_device_request(code):
    c = Chart()
    c.order(code, system=HCPCS, device_request=True)
    assert phases(c) == {"DeviceRequest/sr-1": "replacement"}


def test_http_and_https_hcpcs_systems_are_both_accepted():
    c = Chart()
    c.order("E0786", system="http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets")
    assert phases(c) == {"ServiceRequest/sr-1": "replacement"}


@pytest.mark.parametrize(
    "code", ["62355", "62365", "62367", "62368", "62369", "62370", "95990", "95991", "99213"]
)
def test_removal_analysis_and_refill_codes_are_out_of_scope(code):
    c = Chart()
    c.pump("functional")
    c.order(code)
    assert phases(c) == {}


def test_order_reason_decides_the_indication_before_the_problem_list():
    c = Chart()
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.condition(icd10="M54.50", display="Low back pain")
    c.order("62362", reason_icd10="G35")
    assert indications(c) == {"spasticity"}


def test_the_injectate_narrows_an_ambiguous_problem_list():
    c = Chart()
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.order("62322", drug="baclofen")
    assert indications(c) == {"spasticity"}


def test_an_ambiguous_record_assesses_each_candidate_indication():
    c = Chart()
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.order("62362")
    assert indications(c) == {"spasticity", "nonmalignant-pain"}


def test_snomed_only_conditions_are_recognised():
    c = Chart()
    c.condition(snomed="24700007", display="Multiple sclerosis")
    c.order("62362")
    assert indications(c) == {"spasticity"}


def test_a_cancer_with_a_pain_condition_is_cancer_pain():
    c = Chart()
    c.condition(icd10="C61", display="Malignant neoplasm of prostate")
    c.condition(icd10="G89.3", display="Neoplasm related pain")
    c.order("62362")
    assert indications(c) == {"cancer-pain"}


def test_no_diagnosis_gives_an_undetermined_indication_and_says_so():
    c = Chart(payer="Cigna")
    c.order("62362")
    (a,) = assessments(c)
    assert a["indication"] is None and a["determination"] == "documentation-incomplete"


def test_date_of_service_falls_back_to_period_start_then_authored_on():
    c = Chart(payer="Cigna", dos="2026-09-14")
    c.condition(icd10="G35", display="Multiple sclerosis")
    sr = c.order("62362")
    sr.pop("occurrenceDateTime")
    sr["occurrencePeriod"] = {"start": "2026-08-01"}
    (a,) = assessments(c)
    assert a["dateOfService"] == "2026-08-01"
    sr.pop("occurrencePeriod")
    (a,) = assessments(c)
    assert a["dateOfService"] == "2026-09-11"  # authoredOn
    assert a["policy"]["version"] == "2026-08-04"
