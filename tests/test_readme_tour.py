"""The README's tour works against a real server: discovery and the hand-built order-select."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from .cds_conformance import check_response
from .helpers import free_port

pytestmark = pytest.mark.slow  # the service in its own process (uvicorn)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def server():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "cds_service.app:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{url}/cds-services", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # waits, and closes the stderr pipe


def test_discovery_over_http(server):
    assert requests.get(f"{server}/cds-services", timeout=5).json()["services"]


def test_hand_built_order_select_round_trips(server):
    body = json.loads((ROOT / "docs" / "example-order-select.json").read_text())
    answer = requests.post(f"{server}/cds-services/idds-order-select", json=body, timeout=10)
    assert answer.status_code == 200
    result = answer.json()
    check_response(result)
    (card,) = result["cards"]
    a = card["extension"]["idds-cds.assessment"]
    assert (a["policy"]["id"], a["order"]["phase"], a["indication"], a["determination"]) == (
        "cigna-cmm-210",
        "replacement",
        "spasticity",
        "criteria-met",
    )
    # order-select with no documentation asked for carries CRD coverage information (hook-19)
    assert result["systemActions"][0]["resource"]["id"] == "pump-1"
