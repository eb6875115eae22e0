"""One name for each idea (issue 12): a criterion's status, a determination and a policy's
pages are worded or built in one place, and every surface (CLI, checklist, packet, cards)
says the same thing for the same assessment."""

from __future__ import annotations

import pytest

from cds_service.card_links import policy_link
from cds_service.cli_assess import render_text, status_label
from cds_service.policy_diff import diff_url
from cds_service.policy_model import DETERMINATION_LABEL, STATUS_WORDS, Determination, Status
from cds_service.policy_store import PolicyStore
from cds_service.policy_urls import diff_page, policy_page
from cds_service.smart import html
from cds_service.smart.checklist import sheet
from sandbox.build_patients import EXAMPLES
from tests.helpers import assessments

BY_ID = {e.id: e for e in EXAMPLES}


@pytest.fixture(scope="module")
def store() -> PolicyStore:
    return PolicyStore.load()


def _assessed(pid: str) -> list[dict]:
    return assessments(BY_ID[pid].build(pid), hook="order-select")


@pytest.mark.parametrize("status", list(Status))
def test_a_status_is_named_alike_by_the_cli_the_checklist_and_the_documentation_badge(status):
    assert status_label(status).lower() == STATUS_WORDS[status]
    assert html.STATUS[status][1].lower() == STATUS_WORDS[status]
    if status != Status.MET:  # a documentation item that is met reads "Documented"
        assert html.DOC_STATUS[status] == html.STATUS[status]


def test_the_cli_shouts_what_is_not_met_and_keeps_an_unknown_status_as_given():
    assert status_label(Status.MET) == "met"
    assert status_label(Status.NOT_MET) == "NOT MET" and status_label(Status.UNKNOWN) == "NOT DOCUMENTED"
    assert status_label("withdrawn") == "withdrawn" and status_label(None) is None


def test_the_cli_text_shows_every_criterion_in_the_vocabulary_s_words():
    text = render_text(_assessed("cigna-pain-trial-gaps"))
    assert "[NOT DOCUMENTED]" in text and "[unknown]" not in text


@pytest.mark.parametrize(
    "pid", ["cigna-pain-trial-met", "cigna-pain-trial-gaps", "cigna-pain-permanent-relief-50"]
)
def test_the_checklist_headline_is_the_determination_s_label(store, pid):
    for a in _assessed(pid):
        s = sheet(a, store)
        label = DETERMINATION_LABEL[a["determination"]]
        if a["determination"] == Determination.NOT_EVALUABLE:
            assert s.headline == f"Not evaluable: {label}"
        else:
            assert s.headline == label.capitalize()


def test_every_link_to_a_policy_page_is_built_by_policy_urls(store):
    a = _assessed("cigna-pain-trial-gaps")[0]
    s = sheet(a, store)
    policy = s.policy
    assert policy is not None
    assert {r.link.split("#")[0] for r in s.rows()} == {policy_page(policy.policy, policy.version)}
    assert policy_link("x", policy, "https://cds.example").url == "https://cds.example" + policy_page(
        policy.policy, policy.version
    )
    later = store.versions(policy.policy)[-1]
    earlier = store.versions(policy.policy)[0]
    if later.version != earlier.version:
        assert diff_url(store, later) == diff_page(policy.policy, earlier.version, later.version)


def test_a_policy_url_escapes_what_is_not_a_path_segment():
    assert policy_page("a b", "2026-01-01", "#c-1") == "/policies/a%20b/2026-01-01#c-1"
    assert diff_page("p", "1", "2", format="json") == "/policies/p/diff?from=1&to=2&format=json"
    assert diff_page("p") == "/policies/p/diff"
