"""The benchmark measures what the service does: its route steps answer as the route does.

bench/inprocess.py times the hook route's steps called in the route's order
(the figure the performance targets use); if the route changed and the
benchmark did not, this test says so.
"""

from __future__ import annotations

import asyncio

import orjson
from fastapi.testclient import TestClient

from bench import charts
from bench.asgi import InProcess
from bench.fhir_delay import SlowFhir
from bench.inprocess import SIGN, route_steps
from cds_service.app import create_app
from cds_service.record import CATEGORIES
from cds_service.services import Services
from cds_service.settings import Settings


def _decisions(body: dict) -> list[tuple]:
    out = []
    for card in body["cards"]:
        a = card["extension"]["idds-cds.assessment"]
        out.append(
            (
                card["summary"],
                card["indicator"],
                a["determination"],
                tuple((c["id"], c["status"], tuple(c["evidence"])) for c in a["criteria"]),
            )
        )
    return out


def test_the_route_steps_the_benchmark_times_answer_as_the_route(tmp_path):
    services = Services.load(Settings(database_url=f"sqlite:///{tmp_path}/audit.sqlite"))
    chart = charts.build_chart(charts.SIZES["small"])
    assert 25 <= charts.count(chart) <= 40
    body = orjson.dumps(chart.request("order-sign"))
    with TestClient(create_app(services)) as client:
        over_http = client.post(SIGN, content=body, headers={"Content-Type": "application/json"}).json()
    steps = orjson.loads(asyncio.run(route_steps(services, body)))
    assert over_http["cards"] and _decisions(steps) == _decisions(over_http)
    assert len(steps["systemActions"]) == len(over_http["systemActions"])


def test_the_in_process_asgi_client_reaches_the_app(tmp_path):
    services = Services.load(Settings(database_url=f"sqlite:///{tmp_path}/audit.sqlite"))
    body = orjson.dumps(charts.build_chart(charts.SIZES["small"]).request("order-sign"))

    async def call():
        async with InProcess(create_app(services)) as client:
            return await client.post(SIGN, body)

    status, answer = asyncio.run(call())
    assert status == 200 and orjson.loads(answer)["cards"]


def test_the_slow_fhir_server_answers_every_category_the_service_reads_with_the_charts_resources():
    chart = charts.build_chart(30)
    chart.resources["questionnaireResponses"].append(  # a clinician's earlier answers, one of each kind
        {
            "resourceType": "QuestionnaireResponse",
            "id": "qr1",
            "status": "completed",
            "subject": {"reference": f"Patient/{chart.patient_id}"},
            "item": [{"linkId": "psych-evaluation", "answer": [{"valueBoolean": True}]}],
        }
    )
    assert all(chart.resources[key] for key in ("observations", "questionnaireResponses"))
    slow = SlowFhir(chart, delay=0)
    try:
        for rtype, key in CATEGORIES.items():
            answer = slow.answer(f"/fhir/{rtype}?patient={chart.patient_id}")
            if rtype == "Patient":
                assert answer == chart.patient
            else:
                assert answer["resourceType"] == "Bundle", rtype
                assert [e["resource"] for e in answer.get("entry", [])] == chart.resources[key], rtype
    finally:
        slow.httpd.server_close()
