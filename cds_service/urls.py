"""What the service accepts as a FHIR server URL, a resource id and a bearer token.

The EHR's access token goes wherever these URLs point, so the allow-list is
checked on normalised URLs compared segment by segment, never on raw string
prefixes: `https://ehr/fhir/../admin` starts with `https://ehr/fhir/` but a
server (or httpx) resolves it to `https://ehr/admin`. Refused outright, rather
than normalised and let through:

- anything but printable ASCII (control characters, spaces, non-ASCII): httpx
  cannot send it, and the service would answer 500;
- `.` / `..` path segments, also percent-encoded (`%2e%2e`), an encoded slash
  (`%2f`) or a backslash: a server may resolve any of them;
- user-info (`user:pass@`), a fragment, a non-http(s) scheme, no host.

Resource ids go into URLs percent-quoted, and must be FHIR ids
([A-Za-z0-9-.]{1,64}) that are not made of dots alone.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_DEFAULT_PORT = {"http": 80, "https": 443}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class UnsafeUrl(ValueError):
    """A URL the service will not send a request (or a token) to; the message says why."""


def _segments_safe(path: str) -> bool:
    for raw in path.split("/"):
        seg = unquote(raw)
        if seg in (".", "..") or "/" in seg or "\\" in seg or raw != raw.strip():
            return False
    return True


def normalise(url: object, *, query: bool = False) -> str:
    """scheme://host[:port]/path[?query] in one canonical spelling (lower-case scheme and host,
    default port dropped, no trailing slash), or UnsafeUrl."""
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("no URL")
    if len(url) > 4096 or not _PRINTABLE.match(url):
        raise UnsafeUrl("the URL holds spaces, control or non-ASCII characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise UnsafeUrl("the URL cannot be parsed") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORT:
        raise UnsafeUrl("the URL is not http or https")
    if not host:
        raise UnsafeUrl("the URL names no host")
    if "@" in parts.netloc:
        raise UnsafeUrl("the URL carries user credentials")
    if parts.fragment or url.endswith("#"):
        raise UnsafeUrl("the URL has a fragment")
    if (parts.query or url.endswith("?")) and not query:
        raise UnsafeUrl("the URL has a query")
    if "\\" in url or not _segments_safe(parts.path):
        raise UnsafeUrl("the URL has '.' or '..' path segments (or an encoded slash or backslash)")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORT[scheme]:
        netloc += f":{port}"
    path = parts.path.rstrip("/")
    out = f"{scheme}://{netloc}{path}"
    return out + (f"?{parts.query}" if parts.query else "")


def within(url: str, base: str) -> bool:
    """`url` (normalised) is `base` (normalised) or below it, segment by segment."""
    target = url.split("?", 1)[0]
    return target == base or target.startswith(base + "/")


def is_loopback(url: str) -> bool:
    try:
        return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS
    except ValueError:
        return False


def is_https(url: str) -> bool:
    return isinstance(url, str) and url[:8].lower() == "https://"


def fhir_id_ok(value: object) -> bool:
    return isinstance(value, str) and bool(_FHIR_ID.match(value)) and value.strip(".") != ""


def quote_id(value: str) -> str:
    """A resource id for a URL path or a query value: every reserved character quoted."""
    return quote(value, safe="")


def bearer_token_ok(token: object) -> bool:
    """Sendable in an Authorization header: printable ASCII, no spaces (RFC 6750 b64token or wider)."""
    return isinstance(token, str) and 0 < len(token) <= 16_384 and bool(_PRINTABLE.match(token))
