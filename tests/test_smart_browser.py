"""The checklist as a clinician sees it, in headless Chromium (Debian's chromium and
chromium-driver, driven by selenium through /usr/bin/chromedriver: no downloaded browser,
no selenium-manager). The README's screenshots come from `make screenshots`
(sandbox/screenshots.py); the tests write no tracked file.

The service runs under uvicorn on a free loopback port; the chart comes from the sandbox
FHIR server when node is there, else (no node) from the assessment the hook call made.
Skipped only when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from sandbox import fire

from .browser import CHROMIUM, chromium
from .fhir_server import SERVER_DIR, fhir_server
from .helpers import free_port

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,  # a headless browser and the service in its own process
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


def _live_chart_possible() -> bool:
    return (
        shutil.which("node") is not None
        and (SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir()
    )


@pytest.fixture(scope="module")
def site():
    """(service URL, FHIR server URL or None)."""
    with ExitStack() as stack:
        fhir = stack.enter_context(fhir_server()) if _live_chart_possible() else None
        port = free_port()
        env = {**os.environ, "IDDS_ALLOWED_FHIR_SERVERS": fhir or ""}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "cds_service.app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(lambda: (proc.terminate(), proc.wait(timeout=10)))
        url = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                requests.get(f"{url}/cds-services", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url, fhir


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def checklist_urls(site, pid: str) -> list[str]:
    """The live checklist (one page, every policy) or, without node, one page per card."""
    service, fhir = site
    if fhir:
        return [f"{service}/smart/checklist?iss={fhir}&patient={pid}"]
    entry = fire.load_expected()[pid]
    with requests.Session() as s:
        _, body, _ = fire.fire(s, service, fire.load_bundle(pid), entry["hook"])
    # A card's uuid is its assessment's id; a comparison card's opens every policy it compared.
    return [f"{service}/smart/checklist?assessment={c['uuid']}" for c in body["cards"]]


def checklist_url(site, pid: str) -> str:
    (url,) = checklist_urls(site, pid)
    return url


def sections(driver):
    from selenium.webdriver.common.by import By

    return {
        s.get_attribute("data-policy"): s for s in driver.find_elements(By.CSS_SELECTOR, "section.assessment")
    }


def test_a_not_met_trial_relief_reads_at_a_glance_and_the_filter_hides_what_is_met(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(checklist_url(site, "cigna-pain-permanent-relief-50"))
    cigna = sections(browser)["cigna-cmm-210"]
    assert cigna.find_element(By.CSS_SELECTOR, ".determination").text == "Criteria not met"
    assert "Still missing or not met (1)" in cigna.find_element(By.CSS_SELECTOR, ".todo").text
    relief = cigna.find_element(
        By.CSS_SELECTOR, '[data-criterion="cigna-2026-08-nonmalignant-permanent-relief-over-50-for-8h"]'
    )
    assert relief.find_element(By.CSS_SELECTOR, ".badge").text == "\u2716 Not met"  # an icon and a word
    assert "more than 50 % pain relief" in relief.find_element(By.CSS_SELECTOR, ".text").text
    assert (
        relief.find_element(By.CSS_SELECTOR, "blockquote").text
        == "documented pain relief of >50% for eight (8) hours"
    )
    assert "at least 50 %" in relief.find_element(By.CSS_SELECTOR, ".note").text
    met_rows = [r for r in cigna.find_elements(By.CSS_SELECTOR, 'li.crit[data-status="met"]')]
    assert met_rows and all(r.is_displayed() for r in met_rows)

    # The filter is a labelled native checkbox: reachable and operable from the keyboard.
    box = browser.find_element(By.ID, "missing-only")
    assert (
        browser.find_element(By.CSS_SELECTOR, 'label[for="missing-only"]').text
        == "Show only what is still missing"
    )
    box.send_keys(Keys.SPACE)
    assert box.is_selected()
    assert not any(r.is_displayed() for r in met_rows)
    assert relief.is_displayed()
    assert "missing=1" in browser.current_url
    assert browser.find_element(By.ID, "filter-status").text == "Showing only what is still missing."
    box.send_keys(Keys.SPACE)
    assert all(r.is_displayed() for r in met_rows)


def test_a_comparison_across_payers_shows_each_policys_verdict(site, browser):
    from selenium.webdriver.common.by import By

    verdicts, nia_page = {}, None
    for url in checklist_urls(site, "replacement-battery-near-end"):
        browser.get(url)
        found = sections(browser)
        verdicts.update({k: s.find_element(By.CSS_SELECTOR, ".determination").text for k, s in found.items()})
        nia_page = url if "nia-cg-310" in found else nia_page
    assert verdicts == {
        "cigna-cmm-210": "Criteria met",
        "nia-cg-310": "Criteria not met",
        "oxford-pharmacy-339": "Policy does not apply",
        "molina-mcp-160": "Policy does not apply",
    }
    browser.get(nia_page)
    nia = sections(browser)["nia-cg-310"]
    depleted = nia.find_element(By.CSS_SELECTOR, '[data-criterion="nia-310-replacement-battery-depleted"]')
    assert depleted.find_element(By.CSS_SELECTOR, "blockquote").text == "Battery depletion"
    assert "battery nearing its end" in depleted.find_element(By.CSS_SELECTOR, ".note").text
    assert "pump replacement" in nia.find_element(By.CSS_SELECTOR, ".order").text
    # Met rows keep their sentence one keypress away; the policy link lands on the criterion.
    link = nia.find_element(
        By.CSS_SELECTOR, '[data-criterion="nia-310-contraindication-no-active-infection"] details a'
    )
    assert link.get_attribute("href").endswith(
        "/policies/nia-cg-310/2023-01#nia-310-contraindication-no-active-infection"
    )


def test_the_documentation_summary_is_printable(site, browser):
    from selenium.webdriver.common.by import By

    browser.get(checklist_url(site, "nia-pain-permanent-gaps"))
    browser.find_element(By.LINK_TEXT, "Documentation summary for prior authorization").click()
    assert "/smart/summary" in browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Documentation summary")
    todo = browser.find_element(
        By.XPATH, "//h3[.='Still to document or resolve before submitting']/following-sibling::ul"
    )
    assert "Body habitus" in todo.text
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
    assert len(rows) >= 10


def test_an_opiate_naive_trial_quotes_the_policys_note(site, browser):
    from selenium.webdriver.common.by import By

    browser.get(checklist_url(site, "nia-pain-trial-opiate-naive"))
    nia = sections(browser)["nia-cg-310"]
    assert nia.find_element(By.CSS_SELECTOR, ".determination").text == "Criteria not met"
    naive = nia.find_element(By.CSS_SELECTOR, '[data-criterion="nia-310-pain-trial-not-opiate-naive"]')
    assert (
        naive.find_element(By.CSS_SELECTOR, "blockquote").text
        == "NOTE: Intrathecal trials are not indicated in opiate-na\u00efve individuals."
    )
