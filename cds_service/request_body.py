"""A request body read within a limit, and parsed as JSON, for the routes that read their own.

The hook and feedback routes take the body as bytes rather than as a FastAPI
model: read as it comes and stopped at the limit (a chunked body, with no
Content-Length, is never held whole), then parsed once by orjson. Each
refusal is the OperationOutcome the route returns as it is.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse

from .errors import operation_outcome


def _too_large(limit: int) -> JSONResponse:
    # Built only for a refusal: a response rendered for every call and thrown away cost each
    # hook call about 10 µs.
    return operation_outcome(413, f"request body larger than {limit} bytes", "too-costly")


async def read_body(request: Request, limit: int) -> bytes | JSONResponse:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        return _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    """The parsed body, or the 400 saying why it is not JSON (a JSONResponse)."""
    try:
        return orjson.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return operation_outcome(400, f"request body is not valid JSON: {exc}")


async def json_body(request: Request, limit: int) -> Any:
    raw = await read_body(request, limit)
    return raw if isinstance(raw, JSONResponse) else parse_json(raw)
