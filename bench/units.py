"""How the report writes a figure: milliseconds, a ratio to the floor, MiB."""

from __future__ import annotations


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def _x(value: float, floor: float) -> str:
    return f"{value / floor:.1f}×" if floor else "–"


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"
