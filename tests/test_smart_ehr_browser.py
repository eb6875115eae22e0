"""The checklist launched the way EHRs launch it, in headless Chromium (issue 15):

- the CDS Hooks sandbox on an open FHIR server (no SMART configuration): the card's smart
  link, with the parameters the sandbox appends, opens the checklist read-only;
- a SMART EHR that shows the app in an iframe on another site (the EHR on 127.0.0.1, the
  service on localhost: two sites to the browser), where browsers drop third-party
  `SameSite=Lax` cookies: the launch completes and the checklist shows inside the frame;
- two launches in two tabs of one browser: each tab stays on its own patient.

The EHR (its page, SMART configuration, authorize and token endpoints, FHIR reads) is a
small Starlette app; it and the service run under uvicorn in this process on free loopback
ports. Skipped only when /usr/bin/chromium is absent.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings

from .browser import CHROMIUM, chromium, serve
from .test_smart_launch import gaps_chart
from .test_smart_sessions import NAMES, TwoPatientEhr

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def fake_ehr(base: dict[str, str]) -> Starlette:
    """An EHR on 127.0.0.1: `/ehr?patient=…` frames the app; `/fhir` is SMART-enabled,
    `/open` is an open FHIR server without a SMART configuration."""
    charts = TwoPatientEhr()

    async def page(request: Request) -> Response:
        pid = request.query_params["patient"]
        launch = base["service"] + "/smart/launch?" + urlencode({"iss": base["ehr"] + "/fhir", "launch": pid})
        return HTMLResponse(
            f"<!doctype html><title>EHR</title><h1>EHR chart of {pid}</h1>"
            f'<iframe id="app" src="{launch}" width="1200" height="900"></iframe>'
        )

    async def configuration(request: Request) -> Response:
        return JSONResponse(
            {
                "authorization_endpoint": base["ehr"] + "/authorize",
                "token_endpoint": base["ehr"] + "/token",
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def authorize(request: Request) -> Response:
        q = request.query_params
        back = q["redirect_uri"] + "?" + urlencode({"code": f"code-{q['launch']}", "state": q["state"]})
        return RedirectResponse(back, status_code=302)

    async def token(request: Request) -> Response:
        answer = charts.token(httpx.Request("POST", str(request.url), content=await request.body()))
        return Response(answer.content, answer.status_code, media_type="application/json")

    async def fhir(request: Request) -> Response:
        answer = charts.fhir(httpx.Request("GET", str(request.url)))
        return Response(answer.content, answer.status_code, media_type="application/fhir+json")

    return Starlette(
        routes=[
            Route("/ehr", page),
            Route("/fhir/.well-known/smart-configuration", configuration),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
            Route("/fhir/{rest:path}", fhir),
            Route("/open/{rest:path}", lambda r: Response(status_code=404)),
            Route("/", lambda r: Response("ok")),
        ]
    )


@pytest.fixture(scope="module")
def site():
    base: dict[str, str] = {}
    with ExitStack() as stack:
        ehr_port = stack.enter_context(serve(fake_ehr(base)))
        base["ehr"] = f"http://127.0.0.1:{ehr_port}"
        services = Services.load(
            Settings(
                allowed_fhir_servers=f"{base['ehr']}/fhir,{base['ehr']}/open",
                fhir_timeout_seconds=5,
                secure_cookies=True,  # as behind TLS; Chromium treats http://localhost as secure
                frame_ancestors=base["ehr"],
            )
        )
        port = stack.enter_context(serve(create_app(services)))
        base["service"] = f"http://localhost:{port}"  # another site than the EHR's 127.0.0.1
        yield base


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def smart_link(site) -> str:
    body = requests.post(
        f"{site['service']}/cds-services/idds-order-select",
        json=gaps_chart().request(hook="order-select"),
        timeout=30,
    ).json()
    return next(link["url"] for link in body["cards"][0]["links"] if link["type"] == "smart")


def wait_for(browser, css: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, 30).until(lambda b: b.find_element(By.CSS_SELECTOR, css))


def test_the_cds_hooks_sandbox_on_an_open_server_opens_the_checklist(site, browser):
    """The sandbox (open FHIR server) appends fhirServiceUrl, patientId and
    smart_messaging_origin to the link and opens it in a new tab."""
    link = smart_link(site)
    browser.get(
        link
        + "&"
        + urlencode(
            {
                "fhirServiceUrl": site["ehr"] + "/open",
                "patientId": "pat-9",
                "smart_messaging_origin": site["ehr"],
            }
        )
    )
    verdict = wait_for(browser, "section.assessment .determination")
    assert verdict.text == "Documentation incomplete"
    assert "/smart/checklist?assessment=" in browser.current_url
    assert "the chart is not read again here" in browser.page_source


def test_a_launch_against_a_fhir_server_without_smart_configuration_opens_the_checklist(site, browser):
    """A secured sandbox whose FHIR server publishes no SMART configuration: launch and iss."""
    browser.get(smart_link(site) + "&" + urlencode({"launch": "l-1", "iss": site["ehr"] + "/open"}))
    assert wait_for(browser, "section.assessment .determination").text == "Documentation incomplete"


def test_a_launch_inside_a_cross_site_ehr_frame_shows_the_checklist(site, browser):
    from selenium.webdriver.common.by import By

    browser.get(f"{site['ehr']}/ehr?patient=pat-9")
    browser.switch_to.frame(browser.find_element(By.ID, "app"))
    try:
        verdict = wait_for(browser, "section.assessment .determination")
        assert verdict.text == "Documentation incomplete"
        assert NAMES["pat-9"] in browser.find_element(By.CSS_SELECTOR, ".who").text
        assert browser.execute_script("return window.location.host").startswith("localhost:")
    finally:
        browser.switch_to.default_content()


def test_two_launches_in_two_tabs_each_stay_on_their_own_patient(site, browser):
    from selenium.webdriver.common.by import By

    first = browser.current_window_handle
    tabs = {}
    for pid in ("pat-9", "pat-7"):
        if tabs:
            browser.switch_to.new_window("tab")
        browser.get(f"{site['ehr']}/ehr?patient={pid}")
        browser.switch_to.frame(browser.find_element(By.ID, "app"))
        wait_for(browser, "section.assessment")
        tabs[pid] = browser.current_window_handle
        browser.switch_to.default_content()
    # Back to the first tab after the second launch: reload its checklist, follow its summary link.
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    browser.switch_to.window(tabs["pat-9"])
    browser.switch_to.frame(browser.find_element(By.ID, "app"))
    old = browser.find_element(By.CSS_SELECTOR, "section.assessment")
    browser.execute_script("window.location.reload()")  # the frame's own checklist URL
    WebDriverWait(browser, 30).until(EC.staleness_of(old))
    wait_for(browser, "section.assessment")
    assert NAMES["pat-9"] in browser.find_element(By.CSS_SELECTOR, ".who").text
    browser.find_element(By.LINK_TEXT, "Documentation summary for prior authorization").click()
    who = wait_for(browser, ".who").text
    assert NAMES["pat-9"] in who and NAMES["pat-7"] not in who
    browser.switch_to.window(tabs["pat-7"])
    browser.switch_to.frame(browser.find_element(By.ID, "app"))
    assert NAMES["pat-7"] in browser.find_element(By.CSS_SELECTOR, ".who").text
    browser.switch_to.default_content()
    browser.close()
    browser.switch_to.window(first)
