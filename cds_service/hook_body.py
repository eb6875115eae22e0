"""A hook request body, built only as far as the call needs it.

msgspec splits the top level of the body into the fields the service reads,
each kept as its bytes (every byte is still checked to be JSON; unknown fields
are skipped unbuilt), and orjson builds the small ones (hook, hookInstance,
context with its draft orders, …). `prefetch` is only scanned, in the same
pass, for the audit trail's summary (how many entries each key holds).

An order no policy concerns is answered from that alone: the chart is never
built, validated or fetched. Orders that are assessed are parsed whole by one
orjson.loads, as before (the scan costs a fifth of that, bench/results.md).
Whatever the scan cannot take as it is (a body that is not an object, a
prefetch value that is not an object, bytes that are not UTF-8) gives None,
and the route parses the whole body as it always did, so its 400s are unchanged.
"""

from __future__ import annotations

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


_top = msgspec.json.Decoder(_Top)


def _shape_dict(shape: _Shape | None) -> dict[str, Any] | None:
    if shape is None:
        return None
    out: dict[str, Any] = {"resourceType": shape.resourceType}
    if shape.entry is not None:
        out["entry"] = shape.entry
    return out


def light(raw: bytes) -> dict[str, Any] | None:
    """The request with each prefetch value reduced to its shape ({resourceType, entry: [unbuilt…]}):
    enough for HookRequest and the audit summary, nothing of the chart. None when the body
    should be parsed whole the usual way (it then says what is wrong)."""
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
    except (msgspec.ValidationError, msgspec.DecodeError, orjson.JSONDecodeError):
        return None
    if top.prefetch is not _UNSET:
        fields["prefetch"] = (
            None if top.prefetch is None else {k: _shape_dict(v) for k, v in top.prefetch.items()}
        )
    return fields
