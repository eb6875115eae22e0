"""QuestionnaireResponse answers are documentation (clinical-data contract, "Observations").

A completed (or amended) response to the service's own Questionnaire, about the patient,
is read exactly as the Observation with the same idds code and value would be, dated by
`authored` and cited as QuestionnaireResponse/{id}#{linkId}. Everything else (a draft,
an entry in error, another patient's, a wrong value type, an unknown question or
questionnaire version) is never counted and is reported.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from cds_service.hook_models import HookRequest
from cds_service.pipeline import assess_hook
from cds_service.prefetch import build_record
from cds_service.settings import Settings
from tests.chart import IDDS, UCUM, Chart, at, iso
from tests.helpers import criterion, services
from tests.policies.test_molina_mcp_160 import POLICY, cancer_chart, nonmalignant_chart

BASE = "http://idds-cds.org/fhir/Questionnaire/"
NM_TRIAL_Q = f"{BASE}molina-mcp-160-2024-08-14-nonmalignant-pain-trial"
CA_TRIAL_Q = f"{BASE}molina-mcp-160-2024-08-14-cancer-pain-trial"
UNDERLYING = "molina-160-nonmalignant-b-underlying-cause-failed"
COMPLIANCE = "molina-160-nonmalignant-c-medication-compliance"
LIFE = "molina-160-cancer-b-life-expectancy-3-months"


def yes(value: bool = True) -> dict[str, Any]:
    return {"valueBoolean": value}


def respond(
    c: Chart,
    questionnaire: str,
    answers: dict[str, Any],
    status: str = "completed",
    authored: str | None = None,
    patient: str | None = None,
    qr_id: str | None = None,
) -> dict[str, Any]:
    """A QuestionnaireResponse as a DTR app would save it: one item per answered linkId."""
    qr = {
        "resourceType": "QuestionnaireResponse",
        "id": qr_id or f"qr-{len(c.resources['questionnaireResponses']) + 1}",
        "questionnaire": questionnaire,
        "status": status,
        "subject": {"reference": f"Patient/{patient or c.patient_id}"},
        "authored": authored or iso(at(c.days_before(1))),
        "author": {"reference": "Practitioner/dr-1"},
        "item": [
            {"linkId": link, "answer": [answer] if isinstance(answer, dict) else answer}
            for link, answer in answers.items()
        ],
    }
    c.resources["questionnaireResponses"].append(qr)
    return qr


def run(c: Chart) -> tuple[dict[str, Any], list[str]]:
    """The Molina assessment and the record's reports (what the card lists as notes)."""
    terminology, store = services()
    req = HookRequest.model_validate(c.request())
    record = asyncio.run(build_record(req, Settings()))
    outcome = assess_hook(req, record, terminology, store, today=c.dos)
    found = [a.as_contract() for a in outcome.every_assessment if a.policy.policy == POLICY]
    assert len(found) == 1
    return found[0], record.issues


def open_nonmalignant() -> Chart:
    c = nonmalignant_chart(omit=("underlying", "compliance"))
    return c


def test_open_items_without_a_response_are_documentation_incomplete():
    a, _ = run(open_nonmalignant())
    assert a["determination"] == "documentation-incomplete"
    assert criterion(a, UNDERLYING)["status"] == "unknown"


def test_completed_response_answering_every_open_item_is_criteria_met():
    c = open_nonmalignant()
    respond(
        c,
        NM_TRIAL_Q,
        {"underlying-cause-treatment-failed": yes(), "medication-compliance": yes()},
        qr_id="qr-dtr-1",
    )
    a, issues = run(c)
    assert a["determination"] == "criteria-met", [(x["id"], x["status"]) for x in a["criteria"]]
    assert criterion(a, UNDERLYING)["evidence"] == [
        "QuestionnaireResponse/qr-dtr-1#underlying-cause-treatment-failed"
    ]
    assert criterion(a, COMPLIANCE)["evidence"] == ["QuestionnaireResponse/qr-dtr-1#medication-compliance"]
    assert not [i for i in issues if "QuestionnaireResponse" in i]


def test_amended_response_is_read_like_a_completed_one():
    c = open_nonmalignant()
    respond(
        c,
        NM_TRIAL_Q,
        {"underlying-cause-treatment-failed": yes(), "medication-compliance": yes()},
        status="amended",
    )
    assert run(c)[0]["determination"] == "criteria-met"


def test_response_citing_the_questionnaire_version_is_read():
    c = open_nonmalignant()
    respond(
        c,
        f"{NM_TRIAL_Q}|2024-08-14",
        {"underlying-cause-treatment-failed": yes(), "medication-compliance": yes()},
    )
    assert run(c)[0]["determination"] == "criteria-met"


def test_contradicting_answer_is_criteria_not_met():
    c = open_nonmalignant()
    respond(c, NM_TRIAL_Q, {"underlying-cause-treatment-failed": yes(False), "medication-compliance": yes()})
    a, _ = run(c)
    assert criterion(a, UNDERLYING)["status"] == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_later_answer_supersedes_an_earlier_observation_like_any_later_observation():
    c = nonmalignant_chart()
    respond(c, NM_TRIAL_Q, {"medication-compliance": yes(False)})
    a, _ = run(c)
    assert criterion(a, COMPLIANCE)["status"] == "not-met"


def test_answer_authored_after_the_date_of_service_is_not_counted():
    c = open_nonmalignant()
    respond(
        c,
        NM_TRIAL_Q,
        {"underlying-cause-treatment-failed": yes(), "medication-compliance": yes()},
        authored=iso(at(c.days_before(-3))),
    )
    assert run(c)[0]["determination"] == "documentation-incomplete"


def test_another_patients_response_is_never_counted_and_is_reported():
    c = open_nonmalignant()
    respond(
        c,
        NM_TRIAL_Q,
        {"underlying-cause-treatment-failed": yes(), "medication-compliance": yes()},
        patient="pat-2",
        qr_id="qr-other",
    )
    a, issues = run(c)
    assert a["determination"] == "documentation-incomplete"
    assert any("QuestionnaireResponse/qr-other" in i and "another patient" in i for i in issues)


def test_in_progress_response_is_not_documentation_and_is_reported():
    c = open_nonmalignant()
    respond(
        c,
        NM_TRIAL_Q,
        {"underlying-cause-treatment-failed": yes(), "medication-compliance": yes()},
        status="in-progress",
        qr_id="qr-draft",
    )
    a, issues = run(c)
    assert a["determination"] == "documentation-incomplete"
    assert any("QuestionnaireResponse/qr-draft" in i and "in progress" in i for i in issues)


def test_entered_in_error_response_is_ignored_and_reported():
    c = open_nonmalignant()
    respond(
        c,
        NM_TRIAL_Q,
        {"underlying-cause-treatment-failed": yes(), "medication-compliance": yes()},
        status="entered-in-error",
        qr_id="qr-eie",
    )
    a, issues = run(c)
    assert a["determination"] == "documentation-incomplete"
    assert any("QuestionnaireResponse/qr-eie" in i and "entered in error" in i for i in issues)


def test_wrong_value_type_is_not_counted_and_is_reported():
    c = open_nonmalignant()
    respond(
        c,
        NM_TRIAL_Q,
        {"underlying-cause-treatment-failed": {"valueString": "yes"}, "medication-compliance": yes()},
        qr_id="qr-typo",
    )
    a, issues = run(c)
    assert criterion(a, UNDERLYING)["status"] == "unknown"
    assert criterion(a, COMPLIANCE)["status"] == "met"  # the well-typed answer still counts
    assert any(
        "qr-typo" in i and "valueString" in i and "underlying-cause-treatment-failed" in i for i in issues
    )


def test_unknown_link_id_is_reported():
    c = open_nonmalignant()
    respond(c, NM_TRIAL_Q, {"pain-is-bad": yes(), "underlying-cause-treatment-failed": yes()}, qr_id="qr-odd")
    a, issues = run(c)
    assert criterion(a, UNDERLYING)["status"] == "met"
    assert any("qr-odd" in i and "'pain-is-bad'" in i for i in issues)


def test_question_not_in_the_answered_questionnaire_is_reported():
    """thecal-sac-encroachment is asked for cancer pain, not in the non-malignant questionnaire."""
    c = open_nonmalignant()
    respond(c, NM_TRIAL_Q, {"thecal-sac-encroachment": yes(False)}, qr_id="qr-wrongform")
    _, issues = run(c)
    assert any("qr-wrongform" in i and "thecal-sac-encroachment" in i for i in issues)


def test_unpublished_questionnaire_version_is_not_read_and_is_reported():
    c = open_nonmalignant()
    respond(
        c,
        f"{NM_TRIAL_Q}|1999-01-01",
        {"underlying-cause-treatment-failed": yes(), "medication-compliance": yes()},
        qr_id="qr-old",
    )
    a, issues = run(c)
    assert a["determination"] == "documentation-incomplete"
    assert any(
        "qr-old" in i and "not a questionnaire (or version) this service publishes" in i for i in issues
    )


def test_another_services_questionnaire_is_not_read():
    c = open_nonmalignant()
    respond(c, "http://loinc.org/q/44249-1", {"underlying-cause-treatment-failed": yes()}, qr_id="qr-phq")
    a, issues = run(c)
    assert criterion(a, UNDERLYING)["status"] == "unknown"
    assert not [i for i in issues if "qr-phq" in i]


def test_response_without_authored_is_reported():
    c = open_nonmalignant()
    qr = respond(c, NM_TRIAL_Q, {"underlying-cause-treatment-failed": yes()}, qr_id="qr-undated")
    del qr["authored"]
    a, issues = run(c)
    assert criterion(a, UNDERLYING)["status"] == "unknown"
    assert any("qr-undated" in i and "authored" in i for i in issues)


def test_two_answers_to_one_question_are_reported():
    c = open_nonmalignant()
    respond(c, NM_TRIAL_Q, {"underlying-cause-treatment-failed": [yes(), yes(False)]}, qr_id="qr-two")
    a, issues = run(c)
    assert criterion(a, UNDERLYING)["status"] == "unknown"
    assert any("qr-two" in i and "2 answers" in i for i in issues)


def test_life_expectancy_answer_two_months_is_not_met():
    c = cancer_chart(omit=("life",))
    respond(
        c,
        CA_TRIAL_Q,
        {"life-expectancy": {"valueQuantity": {"value": 2, "unit": "mo", "system": UCUM, "code": "mo"}}},
    )
    a, _ = run(c)
    assert criterion(a, LIFE)["status"] == "not-met"


def test_life_expectancy_answer_one_year_is_met():
    c = cancer_chart(omit=("life",))
    respond(
        c,
        CA_TRIAL_Q,
        {"life-expectancy": {"valueQuantity": {"value": 1, "unit": "a", "system": UCUM, "code": "a"}}},
    )
    a, _ = run(c)
    assert criterion(a, LIFE)["status"] == "met"
    assert a["determination"] == "criteria-met"


def test_life_expectancy_answer_without_a_time_unit_is_reported():
    c = cancer_chart(omit=("life",))
    respond(c, CA_TRIAL_Q, {"life-expectancy": {"valueDecimal": 12}}, qr_id="qr-nounit")
    a, issues = run(c)
    assert criterion(a, LIFE)["status"] == "unknown"
    assert any("qr-nounit" in i and "mo, wk, a, d" in i for i in issues)


def test_psych_evaluation_choice_outside_the_list_is_reported():
    c = nonmalignant_chart(omit=("psych",))
    respond(
        c,
        NM_TRIAL_Q,
        {"psych-evaluation": {"valueCoding": {"system": IDDS, "code": "maybe"}}},
        qr_id="qr-maybe",
    )
    a, issues = run(c)
    assert criterion(a, "molina-160-nonmalignant-e-psych-favorable")["status"] == "unknown"
    assert any("qr-maybe" in i and "#maybe" in i for i in issues)


def test_psych_evaluation_favorable_answer_naming_a_psychologist_is_met():
    c = nonmalignant_chart(omit=("psych",))
    role = c.practitioner_role(evaluator="psychologist")
    answer = {
        "valueCoding": {"system": IDDS, "code": "favorable"},
        "item": [
            {
                "linkId": "psych-evaluation.performer",
                "answer": [{"valueReference": {"reference": f"PractitionerRole/{role['id']}"}}],
            }
        ],
    }
    respond(c, NM_TRIAL_Q, {"psych-evaluation": answer})
    a, _ = run(c)
    cr = criterion(a, "molina-160-nonmalignant-e-psych-favorable")
    assert cr["status"] == "met"
    assert f"PractitionerRole/{role['id']}" in cr["evidence"]


def test_psych_evaluation_favorable_answer_without_the_evaluator_is_unknown():
    # Molina: "... by a license mental health professional": the answer must name who evaluated.
    c = nonmalignant_chart(omit=("psych",))
    respond(c, NM_TRIAL_Q, {"psych-evaluation": {"valueCoding": {"system": IDDS, "code": "favorable"}}})
    a, _ = run(c)
    cr = criterion(a, "molina-160-nonmalignant-e-psych-favorable")
    assert cr["status"] == "unknown"
    assert "names no evaluator" in cr["note"]


def test_psych_evaluation_favorable_answer_naming_an_orthopaedic_surgeon_is_unknown():
    c = nonmalignant_chart(omit=("psych",))
    role = c.practitioner_role(evaluator="orthopaedic-surgeon")
    answer = {
        "valueCoding": {"system": IDDS, "code": "favorable"},
        "item": [
            {
                "linkId": "psych-evaluation.performer",
                "answer": [{"valueReference": {"reference": f"PractitionerRole/{role['id']}"}}],
            }
        ],
    }
    respond(c, NM_TRIAL_Q, {"psych-evaluation": answer})
    a, _ = run(c)
    assert criterion(a, "molina-160-nonmalignant-e-psych-favorable")["status"] == "unknown"


# ---- questions with a nested answer (an Observation component or element)
from tests.policies import test_cigna_cmm_210 as cigna_tests  # noqa: E402
from tests.policies import test_nia_cg_310 as nia_tests  # noqa: E402

CIGNA_NM_PERMANENT_Q = f"{BASE}cigna-cmm-210-2026-08-04-nonmalignant-pain-permanent"
CIGNA_RELIEF = "cigna-2026-08-nonmalignant-permanent-relief-over-50-for-8h"
NIA_REPLACEMENT_Q = f"{BASE}nia-cg-310-2023-01-nonmalignant-pain-replacement"


def _policy_run(c: Chart, policy: str) -> tuple[dict[str, Any], list[str]]:
    terminology, store = services()
    req = HookRequest.model_validate(c.request())
    record = asyncio.run(build_record(req, Settings()))
    outcome = assess_hook(req, record, terminology, store, today=c.dos)
    (a,) = [a.as_contract() for a in outcome.every_assessment if a.policy.policy == policy]
    return a, record.issues


def _relief(percent: float, hours: float | None) -> dict[str, Any]:
    answer: dict[str, Any] = {"valueDecimal": percent}
    if hours is not None:
        answer["item"] = [
            {"linkId": "trial-pain-relief.relief-duration", "answer": [{"valueDecimal": hours}]}
        ]
    return answer


def test_cigna_trial_relief_answer_75_percent_for_12_hours_is_met():
    c, t = cigna_tests.nonmalignant_permanent_chart(cigna_tests.AUG, relief=False)
    respond(
        c, CIGNA_NM_PERMANENT_Q, {"trial-pain-relief": _relief(75, 12)}, authored=iso(t + timedelta(hours=13))
    )
    a, _ = _policy_run(c, "cigna-cmm-210")
    assert criterion(a, CIGNA_RELIEF)["status"] == "met"


def test_cigna_trial_relief_answer_lasting_only_6_hours_is_not_met():
    c, t = cigna_tests.nonmalignant_permanent_chart(cigna_tests.AUG, relief=False)
    respond(
        c, CIGNA_NM_PERMANENT_Q, {"trial-pain-relief": _relief(75, 6)}, authored=iso(t + timedelta(hours=13))
    )
    a, _ = _policy_run(c, "cigna-cmm-210")
    assert criterion(a, CIGNA_RELIEF)["status"] == "not-met"


def test_cigna_trial_relief_answer_above_100_percent_is_reported():
    c, t = cigna_tests.nonmalignant_permanent_chart(cigna_tests.AUG, relief=False)
    respond(
        c,
        CIGNA_NM_PERMANENT_Q,
        {"trial-pain-relief": _relief(750, 12)},
        authored=iso(t + timedelta(hours=13)),
        qr_id="qr-750",
    )
    a, issues = _policy_run(c, "cigna-cmm-210")
    assert criterion(a, CIGNA_RELIEF)["status"] != "met"
    assert any("qr-750" in i and "outside 0–100" in i for i in issues)


def _pump_answer(status: str, device: str | None) -> dict[str, Any]:
    answer: dict[str, Any] = {"valueCoding": {"system": IDDS, "code": status}}
    if device:
        answer["item"] = [
            {"linkId": "pump-status.device", "answer": [{"valueReference": {"reference": device}}]}
        ]
    return answer


def test_nia_pump_status_answer_naming_the_pump_is_read():
    c = nia_tests.nia_replacement_chart(pump_status=None)
    pump = c.resources["devices"][-1]
    respond(
        c,
        NIA_REPLACEMENT_Q,
        {"pump-status": _pump_answer("battery-depleted", f"Device/{pump['id']}")},
        qr_id="qr-pump",
    )
    a, _ = _policy_run(c, "nia-cg-310")
    assert criterion(a, "nia-310-replacement-battery-depleted")["status"] == "met"
    assert (
        "QuestionnaireResponse/qr-pump#pump-status"
        in criterion(a, "nia-310-replacement-battery-depleted")["evidence"]
    )


def test_nia_pump_status_answer_naming_no_pump_does_not_speak_for_the_active_pump():
    c = nia_tests.nia_replacement_chart(pump_status=None)
    respond(c, NIA_REPLACEMENT_Q, {"pump-status": _pump_answer("battery-depleted", None)})
    a, _ = _policy_run(c, "nia-cg-310")
    assert criterion(a, "nia-310-replacement-battery-depleted")["status"] == "unknown"


def test_nia_pump_status_answer_naming_another_kind_of_resource_is_reported():
    c = nia_tests.nia_replacement_chart(pump_status=None)
    respond(
        c,
        NIA_REPLACEMENT_Q,
        {"pump-status": _pump_answer("battery-depleted", "Patient/pat-1")},
        qr_id="qr-badref",
    )
    a, issues = _policy_run(c, "nia-cg-310")
    assert criterion(a, "nia-310-replacement-battery-depleted")["status"] == "unknown"
    assert any("qr-badref" in i and "Device" in i for i in issues)


def test_malformed_responses_are_reported_never_a_failed_assessment():
    c = open_nonmalignant()
    for qr_id, broken in (
        ("qr-b1", {"status": ["completed"]}),
        ("qr-b2", {"item": "yes"}),
        ("qr-b3", {"subject": "Patient/pat-1"}),
        ("qr-b4", {"item": [{"linkId": "underlying-cause-treatment-failed", "answer": [None]}]}),
    ):
        qr = respond(c, NM_TRIAL_Q, {"underlying-cause-treatment-failed": yes()}, qr_id=qr_id)
        qr.update(broken)
    a, issues = run(c)
    assert criterion(a, UNDERLYING)["status"] == "unknown"
    for qr_id in ("qr-b1", "qr-b2", "qr-b3", "qr-b4"):
        assert any(f"QuestionnaireResponse/{qr_id}" in i for i in issues), qr_id
