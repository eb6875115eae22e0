"""Run the real pipeline on a Chart without HTTP, for policy and engine tests."""

from __future__ import annotations

import asyncio
import socket
from datetime import date
from functools import lru_cache
from typing import Any

import orjson

from cds_service import hook_body
from cds_service.codes import Terminology
from cds_service.hook_models import HookRequest
from cds_service.pipeline import assess_hook
from cds_service.policy_store import PolicyStore
from cds_service.prefetch import build_record
from cds_service.settings import Settings

from .chart import Chart


@lru_cache(maxsize=1)
def services() -> tuple[Terminology, PolicyStore]:
    return Terminology(), PolicyStore.load()


def as_sent(body: dict[str, Any]) -> HookRequest:
    """The request as the hook route reads it off the wire: the body's bytes scanned, prefetch
    left as bytes and each Observation deferred until a fact reads it (hook_body.py, deferred.py)."""
    light = hook_body.light(orjson.dumps(body))
    assert light is not None, "the chart's request is not one the route's scan takes"
    return HookRequest.model_validate(light)


def assessments(chart: Chart, hook: str = "order-sign", **request_args: Any) -> list[dict[str, Any]]:
    """Every assessment (contract dict) the service makes for the chart's draft orders, a comparison's unfolded."""
    terminology, store = services()
    req = as_sent(chart.request(hook=hook, **request_args))
    record = asyncio.run(build_record(req, Settings()))
    outcome = assess_hook(req, record, terminology, store, today=chart.dos)
    return [a.as_contract() for a in outcome.every_assessment]


def assessment(chart: Chart, policy: str, indication: str | None = "any", **kw: Any) -> dict[str, Any]:
    """The single assessment for `policy` (and `indication` when the chart has several)."""
    found = [a for a in assessments(chart, **kw) if a["policy"]["id"] == policy]
    if indication != "any":
        found = [a for a in found if a["indication"] == indication]
    assert len(found) == 1, (
        f"expected one {policy} assessment, got {[(a['indication'], a['determination']) for a in found]}"
    )
    return found[0]


def criterion(result: dict[str, Any], criterion_id: str) -> dict[str, Any]:
    for c in result["criteria"]:
        if c["id"] == criterion_id:
            return c
    raise AssertionError(f"{criterion_id} not among {[c['id'] for c in result['criteria']]}")


def status(result: dict[str, Any], criterion_id: str) -> str:
    return criterion(result, criterion_id)["status"]


def today() -> date:
    return date.today()


def free_port() -> int:
    """A loopback port nobody listens on, for servers the tests start."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
