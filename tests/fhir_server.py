"""Start the sandbox FHIR server (sandbox/fhir-server/server.mjs) for a test, on a free
loopback port, loaded with the example patients; stopped when the test is done."""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER_DIR = ROOT / "sandbox" / "fhir-server"
PATIENTS = ROOT / "sandbox" / "patients"


def require_node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the sandbox FHIR server cannot run")
    if not (SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        pytest.fail("sandbox/fhir-server has no node_modules: run `npm ci --prefix sandbox/fhir-server`")
    return node


@contextmanager
def fhir_server(page_size: int = 20, timeout: float = 60.0) -> Iterator[str]:
    """Yields the server's base URL (http://127.0.0.1:PORT/fhir)."""
    node = require_node()
    proc = subprocess.Popen(
        [
            node,
            str(SERVER_DIR / "server.mjs"),
            "--port",
            "0",
            "--load",
            str(PATIENTS),
            "--page-size",
            str(page_size),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    seen = []
    try:
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                raise RuntimeError(f"the FHIR server did not start in {timeout} s: {''.join(seen)}") from None
            seen.append(line)
            if "listening on " in line:
                yield line.rsplit("listening on ", 1)[1].strip()
                return
            if proc.poll() is not None:
                raise RuntimeError(f"the FHIR server exited: {''.join(seen)}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=10)  # the pipe's end reached: nothing reads it any more
        proc.stdout.close()  # type: ignore[union-attr]
