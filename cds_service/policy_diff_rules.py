"""The phase rules half of a policy diff: how each indication and phase is decided.

A phase assessed on its criteria in one version may be deferred to proprietary criteria,
not covered or not addressed in the next, and a permanent implant's tree may stop (or
start) building on the trial's ("the above criteria for a trial"): each is a difference
the reviewer needs to see apart from the criteria themselves.
"""

from __future__ import annotations

from .policy_diff_criteria import refs_by_place
from .policy_diff_model import FieldChange
from .policy_diff_words import indication_words, place_words
from .policy_model import IndicationRule, Phase, PhaseRule, Policy


def _phase_words(rule: PhaseRule | None) -> tuple[str, str | None]:
    """(how the phase is decided, the sentence it cites)."""
    if rule is None:
        return "—", None
    if rule.criteria is not None:
        return "assessed on its criteria", None
    return _answer_words(rule) or ("—", None)


def _answer_words(rule: PhaseRule | IndicationRule) -> tuple[str, str | None] | None:
    """A rule that answers without criteria (deferred, not covered, not addressed), in words."""
    if rule.deferred is not None:
        return f"deferred to {rule.deferred.to}: {rule.deferred.text}", rule.deferred.source
    if rule.not_covered is not None:
        return f"not covered: {rule.not_covered.text}", rule.not_covered.source
    if rule.not_addressed is not None:
        return f"not addressed: {rule.not_addressed.text}", None
    return None


def _indication_words(rule: IndicationRule | None) -> tuple[str, str | None]:
    if rule is None:
        return "—", None
    if rule.same_as:
        return f"as for {indication_words(rule.same_as)}", None
    return _answer_words(rule) or ("by phase", None)


def rules(a: Policy, b: Policy) -> list[FieldChange]:
    out: list[FieldChange] = []
    for key in list(dict.fromkeys([*a.indications, *b.indications])):
        x, y = a.indications.get(key), b.indications.get(key)
        rows = [("*", _indication_words(x), _indication_words(y))]
        rows += [
            (
                phase,
                _phase_words(getattr(x, phase) if x else None),
                _phase_words(getattr(y, phase) if y else None),
            )
            for phase in Phase
        ]
        for phase, (xw, xs), (yw, ys) in rows:
            if (xw, xs) != (yw, ys):
                out.append(
                    FieldChange(
                        aspect="rule",
                        label=place_words((key, phase, "")),
                        before=xw,
                        after=yw,
                        before_source=xs,
                        after_source=ys,
                    )
                )
    return out


def refs(a: Policy, b: Policy) -> list[FieldChange]:
    """A tree that builds on another (the permanent implant's "the above criteria for a trial")."""
    x, y = refs_by_place(a), refs_by_place(b)
    out: list[FieldChange] = []
    for place in list(dict.fromkeys([*x, *y])):
        if x.get(place, []) != y.get(place, []):
            out.append(
                FieldChange(
                    aspect="structure",
                    label=f"{place_words(place)}: builds on",
                    before=", ".join(_ref_words(r) for r in x.get(place, [])) or "—",
                    after=", ".join(_ref_words(r) for r in y.get(place, [])) or "—",
                )
            )
    return out


def _ref_words(ref: str) -> str:
    target, _, rest = ref.partition(" ")
    indication, _, phase = target.partition(".")
    return f"the {place_words((indication, phase, '')).lower()} criteria" + (f" {rest}" if rest else "")
