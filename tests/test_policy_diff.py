"""The policy diff, as the payer's reviewer reads it: what changed between two versions.

The Cigna tests assert on differences read in both files (policies/cigna-cmm-210@*.yaml)
and their seeds (policies/sources/002_… for 2026-02-25, 000_… for 2026-08-04). The
other tests make a new version in memory (a copy of a real file with one edit), so each
kind of change is shown on its own, never written into the repository.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.policy_diff import diff, diff_url, policy_diff
from cds_service.policy_diff_criteria import placed
from cds_service.policy_diff_model import CriterionChange, PolicyDiff
from cds_service.policy_model import PhaseRule, Policy
from cds_service.policy_store import PolicyStore
from cds_service.services import Services
from cds_service.settings import Settings

CIGNA, FEB, AUG = "cigna-cmm-210", "2026-02-25", "2026-08-04"


@pytest.fixture(scope="module")
def store() -> PolicyStore:
    return PolicyStore.load()


@pytest.fixture(scope="module")
def cigna(store: PolicyStore) -> PolicyDiff:
    return policy_diff(store, CIGNA, FEB, AUG)


@pytest.fixture(scope="module")
def services() -> Services:
    return Services.load(Settings())


@pytest.fixture(scope="module")
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as c:
        yield c


def changed(d: PolicyDiff, new_id: str) -> CriterionChange:
    found = [c for c in d.changed if c.after.id == new_id]
    assert len(found) == 1, [c.after.id for c in d.changed]
    return found[0]


def aspect(c: CriterionChange, name: str) -> list[tuple[str | None, str | None]]:
    return [(f.before, f.after) for f in c.changes if f.aspect == name]


def _leaves(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "fact" in node and "id" in node:
            yield node
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)


def new_version(policy: Policy, version: str, edit: Callable[[dict[str, Any]], None]) -> Policy:
    """`policy` as a later version with one edit (in memory; the schema still validates it)."""
    raw = policy.model_dump(by_alias=True, exclude_none=True)
    raw["version"], raw["effective"] = version, date(2027, 1, 1)
    edit(raw)
    return Policy.model_validate(raw)


def leaf(raw: dict[str, Any], leaf_id: str) -> dict[str, Any]:
    (found,) = [n for n in _leaves(raw["indications"]) if n["id"] == leaf_id]
    return found


# -- the two Cigna versions -----------------------------------------------------------------


def test_cigna_diff_shows_the_six_months_now_asked_of_each_component_not_of_the_whole_programme(cigna):
    # Feb: "a sufficient trial of at least six (6) months of … management that includes BOTH";
    # Aug: "active rehabilitative exercise for at least six (6) months …  opioids or other
    # analgesics for at least six (6) months".
    (gone,) = cigna.removed
    assert gone.id == "cigna-2026-02-nonmalignant-trial-noninvasive-6-months"
    assert gone.params["class"] == "rehab-exercise-and-analgesic" and gone.requirement == "at least 6 months"
    for old, new in (
        ("cigna-2026-02-nonmalignant-trial-rehab-failed", "cigna-2026-08-nonmalignant-trial-rehab-6-months"),
        (
            "cigna-2026-02-nonmalignant-trial-fixed-analgesics-failed",
            "cigna-2026-08-nonmalignant-trial-fixed-analgesics-6-months",
        ),
    ):
        c = changed(cigna, new)
        assert c.before.id == old and c.substantive
        assert aspect(c, "threshold") == [("documented (no minimum)", "at least 6 months")]
        assert "for at least six (6) months a fixed schedule" in c.after.source
        assert "a sufficient trial of at least six (6) months of provider-directed" in c.before.source


def test_cigna_diff_says_plainly_the_non_invasive_management_was_restructured(cigna):
    (r,) = [r for r in cigna.restructured if "non-malignant pain · trial" in r.where]
    assert "Restructured" in r.summary and "3 criteria, now as 2 criteria" in r.summary
    assert "counted together" in r.summary  # the dropped criterion, in its plain words
    assert set(r.before_ids) == {
        "cigna-2026-02-nonmalignant-trial-noninvasive-6-months",
        "cigna-2026-02-nonmalignant-trial-rehab-failed",
        "cigna-2026-02-nonmalignant-trial-fixed-analgesics-failed",
    }
    assert set(r.after_ids) == {
        "cigna-2026-08-nonmalignant-trial-rehab-6-months",
        "cigna-2026-08-nonmalignant-trial-fixed-analgesics-6-months",
    }
    assert len(r.before_sources) == len(r.after_sources) == 1  # one sentence each side, side by side


def test_cigna_diff_shows_a_contraindication_now_waives_the_oral_antispasmodic_sentence(cigna):
    c = changed(cigna, "cigna-2026-08-spasticity-trial-oral-antispasmodic-refractory")
    assert aspect(c, "waiver") == [("intolerance", "contraindication, intolerance")]
    assert "unresponsive to or cannot tolerate oral anti-spasticity agents" in c.before.source
    assert "cannot tolerate, or has a contraindication to oral antispasmodic drugs" in c.after.source
    assert aspect(c, "threshold") == []  # still no duration named


def test_cigna_diff_shows_the_spasticity_responses_are_no_longer_an_open_list(cigna):
    # Feb "including, but not limited to, EITHER"; Aug "as evidenced by EITHER".
    for new in (
        "cigna-2026-08-spasticity-permanent-ashworth-reduction-2-for-4h",
        "cigna-2026-08-spasticity-permanent-penn-reduction-2-for-4h",
    ):
        (before, after) = aspect(changed(cigna, new), "structure")[0]
        assert before is not None and "open list" in before
        assert after == "all of › any of"
    (r,) = [r for r in cigna.restructured if "Spasticity · permanent" in r.where]
    assert r.summary.startswith("Regrouped: 2 criteria")


def test_cigna_diff_shows_antispasmodics_are_no_longer_an_excluded_injectate(cigna):
    (gone,) = [s for s in cigna.scope if s.label == "excluded injectates: removed"]
    assert gone.before is not None and gone.before.startswith(
        "antispasmodic (except for spasticity, dystonia)"
    )
    assert gone.after is None
    assert (
        gone.before_source is not None
        and "neurolytic substances, antispasmodics, antibiotics" in gone.before_source
    )
    kept = [s for s in cigna.scope if s.label.startswith("excluded injectates: nusinersen")]
    assert kept and kept[0].aspect == "source"  # same classes, new sentence
    assert kept[0].after is not None and "antispasmodics" not in kept[0].after


def test_cigna_diff_shows_another_indication_is_now_out_of_scope_rather_than_not_covered(cigna):
    (o,) = [s for s in cigna.scope if s.label == "an order for any other indication"]
    assert o.before is not None and o.before.startswith("not covered (criteria not met)")
    assert o.after is not None and o.after.startswith("the policy does not apply")
    assert o.before_source == (
        "An intrathecal or epidural drug delivery system is considered not medically necessary for ANY other indication."
    )
    assert o.after_source is not None and o.after_source.startswith(
        "The guideline criteria are only applicable"
    )


def test_cigna_diff_keeps_the_trial_relief_threshold_and_shows_its_new_sentence(cigna):
    # Both versions: "> 50 %" for eight hours; only the sentence changed.
    c = changed(cigna, "cigna-2026-08-nonmalignant-permanent-relief-over-50-for-8h")
    assert not c.substantive and c in cigna.reworded
    assert c.before.requirement == c.after.requirement == "more than 50 %"
    assert aspect(c, "source") == [
        (
            "There has been >50% reduction in pain for eight (8) hours",
            "documented pain relief of >50% for eight (8) hours",
        )
    ]


def test_cigna_diff_pairs_the_renumbered_ids_and_accounts_for_every_criterion(cigna, store):
    def count(p: Policy) -> int:
        return sum(
            len(list(r.criteria.leaves()))
            for _, _, r in p.phase_rules()
            if isinstance(r, PhaseRule) and r.criteria is not None
        )

    old, new = store.get(CIGNA, FEB), store.get(CIGNA, AUG)
    assert old is not None and new is not None
    assert cigna.unchanged + len(cigna.changed) + len(cigna.removed) == count(old)
    assert cigna.unchanged + len(cigna.changed) + len(cigna.added) == count(new)
    assert cigna.added == []  # every August criterion has its February counterpart
    assert {c.matched_by for c in cigna.changed} <= {"id", "id without the version", "what it reads"}


def test_cigna_diff_has_no_phase_rule_differences(cigna):
    # Both files assess the four indications on criteria, dystonia as for spasticity.
    assert cigna.rules == []


# -- one change at a time (a new version made in memory) ------------------------------------


def test_a_new_version_raising_the_trial_relief_threshold_shows_it_changed(store):
    feb = store.get(CIGNA, FEB)
    assert feb is not None
    later = new_version(
        feb,
        "2027-01-01",
        lambda raw: leaf(raw, "cigna-2026-02-nonmalignant-permanent-relief-over-50-for-8h").update(value=60),
    )
    d = diff(feb, later)
    c = changed(d, "cigna-2026-02-nonmalignant-permanent-relief-over-50-for-8h")
    assert c.matched_by == "id" and c.substantive
    assert aspect(c, "threshold") == [("more than 50 %", "more than 60 %")]
    assert d.added == d.removed == d.restructured == []


def test_a_new_version_with_a_longer_hold_shows_the_param_changed(store):
    feb = store.get(CIGNA, FEB)
    assert feb is not None
    lid = "cigna-2026-02-nonmalignant-permanent-relief-over-50-for-8h"
    later = new_version(feb, "2027-01-01", lambda raw: leaf(raw, lid)["params"].update(held_for_hours=12))
    assert aspect(changed(diff(feb, later), lid), "params") == [("8", "12")]


def test_a_criterion_added_in_a_new_version_is_listed_with_its_sentence(store):
    feb = store.get(CIGNA, FEB)
    assert feb is not None

    def add(raw: dict[str, Any]) -> None:
        tree = raw["indications"]["cancer-pain"]["trial"]["criteria"]["all"]
        tree.append(
            dict(
                leaf(raw, "cigna-2026-02-nonmalignant-trial-psych-attestation"),
                id="cigna-2027-cancer-trial-psych",
            )
        )

    d = diff(feb, new_version(feb, "2027-01-01", add))
    (added,) = d.added
    assert added.id == "cigna-2027-cancer-trial-psych" and added.where == "Cancer-related pain · trial"
    assert added.source.startswith("An attestation from a primary care physician")


def test_a_phase_deferred_in_a_new_version_shows_in_the_phase_rules(store):
    feb = store.get(CIGNA, FEB)
    assert feb is not None

    def defer(raw: dict[str, Any]) -> None:
        raw["indications"]["spasticity"]["permanent"] = {
            "deferred": {
                "to": "MCG A-0420",
                "text": "Cigna defers to MCG.",
                "source": "Severe, refractory spasticity",
            }
        }

    d = diff(feb, new_version(feb, "2027-01-01", defer))
    (rule,) = [r for r in d.rules if r.aspect == "rule"]
    assert rule.label == "Spasticity · permanent implant"
    assert (
        rule.before == "assessed on its criteria"
        and rule.after == "deferred to MCG A-0420: Cigna defers to MCG."
    )
    assert {c.id for c in d.removed} == {
        "cigna-2026-02-spasticity-permanent-ashworth-reduction-2-for-4h",
        "cigna-2026-02-spasticity-permanent-penn-reduction-2-for-4h",
    }
    (ref,) = [r for r in d.rules if r.aspect == "structure"]  # "the above criteria for a trial" went with it
    assert ref.label == "Spasticity · permanent implant: builds on"
    assert ref.before == "the spasticity · trial criteria (as of the trial)" and ref.after == "—"


@pytest.mark.parametrize("key", [f"{p.policy}@{p.version}" for p in PolicyStore.load().all()])
def test_every_policy_version_against_itself_pairs_every_criterion_with_itself(store, key):
    # Deferred documentation lists, contraindications, "*" replacement trees, same_as, applies_if.
    policy_id, _, version = key.partition("@")
    policy = store.get(policy_id, version)
    assert policy is not None
    d = policy_diff(store, policy_id, version, version)
    assert d.empty and d.unchanged == len(placed(policy)) > 0


def test_the_same_version_twice_is_an_empty_diff(store):
    d = policy_diff(store, CIGNA, AUG, AUG)
    assert d.empty and d.changed == [] and d.unchanged > 0


def test_a_checklist_of_a_policy_with_two_versions_links_its_diff(store):
    aug, molina = store.get(CIGNA, AUG), store.versions("molina-mcp-160")[0]
    assert aug is not None
    assert diff_url(store, aug) == f"/policies/{CIGNA}/diff?from={FEB}&to={AUG}"
    feb = store.get(CIGNA, FEB)
    assert feb is not None and diff_url(store, feb) == f"/policies/{CIGNA}/diff?from={FEB}&to={AUG}"
    assert diff_url(store, molina) is None  # one version: nothing to compare


def test_the_checklist_sheet_carries_the_diff_link(store):
    from cds_service.smart.checklist import sheet
    from cds_service.smart.sheet_model import Sheet

    a = {
        "policy": {"id": CIGNA, "version": AUG, "payer": "Cigna (EviCore)", "title": "t"},
        "order": {"phase": "replacement", "reference": "ServiceRequest/1"},
        "indication": None,
        "determination": "documentation-incomplete",
        "criteria": [],
    }
    s = sheet(a, store)
    assert isinstance(s, Sheet) and s.diff_url == f"/policies/{CIGNA}/diff?from={FEB}&to={AUG}"


# -- the page and its JSON ------------------------------------------------------------------


def test_the_diff_page_shows_both_sentences_side_by_side(client):
    r = client.get(f"/policies/{CIGNA}/diff", params={"from": FEB, "to": AUG})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "There has been &gt;50% reduction in pain for eight (8) hours" in page
    assert "documented pain relief of &gt;50% for eight (8) hours" in page
    assert "Restructured" in page and "cigna-2026-02-nonmalignant-trial-noninvasive-6-months" in page
    assert f'href="/policies/{CIGNA}/{FEB}"' in page and f'href="/policies/{CIGNA}/{AUG}"' in page
    assert "<script" not in page


def test_the_diff_answers_json_when_asked(client, cigna):
    by_header = client.get(
        f"/policies/{CIGNA}/diff", params={"from": FEB, "to": AUG}, headers={"Accept": "application/json"}
    )
    by_query = client.get(f"/policies/{CIGNA}/diff", params={"from": FEB, "to": AUG, "format": "json"})
    assert by_header.status_code == by_query.status_code == 200
    body = by_header.json()
    assert body == by_query.json()
    assert body["from"]["version"] == FEB and body["to"]["version"] == AUG and body["empty"] is False
    assert [c["id"] for c in body["removed"]] == [c.id for c in cigna.removed]
    (waiver,) = [c for c in body["changed"] if c["to"]["id"].endswith("oral-antispasmodic-refractory")]
    assert {
        "aspect": "waiver",
        "from": "intolerance",
        "to": "contraindication, intolerance",
    }.items() <= waiver["changes"][0].items()


def test_the_same_version_twice_on_the_page_is_an_empty_diff(client):
    r = client.get(f"/policies/{CIGNA}/diff", params={"from": FEB, "to": FEB, "format": "json"})
    assert r.status_code == 200 and r.json()["empty"] is True
    page = client.get(f"/policies/{CIGNA}/diff", params={"from": FEB, "to": FEB}).text
    assert "No differences" in page


@pytest.mark.parametrize(
    "path, params, says",
    [
        ("/policies/no-such-policy/diff", {}, "no policy 'no-such-policy'"),
        (f"/policies/{CIGNA}/diff", {"from": "2025-01-01", "to": AUG}, "has no version '2025-01-01'"),
        (f"/policies/{CIGNA}/diff", {"from": FEB, "to": "latest"}, "has no version 'latest'"),
    ],
)
def test_an_unknown_policy_or_version_is_a_404_naming_what_there_is(client, path, params, says):
    as_json = client.get(path, params=params | {"format": "json"})
    assert as_json.status_code == 404
    assert says in as_json.json()["issue"][0]["diagnostics"]
    page = client.get(path, params=params)
    assert page.status_code == 404 and says.replace("'", "&#39;") in page.text
    assert f"/policies/{CIGNA}/{AUG}" in page.text  # where to go instead


def test_a_hostile_version_is_escaped_on_the_404_page(client):
    r = client.get(f"/policies/{CIGNA}/diff", params={"from": "<script>alert(1)</script>", "to": AUG})
    assert r.status_code == 404 and "<script>" not in r.text and "&lt;script&gt;" in r.text


def test_a_bad_format_is_a_400_never_a_500(client):
    r = client.get(f"/policies/{CIGNA}/diff", params={"format": "xml"})
    assert r.status_code == 400


def test_the_diff_route_is_not_read_as_a_version_page(client):
    # /policies/{id}/{version} would otherwise take "diff" for a version and answer 404.
    assert client.get(f"/policies/{CIGNA}/diff").status_code == 200
    assert client.get(f"/policies/{CIGNA}/{AUG}").status_code == 200


def test_a_tmp_store_with_an_edited_version_is_served(services, store):
    feb = store.get(CIGNA, FEB)
    assert feb is not None
    later = new_version(feb, "2027-01-01", lambda raw: raw.update(title="CMM-210 (2027)"))
    own = dataclasses.replace(services, store=PolicyStore([*store.all(), later]))
    with TestClient(create_app(own)) as c:
        body = c.get(
            f"/policies/{CIGNA}/diff", params={"from": FEB, "to": "2027-01-01", "format": "json"}
        ).json()
    assert body["header"] == [
        {
            "aspect": "header",
            "label": "title",
            "from": feb.title,
            "to": "CMM-210 (2027)",
            "fromSource": None,
            "toSource": None,
        }
    ]
    assert body["changed"] == body["added"] == body["removed"] == []
