"""Chart resources left as their JSON bytes until something reads them.

Most of a real chart's bytes are Observations the policies never read (vital
signs, labs): in a typical 300-resource chart they are more than four fifths
of the body. Building each as Python dicts costs more time than the whole
assessment of the few that matter, and holds many times the body in memory.
So an Observation from prefetch is first decoded only as far as the service
needs to tell whether anything could read it: its id, its codings (system and
code, nothing else), and who it is about. It is built whole (orjson, the same
dict the old whole-body parse gave) the moment something asks for it: its
code is in a value set a fact reads, a reference names it, or a caller wants
every Observation (`PatientRecord.resources`). A deciding resource is therefore
built and validated exactly as before; a resource nothing reads is never built.

Anything the light decoder cannot take as it is (a code that is not an object,
a coding that is not an object, an entry that is not an object, a missing
resourceType) is built whole at once and handled as it always was, so its
error is still reported. The decoders are msgspec's (zero-copy `Raw` slices of
the body; unknown fields skipped).
"""

from __future__ import annotations

from typing import Any

import msgspec

from .hook_body import build_json

# Resource types left as bytes: the bulk of a chart, read by code alone (facts/base.py buckets them).
DEFERRED_TYPES = frozenset({"Observation"})


class _Coding(msgspec.Struct, gc=False):
    system: Any = None
    code: Any = None


class _Concept(msgspec.Struct, gc=False):
    coding: list[_Coding] | None = None


class _Reference(msgspec.Struct, gc=False):
    reference: Any = None


class _Head(msgspec.Struct, gc=False):
    """What decides whether anything reads the resource, and whose it is."""

    resourceType: str
    id: Any = msgspec.UNSET
    code: _Concept | None = None
    subject: _Reference | None = None
    # Not Observation elements: a resource that has either is built at once (the owner check
    # reads `subject or patient or beneficiary`, which only the built resource can answer).
    patient: msgspec.Raw | None = None
    beneficiary: msgspec.Raw | None = None


class _Entry(msgspec.Struct, gc=False):
    resource: _Head | None = None


class _Entries(msgspec.Struct, gc=False):
    entry: list[_Entry] | None = None


_entries_decoder = msgspec.json.Decoder(_Entries)
_entry_decoder = msgspec.json.Decoder(_Entry)


class Deferred:
    """A Bundle entry's resource, not yet built: its bytes, and what its head says that every
    request asks of every Observation (its type, id, codings and owner), read once here."""

    __slots__ = ("codings", "entry", "id", "reference", "resource_type")

    def __init__(self, entry: msgspec.Raw, head: _Head):
        self.entry = entry  # the Bundle entry ({"resource": …, "fullUrl": …}) as sent
        self.resource_type: str = head.resourceType
        self.id: Any = head.id  # msgspec.UNSET when the resource has none
        code = head.code
        # (system, code) of each coding of its code, as sent (readers check the types)
        self.codings: tuple[tuple[Any, Any], ...] = (
            tuple((c.system, c.code) for c in code.coding) if code is not None and code.coding else ()
        )
        subject = head.subject  # the owner's reference, as prefetch._keep_patient_only reads a built one's
        self.reference: Any = subject.reference if subject is not None else None

    def build(self) -> Any:
        """The resource as orjson builds it: what the whole-body parse would have given
        (hook_body.Unreadable when orjson refuses its bytes)."""
        built = build_json(self.entry)
        return built.get("resource") if isinstance(built, dict) else None

    @property
    def ref(self) -> str:
        rid = "?" if self.id is msgspec.UNSET else self.id
        return f"{self.resource_type}/{rid}"


def _deferrable(head: _Head | None) -> bool:
    return (
        head is not None
        and head.resourceType in DEFERRED_TYPES
        and head.patient is None
        and head.beneficiary is None
    )


def bundle_entries(value: msgspec.Raw, entries: list[msgspec.Raw]) -> list[Any]:
    """A Bundle's entries' resources: a Deferred for each one of a deferred type whose head
    decodes, the built resource (or whatever the entry holds) for every other."""
    heads: list[_Entry | None]
    try:
        heads = list(_entries_decoder.decode(memoryview(value)).entry or ())
    except (msgspec.ValidationError, msgspec.DecodeError):
        heads = []  # one odd entry: take them one by one
    if len(heads) != len(entries):
        heads = [_one(e) for e in entries]
    out: list[Any] = []
    for raw, head in zip(entries, heads, strict=True):
        resource = head.resource if head is not None else None
        if resource is not None and _deferrable(resource):
            out.append(Deferred(raw, resource))
        else:
            built = build_json(raw)
            out.append(built.get("resource") if isinstance(built, dict) else built)
    return out


def _one(entry: msgspec.Raw) -> _Entry | None:
    try:
        return _entry_decoder.decode(memoryview(entry))
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
