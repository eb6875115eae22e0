"""Operations endpoints: /healthz, /readyz, /metrics (Prometheus text from prometheus-client)."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cds_service.app import create_app
from cds_service.metrics import fhir_error_kind
from cds_service.services import Services
from cds_service.settings import Settings

from .chart import Chart
from .helpers import free_port

SIGN = "/cds-services/idds-order-sign"
EHR = "https://ehr.example.org/fhir"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Services:
    db = tmp_path_factory.mktemp("ops") / "audit.sqlite"
    return Services.load(Settings(database_url=f"sqlite:///{db}", allowed_fhir_servers=EHR))


def replacement() -> Chart:
    c = Chart(payer="Cigna Healthcare")
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order("62362")
    return c


def sample(client: TestClient, name: str, **labels: str) -> float:
    """The value of one sample in /metrics (0 when absent)."""
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def test_healthz_answers_while_the_process_lives(loaded):
    with TestClient(create_app(loaded)) as c:
        assert c.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_ready_with_policies_loaded_and_the_database_reachable(loaded):
    with TestClient(create_app(loaded)) as c:
        r = c.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready" and r.json()["policies"] > 0


@pytest.mark.slow  # waits out the readiness timeout
def test_readyz_is_503_when_the_database_cannot_be_reached(loaded):
    down = f"postgresql://idds:idds@127.0.0.1:{free_port()}/nowhere"
    services = replace(loaded, settings=loaded.settings.model_copy(update={"database_url": down}))
    client = TestClient(create_app(services))  # no lifespan: start-up would (rightly) fail on this database
    r = client.get("/readyz")
    assert r.status_code == 503
    (problem,) = r.json()["problems"]
    assert problem.startswith("database not reachable (")  # refused, or not within readiness_timeout_seconds
    assert client.get("/healthz").status_code == 200  # alive all the same: a restart would not help


def test_readyz_is_503_without_policies(loaded):
    class NoPolicies:
        def all(self):
            return []

    with TestClient(create_app(replace(loaded, store=NoPolicies()))) as c:
        r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["problems"] == ["policies not loaded"]


def test_metrics_count_hook_calls_by_service_and_status_with_their_latency(loaded):
    with TestClient(create_app(loaded)) as c:
        ok = dict(service="idds-order-sign", status="200")
        before = sample(c, "idds_hook_calls_total", **ok)
        latency = sample(c, "idds_hook_duration_seconds_count", service="idds-order-sign")
        unknown = sample(c, "idds_hook_calls_total", service="unknown", status="404")
        bad = sample(c, "idds_hook_calls_total", service="idds-order-sign", status="400")
        assert c.post(SIGN, json=replacement().request()).status_code == 200
        assert c.post("/cds-services/no-such-service", json={}).status_code == 404
        assert c.post(SIGN, content=b"not json").status_code == 400
        assert sample(c, "idds_hook_calls_total", **ok) == before + 1
        assert sample(c, "idds_hook_duration_seconds_count", service="idds-order-sign") == latency + 2
        assert (
            sample(c, "idds_hook_calls_total", service="unknown", status="404") == unknown + 1
        )  # no label from the path
        assert sample(c, "idds_hook_calls_total", service="idds-order-sign", status="400") == bad + 1


def test_metrics_count_determinations_by_policy_and_phase_and_time_the_audit_write(loaded):
    with TestClient(create_app(loaded)) as c:
        labels = dict(policy="cigna-cmm-210", phase="replacement", determination="criteria-met")
        before = sample(c, "idds_determinations_total", **labels)
        writes = sample(c, "idds_audit_write_seconds_count", kind="hook-call")
        card = c.post(SIGN, json=replacement().request()).json()["cards"][0]
        assert card["extension"]["idds-cds.assessment"]["determination"] == "criteria-met"
        assert sample(c, "idds_determinations_total", **labels) == before + 1
        assert sample(c, "idds_audit_write_seconds_count", kind="hook-call") == writes + 1


def test_metrics_count_fhir_fetch_errors_by_kind(loaded):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    services = replace(loaded, fhir_transport=httpx.MockTransport(refuse))
    chart = replacement()
    body = chart.request(omit=tuple(chart.resources), fhir_server=EHR)
    with TestClient(create_app(services)) as c:
        before = sample(c, "idds_fhir_fetch_errors_total", kind="unreachable")
        assert c.post(SIGN, json=body).status_code == 200
        assert sample(c, "idds_fhir_fetch_errors_total", kind="unreachable") > before
        assert "secret-token-xyz" not in c.get("/metrics").text


@pytest.mark.parametrize(
    "reason,kind",
    [
        ("the FHIR server did not answer within the 5-second deadline", "deadline"),
        ("the FHIR server did not answer in time", "timeout"),
        ("the FHIR server's answer was larger than 8,000,000 bytes", "too-large"),
        ("the FHIR server could not be reached (ConnectError)", "unreachable"),
        ("the FHIR server answered 403", "status"),
        ("the FHIR server answered with malformed JSON", "malformed"),
        ("the FHIR server reported 9 matches but sent 3", "incomplete"),
        ("the server's paging links loop", "paging"),
    ],
)
def test_a_fhir_fetch_reason_is_one_of_a_few_kinds(reason, kind):
    assert fhir_error_kind(reason) == kind
