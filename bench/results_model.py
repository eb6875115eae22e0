"""What one benchmark run measured (bench/run.py fills it, bench/report.py and bench/issue13.py
write it out), and the targets the report holds it to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TYPICAL_RATIO = 5.0
HEAVY_RATIO = 5.0
P99_MS = 50.0
RPS = 300.0
STARTUP_S = 1.0
OPEN_RATE = 300.0  # the throughput target, offered at a fixed rate


@dataclass
class Results:
    quick: bool = False
    resources: dict[str, int] = field(default_factory=dict)
    inprocess: dict[str, dict[str, Any]] = field(default_factory=dict)
    http: list[dict[str, Any]] = field(default_factory=list)
    open_loop: list[dict[str, Any]] = field(default_factory=list)
    fetch: dict[str, float] = field(default_factory=dict)
    startup: dict[str, float] = field(default_factory=dict)
    no_audit: list[dict[str, Any]] = field(
        default_factory=list
    )  # diagnostic: the app without its audit trail
    load_average: list[float] = field(default_factory=list)  # 1-minute load at the start and at the end
    side: Any = None  # bench/peer.SideBySide: the rounds against the trivial peer
    side_bytes: int = 0
