"""The policy diff compares the readings (each file's `readings:`: the service's interpretation
of a sentence of the policy, with the sentence it interprets): a payer's reviewer comparing two
versions sees the readings added, removed, and changed (the same sentence read differently, or
the sentence reworded under the same reading), in the model, the text, the page and the JSON.

The Cigna tests read both files (policies/cigna-cmm-210@*.yaml); the others write a scratch pair
of policy files into tmp_path (a copy of a real file and a later version with one edit).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.cli import main
from cds_service.policy_diff import diff, policy_diff
from cds_service.policy_diff_model import PolicyDiff, ReadingChange
from cds_service.policy_diff_text import render_text
from cds_service.policy_store import POLICIES_DIR, PolicyStore
from cds_service.services import Services
from cds_service.settings import Settings

CIGNA, FEB, AUG = "cigna-cmm-210", "2026-02-25", "2026-08-04"
MOLINA, MOLINA_V = "molina-mcp-160", "2024-08-14"


@pytest.fixture(scope="module")
def store() -> PolicyStore:
    return PolicyStore.load()


@pytest.fixture(scope="module")
def cigna(store: PolicyStore) -> PolicyDiff:
    return policy_diff(store, CIGNA, FEB, AUG)


def changed(d: PolicyDiff, after_topic_starts: str) -> ReadingChange:
    found = [c for c in d.readings.changed if c.after.topic.startswith(after_topic_starts)]
    assert len(found) == 1, [c.after.topic for c in d.readings.changed]
    return found[0]


def scratch_pair(tmp_path: Path, edit: dict[str, str]) -> PolicyStore:
    """Molina's file, and a later version of it with each `old: new` replacement made in its text."""
    text = (POLICIES_DIR / f"{MOLINA}@{MOLINA_V}.yaml").read_text(encoding="utf-8")
    (tmp_path / f"{MOLINA}@{MOLINA_V}.yaml").write_text(text, encoding="utf-8")
    later = text.replace(f'version: "{MOLINA_V}"', 'version: "2025-03-01"').replace(
        f"effective: {MOLINA_V}", "effective: 2025-03-01"
    )
    for old, new in edit.items():
        assert later.count(old) == 1, old
        later = later.replace(old, new)
    (tmp_path / f"{MOLINA}@2025-03-01.yaml").write_text(later, encoding="utf-8")
    return PolicyStore.load(tmp_path)


# -- the two Cigna versions -----------------------------------------------------------------


def test_cigna_diff_shows_the_replacement_reading_changed_under_the_same_topic(cigna):
    c = changed(cigna, "Replacement")
    assert c.matched_by == "topic" and not c.topic_changed and c.reading_changed
    assert "the original implant's indication criteria are not re-assessed" in c.after.reading
    assert "not re-assessed" not in c.before.reading


def test_cigna_diff_shows_a_reworded_sentence_kept_its_reading(cigna):
    c = changed(cigna, "'or any other injectates that are considered not in scope of management'")
    assert c.matched_by == "reading" and c.topic_changed and not c.reading_changed
    assert c.before.topic == "'or any other injectates that are not in scope of management'"


def test_cigna_diff_pairs_a_reading_by_its_label_when_the_quoted_sentence_changed(cigna):
    c = changed(cigna, "Trial window and single-shot horizon:")
    assert c.matched_by == "label" and c.topic_changed
    assert "There has been >50% reduction in pain for eight (8) hours" in c.before.topic
    assert "documented pain relief of >50% for eight (8) hours" in c.after.topic


def test_cigna_diff_shows_one_reading_split_into_three(cigna):
    removed = [r.topic for r in cigna.readings.removed]
    added = [r.topic for r in cigna.readings.added]
    assert "Behavioural health attestation, opioid reduction, further surgery" in removed
    assert {"Behavioural health attestation", "Opioid reduction agreement", "Further surgery"} <= set(added)


def test_cigna_diff_accounts_for_every_reading_of_both_versions(cigna, store):
    r = cigna.readings
    old, new = store.get(CIGNA, FEB), store.get(CIGNA, AUG)
    assert old is not None and new is not None
    assert r.unchanged + len(r.changed) + len(r.removed) == len(old.readings)
    assert r.unchanged + len(r.changed) + len(r.added) == len(new.readings)
    assert r.unchanged > 0 and r.changed and r.added and r.removed


def test_cigna_diff_text_lists_the_readings(capsys):
    assert main(["policy-diff", CIGNA, FEB, AUG]) == 0
    out = capsys.readouterr().out
    for title in ("-- Readings changed", "-- Readings added", "-- Readings removed"):
        assert title in out
    replacement = out[out.index("  * Replacement") :]
    assert "[paired by the sentence it reads]" in replacement.splitlines()[1]
    assert out.index("-- Readings changed") < out.index("  * Replacement")
    assert "  - Behavioural health attestation, opioid reduction, further surgery" in out
    assert "2026-02-25 interprets: 'or any other injectates that are not in scope" in out


def test_cigna_diff_page_and_json_show_the_readings(store):
    with TestClient(create_app(Services.load(Settings()))) as c:
        page = c.get(f"/policies/{CIGNA}/diff", params={"from": FEB, "to": AUG}).text
        body = c.get(f"/policies/{CIGNA}/diff", params={"from": FEB, "to": AUG, "format": "json"}).json()
    section = page[page.index('<section id="readings">') :].split("</section>")[0]
    assert "<h4>Replacement</h4>" in section and "Paired by the sentence it reads" in section
    assert "the original implant&#39;s indication criteria are not re-assessed" in section
    assert "Readings added in 2026-08-04" in section and "Readings removed since 2026-02-25" in section
    (replacement,) = [x for x in body["readings"]["changed"] if x["to"]["topic"] == "Replacement"]
    assert replacement["matchedBy"] == "topic" and replacement["from"]["topic"] == "Replacement"
    assert replacement["from"]["reading"] != replacement["to"]["reading"]
    assert {r["topic"] for r in body["readings"]["added"]} >= {
        "Opioid reduction agreement",
        "Further surgery",
    }
    assert body["readings"]["unchanged"] > 0


# -- a scratch pair of policy files, one reading changed ----------------------------------------


def test_a_new_version_changing_one_reading_shows_only_that_reading_changed(tmp_path):
    store = scratch_pair(tmp_path, {"not met twice.": "never met on both pathways."})
    d = policy_diff(store, MOLINA, MOLINA_V, "2025-03-01")
    (c,) = d.readings.changed
    assert c.matched_by == "topic" and c.after.topic == "Pain of non-malignant (non-cancer) origin"
    assert "not met twice." in c.before.reading
    assert "never met on both pathways." in c.after.reading and "not met twice" not in c.after.reading
    assert d.readings.added == d.readings.removed == []
    assert d.readings.unchanged == len(store.versions(MOLINA)[0].readings) - 1
    assert d.added == d.removed == d.changed == d.scope == d.rules == d.header == []
    assert not d.empty  # the reading alone is a difference a reviewer must see


def test_a_new_version_changing_one_reading_is_in_the_text_and_the_json(tmp_path):
    store = scratch_pair(tmp_path, {"not met twice.": "never met on both pathways."})
    d = policy_diff(store, MOLINA, MOLINA_V, "2025-03-01")
    text = render_text(d)
    assert "No differences" not in text and "-- Readings changed" in text
    assert "-- Readings added" not in text and "-- Readings removed" not in text
    assert "2025-03-01: The non-malignant pathway" in text and "never met on both" in text
    (c,) = d.as_json()["readings"]["changed"]
    assert c["matchedBy"] == "topic" and "not met twice." in c["from"]["reading"]
    assert "never met on both pathways." in c["to"]["reading"]


def test_a_reading_refolded_over_other_lines_is_not_a_change(tmp_path):
    store = scratch_pair(
        tmp_path, {"contradicts it (condition_present": "contradicts\n      it (condition_present"}
    )
    d = policy_diff(store, MOLINA, MOLINA_V, "2025-03-01")
    assert d.empty and d.readings.changed == []


def test_a_reading_dropped_and_one_added_show_as_removed_and_added(tmp_path):
    store = scratch_pair(
        tmp_path,
        {'  - topic: "Pain of non-malignant (non-cancer) origin"': '  - topic: "Where the pain comes from"'},
    )
    # The topic changed and so its only pairing is by its reading (the same words): a changed topic.
    d = policy_diff(store, MOLINA, MOLINA_V, "2025-03-01")
    (c,) = d.readings.changed
    assert c.matched_by == "reading" and c.topic_changed and not c.reading_changed
    both = scratch_pair(
        tmp_path,
        {
            '  - topic: "Pain of non-malignant (non-cancer) origin"': '  - topic: "Where the pain comes from"',
            "not met twice.": "never met on both pathways.",
        },
    )
    d = policy_diff(both, MOLINA, MOLINA_V, "2025-03-01")
    assert d.readings.changed == []
    assert [r.topic for r in d.readings.removed] == ["Pain of non-malignant (non-cancer) origin"]
    assert [r.topic for r in d.readings.added] == ["Where the pain comes from"]


def test_two_readings_with_one_label_are_not_paired_by_it(store):
    feb = store.get(CIGNA, FEB)
    assert feb is not None
    raw = feb.model_dump(by_alias=True, exclude_none=True)
    one = {"topic": "Scoring: 'a sentence'", "reading": "one reading"}
    two = {"topic": "Scoring: 'another sentence'", "reading": "another reading"}
    before = feb.model_validate({**raw, "readings": [one, two]})
    after = feb.model_validate(
        {
            **raw,
            "version": "2027-01-01",
            "readings": [{**one, "topic": "Scoring: 'a new sentence'", "reading": "a new reading"}],
        }
    )
    d = diff(before, after)
    assert d.readings.changed == [] and len(d.readings.removed) == 2 and len(d.readings.added) == 1


def test_the_same_version_twice_has_no_reading_differences(store):
    same = policy_diff(store, CIGNA, AUG, AUG)
    new = store.get(CIGNA, AUG)
    assert new is not None
    assert same.empty and same.readings.unchanged == len(new.readings)


def test_a_tmp_store_with_one_reading_changed_is_served_as_json(tmp_path):
    store = scratch_pair(tmp_path, {"not met twice.": "never met on both pathways."})
    own = dataclasses.replace(Services.load(Settings()), store=store)
    with TestClient(create_app(own)) as c:
        body = c.get(
            f"/policies/{MOLINA}/diff", params={"from": MOLINA_V, "to": "2025-03-01", "format": "json"}
        ).json()
    assert body["empty"] is False
    assert [x["to"]["topic"] for x in body["readings"]["changed"]] == [
        "Pain of non-malignant (non-cancer) origin"
    ]
