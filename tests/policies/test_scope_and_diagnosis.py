"""Scope sentences and the diagnosis every indication needs, per policy.

Each policy says in its own words what happens to an order outside it: an
injectate it does not govern (Cigna "does NOT apply to … chemotherapy …";
Molina "experimental, investigational, or unproven"), a condition outside its
list (Cigna 2026-02-25 "not medically necessary for ANY other indication"),
an age it does not address (Oxford). And no indication is assessed as met
without its own documented diagnosis: the injectate only chooses the tree.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.chart import ICD10, RXNORM, SNOMED, Chart
from tests.helpers import assessment, assessments, criterion, status
from tests.policies.test_cigna_cmm_210 import (
    AUG,
    CIGNA,
    FEB,
    V,
    cancer_trial_chart,
    cigna,
    replacement_chart,
    spasticity_trial_chart,
)


def both_versions(rule: Callable[[V], None]) -> Callable[[V], None]:
    """Register `rule` here as test_cigna_2026_08_<name> and test_cigna_2026_02_<name>."""
    name = rule.__name__.removeprefix("rule_")
    for v in (AUG, FEB):

        def test(v: V = v) -> None:
            rule(v)

        test.__name__ = f"test_cigna_{v.key}_{name}"
        test.__doc__ = rule.__doc__
        globals()[test.__name__] = test
    return rule


MOLINA = "Molina Healthcare of Ohio"
OXFORD = "UnitedHealthcare Oxford"
NIA = "Magellan Healthcare (National Imaging Associates)"


def reservoir_for(c: Chart, rxnorm: str | None, name: str, display: str, code: str = "62360") -> None:
    """A subcutaneous reservoir order whose intrathecal injectate is coded (or only named)."""
    c.order(code)
    concept = (
        {"coding": [{"system": RXNORM, "code": rxnorm, "display": display}], "text": display}
        if rxnorm
        else {"text": display}
    )
    c.draft.append(
        {
            "resourceType": "MedicationRequest",
            "id": "mr-ith",
            "status": "draft",
            "intent": "order",
            "subject": {"reference": f"Patient/{c.patient_id}"},
            "basedOn": [{"reference": "ServiceRequest/sr-1"}],
            "medicationCodeableConcept": concept,
            "dosageInstruction": [
                {
                    "text": f"{name} intrathecal via reservoir",
                    "route": {
                        "coding": [{"system": SNOMED, "code": "72607000", "display": "Intrathecal route"}]
                    },
                }
            ],
        }
    )


def cancer_reservoir_chart(
    payer: str, rxnorm: str | None, name: str, display: str, dos: str = "2026-09-14"
) -> Chart:
    c = Chart(payer=payer, dos=dos)
    c.condition(icd10="C79.32", display="Secondary malignant neoplasm of cerebral meninges")
    c.condition(icd10="G89.3", display="Neoplasm related pain")
    reservoir_for(c, rxnorm, name, display)
    return c


# -- out-of-scope injectates, matched by RxNorm ingredient ------------------------


@both_versions
def rule_intrathecal_methotrexate_reservoir_is_not_applicable(v: V):
    c = cancer_reservoir_chart(
        CIGNA, "6851", "methotrexate", "Methotrexate 25 MG/ML Injectable Solution", dos=v.dos
    )
    for a in assessments(c):
        assert a["determination"] == "not-applicable"
        assert "chemotherapy" in a["criteria"][0]["text"]


def test_cigna_2026_08_intrathecal_acyclovir_coded_by_rxnorm_only_is_not_applicable():
    """The display says nothing a name match would catch: the RxNorm ingredient decides."""
    c = cancer_reservoir_chart(CIGNA, "281", "ACV", "ACV 10 mg/mL IT (compounded)")
    for a in assessments(c):
        assert a["determination"] == "not-applicable"
        assert "antiviral" in a["criteria"][0]["text"]
    assert all(a["notes"] == [n for n in a["notes"] if "drug name only" not in n] for a in assessments(c))


def test_cigna_2026_08_intrathecal_nusinersen_by_rxnorm_is_not_applicable():
    c = Chart(payer=CIGNA)
    c.condition(icd10="G12.1", display="Other inherited spinal muscular atrophy")
    reservoir_for(c, "1872251", "nusinersen", "nusinersen 2.4 MG/ML Injectable Solution", code="62350")
    [a] = assessments(c)
    assert a["determination"] == "not-applicable"


def test_cigna_2026_08_intrathecal_morphine_reservoir_is_assessed():
    """Near-miss: an opioid injectate is in scope and goes to the criteria."""
    c = cancer_reservoir_chart(CIGNA, "7052", "morphine", "Morphine Sulfate 25 MG/ML Injectable Solution")
    determinations = {a["determination"] for a in assessments(c)}
    assert "not-applicable" not in determinations


def test_molina_intrathecal_chemotherapy_pump_is_experimental():
    """'… for any indication other than those listed above are considered experimental …'"""
    c = cancer_reservoir_chart(MOLINA, "3041", "cytarabine", "Cytarabine 20 MG/ML Injectable Solution")
    for a in assessments(c):
        assert a["determination"] == "criteria-not-met"
        assert "experimental" in a["criteria"][0]["source"]


def test_oxford_intrathecal_antibiotic_reservoir_is_not_applicable():
    c = cancer_reservoir_chart(OXFORD, "11124", "vancomycin", "Vancomycin 500 MG Injection")
    for a in assessments(c):
        assert a["determination"] == "not-applicable"
        assert (
            a["criteria"][0]["source"]
            == "Implanted drug delivery systems can be used to treat pain or spasticity."
        )


def test_nia_intrathecal_chemotherapy_reservoir_is_not_applicable():
    c = cancer_reservoir_chart(NIA, "10473", "thiotepa", "Thiotepa 15 MG Injection")
    for a in assessments(c):
        assert a["determination"] == "not-applicable"


# -- a condition outside the policy's list ------------------------------------------


def parkinsons_baclofen_trial(v_dos: str, payer: str) -> Chart:
    c = Chart(payer=payer, dos=v_dos)
    c.condition(icd10="G20.A1", display="Parkinson's disease without dyskinesia")
    c.medication("baclofen", c.days_before(200), c.days_before(100), fixed=True, reason="ineffective")
    c.therapy("physical-therapy", c.days_before(200), c.days_before(100), outcome="ineffective")
    c.score("modified-ashworth", 3, c.days_before(30))
    c.score("penn-spasm-frequency", 3, c.days_before(30))
    c.order("62322", drug="baclofen", route="intrathecal", reason_icd10="G20.A1")
    return c


def test_cigna_2026_02_order_for_another_indication_is_not_medically_necessary():
    """'An intrathecal or epidural drug delivery system is considered not medically necessary for ANY other indication.'"""
    [a] = assessments(parkinsons_baclofen_trial(FEB.dos, CIGNA))
    assert a["policy"]["version"] == FEB.version
    assert a["determination"] == "criteria-not-met"
    assert a["indication"] is None
    assert "ANY other indication" in a["criteria"][0]["source"]
    assert any("outside the indications" in n for n in a["notes"])


def test_cigna_2026_08_order_for_another_indication_is_not_applicable():
    """The 2026-08 text drops "ANY other indication": the criteria are only applicable to the listed conditions."""
    [a] = assessments(parkinsons_baclofen_trial(AUG.dos, CIGNA))
    assert a["policy"]["version"] == AUG.version
    assert a["determination"] == "not-applicable"


def test_molina_order_for_another_indication_is_experimental():
    [a] = assessments(parkinsons_baclofen_trial("2026-09-14", MOLINA))
    assert a["determination"] == "criteria-not-met"
    assert "experimental" in a["criteria"][0]["source"]


def test_nia_order_for_another_indication_is_not_covered():
    [a] = assessments(parkinsons_baclofen_trial("2026-09-14", NIA))
    assert a["determination"] == "criteria-not-met"


def test_oxford_order_for_another_indication_is_not_applicable():
    [a] = assessments(parkinsons_baclofen_trial("2026-09-14", OXFORD))
    assert a["determination"] == "not-applicable"


@both_versions
def rule_replacement_with_an_encounter_code_as_reason_is_not_another_indication(v: V):
    """Z45.49 (encounter for an implanted nervous-system device) names no indication either way."""
    c = replacement_chart(v, "battery-near-end")
    c.draft[0]["reasonCode"] = [
        {
            "coding": [
                {
                    "system": ICD10,
                    "code": "Z45.49",
                    "display": "Encounter for adjustment of implanted nervous system device",
                }
            ]
        }
    ]
    a = cigna(c, v)
    assert a["determination"] == "criteria-met"


@both_versions
def rule_snomed_only_reason_outside_our_lists_is_not_another_indication(v: V):
    """Our SNOMED lists are examples, not complete: a SNOMED-only reason never excludes."""
    c = spasticity_trial_chart(v)
    c.draft[0]["reasonCode"] = [
        {"coding": [{"system": SNOMED, "code": "230258005", "display": "Amyotrophic lateral sclerosis"}]}
    ]
    a = cigna(c, v)
    assert a["determination"] == "criteria-met"


# -- every indication needs its own diagnosis -------------------------------------


@both_versions
def rule_baclofen_trial_without_a_spasticity_diagnosis_is_not_met(v: V):
    """The injectate (baclofen) chooses the spasticity tree; it never documents the diagnosis."""
    c = spasticity_trial_chart(v, icd10="M62.838", display="Other muscle spasm")
    a = cigna(c, v, indication="spasticity")
    cr = criterion(a, v.id("spasticity-trial-diagnosis"))
    assert cr["status"] == "unknown"
    assert a["determination"] == "documentation-incomplete"


@both_versions
def rule_baclofen_trial_with_multiple_sclerosis_has_its_diagnosis(v: V):
    a = cigna(spasticity_trial_chart(v), v)
    cr = criterion(a, v.id("spasticity-trial-diagnosis"))
    assert cr["status"] == "met"
    assert cr["evidence"] and cr["evidence"][0].startswith("Condition/")


@both_versions
def rule_baclofen_trial_with_refuted_multiple_sclerosis_is_not_met(v: V):
    c = spasticity_trial_chart(v)
    c.resources["conditions"][-1]["verificationStatus"] = {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "refuted"}
        ]
    }
    a = cigna(c, v, indication="spasticity")
    assert status(a, v.id("spasticity-trial-diagnosis")) == "unknown"
    assert a["determination"] != "criteria-met"


@both_versions
def rule_dystonia_needs_a_dystonia_diagnosis(v: V):
    c = spasticity_trial_chart(v, icd10="G24.1", display="Genetic torsion dystonia")
    a = cigna(c, v)
    assert a["indication"] == "dystonia"
    assert status(a, v.id("spasticity-trial-diagnosis")) == "met"
    assert a["determination"] == "criteria-met"


@both_versions
def rule_opioid_trial_without_a_cancer_diagnosis_is_never_met_for_cancer_pain(v: V):
    """An intrathecal morphine order and a failed opioid course, no diagnosis: the injectate
    suggests both pain trees, and cancer-related pain is not documented."""
    c = Chart(payer=CIGNA, dos=v.dos)
    c.nrs(9, c.days_before(5))
    c.medication("morphine", c.days_before(90), c.days_before(10), fixed=True, reason="ineffective")
    c.order("62322", drug="morphine", route="intrathecal")
    a = cigna(c, v, indication="cancer-pain")
    assert status(a, v.id("cancer-trial-diagnosis")) == "unknown"
    assert a["determination"] == "documentation-incomplete"


@both_versions
def rule_cancer_without_any_pain_diagnosis_is_not_cancer_related_pain(v: V):
    """A malignancy and an NRS score: no pain diagnosis, so cancer-related pain is undocumented."""
    c = Chart(payer=CIGNA, dos=v.dos)
    c.condition(icd10="C50.911", display="Malignant neoplasm of right female breast")
    c.nrs(9, c.days_before(5))
    c.medication("morphine", c.days_before(90), c.days_before(10), fixed=True, reason="ineffective")
    c.order("62322", drug="morphine", route="intrathecal")
    a = cigna(c, v, indication="cancer-pain")
    assert status(a, v.id("cancer-trial-diagnosis")) == "unknown"
    assert a["determination"] != "criteria-met"


@both_versions
def rule_neoplasm_related_pain_g89_3_documents_cancer_pain(v: V):
    a = cigna(cancer_trial_chart(v), v, indication="cancer-pain")
    assert status(a, v.id("cancer-trial-diagnosis")) == "met"
    assert a["determination"] == "criteria-met"


@both_versions
def rule_cancer_pain_diagnosis_of_another_patient_does_not_count(v: V):
    c = cancer_trial_chart(v)
    for cond in c.resources["conditions"]:
        if cond["code"]["coding"][0]["code"] in ("G89.3", "C50.911"):
            cond["subject"] = {"reference": "Patient/someone-else"}
    a = [x for x in assessments(c) if x["indication"] == "cancer-pain"]
    assert all(x["determination"] != "criteria-met" for x in a)


# -- Oxford: the age the policy does not address ------------------------------------


def test_oxford_age_scope_missing_birth_date_is_not_a_scope_exclusion():
    """Unknown age is not "under 18": the age criterion stays undocumented instead."""
    c = Chart(payer=OXFORD)
    del c.patient["birthDate"]
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.order("62322", drug="morphine", route="intrathecal")
    a = assessment(c, "oxford-pharmacy-339")
    assert a["determination"] != "not-applicable"
    assert a["determination"] != "criteria-met"


# -- Cigna: "… agrees to a 50% reduction in systemic opioids prior to undergoing an intrathecal opioid trial" --


def _trial_without_agreement(
    v: V, drug: str | None, detail_code: str | None = None, agreed: bool | None = None
) -> Chart:
    c = Chart(payer=CIGNA, dos=v.dos)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    c.nrs(8, c.days_before(30))
    c.therapy("physical-therapy", c.days_before(420), c.days_before(120), outcome="ineffective")
    c.medication("oxycodone", c.days_before(420), c.days_before(15), fixed=True, reason="ineffective")
    c.flag("further-surgery-not-indicated", True)
    c.psych("favorable")
    if agreed is not None:
        c.flag("opioid-reduction-agreed", agreed)
    c.order("62322", drug=drug, route="intrathecal", detail_code=detail_code)
    return c


@both_versions
def rule_ziconotide_trial_needs_no_opioid_reduction_agreement(v: V):
    a = cigna(_trial_without_agreement(v, "ziconotide"), v, indication="nonmalignant-pain")
    cr = criterion(a, v.id("nonmalignant-trial-opioid-reduction-agreed"))
    assert cr["status"] == "met"
    assert cr["note"].startswith("does not apply")
    assert a["determination"] == "criteria-met"


@both_versions
def rule_morphine_trial_without_the_agreement_is_undocumented(v: V):
    a = cigna(_trial_without_agreement(v, "morphine"), v, indication="nonmalignant-pain")
    assert status(a, v.id("nonmalignant-trial-opioid-reduction-agreed")) == "unknown"
    assert a["determination"] == "documentation-incomplete"


@both_versions
def rule_morphine_trial_with_the_agreement_refused_is_not_met(v: V):
    a = cigna(_trial_without_agreement(v, "morphine", agreed=False), v, indication="nonmalignant-pain")
    assert status(a, v.id("nonmalignant-trial-opioid-reduction-agreed")) == "not-met"
    assert a["determination"] == "criteria-not-met"


@both_versions
def rule_trial_of_an_unidentified_drug_still_needs_the_agreement(v: V):
    """The idds#intrathecal-trial marker without a drug: it may be an opioid trial."""
    a = cigna(
        _trial_without_agreement(v, None, detail_code="intrathecal-trial"), v, indication="nonmalignant-pain"
    )
    assert status(a, v.id("nonmalignant-trial-opioid-reduction-agreed")) == "unknown"
    assert a["determination"] != "criteria-met"


@both_versions
def rule_trial_of_an_unidentified_drug_with_the_agreement_refused_is_undocumented_not_contradicted(v: V):
    """Refused, but perhaps not an opioid trial: unknown until the drug is documented."""
    a = cigna(
        _trial_without_agreement(v, None, detail_code="intrathecal-trial", agreed=False),
        v,
        indication="nonmalignant-pain",
    )
    cr = criterion(a, v.id("nonmalignant-trial-opioid-reduction-agreed"))
    assert cr["status"] == "unknown"
    assert "whether it applies is not documented" in cr["note"]


# -- "or any other injectates that are not in scope of management" ---------------------


@both_versions
def rule_intrathecal_steroid_reservoir_is_not_applicable(v: V):
    c = cancer_reservoir_chart(
        CIGNA, "3264", "dexamethasone", "Dexamethasone 4 MG/ML Injectable Solution", dos=v.dos
    )
    for a in assessments(c):
        assert a["determination"] == "not-applicable"
        assert "not in scope of management" in a["criteria"][0]["source"]


def test_molina_intrathecal_steroid_pump_is_experimental():
    c = cancer_reservoir_chart(MOLINA, "3264", "dexamethasone", "Dexamethasone 4 MG/ML Injectable Solution")
    for a in assessments(c):
        assert a["determination"] == "criteria-not-met"


@both_versions
def rule_intrathecal_clonidine_reservoir_is_in_scope(v: V):
    c = cancer_reservoir_chart(
        CIGNA, "2599", "clonidine", "Clonidine 100 MCG/ML Injectable Solution", dos=v.dos
    )
    assert all(a["determination"] != "not-applicable" for a in assessments(c))


@both_versions
def rule_an_unidentified_injectate_is_assessed_and_said(v: V):
    c = cancer_reservoir_chart(CIGNA, None, "compound", "Compounded intrathecal solution 'IT-7'", dos=v.dos)
    found = assessments(c)
    assert found and all(a["determination"] != "not-applicable" for a in found)
    assert all(any("could not be identified" in n for n in a["notes"]) for a in found)


# -- "The above criteria for a trial … has been met": judged as of the trial -------------


@both_versions
def rule_permanent_psych_attestation_documented_only_after_the_trial_does_not_qualify_it(v: V):
    from tests.policies.test_cigna_cmm_210 import nonmalignant_permanent_chart

    c, _t = nonmalignant_permanent_chart(v)
    c.resources["observations"] = [
        o for o in c.resources["observations"] if o["code"]["coding"][0]["code"] != "psych-evaluation"
    ]
    c.psych("favorable", c.days_before(5))  # after the trial, before the implant
    a = cigna(c, v)
    assert status(a, v.id("nonmalignant-trial-psych-attestation")) == "unknown"
    assert a["determination"] == "documentation-incomplete"


@both_versions
def rule_permanent_psych_attestation_before_the_trial_qualifies_it(v: V):
    from tests.policies.test_cigna_cmm_210 import nonmalignant_permanent_chart

    c, _t = nonmalignant_permanent_chart(v)
    a = cigna(c, v)
    assert status(a, v.id("nonmalignant-trial-psych-attestation")) == "met"
    assert a["determination"] == "criteria-met"


def test_oxford_permanent_psych_documented_only_after_the_trial_does_not_qualify_it():
    """'Completion of drug infusion trial that met above criteria'."""
    from tests.policies.test_oxford_pharmacy_339 import PSYCH, nonmalignant_permanent_chart

    c = nonmalignant_permanent_chart(relief=80, psych=None)
    c.psych("favorable", c.days_before(3))
    a = assessment(c, "oxford-pharmacy-339")
    assert status(a, PSYCH) == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_permanent_criteria_are_judged_on_the_date_of_service_not_the_trial():
    """Molina's a-h are the implant's own criteria: a psych evaluation after the trial counts."""
    from tests.policies.test_molina_mcp_160 import molina, nonmalignant_chart

    c = nonmalignant_chart("permanent", omit=("psych",))
    c.psych("favorable", c.days_before(3))
    assert molina(c)["determination"] == "criteria-met"
