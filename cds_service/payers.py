"""Coverage → which policies to assess (mappings/payers.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .codes import Terminology
from .record import PatientRecord, resource_ref


@dataclass(frozen=True)
class Routing:
    policy_ids: tuple[str, ...]
    comparison: bool  # True when no payer could be matched: every policy is assessed
    coverage_ref: str | None
    note: str


def _payer_strings(coverage: dict[str, Any]) -> list[str]:
    out = []
    for payor in coverage.get("payor") or ():
        if isinstance(payor, dict):
            out.append(payor.get("display") or "")
            ident = payor.get("identifier")
            if isinstance(ident, dict):
                out.append(str(ident.get("value") or ""))
    for cls in coverage.get("class") or ():
        if isinstance(cls, dict):
            out.extend([str(cls.get("value") or ""), str(cls.get("name") or "")])
    return [s.lower() for s in out if s]


def route(record: PatientRecord, terminology: Terminology, all_policy_ids: list[str]) -> Routing:
    coverages = [
        c for c in record.resources("Coverage") if c.get("status", "active") == "active" and record.usable(c)
    ]
    routes = terminology.payers["routes"]
    for coverage in coverages:
        strings = _payer_strings(coverage)
        matched = [
            r["policy"]
            for r in routes
            if r["policy"] in all_policy_ids and any(m.lower() in s for s in strings for m in r["match"])
        ]
        if matched:
            return Routing(tuple(dict.fromkeys(matched)), False, resource_ref(coverage), "payer from Coverage")
    if coverages:
        note = "the patient's payer has no encoded policy: this is a comparison of every policy"
        return Routing(tuple(all_policy_ids), True, resource_ref(coverages[0]), note)
    if not record.available("Coverage"):
        note = "coverage could not be retrieved: this is a comparison of every policy"
    else:
        note = "no active Coverage: this is a comparison of every policy"
    return Routing(tuple(all_policy_ids), True, None, note)
