"""The HTML pages come from Jinja2 templates with autoescape (issue 12): no inline script,
style or event handler anywhere (the CSP allows only the service's /static files), and
a value from a chart or a query string is escaped, never inserted as markup."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.policy_model import STATUS_WORDS, Status
from cds_service.services import Services
from cds_service.settings import Settings
from cds_service.smart.html import View, checklist_page

from .test_questionnaire_form import CA_Q, cancer_chart
from .test_smart_launch import gaps_chart

INLINE = re.compile(r"<style|<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=", re.I)


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Services.load(Settings()))) as c:
        yield c


def _assessment(client, chart) -> str:
    body = client.post("/cds-services/idds-order-select", json=chart.request(hook="order-select")).json()
    return body["cards"][0]["extension"]["idds-cds.assessment"]["id"]


def test_no_page_has_an_inline_script_style_or_event_handler(client):
    aid = _assessment(client, gaps_chart())
    cancer = _assessment(client, cancer_chart(omit=("life",)))
    pages = {
        "checklist": client.get("/smart/checklist", params={"assessment": aid}),
        "with form": client.get("/smart/checklist", params={"assessment": cancer}),
        "summary": client.get("/smart/summary", params={"assessment": aid}),
        "error": client.get("/smart/checklist"),
        "policy": client.get("/policies/cigna-cmm-210/2026-08-04"),
        "form page": client.post(
            "/smart/documentation",
            data={"assessment": cancer, "questionnaire": CA_Q, "q:life-expectancy": "abc"},
        ),
    }
    assert 'form class="dtr"' in pages["with form"].text
    for name, page in pages.items():
        assert "text/html" in page.headers["content-type"], name
        assert not INLINE.search(page.text), (name, INLINE.search(page.text))
        if name != "policy":
            assert '<script src="/static/checklist.js"></script>' in page.text, name
        assert '<link rel="stylesheet" href="/static/checklist.css">' in page.text, name
    js = client.get("/static/checklist.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]


def test_a_value_from_the_chart_or_the_query_is_escaped():
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "name": [{"given": ["<script>x()</script>"], "family": "O'Neil"}],
    }
    page = checklist_page(
        View([], patient, "p1", notes=["<b>note</b>"], params={"iss": '"><img src=x>'}), False
    )
    assert "<script>x()" not in page and "&lt;script&gt;x()&lt;/script&gt; O&#39;Neil" in page
    assert "<b>note</b>" not in page and "&lt;b&gt;note&lt;/b&gt;" in page
    assert '"><img' not in page


@pytest.mark.parametrize(
    "path, status",
    [("/policies/cigna-cmm-210/diff", 200), ("/policies/no-such-policy/diff", 404)],
    ids=["diff", "diff 404"],
)
def test_the_policy_diff_pages_are_in_the_frame_of_every_page(client, path, status):
    page = client.get(path)
    assert page.status_code == status and "text/html" in page.headers["content-type"]
    assert not INLINE.search(page.text), INLINE.search(page.text)
    head = page.text.split("</head>")[0]
    assert head.count("<title>") == 1 and head.count('<meta name="viewport"') == 1
    assert '<link rel="stylesheet" href="/static/checklist.css">' in head
    assert '<link rel="stylesheet" href="/static/policy_diff.css">' in head  # its own, after the frame's
    assert head.index("checklist.css") < head.index("policy_diff.css")
    assert '<a class="skip" href="#main">' in page.text and '<main id="main">' in page.text
    assert page.text.count("<!doctype html>") == 1 and page.text.count("<body>") == 1


def _legend_words(page: str) -> list[str]:
    """The words of the checklist's legend, its icons (aria-hidden spans) taken out."""
    legend = re.search(r'<p class="legend">Status:(.*?)\. Each criterion', page, re.S)
    assert legend, page
    words = re.sub(r'<span aria-hidden="true">[^<]*</span>', "", legend.group(1))
    return [w.strip() for w in words.split("·")]


def test_the_checklist_legend_says_exactly_the_status_words():
    page = checklist_page(View([], None, "p1"), False)
    assert _legend_words(page) == list(STATUS_WORDS.values())


def test_the_checklist_legend_follows_the_vocabulary_when_a_word_changes(monkeypatch):
    monkeypatch.setitem(STATUS_WORDS, Status.UNKNOWN, "not yet in the record")
    page = checklist_page(View([], None, "p1"), False)
    assert _legend_words(page) == ["met", "not met", "not yet in the record"]
