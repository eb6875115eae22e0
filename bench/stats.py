"""Nearest-rank percentiles for the benchmark's latency samples."""

from __future__ import annotations


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def p50(samples: list[float]) -> float:
    return percentile(samples, 50)


def p99(samples: list[float]) -> float:
    return percentile(samples, 99)
