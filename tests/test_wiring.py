"""How the app is put together: one lifespan that starts each part and tears it down, and every
setting given to the app (factory or dependency override) rather than read from a module cache."""

from __future__ import annotations

import logging
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
import respx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cds_service import __version__
from cds_service.app import create_app
from cds_service.audit.store import store_for
from cds_service.services import Services, get_app_settings, get_services
from cds_service.settings import Settings
from cds_service.smart.config import SmartSettings

from .chart import Chart
from .test_smart_launch import EHR, SMART_CONFIG

SIGN = "/cds-services/idds-order-sign"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Services:
    db = tmp_path_factory.mktemp("wiring") / "audit.sqlite"
    return Services.load(Settings(database_url=f"sqlite:///{db}", allowed_fhir_servers=EHR))


def replacement() -> Chart:
    c = Chart(payer="Cigna Healthcare")
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order("62362")
    return c


# -- one lifespan: start-up and teardown ----------------------------------------------------------


def test_shutdown_stops_the_audit_writer_and_disposes_every_pooled_connection(loaded):
    store = store_for(loaded.settings)
    with TestClient(create_app(loaded)) as c:
        assert c.post(SIGN, json=replacement().request()).status_code == 200
        assert c.get(f"/assessments/{c.get('/policies').json()[0]['id']}").status_code == 404
        assert store.writing and store.engine.pool.checkedin() > 0  # the call's record, the shared state
    assert not store.writing
    assert store._kept.conn is None  # the writer's kept connection given back before the disposal
    assert store.engine.pool.checkedin() == 0  # the audit trail's and the shared state's one engine


def test_a_closed_store_opens_again_for_the_next_start(loaded):
    for _ in range(2):
        with TestClient(create_app(loaded)) as c:
            assert c.post(SIGN, json=replacement().request()).status_code == 200
    assert store_for(loaded.settings).count() >= 2


def test_start_up_runs_each_part_in_order_and_a_failing_part_leaves_nothing_open(loaded, tmp_path):
    """Authentication's check comes first: with it refusing, the audit store is never opened."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'never.sqlite'}",
        require_auth=True,
        trusted_issuers_file=str(tmp_path / "absent.yaml"),
        public_base_url="https://cds.example.test",
    )
    app = create_app(replace(loaded, settings=settings))
    with pytest.raises(FileNotFoundError), TestClient(app):
        pass
    assert not (tmp_path / "never.sqlite").exists()
    assert getattr(app.state, "verifier", None) is None and getattr(app.state, "audit", None) is None


def test_the_app_says_which_version_it_runs_in_openapi_and_metrics(loaded):
    with TestClient(create_app(loaded)) as c:
        assert c.get("/openapi.json").json()["info"]["version"] == __version__
        families = {f.name: f for f in text_string_to_metric_families(c.get("/metrics").text)}
    (sample,) = families["idds_build_info"].samples
    assert sample.labels == {"version": __version__} and sample.value == 1


# -- settings come from the app ---------------------------------------------------------------------


def test_the_factory_takes_settings_and_loads_its_services_with_them(tmp_path, caplog):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'own.sqlite'}", frame_ancestors="https://ehr.example.org"
    )
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with TestClient(create_app(settings=settings)) as c:
        assert c.app.state.services.settings is settings
        assert (
            "frame-ancestors https://ehr.example.org" in c.get("/healthz").headers["content-security-policy"]
        )
        assert c.post(SIGN, json=replacement().request()).status_code == 200
    assert store_for(settings).count() == 1  # recorded in the database these settings name
    assert (root.handlers, root.level) == (handlers, level)  # the process's logging left alone


def test_a_dependency_override_of_the_settings_reaches_the_caller_check(loaded):
    """Authentication on by override alone: discovery refuses a caller without a token."""
    app = create_app(loaded)
    strict = loaded.settings.model_copy(
        update={"require_auth": True, "public_base_url": "https://cds.example.test"}
    )
    with TestClient(app) as c:
        assert c.get("/cds-services").status_code == 200
        app.dependency_overrides[get_app_settings] = lambda: strict
        r = c.get("/cds-services")
    assert r.status_code == 401 and r.text == ""


def test_a_dependency_override_of_the_services_reaches_every_route(loaded):
    class OnePolicy:
        def __init__(self, store):
            self.only = next(iter(store.all()))

        def all(self):
            return [self.only]

    app = create_app(loaded)
    app.dependency_overrides[get_services] = lambda: replace(loaded, store=OnePolicy(loaded.store))
    with TestClient(app) as c:
        assert len(c.get("/policies").json()) == 1
        assert len(c.get("/cds-services").json()["services"]) == 2


def test_the_smart_settings_are_the_apps_own(loaded):
    """Two apps in one process, two SMART configurations: nothing cached at module level."""
    mine = replace(loaded, smart=SmartSettings(client_id="hospital-a", scope="launch patient/*.read"))
    other = replace(loaded, smart=SmartSettings(client_id="hospital-b"))
    queries = []
    for services in (mine, other):
        with TestClient(create_app(services)) as c, respx.mock(assert_all_called=False) as mock:
            mock.get(f"{EHR}/.well-known/smart-configuration").respond(200, json=SMART_CONFIG)
            r = c.get("/smart/launch", params={"launch": "l-1", "iss": EHR}, follow_redirects=False)
        assert r.status_code == 302
        queries.append(parse_qs(urlsplit(r.headers["location"]).query))
    assert [q["client_id"] for q in queries] == [["hospital-a"], ["hospital-b"]]
    assert queries[0]["scope"] == ["launch patient/*.read"]


def test_a_route_on_an_app_never_started_and_given_nothing_is_an_error_not_a_guess():
    from cds_service.services import NotStarted

    with pytest.raises(NotStarted):
        TestClient(create_app()).get("/policies")
