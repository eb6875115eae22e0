"""The implanted pump: whether the patient has one, and its state."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..codes import Terminology
from ..fhirtime import parse_date
from ..record import PatientRecord, resource_ref
from .base import Fact, FactContext
from .catalogue import PUMP_STATUS_LABEL


def is_implanted_pump(device: dict[str, Any], terminology: Terminology) -> bool:
    if terminology.in_set(device.get("type"), "implanted-pump"):
        return True
    texts = []
    t = device.get("type")
    # runs before validation: a malformed shape is simply no text
    if isinstance(t, dict):
        texts.append(t.get("text") or "")
        codings = t.get("coding")
        texts.extend(
            c.get("display") or ""
            for c in (codings if isinstance(codings, list) else ())
            if isinstance(c, dict)
        )
    names = device.get("deviceName")
    for name in names if isinstance(names, list) else ():
        if isinstance(name, dict):
            texts.append(name.get("name") or "")
    blob = " ".join(x for x in texts if isinstance(x, str)).lower()
    return any(p in blob for p in terminology.pump_text_patterns)


def active_pumps(record: PatientRecord, terminology: Terminology) -> list[dict[str, Any]]:
    return [
        d
        for d in record.resources("Device")
        if d.get("status") == "active" and is_implanted_pump(d, terminology) and record.usable(d)
    ]


def pump_status(ctx: FactContext) -> Fact:
    pumps = active_pumps(ctx.record, ctx.terminology)
    if not pumps:
        if not ctx.record.available("Device"):
            return Fact.unknown("devices could not be retrieved")
        return Fact.unknown("no active implanted pump documented")
    pump_refs = {resource_ref(p) for p in pumps}
    for when, obs in reversed(ctx.candidates("pump-status")):
        if when > ctx.cutoff:
            continue
        # The contract's pump status names its pump (`device`): one that names none may be
        # about a pump since replaced, so it never speaks for the active one.
        device = obs["device"].get("reference") if isinstance(obs.get("device"), dict) else None
        if not isinstance(device, str) or "/".join(device.split("/")[-2:]) not in pump_refs:
            continue
        if not ctx.record.usable(obs):
            continue
        code = ctx.terminology.idds_code(obs.get("valueCodeableConcept"))
        if code:
            return Fact(
                code,
                (resource_ref(obs), *tuple(sorted(pump_refs))),
                f"pump interrogation on {when.date().isoformat()}: {PUMP_STATUS_LABEL.get(code, code)}",
            )
    for pump in pumps:
        for prop in pump.get("property") or ():
            if ctx.terminology.idds_code(prop.get("type")) == "pump-status":
                for concept in prop.get("valueCode") or ():
                    code = ctx.terminology.idds_code(concept)
                    if code:
                        return Fact(
                            code,
                            (resource_ref(pump),),
                            f"pump state on the device record: {PUMP_STATUS_LABEL.get(code, code)}",
                        )
    return Fact.unknown("the pump's state (battery, function) is not documented", tuple(sorted(pump_refs)))


# A MedicationStatement of an opioid the patient took (not "not-taken", "intended",
# "unknown" or "entered-in-error"), and a MedicationRequest that was in force
# (not a draft, cancelled, or entered in error), are opioid exposure.
OPIOID_TAKEN = frozenset({"active", "completed", "stopped", "on-hold"})
OPIOID_PRESCRIBED = frozenset({"active", "completed", "stopped", "on-hold"})
PRESCRIPTION_INTENTS = frozenset(
    {"order", "original-order", "instance-order", "reflex-order", "filler-order"}
)


def opiate_naive(ctx: FactContext) -> Fact:
    """No opioid exposure on or before the date of service in the retrieved medication history."""
    t = ctx.terminology
    exposure = []
    for kind, statuses in (("MedicationStatement", OPIOID_TAKEN), ("MedicationRequest", OPIOID_PRESCRIBED)):
        for res in ctx.record.resources(kind):
            status, intent = res.get("status"), res.get("intent")  # not yet validated: any shape
            if not isinstance(status, str) or status not in statuses:
                continue
            if kind == "MedicationRequest" and not (
                isinstance(intent, str) and intent in PRESCRIPTION_INTENTS
            ):
                continue
            concept = res.get("medicationCodeableConcept") or _display_concept(res.get("medicationReference"))
            ingredients, _ = t.drugs.identify(concept)
            if not any("opioid" in t.drugs.classes(i) for i in ingredients):
                continue
            started = _started(res)
            if started is not None and started > ctx.date_of_service:
                continue
            if ctx.record.usable(res):
                exposure.append(res)
    if exposure:
        return Fact(
            False,
            tuple(resource_ref(r) for r in exposure),
            "Opioid medication was taken or prescribed before; the patient is not opioid-naive.",
        )
    if not ctx.record.available("MedicationStatement"):
        return Fact.unknown("The medication history could not be retrieved.")
    return Fact(
        True,
        (),
        "No opioid taken or prescribed is documented in the medication history: the patient is opioid-naive.",
    )


def _started(res: dict[str, Any]) -> date | None:
    period = res.get("effectivePeriod")
    if isinstance(period, dict) and period.get("start"):
        return parse_date(period.get("start"))
    for key in ("effectiveDateTime", "authoredOn", "dateAsserted"):
        if res.get(key):
            return parse_date(res.get(key))
    return None


def _display_concept(reference: Any) -> dict[str, Any] | None:
    if isinstance(reference, dict) and isinstance(reference.get("display"), str):
        return {"text": reference["display"]}
    return None
