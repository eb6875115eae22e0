"""Load test: many concurrent hook calls against a real server, then the audit trail is counted.

    .venv/bin/python bench/audit_load.py                    # starts its own server on 127.0.0.1 (fresh SQLite audit DB)
    .venv/bin/python bench/audit_load.py --auth             # the same with caller JWTs (ES384) required and verified
    .venv/bin/python bench/audit_load.py --database-url postgresql://idds:idds@127.0.0.1:55432/idds_test
    .venv/bin/python bench/audit_load.py --url http://127.0.0.1:8000 --database-url sqlite:///var/audit.sqlite

Bounded: --calls (3000) with --concurrency clients (50), stopping after
--max-seconds (120) whatever is left. The bar: zero errors (every answer a 200
CDS response) and zero lost records (exactly one hook_call row per call sent,
one assessment row per card returned). Requests are realistic charts built
with tests/chart.py, each call with its own hookInstance. Traffic goes to the
loopback address only. Exit status 1 when the bar is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.load_calls import Signer, call_templates  # noqa: E402

SERVICES = {"order-sign": "/cds-services/idds-order-sign", "order-select": "/cds-services/idds-order-select"}


def _assessments_on(card: Any) -> int:
    """The assessments a card carries, each one audit row: one on a payer's card, one per policy
    on the folded comparison card (`idds-cds.assessments`), none on a notice."""
    ext = card.get("extension") if isinstance(card, dict) else None
    if not isinstance(ext, dict):
        return 0
    if isinstance(ext.get("idds-cds.assessments"), list):
        return len(ext["idds-cds.assessments"])
    return 1 if "idds-cds.assessment" in ext else 0


# -- the server under test ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    directory: Path, database_url: str, signer: Signer | None
) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    env = os.environ | {"IDDS_DATABASE_URL": database_url, "IDDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    if signer:
        env |= {"IDDS_REQUIRE_AUTH": "1", "IDDS_TRUSTED_ISSUERS_FILE": str(signer.issuers_file)}
    log = directory / "server.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "cds_service.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--timeout-keep-alive",
            "15",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited at start-up:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, url, log
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("server did not start within 60 s")


# -- the load ------------------------------------------------------------------------------------


async def run_load(
    url: str, calls: int, concurrency: int, max_seconds: float, signer: Signer | None
) -> dict[str, Any]:
    templates = call_templates()
    sent: list[str] = []
    answered: list[str] = []
    latencies: list[float] = []
    errors: dict[str, int] = {}
    cards = 0
    started = time.perf_counter()
    stop_at = started + max_seconds
    counter = iter(range(calls))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal cards
        for n in counter:
            if time.perf_counter() > stop_at:
                return
            hook, template = templates[n % len(templates)]
            instance = str(uuid.uuid4())
            path = SERVICES[hook]
            headers = {"Content-Type": "application/json"}
            if signer:
                headers |= signer.header(url + path)
            sent.append(instance)
            t0 = time.perf_counter()
            try:
                r = await client.post(
                    path, content=template.replace(b"@@HOOK_INSTANCE@@", instance.encode()), headers=headers
                )
                latencies.append(time.perf_counter() - t0)
                body = r.json() if r.status_code == 200 else None
                if r.status_code != 200 or not isinstance(body.get("cards"), list) or not body["cards"]:
                    errors[f"status {r.status_code}"] = errors.get(f"status {r.status_code}", 0) + 1
                else:
                    cards += sum(_assessments_on(c) for c in body["cards"])
                    answered.append(instance)
            except (httpx.HTTPError, ValueError) as exc:
                latencies.append(time.perf_counter() - t0)
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    # Idle connections are dropped by the client (2 s) well before the server closes them (uvicorn's
    # default 5 s; 15 s for our own): otherwise a request can race the server's close and die with
    # a ReadError that says nothing about the service.
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1) if ordered else 0.0

    return {
        "calls": len(sent),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "assessments_on_cards": cards,
        "seconds": round(elapsed, 1),
        "calls_per_second": round(len(sent) / elapsed, 1) if elapsed else 0,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1) if ordered else 0.0,
        "stopped_by_time": len(sent) < calls,
        "instances": sent,
        "answered": answered,
    }


def check_audit(
    database_url: str, instances: list[str], answered: list[str], cards: int, fresh: bool
) -> dict[str, Any]:
    """Exactly one hook_call per call answered, none doubled, nothing else in a fresh DB; one assessment per card.

    A call that died on the wire (counted as an error already) may or may not have reached the
    service; a call the service answered and did not record is a lost record."""
    from sqlalchemy import bindparam, create_engine, func, select

    from cds_service.audit.models import AssessmentRow, HookCall
    from cds_service.audit.store import database_url as normalise
    from cds_service.settings import Settings

    engine = create_engine(normalise(Settings(database_url=database_url)))
    counts: dict[str, int] = {}
    query = (
        select(HookCall.hook_instance, func.count())
        .where(HookCall.hook_instance.in_(bindparam("ids", expanding=True)))
        .group_by(HookCall.hook_instance)
    )
    with engine.connect() as conn:
        for i in range(0, len(instances), 500):
            counts.update(dict(conn.execute(query, {"ids": instances[i : i + 500]}).all()))
        total_calls = conn.scalar(select(func.count()).select_from(HookCall))
        assessment_rows = (
            conn.scalar(
                select(func.count())
                .select_from(AssessmentRow)
                .join(HookCall)
                .where(HookCall.hook_instance.in_(bindparam("ids", expanding=True))),
                {"ids": instances},
            )
            if instances
            else 0
        )
    engine.dispose()
    lost = sum(1 for i in answered if counts.get(i, 0) == 0)
    duplicated = sum(1 for c in counts.values() if c > 1)
    return {
        "audit_rows": sum(counts.values()),
        "lost_records": lost,
        "duplicated_records": duplicated,
        "assessment_rows": assessment_rows,
        "assessment_rows_match_cards": assessment_rows == cards,
        "rows_in_db": total_calls,
        "unexpected_rows": (total_calls - sum(counts.values())) if fresh else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="a running service; default: start one on a free loopback port")
    ap.add_argument(
        "--database-url",
        help="the audit database (records are counted in it); own server: default a "
        "fresh SQLite file; with --url: not checked unless given",
    )
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--auth", action="store_true", help="require and send caller JWTs (own server only)")
    ap.add_argument("--json", type=Path, help="also write the figures here (bench/out/ is git-ignored)")
    args = ap.parse_args()
    if args.url and not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("load is only ever sent to this machine's loopback address")

    with tempfile.TemporaryDirectory(prefix="idds-load-") as tmp:
        tmpdir = Path(tmp)
        proc = None
        signer = Signer(tmpdir) if args.auth else None
        database_url, url, fresh = args.database_url, args.url, False
        if not url:  # our own server: a fresh SQLite file unless a database is named
            fresh = not database_url
            database_url = database_url or f"sqlite:///{tmpdir / 'audit.sqlite'}"
            proc, url, log = start_server(tmpdir, database_url, signer)
        try:
            result = asyncio.run(run_load(url, args.calls, args.concurrency, args.max_seconds, signer))
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        instances, answered = result.pop("instances"), result.pop("answered")
        if database_url:
            result |= check_audit(database_url, instances, answered, result["assessments_on_cards"], fresh)
        if proc is not None and result["errors"]:
            print(log.read_text()[-3000:], file=sys.stderr)

    result |= {"concurrency": args.concurrency, "auth": args.auth}
    for key, value in result.items():
        print(f"{key:>28}: {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    ok = (
        result["errors"] == 0
        and result.get("lost_records", 0) == 0
        and result.get("duplicated_records", 0) == 0
        and result.get("unexpected_rows") in (0, None)
        and result.get("assessment_rows_match_cards", True)
    )
    print("PASS: zero errors, zero lost records" if ok else "FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
