"""The service under test: uvicorn in a subprocess on a free loopback port.

Started exactly as `make run` starts it (the app module, the default event
loop and HTTP parser, which are uvloop and httptools when installed), only on
a free port and with the given number of worker processes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(
        self,
        workers: int = 1,
        env: dict[str, str] | None = None,
        app: str = "cds_service.app:app",
        python: str | None = None,
        cwd: Path | None = None,
        ready_path: str = "/cds-services",
    ):
        self.workers = workers
        self.app = app
        self.python = python or sys.executable  # the peer (bench/peer.py) runs from its own virtualenv
        self.cwd = cwd or ROOT
        self.ready_path = ready_path
        self.port = free_port()
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.ready_after = 0.0

    def __enter__(self) -> Server:
        cmd = [
            self.python,
            "-m",
            "uvicorn",
            self.app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        start = time.perf_counter()
        # a file, not a pipe: nobody reads the log while the server runs, and a full pipe would stall it
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            cmd, cwd=self.cwd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = start + 30
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"uvicorn exited: {self.log.read().decode(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{self.ready_path}", timeout=1) as r:
                    if r.status == 200:
                        self.ready_after = time.perf_counter() - start
                        # with several workers, wait until every one answers
                        time.sleep(0.5 * (self.workers - 1))
                        return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("uvicorn did not become ready in 30 s")

    def peak_rss_bytes(self) -> int:
        """Sum of VmHWM over the server's processes (the supervisor and its workers)."""
        if self.proc is None:
            return 0
        pids = [self.proc.pid, *_children(self.proc.pid)]
        total = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]
