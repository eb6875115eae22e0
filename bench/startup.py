"""Start-up cost, in a fresh interpreter so nothing is already imported or cached.

Loading (Terminology, every policy with its source checks, the CodeSystem) is
what a restart or a new worker pays before the first answer; imports are
reported apart because they depend on the installed libraries, not on us.
"""

from __future__ import annotations

import json
import subprocess
import sys

from .server import ROOT

PROBE = """
import json, time
t0 = time.perf_counter()
from cds_service.codes import Terminology
from cds_service.codesystem import load_codesystem
from cds_service.policy_store import PolicyStore
t1 = time.perf_counter()
Terminology()
t2 = time.perf_counter()
PolicyStore.load()
t3 = time.perf_counter()
load_codesystem()
t4 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "terminology": t2 - t1, "policies": t3 - t2, "codesystem": t4 - t3, "load": t4 - t1}))
"""


def measure(rounds: int = 3) -> dict[str, float]:
    """The fastest of `rounds` fresh interpreters (the others paid for a cold disk cache)."""
    best: dict[str, float] | None = None
    for _ in range(rounds):
        out = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
        )
        found = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or found["load"] < best["load"]:
            best = found
    assert best is not None
    return best
