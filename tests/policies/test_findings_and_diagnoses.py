"""Safety findings, pump state and "documented pathology", read to the letter of each policy.

Value sets live in mappings/conditions.yaml; these tests pin what a payer's
reviewer expects of them: every kind of sepsis is a systemic infection, a
thrombophilia is not a coagulopathy, a pump status speaks only for the pump it
names, and a pain symptom code is not an etiology.
"""

from __future__ import annotations

import pytest

from tests.chart import Chart
from tests.helpers import status
from tests.policies.test_cigna_cmm_210 import AUG, FEB, cigna, nonmalignant_trial_chart, replacement_chart
from tests.policies.test_molina_mcp_160 import molina, nonmalignant_chart
from tests.policies.test_nia_cg_310 import nia, nia_replacement_chart
from tests.policies.test_oxford_pharmacy_339 import nonmalignant_trial_chart as oxford_trial_chart
from tests.policies.test_oxford_pharmacy_339 import oxford

NIA_INFECTION = "nia-310-contraindication-no-active-infection"
MOLINA_INFECTION = "molina-160-nonmalignant-g-no-active-infection"
MOLINA_CONTRAINDICATION = "molina-160-nonmalignant-h-no-contraindication"
OXFORD_ETIOLOGY = "oxford-339-7-nonmalignant-trial-etiology-documented"


# -- NIA: "Active systemic or spinal infection" ------------------------------------


@pytest.mark.parametrize(
    "icd10, display",
    [
        ("A40.9", "Streptococcal sepsis, unspecified"),
        ("R65.21", "Severe sepsis with septic shock"),
        ("R78.81", "Bacteremia"),
        ("G03.9", "Meningitis, unspecified"),
        ("G06.1", "Intraspinal abscess and granuloma"),
        ("M46.46", "Discitis, unspecified, lumbar region"),
        ("T85.735A", "Infection due to implanted cranial or spinal infusion catheter, initial encounter"),
    ],
)
def test_nia_replacement_any_systemic_or_spinal_infection_is_not_met(icd10, display):
    c = nia_replacement_chart("malfunction")
    c.condition(icd10=icd10, display=display)
    a = nia(c)
    assert status(a, NIA_INFECTION) == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_replacement_urinary_tract_infection_is_not_systemic_or_spinal():
    c = nia_replacement_chart("malfunction")
    c.condition(icd10="N39.0", display="Urinary tract infection, site not specified")
    a = nia(c)
    assert status(a, NIA_INFECTION) == "met"
    assert a["determination"] == "criteria-met"


def test_nia_replacement_resolved_sepsis_does_not_count():
    c = nia_replacement_chart("malfunction")
    c.condition(icd10="A41.9", display="Sepsis, unspecified organism", clinical="resolved")
    assert status(nia(c), NIA_INFECTION) == "met"


# -- Molina: "No active infection" (any), "such as" contraindications ---------------


@pytest.mark.parametrize(
    "icd10, display",
    [
        ("L03.311", "Cellulitis of abdominal wall"),
        ("J18.9", "Pneumonia, unspecified organism"),
        ("N39.0", "Urinary tract infection, site not specified"),
        ("A41.9", "Sepsis, unspecified organism"),
    ],
)
def test_molina_nonmalignant_any_active_infection_is_not_met(icd10, display):
    c = nonmalignant_chart()
    c.condition(icd10=icd10, display=display)
    a = molina(c)
    assert status(a, MOLINA_INFECTION) == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_chronic_hiv_disease_is_not_an_active_infection():
    c = nonmalignant_chart()
    c.condition(icd10="B20", display="Human immunodeficiency virus [HIV] disease")
    assert status(molina(c), MOLINA_INFECTION) == "met"


def test_molina_nonmalignant_entered_in_error_cellulitis_does_not_count():
    c = nonmalignant_chart()
    c.condition(icd10="L03.311", display="Cellulitis of abdominal wall", verification="entered-in-error")
    assert status(molina(c), MOLINA_INFECTION) == "met"


@pytest.mark.parametrize(
    "icd10, display",
    [
        ("D68.4", "Acquired coagulation factor deficiency"),
        ("D69.6", "Thrombocytopenia, unspecified"),
        ("D61.818", "Other pancytopenia"),
        ("G93.2", "Benign intracranial hypertension"),
    ],
)
def test_molina_nonmalignant_contraindication_to_implantation_is_not_met(icd10, display):
    c = nonmalignant_chart()
    c.condition(icd10=icd10, display=display)
    a = molina(c)
    assert status(a, MOLINA_CONTRAINDICATION) == "not-met"


@pytest.mark.parametrize(
    "icd10, display",
    [
        ("D68.51", "Activated protein C resistance (factor V Leiden)"),
        ("D68.62", "Lupus anticoagulant syndrome"),
    ],
)
def test_molina_nonmalignant_thrombophilia_is_not_a_coagulopathy(icd10, display):
    c = nonmalignant_chart()
    c.condition(icd10=icd10, display=display)
    a = molina(c)
    assert status(a, MOLINA_CONTRAINDICATION) == "met"
    assert a["determination"] == "criteria-met"


# -- pump status names its pump ------------------------------------------------------


@pytest.mark.parametrize("v", [AUG, FEB], ids=["2026_08", "2026_02"])
def test_cigna_replacement_pump_status_without_a_device_reference_does_not_count(v):
    """An old status with no `device` may be about the pump it replaced: it never decides."""
    c = replacement_chart(v, "battery-near-end")
    obs = next(o for o in c.resources["observations"] if o["code"]["coding"][0]["code"] == "pump-status")
    del obs["device"]
    a = cigna(c, v)
    assert status(a, v.id("replacement-battery-near-end")) == "unknown"
    assert a["determination"] == "documentation-incomplete"


@pytest.mark.parametrize("v", [AUG, FEB], ids=["2026_08", "2026_02"])
def test_cigna_replacement_pump_status_of_another_device_does_not_count(v):
    c = replacement_chart(v, "battery-near-end")
    obs = next(o for o in c.resources["observations"] if o["code"]["coding"][0]["code"] == "pump-status")
    obs["device"] = {"reference": "Device/explanted-pump-2019"}
    assert cigna(c, v)["determination"] == "documentation-incomplete"


@pytest.mark.parametrize("v", [AUG, FEB], ids=["2026_08", "2026_02"])
def test_cigna_replacement_without_any_documented_indication_is_undocumented(v):
    c = Chart(payer="Cigna Health and Life Insurance Company", dos=v.dos)
    c.pump("battery-near-end")
    c.order("62362")
    a = cigna(c, v)
    assert a["indication"] is None
    assert status(a, v.id("replacement-battery-near-end")) == "met"
    assert status(a, v.id("replacement-indication-spasticity")) == "unknown"
    assert a["determination"] == "documentation-incomplete"


# -- "documented pathology" / "etiology … clearly documented" --------------------------


def _only_diagnosis(chart: Chart, icd10: str, display: str, verification: str = "confirmed") -> Chart:
    for cond in chart.resources["conditions"]:
        if cond["code"]["coding"][0]["code"] == "M96.1":
            cond["code"] = {
                "coding": [
                    {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": icd10, "display": display}
                ],
                "text": display,
            }
            cond["verificationStatus"]["coding"][0]["code"] = verification
    return chart


@pytest.mark.parametrize(
    "icd10, display",
    [
        ("G89.29", "Other chronic pain"),
        ("G89.4", "Chronic pain syndrome"),
        ("M54.50", "Low back pain, unspecified"),
    ],
)
def test_oxford_nonmalignant_pain_symptom_code_is_not_a_known_etiology(icd10, display):
    a = oxford(_only_diagnosis(oxford_trial_chart(), icd10, display))
    assert status(a, OXFORD_ETIOLOGY) == "unknown"
    assert a["determination"] == "documentation-incomplete"


@pytest.mark.parametrize(
    "icd10, display",
    [
        ("G90.50", "Complex regional pain syndrome I, unspecified"),
        ("M51.16", "Intervertebral disc disorders with radiculopathy, lumbar region"),
        ("M54.16", "Radiculopathy, lumbar region"),
    ],
)
def test_oxford_nonmalignant_named_cause_is_a_known_etiology(icd10, display):
    a = oxford(_only_diagnosis(oxford_trial_chart(), icd10, display))
    assert status(a, OXFORD_ETIOLOGY) == "met"


def test_oxford_nonmalignant_provisional_diagnosis_is_not_clearly_documented():
    a = oxford(
        _only_diagnosis(oxford_trial_chart(), "M96.1", "Postlaminectomy syndrome", verification="provisional")
    )
    assert status(a, OXFORD_ETIOLOGY) == "unknown"
    assert a["determination"] != "criteria-met"


@pytest.mark.parametrize("v", [AUG, FEB], ids=["2026_08", "2026_02"])
def test_cigna_nonmalignant_trial_chronic_pain_symptom_code_is_not_documented_pathology(v):
    a = cigna(_only_diagnosis(nonmalignant_trial_chart(v), "G89.29", "Other chronic pain"), v)
    assert status(a, v.id("nonmalignant-trial-pathology")) == "unknown"
    assert a["determination"] == "documentation-incomplete"


@pytest.mark.parametrize("v", [AUG, FEB], ids=["2026_08", "2026_02"])
def test_cigna_nonmalignant_trial_differential_diagnosis_is_not_documented_pathology(v):
    a = cigna(
        _only_diagnosis(
            nonmalignant_trial_chart(v), "M96.1", "Postlaminectomy syndrome", verification="differential"
        ),
        v,
    )
    assert status(a, v.id("nonmalignant-trial-pathology")) == "unknown"


# -- quantities: calendar months, and a bound is not a value ---------------------------

MOLINA_LIFE = "molina-160-cancer-b-life-expectancy-3-months"


def _molina_cancer_with_life_expectancy(value: float, unit: str, comparator: str | None = None) -> Chart:
    from tests.policies.test_molina_mcp_160 import cancer_chart

    c = cancer_chart(omit=("life",))
    obs = c.life_expectancy(value, unit, c.days_before(3))
    if comparator:
        obs["valueQuantity"]["comparator"] = comparator
    return c


def test_molina_cancer_life_expectancy_of_13_weeks_is_3_calendar_months():
    """13 weeks from the date of service (2026-09-14 → 2026-12-14) is exactly 3 months: met."""
    a = molina(_molina_cancer_with_life_expectancy(13, "wk"))
    assert status(a, MOLINA_LIFE) == "met"


def test_molina_cancer_life_expectancy_of_12_weeks_is_not_3_months():
    a = molina(_molina_cancer_with_life_expectancy(12, "wk"))
    assert status(a, MOLINA_LIFE) == "not-met"


def test_molina_cancer_life_expectancy_of_90_days_is_a_day_short_of_3_calendar_months():
    a = molina(_molina_cancer_with_life_expectancy(90, "d"))
    assert status(a, MOLINA_LIFE) == "not-met"


def test_molina_cancer_life_expectancy_less_than_6_months_is_not_a_value():
    """'<6 mo' is a bound: it proves neither at least 3 months nor less."""
    a = molina(_molina_cancer_with_life_expectancy(6, "mo", comparator="<"))
    assert status(a, MOLINA_LIFE) == "unknown"
    assert a["determination"] != "criteria-met"


def test_nia_pain_permanent_trial_relief_recorded_as_less_than_60_percent_is_not_met_as_60():
    from tests.policies.test_nia_cg_310 import nia_pain_permanent_chart

    c = nia_pain_permanent_chart(relief=60)
    relief = next(
        o for o in c.resources["observations"] if o["code"]["coding"][0]["code"] == "trial-pain-relief"
    )
    relief["valueQuantity"]["comparator"] = "<"
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-trial-relief-50") != "met"
    assert a["determination"] != "criteria-met"


# -- "pain of a non-malignant origin": neoplasm-related pain contradicts it -------------


def test_oxford_nonmalignant_pain_documented_as_neoplasm_related_is_not_met():
    c = oxford_trial_chart()
    c.condition(icd10="C50.911", display="Malignant neoplasm of right female breast")
    c.condition(icd10="G89.3", display="Neoplasm related pain (acute) (chronic)")
    a = oxford(c, indication="nonmalignant-pain")
    assert status(a, "oxford-339-7-nonmalignant-trial-not-cancer-related") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_oxford_nonmalignant_pain_with_a_past_cancer_but_no_neoplasm_related_pain_is_met():
    c = oxford_trial_chart()
    c.condition(icd10="C50.911", display="Malignant neoplasm of right female breast", clinical="resolved")
    a = oxford(c)
    assert status(a, "oxford-339-7-nonmalignant-trial-not-cancer-related") == "met"
    assert a["determination"] == "criteria-met"


def test_molina_nonmalignant_pain_documented_as_neoplasm_related_is_not_met():
    c = nonmalignant_chart()
    c.condition(icd10="G89.3", display="Neoplasm related pain (acute) (chronic)")
    a = molina(c, indication="nonmalignant-pain")
    assert status(a, "molina-160-nonmalignant-a-not-cancer-origin") == "not-met"
    assert a["determination"] == "criteria-not-met"


@pytest.mark.parametrize("v", [AUG, FEB], ids=["2026_08", "2026_02"])
def test_cigna_nonmalignant_trial_pain_documented_as_neoplasm_related_is_not_met(v):
    c = nonmalignant_trial_chart(v)
    c.condition(icd10="G89.3", display="Neoplasm related pain (acute) (chronic)")
    a = cigna(c, v, indication="nonmalignant-pain")
    assert status(a, v.id("nonmalignant-trial-not-cancer-related")) == "not-met"
