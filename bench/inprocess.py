"""In-process figures: the floor (decoding the request body) and the service's handling of it.

Both are timed in this process, on the same bytes, in the same run, rounds
interleaved, so the ratio between them does not depend on the machine or on
what else it is doing. The handling is timed twice: the hook route's steps
(scan → HookRequest → gather and finish the record → assess_hook → cards → serialise, the
route's own functions in its order), and the whole app called through ASGI
(bench/asgi.py), which adds routing, every middleware and the audit record: the
targets use the whole app.
The stage breakdown times the steps one by one.
"""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from datetime import date
from typing import Any

import orjson

from cds_service import hook_body
from cds_service.cards import card, system_actions
from cds_service.hook_models import HookRequest, HookResponse
from cds_service.pipeline import assess_hook, concerns_no_policy
from cds_service.prefetch import finish_record, gather_record
from cds_service.services import Services

from .asgi import InProcess
from .stats import p50, p99

SIGN = "/cds-services/idds-order-sign"


async def route_steps(services: Services, body: bytes) -> bytes:
    """The hook route's steps, in its order, with its functions (the stage table's figure)."""
    today = date.today()
    light = hook_body.light(body)
    req = HookRequest.model_validate(light if light is not None else orjson.loads(body))
    if concerns_no_policy(req, services.terminology, services.settings.max_orders_per_call):
        return HookResponse().to_json()
    record = await gather_record(req, services.settings, services.fhir_transport)
    finish_record(record, req.context.patientId)  # in the route's one step off the event loop, or on it
    outcome = assess_hook(req, record, services.terminology, services.store, today)
    base = "http://127.0.0.1:8000"
    cards = [card(a, record, base, f"{base}/smart/launch") for a in outcome.assessments]
    actions = system_actions(outcome.assessments, req.hook, outcome.routing, today)
    return HookResponse(cards=cards, systemActions=actions).to_json()


async def interleaved(
    services: Services, client: InProcess, body: bytes, count: int, budget_s: float
) -> dict[str, list[float]]:
    """json.loads, orjson.loads, the route's steps and the whole app, one after the other per round.

    Interleaving keeps the floor and the handling under the same conditions
    (other processes, the collector's state), which is what makes the ratio stable.
    """
    status, out = await client.post(SIGN, body)
    if status != 200 or not isinstance(orjson.loads(out).get("cards"), list):
        raise RuntimeError(f"the service answered {status}: {out[:300]!r}")
    for _ in range(2):
        await route_steps(services, body)
        await client.post(SIGN, body)
    samples: dict[str, list[float]] = {"json": [], "orjson": [], "steps": [], "app": []}
    deadline = time.perf_counter() + budget_s
    while len(samples["steps"]) < count and (len(samples["steps"]) < 5 or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        json.loads(body)
        t1 = time.perf_counter()
        orjson.loads(body)
        t2 = time.perf_counter()
        await route_steps(services, body)
        t3 = time.perf_counter()
        await client.post(SIGN, body)
        t4 = time.perf_counter()
        for name, value in (("json", t1 - t0), ("orjson", t2 - t1), ("steps", t3 - t2), ("app", t4 - t3)):
            samples[name].append(value)
    return samples


async def peak_memory(client: InProcess, body: bytes) -> int:
    """Peak bytes allocated while handling one request (tracemalloc)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        await client.post(SIGN, body)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def parse_peak(body: bytes) -> int:
    """Peak bytes allocated by orjson.loads of the body alone: what the memory ratio is next to."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        parsed = orjson.loads(body)
        peak = tracemalloc.get_traced_memory()[1] - before
        del parsed
        return peak
    finally:
        tracemalloc.stop()


async def stages(services: Services, body: bytes, rounds: int = 20) -> dict[str, float]:
    """Median seconds of each step the route takes, called one by one."""
    times: dict[str, list[float]] = {}

    def lap(name: str, start: float) -> float:
        now = time.perf_counter()
        times.setdefault(name, []).append(now - start)
        return now

    today = date.today()
    names = (
        "gather and finish the record (prefetch from the scanned bytes, Observations deferred)",
        "assess_hook",
        "cards and actions",
        "serialise response",
    )
    for _ in range(rounds):
        t = time.perf_counter()
        light = hook_body.light(body)
        quick = HookRequest.model_validate(light) if light is not None else None
        irrelevant = quick is not None and concerns_no_policy(
            quick, services.terminology, services.settings.max_orders_per_call
        )
        t = lap("scan body (msgspec), HookRequest of it, orders no policy concerns?", t)
        if irrelevant or quick is None:  # answered here, as the route does
            for name in names:
                times.setdefault(name, []).append(0.0)
            continue
        req = quick
        record = await gather_record(req, services.settings)
        finish_record(record, req.context.patientId)
        t = lap("gather and finish the record (prefetch from the scanned bytes, Observations deferred)", t)
        outcome = assess_hook(req, record, services.terminology, services.store, today)
        t = lap("assess_hook", t)
        cards = [
            card(a, record, "http://127.0.0.1:8000", "http://127.0.0.1:8000/smart/launch")
            for a in outcome.assessments
        ]
        actions = system_actions(outcome.assessments, req.hook, outcome.routing, today)
        t = lap("cards and actions", t)
        HookResponse(cards=cards, systemActions=actions).to_json()
        lap("serialise response", t)
    return {name: p50(values) for name, values in times.items()}


async def measure(
    app: Any, services: Services, bodies: dict[str, bytes], quick: bool
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    async with InProcess(app) as client:
        for name, body in bodies.items():
            heavy = len(body) > 1_000_000
            count, budget = (80, 12.0) if heavy else (500, 10.0)
            if quick:
                count, budget = count // 8, budget / 8
            s = await interleaved(services, client, body, count, budget)
            out[name] = {
                "bytes": len(body),
                "floor": {"json": p50(s["json"]), "orjson": p50(s["orjson"])},
                "p50": p50(s["steps"]),
                "p99": p99(s["steps"]),
                "app_p50": p50(s["app"]),
                "app_p99": p99(s["app"]),
                "n": len(s["steps"]),
                "peak_bytes": await peak_memory(client, body),
                "parse_peak_bytes": parse_peak(body),
                "stages": await stages(services, body, 5 if quick or heavy else 20),
            }
    return out


def run(app: Any, services: Services, bodies: dict[str, bytes], quick: bool) -> dict[str, dict[str, Any]]:
    return asyncio.run(measure(app, services, bodies, quick))
