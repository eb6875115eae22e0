"""The benchmark: `.venv/bin/python bench/run.py` (or `make bench`).

One run measures, on this machine and in this order: the floor (decoding the
request bodies), the service's in-process handling of the same bodies,
end-to-end HTTP against uvicorn on loopback with 1, 10 and 50 clients and 1
and 2 workers, missing prefetch fetched from a slow FHIR server, and start-up.
Every time is shown next to its ratio to a floor measured in the same run, so
results from different machines compare by ratio. Prints a table and writes
bench/results.md.

Options: --quick (fewer requests, for a smoke check), --workers 1,2,
--out PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from bench import charts, fhir_delay, inprocess, peer, startup  # noqa: E402
from bench.http_load import closed_loop, open_loop, request_bytes  # noqa: E402
from bench.report import OPEN_RATE, Results, write  # noqa: E402
from bench.server import Server  # noqa: E402
from bench.stats import p50, p99  # noqa: E402

CLIENTS = (1, 10, 50)
# size → (requests, seconds) per HTTP run; bounded both ways
HTTP_BUDGET = {"small": (3000, 6.0), "typical": (2000, 8.0), "heavy": (150, 10.0)}


def _loop_policy() -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass


def _closed_row(workers: int, size: str, clients: int, r: Any) -> dict[str, Any]:
    """One closed-loop round as the report's HTTP tables read it."""
    return {
        "workers": workers,
        "size": size,
        "clients": clients,
        "n": len(r.latencies),
        "errors": r.errors,
        "rps": r.throughput,
        "p50": p50(r.latencies),
        "p99": p99(r.latencies),
    }


def http_runs(
    bodies: dict[str, bytes], workers: tuple[int, ...], quick: bool
) -> tuple[list[dict], list[dict]]:
    closed, opened = [], []
    for w in workers:
        with Server(workers=w) as server:
            for name, body in bodies.items():
                payload = request_bytes("127.0.0.1", server.port, inprocess.SIGN, body)
                count, budget = HTTP_BUDGET[name]
                if quick:
                    count, budget = max(20, count // 10), budget / 4
                asyncio.run(closed_loop("127.0.0.1", server.port, payload, 2, 10, 5))  # warm every worker
                for clients in CLIENTS:
                    r = asyncio.run(closed_loop("127.0.0.1", server.port, payload, clients, count, budget))
                    closed.append(_closed_row(w, name, clients, r))
                    print(
                        f"  http workers={w} {name:8} clients={clients:3}: {r.throughput:7.1f} req/s "
                        f"p50 {p50(r.latencies) * 1000:7.2f} ms p99 {p99(r.latencies) * 1000:7.2f} ms errors {r.errors}"
                    )
                if name == "typical":
                    # the target rate, and half of what this configuration just sustained (unsaturated)
                    sustained = max(
                        row["rps"] for row in closed if row.get("workers") == w and row.get("size") == name
                    )
                    for rate in (OPEN_RATE, round(sustained / 2)):
                        duration = 2.0 if quick else 6.0
                        r = asyncio.run(open_loop("127.0.0.1", server.port, payload, 50, rate, duration))
                        opened.append(
                            {
                                "workers": w,
                                "size": name,
                                "connections": 50,
                                "rate": rate,
                                "achieved": r.throughput,
                                "n": len(r.latencies),
                                "errors": r.errors + r.unanswered,
                                "p50": p50(r.latencies) if r.latencies else float("nan"),
                                "p99": p99(r.latencies) if r.latencies else float("nan"),
                            }
                        )
                        print(
                            f"  open loop workers={w} {rate:.0f} req/s offered: {r.throughput:.0f} answered/s, "
                            f"p99 {opened[-1]['p99'] * 1000:.2f} ms, unanswered {r.unanswered}"
                        )
            rss = server.peak_rss_bytes()
            ready = server.ready_after
        closed.append({"workers": w, "peak_rss": rss, "ready": ready})
    return closed, opened


def without_audit(body: bytes, workers: tuple[int, ...], quick: bool) -> list[dict]:
    """Typical request, closed loop, with the audit-trail middleware left out: what the trail costs."""
    rows = []
    count, budget = HTTP_BUDGET["typical"]
    if quick:
        count, budget = max(20, count // 10), budget / 4
    for w in workers:
        with Server(workers=w, app="bench.no_audit:app") as server:
            payload = request_bytes("127.0.0.1", server.port, inprocess.SIGN, body)
            asyncio.run(closed_loop("127.0.0.1", server.port, payload, 2, 10, 5))
            for clients in (1, 50):
                r = asyncio.run(closed_loop("127.0.0.1", server.port, payload, clients, count, budget))
                rows.append(_closed_row(w, "typical", clients, r))
                print(
                    f"  no audit workers={w} clients={clients:3}: {r.throughput:7.1f} req/s p99 {p99(r.latencies) * 1000:7.2f} ms"
                )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests: a smoke check, not a result")
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to run, e.g. 1,2")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.md"))
    parser.add_argument(
        "--side-by-side-only",
        action="store_true",
        help="only the in-process figures and the rounds against the trivial peer (issue 13)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds per request against the peer"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each round against the peer")
    args = parser.parse_args(argv)
    workers = tuple(int(w) for w in args.workers.split(",") if w)
    # The audit trail is part of every hook call; keep the benchmark's rows out of var/.
    scratch = tempfile.mkdtemp(prefix="idds-bench-")
    os.environ.setdefault("IDDS_DATABASE_URL", f"sqlite:///{scratch}/audit.sqlite")

    from cds_service.app import COLLECTOR_THRESHOLDS, create_app
    from cds_service.services import Services

    built = {name: charts.build_chart(n) for name, n in charts.SIZES.items()}
    requests = {name: c.request("order-sign") for name, c in built.items()}
    requests["heavy, every policy"] = charts.comparison_request(charts.SIZES["heavy"])
    results = Results(quick=args.quick, resources={name: charts.count(c) for name, c in built.items()})
    results.resources["heavy, every policy"] = results.resources["heavy"]
    for name, n in charts.SIZES.items():  # the order a lab panel: answered from the draft orders alone
        requests[f"{name}, an order no policy concerns"] = charts.irrelevant_request(n, "order-sign")
        results.resources[f"{name}, an order no policy concerns"] = results.resources[name]
    bodies = {name: orjson.dumps(r) for name, r in requests.items()}
    results.load_average.append(os.getloadavg()[0])

    print("in-process: floor and handling")
    _loop_policy()
    services = Services.load()
    # As the app's real start does (app._start_process; an app given its services, as here, leaves
    # the collector alone): the loaded policies frozen out of its reach, and its young threshold
    # raised, so the in-process figures are the collector settings the server runs with.
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    results.inprocess = inprocess.run(create_app(services), services, bodies, args.quick)
    for name, r in results.inprocess.items():
        print(
            f"  {name:20} json.loads {r['floor']['json'] * 1000:7.2f} ms  handling p50 {r['p50'] * 1000:7.2f} ms "
            f"({r['p50'] / r['floor']['json']:.2f}x)  p99 {r['p99'] * 1000:7.2f} ms"
        )

    print("side by side with the trivial peer")
    side_bodies = {
        "an IDDS order, full assessment": (
            "idds-order-select",
            orjson.dumps(built["typical"].request("order-select")),
        ),
        "an order no policy concerns": (
            "idds-order-select",
            orjson.dumps(charts.irrelevant_request(charts.SIZES["typical"])),
        ),
    }
    results.side = peer.run(
        side_bodies, rounds=1 if args.quick else args.rounds, seconds=2.0 if args.quick else args.seconds
    )
    results.side_bytes = len(side_bodies["an IDDS order, full assessment"][1])
    if args.side_by_side_only:
        results.load_average.append(os.getloadavg()[0])
        text = write(results, Path(args.out))
        print()
        print(text)
        return 0

    print("missing prefetch against a slow FHIR server")
    results.fetch = fhir_delay.measure(built["typical"], delay=0.2, rounds=2 if args.quick else 3)
    print(f"  {results.fetch}")

    print("start-up")
    results.startup = startup.measure(1 if args.quick else 3)
    print(f"  {results.startup}")

    print("HTTP over loopback")
    http_bodies = {k: v for k, v in bodies.items() if k in HTTP_BUDGET}
    results.http, results.open_loop = http_runs(http_bodies, workers, args.quick)
    print("HTTP without the audit trail (diagnostic)")
    try:
        results.no_audit = without_audit(bodies["typical"], workers, args.quick)
    except RuntimeError as exc:  # the diagnostic leans on the audit module's shape; never fail the run for it
        print(f"  skipped: {exc}")

    results.load_average.append(os.getloadavg()[0])
    text = write(results, Path(args.out))
    print()
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
