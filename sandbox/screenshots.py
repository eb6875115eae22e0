"""`make screenshots`: the README's pictures, taken in headless Chromium.

- docs/checklist.png: the checklist of a chart with gaps (a Cigna trial whose record leaves
  the psychological evaluation and the opioid-reduction agreement undocumented), whole page;
- docs/documentation-form.png: the same checklist scrolled to its documentation form, with
  the two open questions answered.

The tests never write these files (they are tracked); this script does, on purpose. The
service runs in this process on a free loopback port, the chart comes from the sandbox FHIR
server (node). Needs Debian's chromium and chromium-driver.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATIENT = "cigna-pain-trial-gaps"


def _whole_page(driver, path: Path, width: int = 1280) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(height + 140, 4000))
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    driver.set_window_size(width, 1500)
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)")


def take(out: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from cds_service.app import create_app
    from cds_service.services import Services
    from cds_service.settings import Settings
    from tests.browser import chromium, serve
    from tests.fhir_server import fhir_server

    with ExitStack() as stack:
        fhir = stack.enter_context(fhir_server())
        services = Services.load(Settings(allowed_fhir_servers=fhir, fhir_timeout_seconds=10))
        port = stack.enter_context(serve(create_app(services)))
        driver = stack.enter_context(chromium())
        driver.get(f"http://127.0.0.1:{port}/smart/checklist?iss={fhir}&patient={PATIENT}")
        section = driver.find_element(By.CSS_SELECTOR, 'section[data-policy="cigna-cmm-210"]')
        verdict = section.find_element(By.CSS_SELECTOR, ".determination").text
        if verdict != "Documentation incomplete":
            sys.exit(f"{PATIENT}: expected a chart with gaps, the checklist says {verdict!r}")
        _whole_page(driver, out / "checklist.png")
        form = driver.find_element(By.CSS_SELECTOR, "form.dtr")
        Select(form.find_element(By.NAME, "q:psych-evaluation")).select_by_visible_text("Favorable")
        form.find_element(By.CSS_SELECTOR, 'input[name="q:opioid-reduction-agreed"][value="true"]').click()
        driver.execute_script("arguments[0].scrollIntoView()", form)
        _whole_page(driver, out / "documentation-form.png")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="directory for the PNG files")
    take(parser.parse_args(argv).out.resolve())


if __name__ == "__main__":
    main()
