"""Logging: one handler for the service's and uvicorn's lines, level and format from settings, no token or patient id."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cds_service.logs import _Handler, configure, scrub
from cds_service.settings import Settings

from .chart import Chart
from .helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
JWT = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJodHRwczovL2VociJ9.c2lnbmF0dXJlLXZhbHVl"


def _unconfigure() -> None:
    root = logging.getLogger()
    for h in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(h)
    root.setLevel(logging.WARNING)


def test_the_service_and_uvicorn_share_one_handler_in_json_with_nothing_secret():
    buf = io.StringIO()
    try:
        configure(Settings(log_format="json", log_level="INFO"), stream=buf)
        configure(
            Settings(log_format="json", log_level="INFO"), stream=buf
        )  # a second app: still one handler
        assert sum(isinstance(h, _Handler) for h in logging.getLogger().handlers) == 1
        logging.getLogger("idds").info("hook order-sign instance=%s patient=%s", "hi-1", "pat-42")
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            "/smart/callback?code=SECRET-CODE&state=s",
            "1.1",
            302,
        )
        logging.getLogger("idds.smart").info(
            "token response %s", {"access_token": "tok-123", "patient": "pat-42"}
        )
        logging.getLogger("idds.auth").warning("refused: Authorization: Bearer %s", JWT)
        logging.getLogger("idds").debug("below the level")
    finally:
        _unconfigure()
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [l["logger"] for l in lines] == ["idds", "uvicorn.access", "idds.smart", "idds.auth"]
    assert lines[0]["message"] == "hook order-sign instance=hi-1 patient=[redacted]"
    assert "/smart/callback" in lines[1]["message"]
    text = buf.getvalue()
    for secret in ("pat-42", "SECRET-CODE", "tok-123", JWT, JWT.split(".")[2]):
        assert secret not in text


def test_the_level_comes_from_settings_and_text_is_the_default():
    buf = io.StringIO()
    try:
        configure(Settings(log_level="WARNING"), stream=buf)
        logging.getLogger("idds").info("not shown")
        logging.getLogger("uvicorn.error").warning("shown %s", "code=abc")
    finally:
        _unconfigure()
    assert "not shown" not in buf.getvalue()
    assert "WARNING [uvicorn.error] shown code=[redacted]" in buf.getvalue()


def test_scrub_keeps_what_is_not_secret():
    line = "fhir fetch Observation -> 403 (hook instance d1577c69)"
    assert scrub(line) == line


@pytest.mark.parametrize(
    ("line", "scrubbed"),
    [
        (
            "hook order-sign instance=d1 patient=pat-1 orders=1",
            "hook order-sign instance=d1 patient=[redacted] orders=1",
        ),
        ("GET /cb?ACCESS_TOKEN=abc&state=s", "GET /cb?ACCESS_TOKEN=[redacted]&state=s"),
        ("auth: BEARER abc.def", "auth: Bearer [redacted]"),
        ('body {"PatientId": "p-1"}', 'body {"PatientId": "[redacted]"}'),
        # case-insensitive matching reaches beyond ASCII: such a line is searched by every pattern
        ("form client_\u017fecret=abc", "form client_\u017fecret=[redacted]"),
        ("form id_to\u212aen=abc \u00fc", "form id_to\u212aen=[redacted] \u00fc"),
        # what one pattern leaves, the next still sees
        (f"Bearer {JWT} patient=p-2", "Bearer [redacted] patient=[redacted]"),
        (f"token {JWT} code=xyz", "token [redacted-jwt] code=[redacted]"),
    ],
)
def test_scrub_redacts_in_any_case_whichever_patterns_a_line_needs(line, scrubbed):
    assert scrub(line) == scrubbed


@pytest.mark.slow  # the service in its own process
def test_under_idds_cds_serve_every_line_is_json_the_idds_lines_included_without_the_token_or_the_patient(
    tmp_path,
):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDDS_")} | {
        "IDDS_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.sqlite'}",
        "IDDS_LOG_FORMAT": "json",
        "IDDS_ALLOWED_FHIR_SERVERS": "https://ehr.example.org/fhir",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cds_service.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline and proc.poll() is None, "the service did not start"
            time.sleep(0.2)
        c = Chart(patient_id="pat-secret-77")
        c.condition(icd10="G35", display="Multiple sclerosis")
        c.pump("battery-near-end")
        c.order("62362")
        body = c.request(fhir_server="https://ehr.example.org/fhir")  # its token: secret-token-xyz
        assert (
            httpx.post(
                f"http://127.0.0.1:{port}/cds-services/idds-order-sign", json=body, timeout=30
            ).status_code
            == 200
        )
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]  # every line is JSON
    assert any(l["logger"] == "idds" and l["message"].startswith("hook order-sign") for l in lines)
    assert any(
        l["logger"] == "uvicorn.access" and "/cds-services/idds-order-sign" in l["message"] for l in lines
    )
    assert "secret-token-xyz" not in err and "pat-secret-77" not in err
