"""The checklist's layout in headless Chromium at a desktop (1280 px) and a phone (390 px)
width, on rows of every status (issue 15): a status badge never overlaps its criterion's
title (it did on "Not documented" rows at 1280 px: the word was wider than its column),
and nothing spills sideways off the page. Measured with the elements' client rects."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings
from sandbox import fire

from .browser import CHROMIUM, chromium, serve

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")

# Each shows met, not-met and not-documented rows (a policy met with gaps, one not met).
PATIENTS = ("oxford-pain-permanent-relief-49", "nia-pain-trial-opiate-naive", "cigna-pain-trial-gaps")

ROWS = """
return Array.from(document.querySelectorAll('li.crit')).map(function(li){
  var b = li.querySelector('.badge').getBoundingClientRect(),
      t = li.querySelector('.text').getBoundingClientRect(),
      r = li.getBoundingClientRect();
  return {id: li.dataset.criterion, status: li.dataset.status, badge: [b.left, b.top, b.right, b.bottom],
          text: [t.left, t.top, t.right, t.bottom], row: [r.left, r.top, r.right, r.bottom],
          word: li.querySelector('.badge').textContent};
});
"""


def overlap(a: list[float], b: list[float]) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


@pytest.fixture(scope="module")
def pages():
    with serve(create_app(Services.load(Settings()))) as port:
        base = f"http://127.0.0.1:{port}"
        urls = []
        with requests.Session() as s:
            for pid in PATIENTS:
                _, body, _ = fire.fire(s, base, fire.load_bundle(pid), fire.load_expected()[pid]["hook"])
                urls += [f"{base}/smart/checklist?assessment={c['uuid']}" for c in body["cards"]]
        yield urls


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


@pytest.mark.parametrize("width", [1280, 390])
def test_no_badge_overlaps_its_criterion_title_at_desktop_and_phone_widths(pages, browser, width):
    browser.set_window_size(width, 1200)
    try:
        assert browser.execute_script("return window.innerWidth") <= width
        seen = set()
        for url in pages:
            browser.get(url)
            for row in browser.execute_script(ROWS):
                seen.add(row["status"])
                assert not overlap(row["badge"], row["text"]), (width, row)
                assert row["row"][0] - 1 <= row["badge"][0] and row["badge"][2] <= row["row"][2] + 1, (
                    width,
                    row,
                )
            scroll, inner = browser.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert scroll <= inner, (width, url, scroll, inner)  # nothing off the side of the page
        assert seen == {"met", "not-met", "unknown"}
    finally:
        browser.set_window_size(1280, 1500)


def test_on_a_phone_the_badge_sits_above_the_title(pages, browser):
    browser.set_window_size(390, 1200)
    try:
        browser.get(pages[0])
        for row in browser.execute_script(ROWS):
            assert row["badge"][3] <= row["text"][1] + 1, row
    finally:
        browser.set_window_size(1280, 1500)
