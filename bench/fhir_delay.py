"""A slow FHIR server on loopback, to show missing prefetch is fetched in parallel.

Every query sleeps `delay` seconds before answering with the chart's resources
of that type. The hook is then called with no prefetch at all: if the queries
go out together its latency is close to the slowest query, not their sum.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from cds_service.record import CATEGORIES

from .asgi import InProcess

# The prefetch key of each resource type a query asks for: the service's own table (record.py),
# so a category the service adds is answered with the chart's resources here too. The Patient is
# a read, not a search (answer()).
TYPE_KEYS = {rtype: key for rtype, key in CATEGORIES.items() if rtype != "Patient"}


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops the 6th simultaneous connect, which
    # the client retries a second later: that would look like serial fetching.
    request_queue_size = 128


class SlowFhir:
    def __init__(self, chart: Any, delay: float):
        self.chart = chart
        self.delay = delay
        self.queries: list[tuple[str, float, float]] = []  # (path, arrived, answered), perf_counter
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                arrived = time.perf_counter()
                time.sleep(outer.delay)
                body = json.dumps(outer.answer(self.path)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with outer._lock:
                    outer.queries.append((self.path, arrived, time.perf_counter()))

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/fhir"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, path: str) -> dict[str, Any]:
        rtype = urlsplit(path).path.removeprefix("/fhir/").split("/")[0]
        if rtype == "Patient":
            return self.chart.patient
        return (
            self.chart.bundle(TYPE_KEYS[rtype])
            if rtype in TYPE_KEYS
            else {"resourceType": "Bundle", "type": "searchset"}
        )

    def __enter__(self) -> SlowFhir:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


async def _hook_without_prefetch(app: Any, request: dict[str, Any], rounds: int) -> list[float]:
    body = json.dumps(request).encode()
    out = []
    async with InProcess(app) as client:
        for _ in range(rounds):
            start = time.perf_counter()
            status, answer = await client.post("/cds-services/idds-order-sign", body)
            out.append(time.perf_counter() - start)
            if status != 200 or not json.loads(answer).get("cards"):
                raise RuntimeError(f"hook without prefetch answered {status}: {answer[:300]!r}")
    return out


def measure(chart: Any, delay: float = 0.2, rounds: int = 3) -> dict[str, float]:
    """Hook latency with every prefetch key missing, against the slowest query and the sum."""
    from cds_service.app import create_app
    from cds_service.services import Services
    from cds_service.settings import Settings

    with SlowFhir(chart, delay) as server:
        services = Services.load(Settings(allowed_fhir_servers=server.url, fhir_timeout_seconds=5))
        request = chart.request("order-sign", fhir_server=server.url)
        request.pop("prefetch")
        latencies = asyncio.run(_hook_without_prefetch(create_app(services), request, rounds))
        per_round = len(server.queries) // rounds
        last = server.queries[-per_round:]
    durations = [answered - arrived for _, arrived, answered in last]
    arrivals = [arrived for _, arrived, _ in last]
    return {
        "queries": per_round,
        "delay": delay,
        "hook_latency": min(latencies),
        "slowest_query": max(durations),
        "sum_of_queries": sum(durations),
        "arrival_spread": max(arrivals) - min(arrivals),
    }
