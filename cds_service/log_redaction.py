"""Keep secrets out of the server's access log.

The access log prints each request's path with its query string. The SMART
callback carries an authorization code and a state there, and an iss/launch
pair on launch; none belongs in a log. Query strings are dropped from every
access-log line: ids in paths stay, so the log still says what was called.
"""

from __future__ import annotations

import logging


class DropQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?…", *args[3:])
        return True


def install() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
        logger.addFilter(DropQueryStrings())
