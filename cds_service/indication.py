"""Why the pump is ordered: order reason first, then the injectate, then the problem list.

Returns every candidate indication when the record leaves it ambiguous, so the
caller can assess each (clinical-data contract, "Indication"). The injectate
only narrows or suggests candidates: whichever indication is assessed, its
policy tree still asks for its own documented diagnosis.

An order whose reason names a coded condition outside every indication (e.g.
Parkinson's disease) is `OTHER_INDICATION`: each policy then says in its own
words what it does with other indications (policies/*.yaml `scope.other_indications`).
"""

from __future__ import annotations

from typing import Any

from .codes import Terminology
from .facts.base import is_active_condition
from .orders import Order
from .policy_model import OTHER_INDICATION, Indication
from .record import PatientRecord

# The order candidates are tested in: cancer pain before non-malignant pain, so a pain
# coded with a neoplasm is reported as cancer-related first.
ORDERED = (Indication.CANCER_PAIN, Indication.NONMALIGNANT_PAIN, Indication.SPASTICITY, Indication.DYSTONIA)
PAIN = (Indication.NONMALIGNANT_PAIN, Indication.CANCER_PAIN)
INDICATION_SETS = tuple((i, f"indication-{i}") for i in ORDERED)
RELEVANT_SETS = (*tuple(vs for _, vs in INDICATION_SETS), "malignant-neoplasm", "pain-condition")
# Only these code systems are complete enough to say a reason is *outside* every indication
# (ICD-10-CM categories are matched by prefix; our SNOMED lists are examples, not complete).
DECIDING_SYSTEMS = ("icd10",)

assert set(ORDERED) == set(Indication)


def _from_concepts(concepts: list[Any], terminology: Terminology, pain_context: bool) -> list[str]:
    found: list[str] = []
    for concept in concepts:
        held = terminology.sets_of_concept(concept)  # every value set at once: one lookup per coding
        for indication, value_set in INDICATION_SETS:
            if value_set in held and indication not in found:
                found.append(indication)
        if "malignant-neoplasm" in held and pain_context and Indication.CANCER_PAIN not in found:
            found.append(Indication.CANCER_PAIN)
    return found


def names_other_condition(concept: Any, terminology: Terminology) -> bool:
    """A reason coded (in a deciding system) only with conditions outside every indication.

    Symptoms, encounter and device-complication codes (`order-reason-neutral`)
    name no indication either way; pain and neoplasm codes may point to one.
    """
    deciding = [(a, c) for a, c in terminology.codings(concept) if a in DECIDING_SYSTEMS and c]
    if not deciding:
        return False
    held = terminology.sets_of_concept(concept)
    return all(vs not in held for vs in (*RELEVANT_SETS, "order-reason-neutral"))


def _pain_injectate(order: Order, terminology: Terminology) -> bool:
    """The injectate implies a pain indication (mappings/drugs.yaml indication_by_injectate)."""
    implied = terminology.drugs.indication_by_injectate
    return any(i in PAIN for c in order.injectate_classes for i in implied.get(c, ()))


def indications_for(order: Order, record: PatientRecord, terminology: Terminology) -> list[str]:
    """Candidate indications, from the most specific source that names any: the order's
    reason, then the injectate narrowed by the problem list, then the problem list."""
    t = terminology
    res = order.resource
    pain_injectate = _pain_injectate(order, t)
    reasons = list(res.get("reasonCode") or [])
    for ref in res.get("reasonReference") or ():
        target = _resolve(ref, record)
        if target is not None:
            reasons.append(target.get("code"))
    by_reason = _from_concepts(reasons, t, pain_context=True)
    if by_reason:
        return by_reason
    if any(names_other_condition(r, t) for r in reasons):
        return [OTHER_INDICATION]

    # Only conditions that could name an indication are validated; the rest cannot change the answer.
    conditions = [
        c
        for c in record.resources("Condition")
        if is_active_condition(c)
        and not t.sets_of_concept(c.get("code")).isdisjoint(RELEVANT_SETS)
        and record.usable(c)
    ]
    codes = [c.get("code") for c in conditions]
    has_pain = any("pain-condition" in t.sets_of_concept(c) for c in codes)
    from_problems = _from_concepts(codes, t, pain_context=has_pain or pain_injectate)

    implied: list[str] = []
    for cls in sorted(order.injectate_classes):
        for indication in t.drugs.indication_by_injectate.get(cls, ()):
            if indication not in implied:
                implied.append(indication)
    if implied:
        narrowed = [i for i in from_problems if i in implied]
        if narrowed:
            return narrowed
        return implied
    return from_problems


def _resolve(reference: Any, record: PatientRecord) -> dict[str, Any] | None:
    if not isinstance(reference, dict):
        return None
    ref = reference.get("reference") or ""
    rtype, _, rid = ref.rpartition("/")
    rtype = rtype.rpartition("/")[2]
    for res in record.with_id(rtype, rid):
        if record.usable(res):
            return res
    return None
