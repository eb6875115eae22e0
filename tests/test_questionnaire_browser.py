"""The documentation form in headless Chromium, against the sandbox FHIR server: a
clinician opens the checklist of a documentation-incomplete trial, fills the open
questions, saves; the page comes back re-assessed: criteria met. (The README's picture of
the form comes from `make screenshots`; the tests write no tracked file.) Skipped when
Debian chromium or node is absent.

The service runs in this process (uvicorn in a thread) so the form's clock can be set to
the sandbox's fixed dates: an answer authored after the date of service is, like any
later Observation, not documentation for it.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from cds_service.app import create_app
from cds_service.questionnaire import form
from cds_service.services import Services
from cds_service.settings import Settings

from .browser import CHROMIUM, chromium, serve
from .fhir_server import SERVER_DIR, fhir_server

PID = "cigna-pain-trial-gaps"

pytestmark = [
    pytest.mark.slow,  # a headless browser, the service and the sandbox FHIR server in their own processes
    pytest.mark.skipif(
        not Path(CHROMIUM).exists()
        or shutil.which("node") is None
        or not (SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir(),
        reason="Debian chromium or the sandbox FHIR server (node) is not available",
    ),
]


@pytest.fixture(scope="module")
def site():
    with fhir_server() as fhir:
        # The limits on the service's FHIR reads are the highest the settings allow: under a
        # loaded machine the sandbox server may answer slower than the 5 s a hook call gets by
        # default, and a read cut short would change the determination this test reads. The
        # page waits for the answers, no longer than they take (the deadline is tested elsewhere).
        settings = Settings(allowed_fhir_servers=fhir, fhir_timeout_seconds=60, fhir_deadline_seconds=60)
        with serve(create_app(Services.load(settings))) as port:
            yield f"http://127.0.0.1:{port}", fhir


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def test_a_clinician_completes_the_documentation_and_sees_criteria_met(site, browser, monkeypatch):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait

    service, fhir = site
    monkeypatch.setattr(form, "clock", lambda: datetime(2026, 9, 12, 10, tzinfo=UTC))
    browser.get(f"{service}/smart/checklist?iss={fhir}&patient={PID}")
    cigna = browser.find_element(By.CSS_SELECTOR, 'section[data-policy="cigna-cmm-210"]')
    assert cigna.find_element(By.CSS_SELECTOR, ".determination").text == "Documentation incomplete"
    dtr = browser.find_element(By.CSS_SELECTOR, "form.dtr")
    assert "Complete the documentation (2 open questions)" in dtr.text
    Select(dtr.find_element(By.NAME, "q:psych-evaluation")).select_by_visible_text("Favorable")
    # who evaluated (Cigna names the attesting professions): the practice's psychologist
    dtr.find_element(By.NAME, "q:psych-evaluation.performer").send_keys(
        "PractitionerRole/cigna-pain-trial-gaps-pr-psychologist"
    )
    dtr.find_element(By.CSS_SELECTOR, 'input[name="q:opioid-reduction-agreed"][value="true"]').click()
    dtr.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
    # The answer is a new page: wait for the old one to go, then for the new one to have loaded
    # whole (a slow response arrives in parts: a section can be there before its verdict, or
    # before the form that must be gone), and only then read it.
    WebDriverWait(browser, 120).until(EC.staleness_of(cigna))
    WebDriverWait(browser, 120).until(lambda b: b.execute_script("return document.readyState") == "complete")
    cigna = browser.find_element(By.CSS_SELECTOR, 'section[data-policy="cigna-cmm-210"]')
    assert cigna.find_element(By.CSS_SELECTOR, ".determination").text == "Criteria met"
    assert not browser.find_elements(By.CSS_SELECTOR, "form.dtr")
    saved = requests.get(f"{fhir}/QuestionnaireResponse", params={"patient": PID}, timeout=60).json()
    assert [e["resource"]["status"] for e in saved["entry"]] == ["completed"]
