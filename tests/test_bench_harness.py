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
from bench.inprocess import SIGN, route_steps
from cds_service.app import create_app
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
