"""The sandbox: committed example patients are current and valid FHIR, and the service
gives every one of them the determination sandbox/expected.json reads off the policies.

The loop is sandbox/fire.py's own (`fire.fire`, `fire.run`), driven in-process
through a TestClient instead of requests, so the command line and this test
cannot drift apart.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class

from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings
from sandbox import build_patients, fire

EXPECTED = fire.load_expected()


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Services.load(Settings()))) as c:
        yield c


@pytest.fixture(scope="module")
def templates(client):
    return {hook: fire.discovery_templates(client, "", hook) for hook in fire.SERVICE_FOR_HOOK}


def test_committed_patients_match_build_patients(capsys):
    """sandbox/patients/*.json and expected.json are what build_patients.py writes today."""
    assert build_patients.main(["--check"]) == 0, capsys.readouterr().out


def test_every_example_has_a_file_an_expectation_and_a_readme_line():
    readme = (Path(fire.HERE) / "README.md").read_text(encoding="utf-8")
    files = {p.stem for p in (Path(fire.HERE) / "patients").glob("*.json")}
    assert files == set(EXPECTED)
    for pid in EXPECTED:
        assert f"`{pid}`" in readme, f"sandbox/README.md has no line for {pid}"


@pytest.mark.parametrize("pid", sorted(EXPECTED))
def test_bundle_is_valid_fhir_with_tagged_draft_orders(pid):
    bundle = fire.load_bundle(pid, EXPECTED)
    get_fhir_model_class("Bundle").model_validate(bundle)
    chart, drafts = fire.split(bundle)
    assert drafts and all(r["status"] == "draft" for r in drafts)
    assert fire.patient_of(chart)["id"] == pid
    ids = [f"{e['request']['url']}" for e in bundle["entry"]]
    assert len(ids) == len(set(ids)) and all(i.split("/")[1].startswith(pid) for i in ids)


@pytest.mark.parametrize("pid", sorted(EXPECTED))
def test_service_gives_the_expected_determination(client, templates, pid):
    entry = EXPECTED[pid]
    status, body, _ = fire.fire(
        client, "", fire.load_bundle(pid, EXPECTED), entry["hook"], templates=templates[entry["hook"]]
    )
    assert status == 200, body
    problems = fire.mismatches(entry["expected"], fire.determinations(body))
    assert not problems, f"{pid} ({entry['shows']}): {problems}"


@pytest.mark.parametrize("hook", sorted(fire.SERVICE_FOR_HOOK))
def test_both_hooks_agree_for_a_patient(client, templates, hook):
    status, body, _ = fire.fire(
        client, "", fire.load_bundle("cigna-pain-trial-gaps"), hook, templates=templates[hook]
    )
    assert status == 200
    assert fire.determinations(body) == {"cigna-cmm-210@2026-08-04": ["documentation-incomplete"]}


def test_prefetch_answers_each_discovery_template_from_the_bundle(templates):
    bundle = fire.load_bundle("replacement-battery-near-end")
    request = fire.hook_request(bundle, "order-select", templates["order-select"])
    prefetch = request["prefetch"]
    assert set(prefetch) == set(templates["order-select"])
    assert prefetch["patient"]["id"] == "replacement-battery-near-end"
    devices = prefetch["devices"]
    assert devices["type"] == "searchset" and [e["resource"]["resourceType"] for e in devices["entry"]] == [
        "Device"
    ]
    assert prefetch["coverage"]["total"] == 0  # no Coverage: a comparison across payers
    assert request["context"]["selections"] == ["ServiceRequest/replacement-battery-near-end-sr-1"]
    drafts = [e["resource"]["id"] for e in request["context"]["draftOrders"]["entry"]]
    assert drafts == ["replacement-battery-near-end-sr-1"]


def test_template_search_filters_by_patient_and_status():
    resources = [
        {
            "resourceType": "Coverage",
            "id": "a",
            "status": "active",
            "beneficiary": {"reference": "Patient/p"},
        },
        {
            "resourceType": "Coverage",
            "id": "b",
            "status": "cancelled",
            "beneficiary": {"reference": "Patient/p"},
        },
        {
            "resourceType": "Coverage",
            "id": "c",
            "status": "active",
            "beneficiary": {"reference": "Patient/q"},
        },
    ]
    warnings: list[str] = []
    found = fire.answer(
        "Coverage?patient={{context.patientId}}&status=active&_sort=x", "p", resources, warnings
    )
    assert [e["resource"]["id"] for e in found["entry"]] == ["a"]
    assert fire.answer("Patient/{{context.patientId}}", "p", resources, warnings) is None
    fire.answer("Coverage?patient=p&payor=x", "p", resources, warnings)
    assert warnings == ["prefetch 'Coverage?patient=p&payor=x': parameter 'payor' not applied by fire.py"]


def test_fire_prints_gaps_with_their_policy_sentence_and_flags_a_mismatch(client, monkeypatch):
    out = io.StringIO()
    problems = fire.run(client, "", ["cigna-pain-trial-gaps"], out=out)
    text = out.getvalue()
    assert problems == []
    assert "documentation-incomplete  [as expected]" in text
    assert "NOT DOCUMENTED: The patient agrees to a 50 % reduction of systemic opioids" in text
    assert "Individual agrees to a 50% reduction in systemic opioids" in text
    # A wrong expectation makes the loop (and so fire.py's exit status) fail.
    wrong = json.loads(json.dumps(EXPECTED))
    wrong["cigna-pain-trial-gaps"]["expected"] = {"cigna-cmm-210@2026-08-04": "criteria-met"}
    monkeypatch.setattr(fire, "load_expected", lambda: wrong)
    problems = fire.run(client, "", ["cigna-pain-trial-gaps"], out=io.StringIO())
    assert problems == [
        "cigna-pain-trial-gaps: cigna-cmm-210@2026-08-04: expected criteria-met, got documentation-incomplete"
    ]


def test_fire_command_line_exits_non_zero_when_the_service_is_unreachable(capsys):
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    assert fire.main(["--service", "http://127.0.0.1:9", "cigna-pain-trial-met"]) == 1
    assert "cannot reach the service" in capsys.readouterr().err
