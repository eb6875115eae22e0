"""Documentation questionnaires generated from the policy files (Da Vinci DTR style).

For every policy version × indication × phase the generated Questionnaire is valid
R4B FHIR and holds exactly one question per input a person can attest; the prefilled
response leaves open exactly the criteria the assessment reports undocumented; the
endpoints answer with FHIR and bad input gets a clear OperationOutcome.
"""

from __future__ import annotations

import asyncio
import copy
from urllib.parse import parse_qs

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from cds_service.app import create_app
from cds_service.hook_models import HookRequest
from cds_service.pipeline import assess_hook
from cds_service.policy_model import All, AnyOf, Deferred, Indication, Leaf, Not, Phase, PhaseRule, Ref
from cds_service.prefetch import build_record
from cds_service.questionnaire.build import questionnaires
from cds_service.questionnaire.prefill import prefill
from cds_service.services import Services
from cds_service.settings import Settings
from tests.helpers import services
from tests.policies.test_molina_mcp_160 import POLICY, cancer_chart, nonmalignant_chart

# Written out independently of mappings/questionnaire.yaml: what a person can attest.
ATTESTABLE = {
    "flag": lambda p: p["code"],
    "trial_flag": lambda p: p["code"],
    "life_expectancy_months": lambda p: "life-expectancy",
    "psych_evaluation": lambda p: "psych-evaluation",
    "trial_pain_relief_percent": lambda p: "trial-pain-relief",
    "trial_spasm_relief_percent": lambda p: "trial-spasm-relief",
    "pump_status": lambda p: "pump-status",
    "thecal_sac_encroachment": lambda p: "thecal-sac-encroachment",
    "active_infection": lambda p: "active-infection",
    "spasticity_score_latest": lambda p: p["scale"],
}


def _leaves(policy, node, seen=()):
    if isinstance(node, Leaf):
        yield node
        if node.applies_if is not None:
            yield node.applies_if
    elif isinstance(node, All):
        for n in node.all:
            yield from _leaves(policy, n, seen)
    elif isinstance(node, AnyOf):
        for n in node.any:
            yield from _leaves(policy, n, seen)
    elif isinstance(node, Not):
        yield from _leaves(policy, node.not_, seen)
    elif isinstance(node, Ref) and node.ref not in seen:
        ind, _, ph = node.ref.partition(".")
        yield from _leaves(policy, getattr(policy.indications[ind], ph).criteria, (*seen, node.ref))


def expected_inputs(policy, indication, phase):
    rule, _ = policy.rule_for(indication, phase)
    if isinstance(rule, PhaseRule) and rule.deferred is not None:
        rule = rule.deferred  # a per-phase deferral
    if isinstance(rule, Deferred):
        leaves = [leaf for item in rule.documentation for leaf in _leaves(policy, item)]
    elif isinstance(rule, PhaseRule) and rule.criteria is not None:
        leaves = list(_leaves(policy, rule.criteria))
        leaves += [
            c.criterion
            for c in policy.contraindications
            if phase in c.phases and (not c.indications or indication in c.indications)
        ]
    else:
        leaves = []
    out = {}
    for leaf in leaves:
        if leaf.fact in ATTESTABLE:
            out.setdefault(ATTESTABLE[leaf.fact](leaf.params), []).append(leaf)
    return out


COMBOS = [(p, i, ph) for p in services()[1].all() for i in Indication for ph in Phase]


@pytest.mark.parametrize(
    "policy,indication,phase", COMBOS, ids=[f"{p.policy}@{p.version}-{i}-{ph}" for p, i, ph in COMBOS]
)
def test_questionnaire_holds_one_valid_item_per_attestable_input(policy, indication, phase):
    qs = questionnaires(services()[1])
    expected = expected_inputs(policy, indication, phase)
    entry = qs.for_assessment(policy.policy, policy.version, indication, phase)
    if not expected:
        assert entry is None
        return
    assert entry is not None
    q = entry.resource
    Questionnaire.model_validate(q)
    codes = [i["code"][0]["code"] for i in q["item"]]
    assert sorted(codes) == sorted(expected)  # one item per input, none twice
    assert q["version"] == policy.version and policy.version in q["url"] and q["url"].endswith(q["id"])
    for item in q["item"]:
        help_text = next(c["text"] for c in item["item"] if c["type"] == "display")
        for leaf in expected[item["code"][0]["code"]]:
            assert leaf.source in help_text  # the policy's verbatim sentence
        assert (
            "_" not in item["text"] and "-" not in item["text"].split("?")[0].split()[0]
        )  # clinician's words


def test_questionnaire_urls_are_stable_and_carry_the_version():
    qs = questionnaires(services()[1])
    ids = set(qs.by_id)
    assert "cigna-cmm-210-2026-08-04-nonmalignant-pain-trial" in ids
    assert "cigna-cmm-210-2026-02-25-nonmalignant-pain-trial" in ids
    assert qs.by_id["molina-mcp-160-2024-08-14-nonmalignant-pain-trial"].url == (
        "http://idds-cds.org/fhir/Questionnaire/molina-mcp-160-2024-08-14-nonmalignant-pain-trial"
    )


def test_molina_requirement_of_an_all_is_a_required_question():
    q = questionnaires(services()[1]).by_id["molina-mcp-160-2024-08-14-nonmalignant-pain-trial"].resource
    item = next(i for i in q["item"] if i["linkId"] == "underlying-cause-treatment-failed")
    assert item["required"] is True and item["type"] == "boolean"


def test_cigna_cancer_exception_alternatives_are_asked_while_none_is_yes():
    q = questionnaires(services()[1]).by_id["cigna-cmm-210-2026-08-04-cancer-pain-permanent"].resource
    items = {i["linkId"]: i for i in q["item"]}
    assert not items["advanced-disease"]["required"]
    assert items["limited-survival"]["enableWhen"] == [
        {"question": "advanced-disease", "operator": "!=", "answerBoolean": True}
    ]
    assert {e["question"] for e in items["high-procedural-risk"]["enableWhen"]} == {
        "advanced-disease",
        "limited-survival",
    }


def test_value_types_follow_the_input():
    q = questionnaires(services()[1]).by_id["molina-mcp-160-2024-08-14-cancer-pain-permanent"].resource
    items = {i["linkId"]: i for i in q["item"]}
    assert items["life-expectancy"]["type"] == "quantity"
    assert items["trial-pain-relief"]["type"] == "decimal"
    assert any(c["linkId"] == "trial-pain-relief.relief-duration" for c in items["trial-pain-relief"]["item"])
    q = questionnaires(services()[1]).by_id["nia-cg-310-2023-01-spasticity-replacement"].resource
    pump = next(i for i in q["item"] if i["linkId"] == "pump-status")
    assert pump["type"] == "choice" and {o["valueCoding"]["code"] for o in pump["answerOption"]} >= {
        "battery-depleted",
        "malfunction",
    }


# ------------------------------------------------------------------ endpoints
@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Services.load(Settings()))) as c:
        yield c


def test_get_questionnaire_by_id(client):
    r = client.get("/fhir/Questionnaire/molina-mcp-160-2024-08-14-nonmalignant-pain-trial")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    Questionnaire.model_validate(r.json())


def test_get_unknown_questionnaire_is_404_operation_outcome(client):
    r = client.get("/fhir/Questionnaire/nope")
    assert r.status_code == 404 and r.json()["resourceType"] == "OperationOutcome"


def test_search_questionnaire_by_canonical_url(client):
    url = "http://idds-cds.org/fhir/Questionnaire/cigna-cmm-210-2026-08-04-nonmalignant-pain-trial"
    b = client.get("/fhir/Questionnaire", params={"url": url}).json()
    assert b["resourceType"] == "Bundle" and b["total"] == 1 and b["entry"][0]["resource"]["url"] == url
    assert client.get("/fhir/Questionnaire", params={"url": f"{url}|2026-08-04"}).json()["total"] == 1
    assert client.get("/fhir/Questionnaire", params={"url": f"{url}|2026-02-25"}).json()["total"] == 0
    assert client.get("/fhir/Questionnaire", params={"url": "http://example.org/x"}).json()["total"] == 0


def test_search_with_unsupported_parameter_is_400(client):
    r = client.get("/fhir/Questionnaire", params={"title": "x"})
    assert r.status_code == 400 and "title" in r.json()["issue"][0]["diagnostics"]


# ------------------------------------------------------------------ prefill
def _assess(c):
    terminology, store = services()
    req = HookRequest.model_validate(c.request())
    record = asyncio.run(build_record(req, Settings()))
    outcome = assess_hook(req, record, terminology, store, today=c.dos)
    a = next(a for a in outcome.every_assessment if a.policy.policy == POLICY)
    return a, record


CHARTS = {
    "nonmalignant-trial-open": lambda: nonmalignant_chart(omit=("underlying", "compliance", "psych")),
    "nonmalignant-trial-complete": lambda: nonmalignant_chart(),
    "nonmalignant-permanent-no-trial-outcome": lambda: nonmalignant_chart(
        "permanent", omit=("relief", "function", "body")
    ),
    "cancer-trial-no-life": lambda: cancer_chart(omit=("life", "thecal")),
    "cancer-permanent": lambda: cancer_chart("permanent"),
}


@pytest.mark.parametrize("name", CHARTS)
def test_prefill_leaves_open_exactly_the_undocumented_criteria(name):
    a, record = _assess(CHARTS[name]())
    qs = questionnaires(services()[1])
    entry = qs.for_assessment(a.policy.policy, a.policy.version, a.indication, a.order.phase)
    qr, open_links = prefill(a, record, services()[0], entry, qs.spec)
    QuestionnaireResponse.model_validate(qr)
    assert qr["status"] == "in-progress" and qr["subject"]["reference"] == f"Patient/{record.patient_id}"
    unknown = {c["id"] for c in a.as_contract()["criteria"] if c["status"] == "unknown"}
    expected_open = {code for code, leaf_ids in entry.criteria_by_code.items() if unknown & set(leaf_ids)}
    assert set(open_links) == expected_open
    answered = {i["linkId"] for i in qr["item"] if i.get("answer")}
    assert answered == set(entry.criteria_by_code) - expected_open


def test_prefill_answer_names_its_evidence():
    c = nonmalignant_chart(omit=("underlying",))
    a, record = _assess(c)
    qs = questionnaires(services()[1])
    entry = qs.for_assessment(a.policy.policy, a.policy.version, a.indication, a.order.phase)
    qr, open_links = prefill(a, record, services()[0], entry, qs.spec)
    assert open_links == ["underlying-cause-treatment-failed"]
    psych = next(i for i in qr["item"] if i["linkId"] == "psych-evaluation")
    answer = psych["answer"][0]
    assert answer["valueCoding"]["code"] == "favorable"
    assert answer["extension"][0]["valueReference"]["reference"].startswith("Observation/")


def test_prefilled_response_completed_by_the_clinician_makes_the_next_assessment_met():
    c = nonmalignant_chart(omit=("underlying",))
    a, record = _assess(c)
    assert a.determination == "documentation-incomplete"
    qs = questionnaires(services()[1])
    entry = qs.for_assessment(a.policy.policy, a.policy.version, a.indication, a.order.phase)
    qr, _ = prefill(a, record, services()[0], entry, qs.spec)
    done = copy.deepcopy(qr)
    for item in done["item"]:
        if item["linkId"] == "underlying-cause-treatment-failed":
            item["answer"] = [{"valueBoolean": True}]
    done["status"] = "completed"
    done["authored"] = f"{c.days_before(1).isoformat()}T10:00:00Z"
    c.resources["questionnaireResponses"].append(done)
    assert _assess(c)[0].determination == "criteria-met"
    done["item"][[i["linkId"] for i in done["item"]].index("underlying-cause-treatment-failed")]["answer"] = [
        {"valueBoolean": False}
    ]
    assert _assess(c)[0].determination == "criteria-not-met"


# ------------------------------------------------------------------ $questionnaire-package
def _package_body(c):
    req = c.request()
    order = next(
        e["resource"]
        for e in req["context"]["draftOrders"]["entry"]
        if e["resource"]["resourceType"] == "ServiceRequest"
    )
    meds = [
        e["resource"]
        for e in req["context"]["draftOrders"]["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
    ]
    data = [
        r
        for key in ("conditions", "observations", "medications", "procedures", "devices", "allergies")
        for r in c.resources[key]
    ]
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "order", "resource": order},
            *({"name": "order", "resource": m} for m in meds),
            {"name": "coverage", "resource": c.resources["coverage"][0]},
            {"name": "patient", "resource": c.patient},
            {
                "name": "data",
                "resource": {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [{"resource": r} for r in data],
                },
            },
        ],
    }


def test_questionnaire_package_returns_questionnaire_and_prefilled_response(client):
    c = nonmalignant_chart(omit=("underlying",))
    r = client.post("/fhir/Questionnaire/$questionnaire-package", json=_package_body(c))
    assert r.status_code == 200, r.text
    params = r.json()["parameter"]
    bundles = [p["resource"] for p in params if p["name"] == "PackageBundle"]
    assert len(bundles) == 1
    q, qr = (e["resource"] for e in bundles[0]["entry"])
    assert (
        q["resourceType"] == "Questionnaire"
        and q["id"] == "molina-mcp-160-2024-08-14-nonmalignant-pain-trial"
    )
    assert qr["questionnaire"] == f"{q['url']}|{q['version']}" and qr["status"] == "in-progress"
    assert [i["linkId"] for i in qr["item"] if not i.get("answer")] == ["underlying-cause-treatment-failed"]


@pytest.mark.parametrize(
    "body,needle",
    [
        ({"resourceType": "Bundle"}, "Parameters"),
        ({"resourceType": "Parameters", "parameter": []}, "order"),
        (
            {
                "resourceType": "Parameters",
                "parameter": [{"name": "order", "resource": {"resourceType": "ServiceRequest", "id": "x"}}],
            },
            "patient",
        ),
        ({"resourceType": "Parameters", "parameter": "nope"}, "Parameters"),
    ],
)
def test_questionnaire_package_bad_input_is_a_clear_400(client, body, needle):
    r = client.post("/fhir/Questionnaire/$questionnaire-package", json=body)
    assert r.status_code == 400 and needle in r.json()["issue"][0]["diagnostics"]


def test_questionnaire_package_not_json_is_400(client):
    r = client.post("/fhir/Questionnaire/$questionnaire-package", content=b"{nope")
    assert r.status_code == 400


# ------------------------------------------------------------------ CRD wiring
CANONICAL = (
    "http://idds-cds.org/fhir/Questionnaire/molina-mcp-160-2024-08-14-nonmalignant-pain-trial|2024-08-14"
)


def _coverage_info(answer):
    (action,) = answer["systemActions"]
    (ext,) = [e for e in action["resource"]["extension"] if e["url"].endswith("ext-coverage-information")]
    return {e["url"]: e for e in ext["extension"]}


def test_card_needing_documentation_links_to_the_questionnaire(client):
    c = nonmalignant_chart(omit=("underlying",))
    answer = client.post("/cds-services/idds-order-sign", json=c.request()).json()
    (card,) = answer["cards"]
    (link,) = [l for l in card["links"] if l["label"] == "Complete the documentation"]
    assert link["type"] == "smart"
    context = parse_qs(link["appContext"])
    assert context["questionnaire"] == [CANONICAL] and context["assessment"] == [card["uuid"]]
    info = _coverage_info(answer)
    assert info["doc-needed"]["valueCode"] == "clinical"
    assert info["questionnaire"]["valueCanonical"] == CANONICAL


def test_card_with_criteria_met_asks_for_no_documentation(client):
    answer = client.post("/cds-services/idds-order-sign", json=nonmalignant_chart().request()).json()
    (card,) = answer["cards"]
    assert not [l for l in card["links"] if l["label"] == "Complete the documentation"]
    info = _coverage_info(answer)
    assert "doc-needed" not in info and "questionnaire" not in info


def test_hook_with_completed_response_in_prefetch_is_criteria_met(client):
    c = nonmalignant_chart(omit=("underlying",))
    c.resources["questionnaireResponses"].append(
        {
            "resourceType": "QuestionnaireResponse",
            "id": "qr-hook",
            "status": "completed",
            "questionnaire": CANONICAL,
            "subject": {"reference": f"Patient/{c.patient_id}"},
            "authored": f"{c.days_before(2).isoformat()}T11:00:00Z",
            "item": [{"linkId": "underlying-cause-treatment-failed", "answer": [{"valueBoolean": True}]}],
        }
    )
    answer = client.post("/cds-services/idds-order-sign", json=c.request()).json()
    a = answer["cards"][0]["extension"]["idds-cds.assessment"]
    assert a["determination"] == "criteria-met"
    crit = next(x for x in a["criteria"] if x["id"] == "molina-160-nonmalignant-b-underlying-cause-failed")
    assert crit["evidence"] == ["QuestionnaireResponse/qr-hook#underlying-cause-treatment-failed"]


# ------------------------------------------------------------------ the mapping file is checked
def _mappings_with(tmp_path, edit):
    import shutil as _sh

    from cds_service.mappings_schema import MAPPINGS_DIR

    for f in MAPPINGS_DIR.iterdir():
        _sh.copy(f, tmp_path / f.name)
    path = tmp_path / "questionnaire.yaml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "edit,needle",
    [
        (
            lambda t: t.replace(
                "  medication-compliance:\n    type: boolean", "  medication-compliance:\n    type: yesno"
            ),
            "needs a type",
        ),
        (lambda t: t.replace("answers: [favorable, unfavorable]", "answers: [favorable, so-so]"), "so-so"),
        (lambda t: t.replace("  medication-compliance:", "  medication-adherence:"), "medication-adherence"),
        (lambda t: t.replace('  flag: ["{code}"]', '  flags: ["{code}"]'), "flags"),
    ],
)
def test_a_broken_questionnaire_mapping_stops_loading(tmp_path, edit, needle):
    from cds_service.mappings_schema import MappingFileError
    from cds_service.questionnaire.spec import load_spec

    with pytest.raises(MappingFileError, match=needle):
        load_spec(_mappings_with(tmp_path, edit))


def test_cigna_opioid_reduction_only_before_an_opioid_trial_is_not_a_required_question():
    q = questionnaires(services()[1]).by_id["cigna-cmm-210-2026-08-04-nonmalignant-pain-trial"].resource
    items = {i["linkId"]: i for i in q["item"]}
    assert items["opioid-reduction-agreed"]["required"] is False
    assert items["further-surgery-not-indicated"]["required"] is True
