"""The service's Prometheus metrics (prometheus-client), importable from anywhere without
pulling in the app; served by /metrics (cds_service/ops.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from . import __version__

# The running version as a label (value 1), the Prometheus way of showing it; a gauge rather than
# an Info so that it is summed across workers too (multiprocess mode has no Info).
BUILD_INFO = Gauge(
    "idds_build_info", "The idds-cds version this process runs", ["version"], multiprocess_mode="max"
)
BUILD_INFO.labels(__version__).set(1)
HOOK_CALLS = Counter(
    "idds_hook_calls_total", "CDS Hooks calls answered, by service and HTTP status", ["service", "status"]
)
HOOK_LATENCY = Histogram(
    "idds_hook_duration_seconds",
    "Time to answer a CDS Hooks call (audit commit included)",
    ["service"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13),
)
DETERMINATIONS = Counter(
    "idds_determinations_total",
    "Assessments on the cards sent, by policy, phase and determination",
    ["policy", "phase", "determination"],
)
FHIR_ERRORS = Counter(
    "idds_fhir_fetch_errors_total", "FHIR queries that did not (fully) arrive, by kind", ["kind"]
)
AUDIT_WRITE = Histogram(
    "idds_audit_write_seconds",
    "Time a hook call or feedback waits for its audit rows' commit",
    ["kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

# A FHIR fetch's reason (cds_service/fhir_client.py) → one of a few kinds, first match wins.
_FHIR_KINDS = (
    ("deadline", "deadline"),
    ("in time", "timeout"),
    ("larger than", "too-large"),
    ("could not be reached", "unreachable"),
    ("answered with", "malformed"),
    ("answered", "status"),
    ("pag", "paging"),
    ("matches but sent", "incomplete"),
    ("token", "token"),
    ("URL", "url"),
)


def fhir_error_kind(reason: str) -> str:
    return next((kind for needle, kind in _FHIR_KINDS if needle in reason), "other")


def count_fhir_errors(reasons: Iterable[str | None]) -> None:
    for reason in reasons:
        if reason:
            FHIR_ERRORS.labels(fhir_error_kind(reason)).inc()


def count_determinations(rows: Iterable[dict[str, Any]]) -> None:
    for row in rows:
        DETERMINATIONS.labels(
            str(row.get("policy_id") or "none")[:100],
            str(row.get("phase") or "none")[:30],
            str(row.get("determination") or "none")[:50],
        ).inc()
