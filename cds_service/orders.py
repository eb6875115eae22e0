"""Draft orders → what is being ordered: phase, injectate, date of service.

Rules are the clinical-data contract's "The order → phase" table; the codes
live in mappings/procedures.yaml and mappings/drugs.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from .codes import Terminology
from .facts.device import active_pumps
from .fhirtime import parse_date
from .policy_model import Phase
from .record import PatientRecord, resource_ref

ORDER_TYPES = ("ServiceRequest", "DeviceRequest")  # what an IDDS order is
# What a hook's draftOrders may carry for one: the orders and the injectate's MedicationRequest.
DRAFT_TYPES = (*ORDER_TYPES, "MedicationRequest")


def draft_orders(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A hook context's `draftOrders`: the resources as a collection Bundle."""
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


@dataclass
class Order:
    resource: dict[str, Any]
    reference: str
    code: str | None  # the CPT/HCPCS code that classified it
    phase: Phase | None  # None: not an order this service assesses
    date_of_service: date
    injectate_ingredients: frozenset[str] = frozenset()
    injectate_classes: frozenset[str] = frozenset()
    injectate_by_name: bool = False
    injectate_unidentified: bool = False  # a drug is ordered, but no ingredient could be identified
    anesthesia_uses: frozenset[str] = frozenset()
    # where the date of service came from: occurrence | authoredOn | today (assumed)
    date_basis: str = "occurrence"

    def as_contract(self) -> dict[str, Any]:
        """The contract's `order` object (shared/contract/assessment.md)."""
        return {
            "reference": self.reference,
            "code": self.code,
            "phase": str(self.phase) if self.phase else None,
        }


def _period(order: dict[str, Any]) -> dict[str, Any]:
    period = order.get("occurrencePeriod")
    return period if isinstance(period, dict) else {}


def date_of_service(order: dict[str, Any], today: date) -> date:
    """occurrenceDateTime, else occurrencePeriod.start, else authoredOn, else today."""
    period = _period(order)
    for value in (order.get("occurrenceDateTime"), period.get("start"), order.get("authoredOn")):
        d = parse_date(value)
        if d is not None:
            return d
    return today


def date_basis(order: dict[str, Any]) -> str:
    """Which element `date_of_service` read: occurrence[x], authoredOn, or none (today assumed)."""
    period = _period(order)
    if parse_date(order.get("occurrenceDateTime")) is not None or parse_date(period.get("start")) is not None:
        return "occurrence"
    return "authoredOn" if parse_date(order.get("authoredOn")) is not None else "today"


def _order_concept(order: dict[str, Any]) -> Any:
    if order.get("resourceType") == "DeviceRequest":
        return order.get("codeCodeableConcept")
    return order.get("code")


def _procedure_code(terminology: Terminology, concept: Any) -> str | None:
    for alias, code in terminology.codings(concept):
        if alias in ("cpt", "hcpcs") and code:
            return code
    return None


def injectates(
    order: dict[str, Any], draft: list[dict[str, Any]], terminology: Terminology
) -> tuple[set[str], set[str], bool, bool, bool]:
    """Ingredients and classes of the drug given through this order, whether only by name,
    whether the route is intrathecal/epidural, and whether an ordered drug went unidentified.

    A MedicationRequest in the same draft bundle counts when it is based on the
    order, or when it is the only one; the order's own orderDetail may also name it.
    """
    meds = [r for r in draft if r.get("resourceType") == "MedicationRequest"]
    ref = resource_ref(order)
    linked = [
        m
        for m in meds
        if any(
            isinstance(b, dict) and isinstance(b.get("reference"), str) and b["reference"].endswith(ref)
            for b in m.get("basedOn") or ()
        )
    ]
    chosen = linked or meds
    ingredients: set[str] = set()
    by_name = False
    neuraxial = False
    unidentified = False
    for med in chosen:
        found, name_only = terminology.drugs.identify(med.get("medicationCodeableConcept") or {})
        unidentified = unidentified or not found
        ingredients |= found
        by_name = by_name or name_only
        for dosage in med.get("dosageInstruction") or ():
            route = dosage.get("route") if isinstance(dosage, dict) else None
            if terminology.in_set(route, "route-intrathecal") or terminology.in_set(route, "route-epidural"):
                neuraxial = True
    for detail in order.get("orderDetail") or ():
        found, name_only = terminology.drugs.identify(detail)
        ingredients |= found
        by_name = by_name or (name_only and bool(found))
    classes = {c for i in ingredients for c in terminology.drugs.classes(i)}
    return ingredients, classes, by_name, neuraxial, unidentified


def classify(
    order: dict[str, Any],
    draft: list[dict[str, Any]],
    record: PatientRecord,
    terminology: Terminology,
    today: date,
) -> Order:
    t = terminology
    concept = _order_concept(order)
    code = _procedure_code(t, concept)
    usable_draft = [r for r in draft if r.get("resourceType") != "MedicationRequest" or record.usable(r)]
    ingredients, classes, by_name, neuraxial, unidentified = injectates(order, usable_draft, t)
    dos = date_of_service(order, today)
    uses = frozenset(
        use
        for use, vs in (
            ("obstetric-anesthesia", "anesthesia-use-obstetric"),
            ("surgical-anesthesia", "anesthesia-use-surgical"),
        )
        if t.in_set(order.get("reasonCode") or [], vs) or t.in_set(order.get("orderDetail") or [], vs)
    )

    def order_of(phase: Phase | None) -> Order:
        return Order(
            resource=order,
            reference=resource_ref(order),
            code=code,
            phase=phase,
            date_of_service=dos,
            injectate_ingredients=frozenset(ingredients),
            injectate_classes=frozenset(classes),
            injectate_by_name=by_name,
            injectate_unidentified=unidentified,
            anesthesia_uses=uses,
            date_basis=date_basis(order),
        )

    pumps = active_pumps(record, t)
    if t.in_set(concept, "order-replacement-only"):
        return order_of(Phase.REPLACEMENT)
    if t.in_set(concept, "order-implant"):
        if pumps and t.in_set(concept, "order-pump-device"):
            return order_of(Phase.REPLACEMENT)
        if pumps:  # a catheter revision for an existing pump
            return order_of(None)
        return order_of(Phase.PERMANENT)
    if t.in_set(concept, "order-trial-injection"):
        marker = t.in_set(concept, "order-trial-marker") or t.in_set(
            order.get("orderDetail") or [], "order-trial-marker"
        )
        steroid = bool(classes & t.drugs.epidural_steroid_classes)
        trial_drug = bool(classes & t.drugs.trial_injectate_classes) and neuraxial and not steroid
        # without a trial marker or an intrathecal/epidural trial drug (e.g. an epidural
        # steroid injection) it is not an intrathecal drug trial
        return order_of(Phase.TRIAL if marker or trial_drug else None)
    return order_of(None)
