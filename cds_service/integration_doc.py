"""The generated tables of docs/integration.md, from the data files the service reads:
the prefetch templates (cds_service/prefetch.py, as published in discovery), the order
codes (mappings/procedures.yaml) and the code systems (mappings/systems.yaml).
`idds-cds integration-tables --write docs/integration.md` rewrites them; a test keeps them in step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .discovery import discovery
from .prefetch import LABEL

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- BEGIN generated integration tables -->", "<!-- END generated integration tables -->"
ORDER_ENTRIES = (
    "order-trial-injection",
    "order-implant",
    "order-replacement-only",
    "order-pump-device",
    "order-trial-marker",
)


def _codes(entry: dict[str, Any]) -> str:
    parts = []
    for system, codes in entry.items():
        if system != "description" and isinstance(codes, list):
            parts.append(f"{system}: " + ", ".join(str(c) for c in codes))
    return "; ".join(parts)


def tables() -> str:
    services = discovery()["services"]
    lines = ["**Services (GET /cds-services)**", "", "| id | hook | title |", "|---|---|---|"]
    lines += [f"| `{s['id']}` | `{s['hook']}` | {s.get('title', '')} |" for s in services]
    prefetch = services[0].get("prefetch") or {}
    lines += [
        "",
        "**Prefetch (the same for every service)**",
        "",
        "| key | query | what it feeds |",
        "|---|---|---|",
    ]
    lines += [f"| `{k}` | `{q}` | {LABEL.get(k, '')} |" for k, q in prefetch.items()]
    procedures = yaml.safe_load((ROOT / "mappings" / "procedures.yaml").read_text(encoding="utf-8"))
    lines += [
        "",
        "**Order codes (mappings/procedures.yaml)**",
        "",
        "| entry | codes | meaning |",
        "|---|---|---|",
    ]
    for name in ORDER_ENTRIES:
        entry = procedures.get(name) or {}
        lines.append(f"| `{name}` | {_codes(entry)} | {entry.get('description', '')} |")
    systems = yaml.safe_load((ROOT / "mappings" / "systems.yaml").read_text(encoding="utf-8"))
    lines += ["", "**Code systems (mappings/systems.yaml)**", "", "| alias | system URIs |", "|---|---|"]
    lines += [f"| `{alias}` | {', '.join(uris)} |" for alias, uris in systems.items()]
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    start, end = text.index(BEGIN), text.index(END)
    return text[: start + len(BEGIN)] + "\n" + block + "\n" + text[end:]
