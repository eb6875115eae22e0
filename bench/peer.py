"""Side by side with a trivial peer (issue 13): the same bodies, the same load generator, alternating rounds.

The peer is a HealthChain CDS Hooks service whose handler only counts the
Conditions in prefetch (bench/peer/healthchain_app.py). HealthChain, pinned
in bench/peer/requirements.txt, goes into its own virtualenv, bench/.peer-venv
(gitignored), never into the service's .venv. When it cannot be installed the
peer is the same trivial handler on plain FastAPI (bench/peer/fastapi_app.py,
run from the service's .venv) and the results say so.

Both run under uvicorn with one worker on 127.0.0.1, started the same way.
The load generator is wrk (1 thread, 10 connections) when it is on PATH, else
bench/http_load.closed_loop with 10 clients; the results name which. Rounds
alternate idds-cds, peer, idds-cds, peer, … for each request, so both see the
same machine conditions; each round's ratio is idds-cds ÷ the peer round next to it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .http_load import closed_loop, request_bytes
from .server import ROOT, Server, _children

PEER_DIR = ROOT / "bench" / "peer"
PEER_VENV = ROOT / "bench" / ".peer-venv"
REQUIREMENTS = PEER_DIR / "requirements.txt"
CONNECTIONS = 10
LUA = """local f = io.open(os.getenv("IDDS_BENCH_BODY"), "rb"); wrk.body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.headers["Content-Type"] = "application/json"; wrk.headers["Accept"] = "application/json"
"""


@dataclass
class Peer:
    name: str  # what the results call it
    python: str
    app: str
    cwd: Path
    prefix: str  # path prefix of its CDS services
    ready_path: str
    versions: str
    fallback_reason: str = ""


@dataclass
class SideBySide:
    peer: str = ""
    peer_versions: str = ""
    fallback_reason: str = ""
    generator: str = ""
    seconds: float = 0.0
    rounds: list[dict] = field(
        default_factory=list
    )  # {"request", "round", "ours", "peer", "ours_errors", "peer_errors"}


def _pip_versions(python: str, names: tuple[str, ...]) -> str:
    code = f"from importlib import metadata as m\nfor n in {names!r}:\n    try: print(n, m.version(n))\n    except Exception: print(n, '(not installed)')"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    return ", ".join(line.strip() for line in out.stdout.splitlines() if line.strip())


def healthchain_peer() -> Peer:
    """The HealthChain peer, its virtualenv made on first use; raises RuntimeError when it cannot be installed."""
    python = PEER_VENV / "bin" / "python"
    stamp = PEER_VENV / ".installed"
    if not stamp.exists() or stamp.read_text() != REQUIREMENTS.read_text():
        base = getattr(sys, "_base_executable", None) or shutil.which("python3") or sys.executable
        steps = [
            [base, "-m", "venv", "--clear", str(PEER_VENV)],
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
        ]
        for cmd in steps:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                raise RuntimeError(
                    f"{' '.join(cmd[:4])}… failed: {(done.stderr or done.stdout).strip()[-400:]}"
                )
        stamp.write_text(REQUIREMENTS.read_text())
    versions = _pip_versions(
        str(python), ("healthchain", "fastapi", "starlette", "pydantic", "uvicorn", "uvloop", "httptools")
    )
    return Peer(
        "HealthChain CDSHooksService, handler counts prefetch Conditions",
        str(python),
        "healthchain_app:app",
        PEER_DIR,
        "/cds/cds-services",
        "/cds/cds-discovery",
        versions,
    )


def fastapi_peer(reason: str) -> Peer:
    versions = _pip_versions(
        sys.executable, ("fastapi", "starlette", "pydantic", "uvicorn", "uvloop", "httptools")
    )
    return Peer(
        "plain FastAPI handler counting prefetch Conditions (HealthChain could not be installed)",
        sys.executable,
        "fastapi_app:app",
        PEER_DIR,
        "/cds-services",
        "/cds-services",
        versions,
        reason,
    )


def choose_peer() -> Peer:
    try:
        return healthchain_peer()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"  HealthChain peer unavailable, using the plain FastAPI peer: {exc}")
        return fastapi_peer(str(exc))


def _wrk(url: str, body: bytes, seconds: float) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="idds-wrk-") as tmp:
        script, data = Path(tmp) / "post.lua", Path(tmp) / "body.json"
        script.write_text(LUA)
        data.write_bytes(body)
        out = subprocess.run(
            ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            env={"IDDS_BENCH_BODY": str(data), "PATH": "/usr/bin:/bin"},
        )
    total = re.search(r"(\d+) requests in", out.stdout)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out.stdout)
    errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", out.stdout)
    n_err = int(bad.group(1)) if bad else 0
    if errors:
        n_err += sum(int(g) for g in errors.groups())
    if rps is None or total is None:
        raise RuntimeError(f"wrk printed no rate: {out.stdout[-300:]} {out.stderr[-300:]}")
    return float(rps.group(1)), n_err, int(total.group(1))


def _cpu_seconds(server: Server) -> float:
    """User + system CPU time of the server's processes so far (Linux /proc; 0 elsewhere)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for pid in [server.proc.pid, *_children(server.proc.pid)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def _drive(server: Server, path: str, body: bytes, seconds: float, use_wrk: bool) -> tuple[float, int, float]:
    """(req/s, errors, server CPU ms per answered request) for one round."""
    port = server.port
    before = _cpu_seconds(server)
    if use_wrk:
        rps, errors, total = _wrk(f"http://127.0.0.1:{port}{path}", body, seconds)
    else:
        r = asyncio.run(
            closed_loop(
                "127.0.0.1", port, request_bytes("127.0.0.1", port, path, body), CONNECTIONS, 10**9, seconds
            )
        )
        rps, errors, total = r.throughput, r.errors, len(r.latencies) + r.errors
    cpu = (_cpu_seconds(server) - before) / total * 1000 if total else float("nan")
    return rps, errors, cpu


def run(bodies: dict[str, tuple[str, bytes]], rounds: int = 2, seconds: float = 8.0) -> SideBySide:
    """bodies: request name → (service id, body bytes). Returns every round's rates."""
    peer = choose_peer()
    use_wrk = shutil.which("wrk") is not None
    out = SideBySide(
        peer=peer.name,
        peer_versions=peer.versions,
        fallback_reason=peer.fallback_reason,
        generator=f"wrk 1 thread, {CONNECTIONS} connections"
        if use_wrk
        else f"bench/http_load.py closed loop, {CONNECTIONS} clients (wrk not on PATH)",
        seconds=seconds,
    )
    with (
        Server(workers=1) as ours,
        Server(
            workers=1, app=peer.app, python=peer.python, cwd=peer.cwd, ready_path=peer.ready_path
        ) as theirs,
    ):
        for name, (service, body) in bodies.items():
            ours_path, peer_path = f"/cds-services/{service}", f"{peer.prefix}/{service}"
            _drive(ours, ours_path, body, 1.0, use_wrk)  # warm both
            _drive(theirs, peer_path, body, 1.0, use_wrk)
            for i in range(1, rounds + 1):
                mine, mine_err, mine_cpu = _drive(ours, ours_path, body, seconds, use_wrk)
                other, other_err, other_cpu = _drive(theirs, peer_path, body, seconds, use_wrk)
                out.rounds.append(
                    {
                        "request": name,
                        "round": i,
                        "ours": mine,
                        "peer": other,
                        "ours_errors": mine_err,
                        "peer_errors": other_err,
                        "ours_cpu_ms": mine_cpu,
                        "peer_cpu_ms": other_cpu,
                    }
                )
                print(
                    f"  {name:45} round {i}: idds-cds {mine:7.1f} req/s ({mine_cpu:.2f} ms CPU), peer {other:7.1f} req/s "
                    f"({other_cpu:.2f} ms CPU) ({mine / other if other else float('nan'):.2f}x) errors {mine_err}/{other_err}"
                )
    return out
