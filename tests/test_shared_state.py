"""State every worker shares through the database: assessments, SMART launches and sessions, seen jtis.

Run on SQLite always and on PostgreSQL when IDDS_TEST_POSTGRES_URL is set (CI sets it).
The last test starts two real service processes on one database.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from cds_service.audit.store import AuditStore, database_url, store_for
from cds_service.services import Services
from cds_service.settings import Settings
from cds_service.smart.oauth import LaunchError, PendingLaunch, Session, SmartState, browser_binding
from cds_service.state import state_for
from cds_service.state.models import RecentAssessment, SeenJti, SmartSession

from .helpers import free_port
from .shared_db import PG_URL, fresh_database
from .test_audit import everything_stored
from .test_auth import SIGN, bearer, issuers_file, request_body, token

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def db_url(request, tmp_path):
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("IDDS_TEST_POSTGRES_URL not set")
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Services:
    return Services.load(Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('s') / 'a.sqlite'}"))


def services_on(loaded: Services, db_url: str, **update) -> Services:
    from dataclasses import replace

    return replace(loaded, settings=loaded.settings.model_copy(update={"database_url": db_url, **update}))


# -- assessments ------------------------------------------------------------------------------------


def test_an_assessment_remembered_is_recalled_until_its_time_to_live_and_then_purged(loaded, db_url):
    now = [time.time()]
    a = services_on(loaded, db_url, assessment_ttl_seconds=600)
    a.clock = lambda: now[0]
    comparison = {"id": "cmp-1", "assessments": [{"id": "one", "determination": "criteria-met"}]}
    a.remember("cmp-1", comparison)
    assert a.recall("cmp-1") == comparison
    assert a.recall("one") == {
        "id": "one",
        "determination": "criteria-met",
    }  # each policy's detail on its own
    assert a.recall("unknown") is None and a.recall("") is None and a.recall("x" * 500) is None
    now[0] += 599
    assert a.recall("one") is not None
    now[0] += 2
    assert a.recall("cmp-1") is None and a.recall("one") is None  # past its time to live: never read
    a.state.purge(now[0])
    with a.state.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(RecentAssessment)).scalar() == 0


# -- jti replay ---------------------------------------------------------------------------------------


def test_a_jti_is_accepted_once_however_many_threads_race_for_it(db_url):
    state = state_for(Settings(database_url=db_url))
    now = time.time()
    barrier = threading.Barrier(8)

    def race(_):
        barrier.wait()
        return state.first_use(("https://ehr.example.org", "jti-race"), now + 300, now)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(race, range(8)))
    assert results.count(True) == 1
    assert state.first_use(("https://other.example.org", "jti-race"), now + 300, now)  # another issuer's jti


def test_a_jti_past_its_tokens_expiry_is_purged_and_never_kept_as_the_jti_itself(db_url):
    state = state_for(Settings(database_url=db_url))
    now = time.time()
    assert state.first_use(("iss", "secret-jti-value"), now + 10, now)
    assert not state.first_use(("iss", "secret-jti-value"), now + 10, now + 5)
    state.purge(now + 11)
    with state.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SeenJti)).scalar() == 0
    assert state.first_use(("iss", "secret-jti-value"), now + 30, now + 11)  # its token has expired anyway
    store = store_for(Settings(database_url=db_url))
    assert b"secret-jti-value" not in everything_stored(store, db_url)


# -- SMART launches and sessions ------------------------------------------------------------------


def test_a_smart_session_opened_by_one_worker_is_read_by_another_and_its_token_is_not_stored(db_url):
    shared = state_for(Settings(database_url=db_url))
    worker_a, worker_b = SmartState(shared, 600), SmartState(shared, 600)
    launch = PendingLaunch(
        "https://ehr.example.org/fhir",
        "https://ehr.example.org/token",
        "https://cds/smart/callback",
        "pkce-verifier-secret-abc",
        time.time(),
        browser_binding("n" * 43),
    )
    state = worker_a.start(launch)
    with pytest.raises(LaunchError):
        worker_b.finish(state, "m" * 43)  # another browser: refused, and the launch is not burnt
    assert worker_b.finish(state, "n" * 43) == launch
    with pytest.raises(LaunchError):
        worker_a.finish(state, "n" * 43)  # a state is used once, whichever worker sees it again
    sid = worker_b.open_session(
        Session(
            "https://ehr.example.org/fhir",
            "pat-1",
            "access-token-secret-xyz",
            time.time() + 300,
            "assessment=abc",
            "launch patient/*.read",
        )
    )
    found = worker_a.session(sid)
    assert found is not None and found.access_token == "access-token-secret-xyz" and found.patient == "pat-1"
    assert worker_a.session(sid[:-1] + ("A" if sid[-1] != "A" else "B")) is None
    stored = everything_stored(store_for(Settings(database_url=db_url)), db_url)
    for secret in ("access-token-secret-xyz", "pkce-verifier-secret-abc", sid, state):
        assert secret.encode() not in stored


def test_a_smart_session_past_its_expiry_is_gone(db_url):
    now = [time.time()]
    shared = state_for(Settings(database_url=db_url))
    smart = SmartState(shared, 600, clock=lambda: now[0])
    sid = smart.open_session(Session("https://ehr.example.org/fhir", "pat-1", "tok", now[0] + 60))
    assert smart.session(sid) is not None
    now[0] += 61
    assert smart.session(sid) is None
    shared.purge(now[0])
    with shared.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SmartSession)).scalar() == 0


# -- migrations: once, whoever starts first ----------------------------------------------------------


def _migrate(url: str, start: float) -> str:
    while time.time() < start:
        time.sleep(0.001)
    AuditStore(url).migrate()
    return "ok"


@pytest.mark.slow  # four spawned processes
def test_several_workers_starting_at_the_same_moment_migrate_once(db_url):
    url = database_url(Settings(database_url=db_url))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        start = time.time() + 2
        assert pool.starmap(_migrate, [(url, start)] * 4) == ["ok"] * 4
    store = AuditStore(url)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0002"]
    store.close()


# -- two service processes, one database ------------------------------------------------------------


class Service:
    def __init__(self, port: int, env: dict[str, str]):
        self.port, self.env, self.proc = port, env, None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> Service:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "cds_service.app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-proxy-headers",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"service on {self.port} exited: {self.proc.stderr.read().decode()[-2000:]}"
                )
            try:
                if httpx.get(f"{self.url}/policies", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"service on {self.port} did not start")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.communicate(timeout=15)  # waits, and closes the stderr pipe
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


@pytest.mark.slow  # two service processes
def test_two_service_processes_on_one_database_share_card_links_and_refuse_a_replayed_token(db_url, tmp_path):
    port_a, port_b = free_port(), free_port()
    public = f"http://127.0.0.1:{port_a}"  # one address for both, as behind a load balancer
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDDS_")} | {
        "IDDS_DATABASE_URL": db_url,
        "IDDS_REQUIRE_AUTH": "1",
        "IDDS_PUBLIC_BASE_URL": public,
        "IDDS_TRUSTED_ISSUERS_FILE": issuers_file(tmp_path),
    }
    a, b = Service(port_a, env), Service(port_b, env)
    try:
        threading.Thread(target=a.start).start()  # both start (and migrate) at the same moment
        b.start()
        deadline = time.time() + 60
        while a.proc is None or not _up(a):
            assert time.time() < deadline, "service A did not start"
            time.sleep(0.2)
        jwt_token = token(base=public)
        answered = httpx.post(f"{a.url}{SIGN}", json=request_body(), headers=bearer(jwt_token), timeout=30)
        assert answered.status_code == 200
        card = answered.json()["cards"][0]
        card_id = card["uuid"]
        opened = httpx.get(f"{b.url}/assessments/{card_id}", timeout=10)
        assert opened.status_code == 200 and opened.json()["determination"] == "criteria-met"
        checklist = httpx.get(f"{b.url}/smart/checklist", params={"assessment": card_id}, timeout=10)
        assert checklist.status_code == 200 and "Assessment not found" not in checklist.text
        replayed = httpx.post(f"{b.url}{SIGN}", json=request_body(), headers=bearer(jwt_token), timeout=30)
        assert replayed.status_code == 401
        assert (
            httpx.post(
                f"{b.url}{SIGN}", json=request_body(), headers=bearer(token(base=public)), timeout=30
            ).status_code
            == 200
        )  # a fresh token passes on B

        b.stop()
        b.start()  # a restart keeps both
        assert httpx.get(f"{b.url}/assessments/{card_id}", timeout=10).status_code == 200
        assert (
            httpx.post(
                f"{b.url}{SIGN}", json=request_body(), headers=bearer(jwt_token), timeout=30
            ).status_code
            == 401
        )
    finally:
        a.stop()
        b.stop()


def _up(service: Service) -> bool:
    try:
        return httpx.get(f"{service.url}/policies", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_expired_rows_are_purged_by_the_writes_that_follow(db_url):
    from cds_service.state.store import SharedState

    shared = SharedState(store_for(Settings(database_url=db_url)).engine, purge_every=60)
    now = time.time()
    shared.put_assessments({"old": {"id": "old"}}, now + 10, now)
    shared.put_assessments({"new": {"id": "new"}}, now + 1000, now + 30)  # within the minute: no purge yet
    with shared.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(RecentAssessment)).scalar() == 2
    shared.put_assessments({"later": {"id": "later"}}, now + 1000, now + 61)
    with shared.engine.connect() as conn:
        assert sorted(conn.execute(select(RecentAssessment.id)).scalars()) == ["later", "new"]


@pytest.mark.slow  # waits out a database connection that never comes
def test_a_replay_store_that_cannot_be_reached_refuses_the_call(tmp_path):
    from fastapi.testclient import TestClient

    from cds_service.app import create_app

    down = f"postgresql://idds:idds@127.0.0.1:{free_port()}/nowhere"
    base = "https://cds.example-hospital.test"
    services = Services.load(
        Settings(
            database_url=down,
            require_auth=True,
            public_base_url=base,
            trusted_issuers_file=issuers_file(tmp_path),
        )
    )
    client = TestClient(create_app(services))  # no lifespan: start-up would fail on this database
    r = client.post(SIGN, json=request_body(), headers=bearer(token(base=base)))
    assert r.status_code == 401
