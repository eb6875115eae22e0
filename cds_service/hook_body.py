"""A hook request body, built only as far as the call needs it.

msgspec splits the top level of the body into the fields the service reads,
each kept as its bytes (every byte is still checked to be JSON; unknown fields
are skipped unbuilt), and orjson builds the small ones (hook, hookInstance,
context with its draft orders, …). Each `prefetch` value is kept as its bytes
too (`Prefetched`), with its resourceType and its entries' bytes: enough for
the audit trail's summary (how many entries each key holds) and for the order
no policy concerns, which is answered from that alone: the chart is never
built, validated or fetched.

Orders that are assessed take the chart from the same bytes: prefetch.py
builds each value's resources (an Observation is held as its bytes until a
fact reads it, deferred.py), so the body is never parsed whole. Whatever the
scan cannot take as it is (a body that is not an object, a prefetch value that
is not an object, bytes that are not UTF-8) gives None, and the route parses
the whole body as it always did, so its 400s are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

_UNSET = msgspec.UNSET
# The top-level fields HookRequest and the audit summary read; the rest is skipped.
_FIELDS = ("hook", "hookInstance", "fhirServer", "fhirAuthorization", "context", "extension")


class _Shape(msgspec.Struct):
    """A prefetch value as the audit summary sees it: its type and how many entries (left unbuilt)."""

    resourceType: Any = None
    entry: list[msgspec.Raw] | None = None


class _Top(msgspec.Struct):
    hook: msgspec.Raw | msgspec.UnsetType = _UNSET
    hookInstance: msgspec.Raw | msgspec.UnsetType = _UNSET
    fhirServer: msgspec.Raw | msgspec.UnsetType = _UNSET
    fhirAuthorization: msgspec.Raw | msgspec.UnsetType = _UNSET
    context: msgspec.Raw | msgspec.UnsetType = _UNSET
    extension: msgspec.Raw | msgspec.UnsetType = _UNSET
    prefetch: dict[str, _Shape | None] | msgspec.UnsetType | None = _UNSET


class _Values(msgspec.Struct):
    """The body's prefetch values as their bytes, everything else skipped: a second pass, made
    only for a chart that is assessed (the order no policy concerns needs just the shapes)."""

    prefetch: dict[str, msgspec.Raw] | None = None


class Unreadable(ValueError):
    """Bytes the scan accepted but orjson will not build (a number out of range, nesting too
    deep): the whole-body parse would have refused the body as not valid JSON."""


def build_json(raw: msgspec.Raw) -> Any:
    """orjson's build of bytes the scan kept (Unreadable when it refuses them)."""
    try:
        return orjson.loads(memoryview(raw))
    except orjson.JSONDecodeError as exc:
        raise Unreadable(str(exc)) from None


_top = msgspec.json.Decoder(_Top)
_values = msgspec.json.Decoder(_Values)


class _Body:
    """A request's bytes; each prefetch value's own bytes found on first use, for all at once."""

    __slots__ = ("_found", "raw")

    def __init__(self, raw: bytes):
        self.raw = raw
        self._found: dict[str, msgspec.Raw] | None = None

    def value(self, key: str) -> msgspec.Raw:
        if self._found is None:
            self._found = _values.decode(self.raw).prefetch or {}
        return self._found[key]


@dataclass(slots=True, eq=False)
class Prefetched:
    """One prefetch value as sent, unbuilt: its resourceType, for a Bundle its entries' bytes,
    and its own bytes when asked for (`raw`)."""

    key: str
    resource_type: Any
    entries: list[msgspec.Raw] | None
    body: _Body

    @property
    def raw(self) -> msgspec.Raw:
        return self.body.value(self.key)

    def shape(self) -> dict[str, Any]:
        """What the audit summary reads: {resourceType, entry: [unbuilt…]}."""
        out: dict[str, Any] = {"resourceType": self.resource_type}
        if self.entries is not None:
            out["entry"] = self.entries
        return out

    def build(self) -> Any:
        """The value as orjson builds it (a single resource such as the Patient)."""
        return build_json(self.raw)


def for_audit(fields: Any) -> Any:
    """The request with each unbuilt prefetch value as its shape: what the audit trail summarises
    (a whole-body parse, or anything that is not an object, is handed on as it is)."""
    prefetch = fields.get("prefetch") if isinstance(fields, dict) else None
    if not isinstance(prefetch, dict):
        return fields
    shapes = {k: v.shape() if isinstance(v, Prefetched) else v for k, v in prefetch.items()}
    return {**fields, "prefetch": shapes}


def light(raw: bytes) -> dict[str, Any] | None:
    """The request with each prefetch value left unbuilt (`Prefetched`): enough for HookRequest,
    the audit summary (`for_audit`) and the chart (prefetch.py builds what it reads). None when
    the body should be parsed whole the usual way (it then says what is wrong)."""
    if not raw.isascii():
        try:
            raw.decode("utf-8")  # skipped bytes are not otherwise checked for UTF-8
        except UnicodeDecodeError:
            return None
    try:
        top = _top.decode(raw)
        fields = {
            name: orjson.loads(memoryview(value))
            for name in _FIELDS
            if (value := getattr(top, name)) is not _UNSET
        }
        if top.prefetch is not _UNSET:
            body = _Body(raw)
            fields["prefetch"] = (
                None
                if top.prefetch is None
                else {
                    k: None if v is None else Prefetched(k, v.resourceType, v.entry, body)
                    for k, v in top.prefetch.items()
                }
            )
    except (msgspec.ValidationError, msgspec.DecodeError, orjson.JSONDecodeError):
        return None
    return fields
