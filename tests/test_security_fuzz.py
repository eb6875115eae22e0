"""Fuzzing a running instance, fetch path included, against hostile FHIR servers on loopback.

The service runs in uvicorn on 127.0.0.1 (a real socket: chunked bodies, header
parsing, the audit middleware, the worker threads) and may fetch from a hostile
FHIR server (tests/hostile_fhir.py: drip-feeding, stalling, huge answers, paging
links with `..`, control characters or another host, redirects, garbage).
Requests are realistic hook calls bent at random (fields removed or retyped,
control and non-ASCII characters in ids, URLs and tokens, dot segments,
prefetch keys left out so the service must fetch), arbitrary bodies (chunked,
oversized), feedback, and the browser routes.

The bar: no 500 and no other 5xx, except the SMART launch's documented
`502 Bad Gateway` page when the EHR's authorization server fails; every hook
call answered 200 leaves exactly one audit record; no request ever reaches
the hostile server outside its allowed base; no access token in the logs or
the audit database; hook calls end within the FHIR deadline plus queueing.

Two profiles: quick (part of `make test`, a few hundred requests) and long
(`make fuzz`: IDDS_FUZZ_PROFILE=long, 20,000 requests by default, stopped at a
time budget whatever is left). Figures go to var/fuzz-last.json.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import random
import resource
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cds_service.app import create_app
from cds_service.audit.models import HookCall
from cds_service.audit.store import store_for
from cds_service.services import Services
from cds_service.settings import Settings

from .cds_conformance import check_response
from .helpers import free_port
from .hostile_fhir import MODES, HostileFhir
from .test_fuzz import SERVICES, _parent, _paths, base_request

pytestmark = pytest.mark.slow  # fuzzing a running instance

LONG = os.environ.get("IDDS_FUZZ_PROFILE", "quick") == "long"
REQUESTS = int(os.environ.get("IDDS_FUZZ_REQUESTS", "20000" if LONG else "300"))
BUDGET_SECONDS = float(os.environ.get("IDDS_FUZZ_SECONDS", "1200" if LONG else "45"))
CONCURRENCY = 12
# The quick profile always sends the same requests; the long one a new set each run (its seed
# is in the figures: IDDS_FUZZ_SEED=<seed> sends that set again).
SEED = int(os.environ.get("IDDS_FUZZ_SEED") or (time.time_ns() % 10**9 if LONG else 20261201))
DEADLINE = 1.0
ROOT = Path(__file__).resolve().parent.parent
TOKEN_MARK = "fuzz-secret-token-"

ODD_STRINGS = [
    "\x00",
    "\x01",
    "\n",
    "\r\nX-Injected: 1",
    "\x7f",
    "\u00e9",
    "\u202e",
    "\U0001f489",
    " ",
    "%",
    "%00",
    "..",
    "../",
    "/../admin",
    "%2e%2e",
    "%2f",
    "\\",
    "?",
    "#",
    "&",
    "=",
    "'\"<script>",
    "a" * 300,
]
ODD_IDS = [
    "pat-1",
    "../../admin/x",
    "..",
    ".",
    "pat\x01",
    "pat\u00e9",
    "pat 1",
    "pat/1",
    "pat?x=1",
    "pat#x",
    "%2e%2e%2fadmin",
    "a" * 65,
    "",
    "\U0001f489",
    "pat\r\n1",
]


def _odd(rng: random.Random) -> str:
    return "".join(rng.choice(ODD_STRINGS) for _ in range(rng.randint(1, 3)))


def _json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randint(0, 8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, 1.5, 1e308, -0.0])
    if kind in (3, 4, 5):
        return rng.choice(["", "x", _odd(rng), "2026-13-45", "Patient/pat-1", "urn:uuid:1"])
    if kind in (6, 7):
        return [_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {
        rng.choice(["resourceType", "id", "entry", "resource", "code", _odd(rng)]): _json(rng, depth + 1)
        for _ in range(rng.randint(0, 3))
    }


class Fuzzer:
    def __init__(self, rng: random.Random, hostile: HostileFhir):
        self.rng = rng
        self.hostile = hostile
        self.bases = {
            k: [base_request(k, h) for h in SERVICES]
            for k in ("spasticity", "replacement", "pain", "no-payer")
        }
        self.n = 0
        self.instance = ""

    def token(self) -> str:
        self.n += 1
        mark = f"{TOKEN_MARK}{self.n}"
        r = self.rng.random()
        if r < 0.6:
            return mark
        if r < 0.8:
            return mark + _odd(self.rng)
        return mark + "x" * self.rng.choice([100, 5000, 20000])

    def server(self) -> str:
        base = self.hostile.base(self.rng.choice(MODES))
        r = self.rng.random()
        if r < 0.7:
            return base
        return base + self.rng.choice(
            [
                "/../admin",
                "/%2e%2e/admin",
                "/./x",
                "/" + _odd(self.rng),
                "?x=1",
                "#f",
                "/../../" + "admin",
                "\\..\\admin",
            ]
        )

    def hook(self) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        kind = rng.choice(sorted(self.bases))
        req = copy.deepcopy(rng.choice(self.bases[kind]))
        req["hookInstance"] = self.instance = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if rng.random() < 0.6:  # the fetch path: leave keys out, point at a hostile server
            req["fhirServer"] = self.server()
            req["fhirAuthorization"] = {"access_token": self.token(), "token_type": "Bearer"}
            for key in rng.sample(sorted(req["prefetch"]), rng.randint(1, len(req["prefetch"]))):
                req["prefetch"][key] = None if rng.random() < 0.8 else {"resourceType": "OperationOutcome"}
        if rng.random() < 0.3:
            req["context"]["patientId"] = rng.choice(ODD_IDS)
        if rng.random() < 0.02:  # many orders in one call
            entries = req["context"]["draftOrders"]["entry"]
            req["context"]["draftOrders"]["entry"] = [
                copy.deepcopy(entries[0]) for _ in range(rng.randint(30, 200))
            ]
            for i, e in enumerate(req["context"]["draftOrders"]["entry"]):
                e["resource"]["id"] = f"many-{i}"
        for _ in range(rng.randint(0, 3)):
            paths = _paths(req)
            path = rng.choice(paths)
            parent = _parent(req, path)
            action = rng.random()
            if action < 0.3:
                del parent[path[-1]]
            elif action < 0.7:
                parent[path[-1]] = _json(rng)
            else:
                parent[path[-1]] = _odd(rng)
        h = req.get("hook")
        hook = h if isinstance(h, str) and h in SERVICES else rng.choice(sorted(SERVICES))
        return SERVICES[hook if rng.random() < 0.9 else rng.choice(sorted(SERVICES))], req


async def _chunks(total: int, size: int = 65_536):
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


class Run:
    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.by_kind: Counter[str] = Counter()
        self.failures: list[str] = []
        self.gateway_pages = 0
        self.hook_200: list[str] = []
        self.hook_seconds: list[float] = []
        self.sent = 0

    def fail(self, what: str) -> None:
        if len(self.failures) < 20:
            self.failures.append(what[:400])


async def _one(client: httpx.AsyncClient, fuzz: Fuzzer, run: Run) -> None:
    rng = fuzz.rng
    roll = rng.random()
    kind, started = "hook", time.monotonic()
    try:
        if roll < 0.70:
            service, req = fuzz.hook()
            mine = fuzz.instance  # read before any await: the workers share the fuzzer
            r = await client.post(
                service,
                content=json.dumps(req, ensure_ascii=rng.random() < 0.5).encode(),
                headers={"Content-Type": "application/json"},
            )
            took = time.monotonic() - started
            instance = req.get("hookInstance")
            if r.status_code == 200:
                check_response(r.json())
                if instance == mine:  # not bent by a mutation (a shared or truncated id cannot be counted)
                    run.hook_200.append(instance)
                run.hook_seconds.append(took)
        elif roll < 0.76:
            kind = "body"
            choice = rng.random()
            if choice < 0.03:
                content: Any = _chunks(11_000_000)  # chunked, no Content-Length, past the 10 MB limit
            elif choice < 0.5:
                content = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
            else:
                content = json.dumps(_json(rng)).encode()
            r = await client.post(
                rng.choice(list(SERVICES.values())),
                content=content,
                headers={"Content-Type": "application/json"},
            )
        elif roll < 0.82:
            kind = "feedback"
            outcomes = [
                {
                    "card": rng.choice([str(uuid.uuid4()), _odd(rng), ""]),
                    "outcome": rng.choice(["accepted", "overridden", "x"]),
                    "outcomeTimestamp": "2026-09-14T10:00:00Z",
                    "overrideReason": {"userComment": "c" * rng.choice([0, 10, 5000])},
                }
                for _ in range(rng.choice([0, 1, 2, 25]))
            ]
            r = await client.post(
                rng.choice(list(SERVICES.values())) + "/feedback",
                json={"feedback": outcomes} if rng.random() < 0.8 else _json(rng),
            )
        else:
            kind = "browser"
            choice = rng.random()
            if choice < 0.45:
                params = {
                    "iss": fuzz.server(),
                    "patient": rng.choice(ODD_IDS),
                    "order": rng.choice(["", _odd(rng)]),
                }
                r = await client.get(rng.choice(["/smart/checklist", "/smart/summary"]), params=params)
            elif choice < 0.6:
                r = await client.get("/smart/launch", params={"iss": fuzz.server(), "launch": _odd(rng)})
            elif choice < 0.75:
                r = await client.get("/smart/callback", params={"state": _odd(rng), "code": _odd(rng)})
            elif choice < 0.9:
                r = await client.get("/assessments/" + quote(_odd(rng), safe=""))
            else:
                r = await client.get(
                    rng.choice(
                        [
                            "/policies",
                            "/cds-services",
                            "/fhir/CodeSystem/idds",
                            "/policies/x/" + str(rng.random()),
                        ]
                    )
                )
    except (httpx.HTTPError, AssertionError, ValueError) as exc:
        run.fail(f"{kind}: {type(exc).__name__}: {exc}")
        return
    finally:
        run.sent += 1
        run.by_kind[kind] += 1
    run.statuses[r.status_code] += 1
    if r.status_code >= 500:
        if r.status_code == 502 and r.url.path in ("/smart/launch", "/smart/callback"):
            run.gateway_pages += 1
        else:
            run.fail(f"{kind} {r.request.method} {r.url.path} -> {r.status_code}: {r.text[:200]}")


class LogTap(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:
            self.lines.append(str(record.msg))


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    db_dir = tmp_path_factory.mktemp("sec-fuzz")
    with HostileFhir(drip_seconds=3, drip_interval=0.05, huge_bytes=20_000_000) as hostile:
        settings = Settings(
            allowed_fhir_servers=",".join(hostile.base(m) for m in MODES),
            fhir_timeout_seconds=0.5,
            fhir_deadline_seconds=DEADLINE,
            fhir_max_response_bytes=1_000_000,
            fhir_max_total_bytes=4_000_000,
            database_url=f"sqlite:///{db_dir / 'audit.sqlite'}",
        )
        app = create_app(Services.load(settings))
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False, access_log=True
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        assert server.started
        tap = LogTap()
        logging.getLogger().addHandler(tap)
        try:
            yield f"http://127.0.0.1:{port}", hostile, settings, tap, db_dir
        finally:
            logging.getLogger().removeHandler(tap)
            server.should_exit = True
            thread.join(15)


def test_a_running_instance_under_fuzzing_never_answers_a_server_error(instance):
    url, hostile, settings, tap, db_dir = instance
    run = Run()
    rng = random.Random(SEED)
    fuzz = Fuzzer(rng, hostile)
    stop_at = time.monotonic() + BUDGET_SECONDS
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()

    async def drive() -> None:
        limits = httpx.Limits(
            max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY, keepalive_expiry=2
        )
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            queue = iter(range(REQUESTS))

            async def worker() -> None:
                for _ in queue:
                    if time.monotonic() > stop_at:
                        return
                    await _one(client, fuzz, run)

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

    asyncio.run(drive())
    elapsed = time.monotonic() - started
    store = store_for(settings)
    with Session(store.engine) as s:
        counts = (
            dict(
                s.execute(
                    select(HookCall.hook_instance, func.count())
                    .where(HookCall.hook_instance.in_(run.hook_200[:30000]))
                    .group_by(HookCall.hook_instance)
                ).all()
            )
            if run.hook_200
            else {}
        )
    unrecorded = [i for i in run.hook_200 if counts.get(i) != 1]
    logs = "\n".join(tap.lines)
    leaked_in_logs = TOKEN_MARK in logs
    internal_errors = logs.count("assessment failed")  # a failure card instead of a 500 is still a bug
    store.close()
    db_bytes = b"".join(p.read_bytes() for p in db_dir.iterdir() if p.is_file())
    leaked_in_db = TOKEN_MARK.encode() in db_bytes
    seconds = sorted(run.hook_seconds)
    figures = {
        "profile": "long" if LONG else "quick",
        "seed": SEED,
        "requests_sent": run.sent,
        "requests_planned": REQUESTS,
        "elapsed_seconds": round(elapsed, 1),
        "budget_seconds": BUDGET_SECONDS,
        "concurrency": CONCURRENCY,
        "by_kind": dict(run.by_kind),
        "statuses": {str(k): v for k, v in sorted(run.statuses.items())},
        "server_errors": sum(v for k, v in run.statuses.items() if k >= 500) - run.gateway_pages,
        "smart_502_pages": run.gateway_pages,
        "client_failures": run.failures,
        "assessments_failed_internally": internal_errors,
        "hook_200": len(run.hook_200),
        "hook_200_without_exactly_one_audit_record": len(unrecorded),
        "hook_200_seconds_p50": round(seconds[len(seconds) // 2], 3) if seconds else None,
        "hook_200_seconds_p99": round(seconds[int(len(seconds) * 0.99)], 3) if seconds else None,
        "hook_200_seconds_max": round(seconds[-1], 3) if seconds else None,
        "fhir_deadline_seconds": DEADLINE,
        "hostile_server_requests": len(hostile.hits),
        "requests_outside_allowed_base": len(hostile.escapes),
        "token_in_logs": leaked_in_logs,
        "token_in_audit_db": leaked_in_db,
        "max_rss_mb_before": round(rss_before / 1024),
        "max_rss_mb_after": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    out = ROOT / "var" / f"fuzz-last-{figures['profile']}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    assert not run.failures, run.failures
    assert figures["server_errors"] == 0
    assert internal_errors == 0
    assert not unrecorded, unrecorded[:5]
    assert not hostile.escapes, hostile.escapes[:5]
    assert not leaked_in_logs and not leaked_in_db
    assert run.sent >= min(REQUESTS, 100)
    if seconds:  # the deadline plus queueing behind CONCURRENCY calls on a shared machine
        assert seconds[-1] < DEADLINE + 20, seconds[-5:]
