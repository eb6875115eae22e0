"""The generated tables of docs/integration.md, from the data files the service reads:
the prefetch templates (cds_service/prefetch.py, as published in discovery), the order
codes (mappings/procedures.yaml) and the code systems (mappings/systems.yaml).
`idds-cds integration-tables --write docs/integration.md` rewrites them; a test keeps them in step."""

from __future__ import annotations

from .discovery import discovery
from .mappings_schema import CodeList, Systems, ValueSets, load
from .prefetch import LABEL

BEGIN, END = "<!-- BEGIN generated integration tables -->", "<!-- END generated integration tables -->"
ORDER_ENTRIES = (
    "order-trial-injection",
    "order-implant",
    "order-replacement-only",
    "order-pump-device",
    "order-trial-marker",
)


def _codes(entry: CodeList) -> str:
    return "; ".join(f"{system}: " + ", ".join(codes) for system, codes in entry.codes.items())


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
    procedures = load("procedures.yaml", ValueSets).root
    lines += [
        "",
        "**Order codes (mappings/procedures.yaml)**",
        "",
        "| entry | codes | meaning |",
        "|---|---|---|",
    ]
    for name in ORDER_ENTRIES:
        entry = procedures.get(name) or CodeList()
        lines.append(f"| `{name}` | {_codes(entry)} | {entry.description or ''} |")
    systems = load("systems.yaml", Systems).root
    lines += ["", "**Code systems (mappings/systems.yaml)**", "", "| alias | system URIs |", "|---|---|"]
    lines += [f"| `{alias}` | {', '.join(uris)} |" for alias, uris in systems.items()]
    return "\n".join(lines)
