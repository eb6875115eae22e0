"""CRD wiring: which documentation questionnaire an assessment asks to be completed."""

from __future__ import annotations

from typing import Any

from ..policy_model import Indication, Phase, Policy
from .build import Entry, build_questionnaire
from .spec import default_spec

_BY_POLICY: dict[int, tuple[Policy, dict[tuple[str, str], Entry]]] = {}


def _entries(policy: Policy) -> dict[tuple[str, str], Entry]:
    hit = _BY_POLICY.get(id(policy))
    if hit is None or hit[0] is not policy:
        spec = default_spec()
        built = {(i, ph): build_questionnaire(policy, i, ph, spec) for i in Indication for ph in Phase}
        hit = _BY_POLICY[id(policy)] = (policy, {k: e for k, e in built.items() if e is not None})
    return hit[1]


def questionnaire_for(a: Any) -> Entry | None:
    """The Questionnaire for an assessment's policy version, indication and phase, if it has one."""
    indication, phase = getattr(a, "indication", None), getattr(getattr(a, "order", None), "phase", None)
    if indication is None or phase is None:
        return None
    return _entries(a.policy).get((indication, phase))


def canonical_for(a: Any) -> str | None:
    entry = questionnaire_for(a)
    return f"{entry.url}|{entry.version}" if entry else None
