"""End to end against the sandbox's real FHIR server (Medplum's router): a patient whose
assessment is documentation-incomplete, the checklist's form filled and saved to the
server as a QuestionnaireResponse, the hook fired again with no prefetch (the service
fetches the chart, responses included): criteria-met; a later contradicting answer:
criteria-not-met. Skipped only when node is absent."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.questionnaire import form
from cds_service.services import Services
from cds_service.settings import Settings
from sandbox import fire

from .fhir_server import fhir_server

pytestmark = pytest.mark.slow  # the sandbox FHIR server (node) in its own process

PID = "cigna-pain-trial-gaps"  # no behavioural-health attestation, no opioid-reduction agreement


@pytest.fixture(scope="module")
def fhir():
    with fhir_server() as base:
        yield base


@pytest.fixture(scope="module")
def client(fhir):
    services = Services.load(Settings(allowed_fhir_servers=fhir, fhir_timeout_seconds=10))
    with TestClient(create_app(services)) as c:
        yield c


def _hidden(page: str, name: str) -> str:
    m = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', page)
    assert m, f"no hidden {name}"
    return m.group(1).replace("&amp;", "&").replace("&#x27;", "'")


def _determination(page: str) -> str:
    return re.search(r'data-policy="cigna-cmm-210" data-determination="([^"]+)"', page).group(1)


def _submit(client, fhir, page: str, psych: str, monkeypatch, day: str):
    monkeypatch.setattr(form, "clock", lambda: datetime.fromisoformat(f"{day}T10:00:00+00:00"))
    data = {
        "iss": fhir,
        "patient": PID,
        "assessment": _hidden(page, "assessment"),
        "questionnaire": _hidden(page, "questionnaire"),
        "q:psych-evaluation": psych,
        # the evaluator (Cigna: "An attestation from a ... psychologist ..."): the practice's
        # psychologist on the FHIR server, whom the service reads by reference
        "q:psych-evaluation.performer": "PractitionerRole/cigna-pain-trial-gaps-pr-psychologist",
        "q:opioid-reduction-agreed": "true",
    }
    return client.post("/smart/documentation", data=data, follow_redirects=False)


def test_form_saved_to_the_fhir_server_turns_incomplete_into_met_then_a_contradiction_into_not_met(
    client, fhir, monkeypatch
):
    page = client.get("/smart/checklist", params={"iss": fhir, "patient": PID}).text
    assert _determination(page) == "documentation-incomplete"
    assert 'action="/smart/documentation"' in page
    assert 'name="q:psych-evaluation"' in page and 'name="q:opioid-reduction-agreed"' in page

    saved = _submit(client, fhir, page, "favorable", monkeypatch, "2026-09-12")
    assert saved.status_code == 303, saved.text
    stored = httpx.get(f"{fhir}/QuestionnaireResponse", params={"patient": PID}).json()
    assert stored.get("total", len(stored.get("entry") or [])) >= 1
    qr = stored["entry"][0]["resource"]
    assert qr["status"] == "completed" and qr["subject"]["reference"] == f"Patient/{PID}"

    again = client.get(saved.headers["location"]).text  # the checklist re-assessed at once
    assert _determination(again) == "criteria-met"
    assert (
        "What was the outcome of the mental and behavioural health evaluation?: Favorable" in again
    )  # the answer, described
    assert (
        'action="/smart/documentation"'
        not in again.split('data-policy="cigna-cmm-210"')[1].split("</section>")[0]
    )

    # the hook, prefetch-free: the service fetches the chart from the server, responses included
    body = _hook_body(fhir)
    answer = client.post(f"/cds-services/idds-{body['hook']}", json=body).json()
    a = answer["cards"][0]["extension"]["idds-cds.assessment"]
    assert a["determination"] == "criteria-met"
    assert any(e.startswith("QuestionnaireResponse/") for c in a["criteria"] for e in c["evidence"])

    # a later response contradicting the evaluation: an unfavorable outcome
    later = {k: v for k, v in qr.items() if k not in ("id", "meta")}
    later["authored"] = "2026-09-13T10:00:00Z"
    later["item"] = [
        {
            "linkId": "psych-evaluation",
            "answer": [
                {"valueCoding": {"system": "http://idds-cds.org/fhir/CodeSystem/idds", "code": "unfavorable"}}
            ],
        }
    ]
    assert httpx.post(
        f"{fhir}/QuestionnaireResponse", json=later, headers={"Content-Type": "application/fhir+json"}
    ).status_code in (200, 201)
    answer = client.post(f"/cds-services/idds-{body['hook']}", json=_hook_body(fhir)).json()
    assert answer["cards"][0]["extension"]["idds-cds.assessment"]["determination"] == "criteria-not-met"


def _hook_body(fhir):
    entry = fire.load_expected()[PID]
    return fire.hook_request(fire.load_bundle(PID), entry["hook"], None, fhir_server=fhir)
