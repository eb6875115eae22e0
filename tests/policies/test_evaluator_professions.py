"""Who evaluated: the policies that name the evaluator's profession, rule by rule.

Molina MCP 160 2e: "... documentation of member as a favorable candidate for permanent
intrathecal pump by a license mental health professional." Cigna CMM-210 (both versions):
"An attestation from a primary care physician, neurologist, physiatrist, psychiatrist,
psychologist, or other licensed behavioral and/or medical health care provider ...". A
favourable evaluation meets these only when the record proves its evaluator
(mappings/evaluators.yaml): a performer that is absent, unresolvable, not a clinician or
of another profession leaves the criterion documentation-incomplete, never met.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart import Chart
from tests.helpers import criterion
from tests.policies import test_cigna_cmm_210 as cigna_rules
from tests.policies import test_molina_mcp_160 as molina_rules

MOLINA_PSYCH = "molina-160-nonmalignant-e-psych-favorable"


def ref(resource: dict[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def molina_chart() -> Chart:
    return molina_rules.nonmalignant_chart(omit=("psych",))


def molina(c: Chart) -> dict[str, Any]:
    return molina_rules.molina(c)


# ---------------------------------------------------------------- Molina 2e
def test_molina_psych_favorable_by_psychologist_is_met():
    c = molina_chart()
    ev = c.psych("favorable", evaluator="psychologist")
    a = molina(c)
    cr = criterion(a, MOLINA_PSYCH)
    assert cr["status"] == "met"
    assert ref(ev) in cr["evidence"]
    assert "Psychologist" in cr["note"]
    assert a["determination"] == "criteria-met"


def test_molina_psych_favorable_by_psychiatrist_role_sent_with_the_chart_is_met():
    c = molina_chart()
    role = c.practitioner_role(evaluator="psychiatrist")
    c.psych("favorable", performer=[{"reference": ref(role)}])
    cr = criterion(molina(c), MOLINA_PSYCH)
    assert cr["status"] == "met"
    assert ref(role) in cr["evidence"]


def test_molina_psych_favorable_by_clinical_social_worker_is_met():
    c = molina_chart()
    c.psych("favorable", evaluator="clinical-social-worker")
    assert criterion(molina(c), MOLINA_PSYCH)["status"] == "met"


def test_molina_psych_favorable_by_practitioner_with_licence_qualification_is_met():
    # No PractitionerRole specialty: the Practitioner's qualification (a psychology licence)
    # in force on the day proves the profession.
    c = molina_chart()
    role = c.practitioner_role(qualification="psychologist")
    prac = next(r for r in c.resources["observations"] if r["resourceType"] == "Practitioner")
    c.psych("favorable", performer=[{"reference": ref(prac)}])
    assert criterion(molina(c), MOLINA_PSYCH)["status"] == "met"
    # and through the role that names that practitioner
    c2 = molina_chart()
    role = c2.practitioner_role(qualification="psychologist")
    c2.psych("favorable", performer=[{"reference": ref(role)}])
    assert criterion(molina(c2), MOLINA_PSYCH)["status"] == "met"


def test_molina_psych_favorable_by_practitioner_with_lapsed_licence_is_unknown():
    c = molina_chart()
    c.practitioner_role(
        qualification="psychologist",
        qualification_extra={"period": {"start": "2010-01-01", "end": "2025-12-31"}},
    )
    prac = next(r for r in c.resources["observations"] if r["resourceType"] == "Practitioner")
    c.psych("favorable", c.days_before(20), performer=[{"reference": ref(prac)}])
    a = molina(c)
    assert criterion(a, MOLINA_PSYCH)["status"] == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_psych_favorable_by_orthopaedic_surgeon_is_unknown_not_met():
    c = molina_chart()
    c.psych("favorable", evaluator="orthopaedic-surgeon")
    a = molina(c)
    cr = criterion(a, MOLINA_PSYCH)
    assert cr["status"] == "unknown"
    assert "Orthopaedic Surgery" in cr["note"]
    assert "licensed mental health professional" in cr["note"]
    assert a["determination"] == "documentation-incomplete"


def test_molina_psych_favorable_by_pain_physician_is_unknown():
    # The pain physician is licensed, but not a mental health professional.
    c = molina_chart()
    c.psych("favorable", evaluator="pain-physician")
    assert criterion(molina(c), MOLINA_PSYCH)["status"] == "unknown"


def test_molina_psych_favorable_without_performer_is_unknown():
    c = molina_chart()
    c.psych("favorable", evaluator=None)
    a = molina(c)
    cr = criterion(a, MOLINA_PSYCH)
    assert cr["status"] == "unknown"
    assert "names no evaluator" in cr["note"]
    assert a["determination"] == "documentation-incomplete"


def test_molina_psych_favorable_with_performer_not_in_the_chart_is_unknown():
    c = molina_chart()
    c.psych("favorable", performer=[{"reference": "PractitionerRole/not-sent", "display": "Dr. Lee"}])
    cr = criterion(molina(c), MOLINA_PSYCH)
    assert cr["status"] == "unknown"
    assert "Dr. Lee" in cr["note"] and "role or specialty" in cr["note"]


def test_molina_psych_favorable_with_performer_another_patient_is_unknown():
    c = molina_chart()
    c.psych("favorable", performer=[{"reference": "Patient/pat-2"}])
    assert criterion(molina(c), MOLINA_PSYCH)["status"] == "unknown"


def test_molina_psych_favorable_with_invalid_performer_resource_is_unknown():
    # A PractitionerRole that is not valid FHIR (here marked entered-in-error, a field the
    # resource does not have) is refused, so it proves nothing.
    c = molina_chart()
    role = c.practitioner_role(evaluator="psychologist", status="entered-in-error")
    c.psych("favorable", performer=[{"reference": ref(role)}])
    a = molina(c)
    assert criterion(a, MOLINA_PSYCH)["status"] == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_psych_favorable_by_inactive_role_is_unknown():
    c = molina_chart()
    role = c.practitioner_role(evaluator="psychologist", active=False)
    c.psych("favorable", performer=[{"reference": ref(role)}])
    assert criterion(molina(c), MOLINA_PSYCH)["status"] == "unknown"


def test_molina_psych_favorable_by_role_outside_its_period_is_unknown():
    c = molina_chart()
    role = c.practitioner_role(evaluator="psychologist", period={"start": "2026-08-01"})
    c.psych("favorable", c.days_before(60), performer=[{"reference": ref(role)}])
    assert criterion(molina(c), MOLINA_PSYCH)["status"] == "unknown"


def test_molina_psych_later_favorable_by_surgeon_keeps_earlier_psychologist_favorable():
    c = molina_chart()
    ev = c.psych("favorable", c.days_before(90), evaluator="psychologist")
    c.psych("favorable", c.days_before(10), evaluator="orthopaedic-surgeon")
    cr = criterion(molina(c), MOLINA_PSYCH)
    assert cr["status"] == "met"
    assert ref(ev) in cr["evidence"]


def test_molina_psych_psychologist_unfavorable_before_a_surgeon_favorable_is_not_met():
    # The mental health professional's latest word is unfavourable.
    c = molina_chart()
    c.psych("unfavorable", c.days_before(90), evaluator="psychologist")
    c.psych("favorable", c.days_before(10), evaluator="orthopaedic-surgeon")
    assert criterion(molina(c), MOLINA_PSYCH)["status"] == "not-met"


def test_molina_psych_unfavorable_without_performer_stays_not_met():
    c = molina_chart()
    c.psych("unfavorable", evaluator=None)
    assert criterion(molina(c), MOLINA_PSYCH)["status"] == "not-met"


# ---------------------------------------------------------------- Cigna
def cigna_chart(v: cigna_rules.V, **psych: Any) -> Chart:
    c = cigna_rules.nonmalignant_trial_chart(v)
    c.resources["observations"] = [
        o for o in c.resources["observations"] if "psych-evaluation" not in str(o.get("code"))
    ]
    c.psych("favorable", c.days_before(2), **psych)
    return c


CIGNA_VERSIONS = pytest.mark.parametrize("v", [cigna_rules.AUG, cigna_rules.FEB], ids=["2026-08", "2026-02"])


@CIGNA_VERSIONS
@pytest.mark.parametrize(
    "evaluator", ["psychologist", "psychiatrist", "family-physician", "pain-physician", "orthopaedic-surgeon"]
)
def test_cigna_psych_attestation_by_a_licensed_behavioral_or_medical_provider_is_met(
    v: cigna_rules.V, evaluator: str
):
    # "or other licensed behavioral and/or medical health care provider": a licensed
    # physician of any specialty attests under Cigna's words.
    a = cigna_rules.cigna(cigna_chart(v, evaluator=evaluator), v)
    assert criterion(a, v.id("nonmalignant-trial-psych-attestation"))["status"] == "met"
    assert a["determination"] == "criteria-met"


@CIGNA_VERSIONS
def test_cigna_psych_attestation_by_a_registered_nurse_is_unknown(v: cigna_rules.V):
    a = cigna_rules.cigna(cigna_chart(v, evaluator="registered-nurse"), v)
    cr = criterion(a, v.id("nonmalignant-trial-psych-attestation"))
    assert cr["status"] == "unknown"
    assert "Registered Nurse" in cr["note"]
    assert a["determination"] == "documentation-incomplete"


@CIGNA_VERSIONS
def test_cigna_psych_attestation_without_attesting_provider_is_unknown(v: cigna_rules.V):
    a = cigna_rules.cigna(cigna_chart(v, evaluator=None), v)
    assert criterion(a, v.id("nonmalignant-trial-psych-attestation"))["status"] == "unknown"
    assert a["determination"] == "documentation-incomplete"


@CIGNA_VERSIONS
def test_cigna_psych_attestation_by_a_relative_is_unknown(v: cigna_rules.V):
    a = cigna_rules.cigna(cigna_chart(v, performer=[{"reference": "RelatedPerson/rp-1"}]), v)
    cr = criterion(a, v.id("nonmalignant-trial-psych-attestation"))
    assert cr["status"] == "unknown"
    assert "relative" in cr["note"]
