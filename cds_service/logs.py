"""Logging, configured once at start: one handler on the root logger that uvicorn's loggers
share (their own handlers are removed), the level from IDDS_LOG_LEVEL, plain text or one
JSON object per line (IDDS_LOG_FORMAT=json) for log shippers.

Whatever a line says, it passes `scrub` on the way out: bearer tokens, JWTs, access tokens
and codes in query strings are cut, and a `patient=` value is replaced by `[redacted]`
(a line links to the audit trail by its hook instance, never by the patient). The access
log's query strings are dropped before formatting (cds_service/log_redaction.py).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from .log_redaction import DropQueryStrings
from .settings import Settings

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
# Each pattern with the words it cannot match without: (pattern, replacement, words in the
# line lower-cased, words in the line as it is). A line in ASCII with none of a pattern's words
# is not searched by it (most lines need one pattern or none: five searches were about half
# the cost of writing a line, on every hook call); a line with any other character is searched
# by every pattern, as case-insensitive matching there reaches beyond ASCII (ſ for s, K for k).
_SCRUB: tuple[tuple[re.Pattern[str], str, tuple[str, ...], tuple[str, ...]], ...] = (
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [redacted]", ("bearer",), ()),
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
        "[redacted-jwt]",
        (),
        ("eyJ",),
    ),
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|id_token|code|code_verifier|client_secret)=[^&\s\"']+"
        ),
        r"\1=[redacted]",
        ("token=", "code=", "code_verifier=", "secret="),
        (),
    ),
    (
        re.compile(
            r"(?i)(['\"](?:access_token|refresh_token|id_token|code_verifier|patient|patientId)['\"]\s*:\s*['\"])[^'\"]*"
        ),
        r"\1[redacted]",
        ("token", "code_verifier", "patient"),
        (),
    ),
    (
        re.compile(r"\b(patient|patientId)=(?!\[redacted\])[^\s,;&]+"),
        r"\1=[redacted]",
        (),
        ("patient=", "patientId="),
    ),
)


def scrub(text: str) -> str:
    ascii_only = text.isascii()
    lower = text.lower() if ascii_only else ""
    for pattern, replacement, lower_words, words in _SCRUB:
        if ascii_only and not (any(w in lower for w in lower_words) or any(w in text for w in words)):
            continue
        text = pattern.sub(replacement, text)
        if ascii_only:  # the next pattern's words looked for in the line as this one left it
            lower = text.lower()
    return text


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(name)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, process, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "process": record.process,
        }
        if record.exc_info:
            out["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


class _Handler(logging.StreamHandler[TextIO]):
    """The service's one handler (told apart from handlers others installed, e.g. pytest's).
    Without a stream of its own it writes to whatever sys.stderr is at the moment of writing."""

    def __init__(self, stream: TextIO | None = None):
        super().__init__(stream if stream is not None else sys.stderr)
        self._follow_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follow_stderr:
            self.stream = sys.stderr
        super().emit(record)


def formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else TextFormatter()


def configure(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Install (or replace) the one handler; idempotent, and leaves other handlers on the root alone."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    handler = _Handler(stream)
    handler.setFormatter(formatter(settings.log_format))
    handler.addFilter(DropQueryStrings())
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in UVICORN_LOGGERS:  # uvicorn's lines through the same handler, at the same level
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    logging.getLogger("idds").setLevel(logging.NOTSET)
    return handler


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """The same set-up as a dictConfig for uvicorn.run(log_config=…), applied in every worker
    before the app is imported, so uvicorn's own start-up lines are formatted alike."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"queries": {"()": "cds_service.log_redaction.DropQueryStrings"}},
        "formatters": {"idds": {"()": "cds_service.logs.formatter", "kind": settings.log_format}},
        "handlers": {
            "idds": {"()": "cds_service.logs._Handler", "formatter": "idds", "filters": ["queries"]}
        },
        "root": {"level": settings.log_level, "handlers": ["idds"]},
        "loggers": {name: {"handlers": [], "propagate": True, "level": "NOTSET"} for name in UVICORN_LOGGERS},
    }
