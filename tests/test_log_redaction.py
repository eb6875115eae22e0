"""The access log never carries a query string (SMART codes, states, launch tokens)."""

import logging

from cds_service.log_redaction import DropQueryStrings


def test_access_log_line_keeps_the_path_and_drops_the_query():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/smart/callback?code=SECRET-CODE&state=abc", "1.1", 302),
        None,
    )
    DropQueryStrings().filter(record)
    line = record.getMessage()
    assert "SECRET-CODE" not in line and "/smart/callback" in line and "302" in line


def test_lines_without_a_query_are_untouched():
    args = ("127.0.0.1:5000", "POST", "/cds-services/idds-order-sign", "1.1", 200)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    DropQueryStrings().filter(record)
    assert record.args == args
