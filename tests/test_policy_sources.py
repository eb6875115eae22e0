"""Every policy file is valid, and every criterion cites its seed verbatim."""

from pathlib import Path

import pytest

from cds_service.policy_model import PhaseRule
from cds_service.policy_store import (
    POLICIES_DIR,
    PolicyFileError,
    PolicyStore,
    cited_sentences,
    load_policy_file,
)
from cds_service.policy_text import SOURCES_DIR, cites, normalise

SHARED_SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
POLICY_FILES = sorted(POLICIES_DIR.glob("*.yaml"))
CONTRACT_VERSIONS = {
    ("cigna-cmm-210", "2026-02-25", "002_8bd458af2d1aa6fb.txt"),
    ("cigna-cmm-210", "2026-08-04", "000_cca8b67ef115b930.txt"),
    ("oxford-pharmacy-339", "339.7", "001_3257717955c871e2.txt"),
    ("nia-cg-310", "2023-01", "003_ee3eda3fc3f19395.txt"),
    ("molina-mcp-160", "2024-08-14", "004_a3c207b7301c9fb5.txt"),
}


def test_every_contract_policy_version_has_exactly_one_file():
    store = PolicyStore.load()
    assert {(p.policy, p.version, p.seed) for p in store.all()} == CONTRACT_VERSIONS


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_source_is_verbatim_in_its_seed(path):
    policy = load_policy_file(path)
    missing = [(anchor, src) for anchor, src in cited_sentences(policy) if not cites(policy.seed, src)]
    assert missing == []


@pytest.mark.skipif(not SHARED_SEEDS.is_dir(), reason="shared/seeds not beside the checkout")
def test_shipped_seed_copies_are_identical_to_shared_seeds():
    for seed in SOURCES_DIR.glob("*.txt"):
        assert seed.read_bytes() == (SHARED_SEEDS / seed.name).read_bytes(), seed.name


def test_struck_redline_text_cannot_be_cited():
    # "Intrathecal trials are not indicated in opiate-naïve patients" is struck in NIA; the
    # post-edit sentence says "individuals".
    assert not cites(
        "003_ee3eda3fc3f19395.txt", "Intrathecal trials are not indicated in opiate-naïve patients."
    )
    assert cites(
        "003_ee3eda3fc3f19395.txt", "Intrathecal trials are not indicated in opiate-naïve individuals."
    )


def test_normalise_drops_markdown_glyphs_and_tags_but_keeps_words():
    assert normalise("- ◆ There has been **>50%** reduction\n  in pain <i>for</i> eight (8) hours") == (
        "There has been >50% reduction in pain for eight (8) hours"
    )


def test_a_paraphrased_source_stops_start_up(tmp_path):
    text = (POLICIES_DIR / "molina-mcp-160@2024-08-14.yaml").read_text(encoding="utf-8")
    original = "Life expectancy of at least 3 months"
    assert original in text
    bad = tmp_path / "molina-mcp-160@2024-08-14.yaml"
    bad.write_text(text.replace(original, "Life expectancy of at least three months"), encoding="utf-8")
    with pytest.raises(PolicyFileError, match=r"molina-mcp-160@2024-08-14\.yaml.*not verbatim"):
        load_policy_file(bad)


def test_an_unknown_fact_stops_start_up_naming_file_and_field(tmp_path):
    text = (POLICIES_DIR / "molina-mcp-160@2024-08-14.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "molina-mcp-160@2024-08-14.yaml"
    bad.write_text(
        text.replace("fact: life_expectancy_months", "fact: life_expectancy_years", 1), encoding="utf-8"
    )
    with pytest.raises(PolicyFileError, match=r"molina-mcp-160@2024-08-14.yaml: indications\..*unknown fact"):
        load_policy_file(bad)


def test_readme_policy_table_is_generated_from_the_policy_files():
    from cds_service.policy_table import BEGIN, END, table

    readme = (POLICIES_DIR.parent / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index(BEGIN) + len(BEGIN) : readme.index(END)].strip()
    assert block == table(PolicyStore.load())


@pytest.mark.parametrize(
    "old, new",
    [
        ("params: {class: analgesic, schedule: fixed}", "params: {class: analgesic, schedule: as-needed}"),
        (
            "params: {class: physical-therapy, waived_by: [contraindication, intolerance]",
            "params: {class: physical-therapy, waived_by: [contraindication, refusal]",
        ),
        ("waiver_therapies: [baclofen]}", "waiver_therapies: baclofen}"),
    ],
)
def test_a_param_value_outside_the_catalogue_stops_start_up(tmp_path, old, new):
    text = (POLICIES_DIR / "cigna-cmm-210@2026-08-04.yaml").read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "cigna-cmm-210@2026-08-04.yaml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PolicyFileError, match=r"cigna-cmm-210@2026-08-04\.yaml"):
        load_policy_file(bad)


def test_every_waiver_therapy_is_a_known_procedure_kind_or_drug():
    from tests.helpers import services

    terminology, _ = services()
    known = set(terminology.therapies.procedure_kinds) | set(terminology.drugs.ingredients)
    named = {
        (policy.policy, name)
        for policy in PolicyStore.load().all()
        for _, _, rule in policy.phase_rules()
        if isinstance(rule, PhaseRule) and rule.criteria is not None
        for leaf in rule.criteria.leaves()
        for name in leaf.params.get("waiver_therapies", ())
    }
    assert named and {n for _, n in named} <= known


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            "injectates: [opioid, pain-injectate]",
            "injectates: [opioid, steroid]",
            r"injectates='steroid' not in",
        ),
        (
            "injectates: [opioid, pain-injectate]",
            "injectates: opioid",
            r"injectates .* takes a non-empty list",
        ),
        (
            "single_shot_window_hours: 24}",
            "single_shot_window_hours: a day}",
            r"single_shot_window_hours='a day' is not",
        ),
    ],
)
def test_a_trial_param_outside_the_catalogue_stops_start_up(tmp_path, old, new, message):
    text = (POLICIES_DIR / "molina-mcp-160@2024-08-14.yaml").read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "molina-mcp-160@2024-08-14.yaml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PolicyFileError, match=message):
        load_policy_file(bad)


def test_an_average_score_without_its_period_stops_start_up(tmp_path):
    text = (POLICIES_DIR / "nia-cg-310@2023-01.yaml").read_text(encoding="utf-8")
    old = "{aggregate: lowest, over_days: 90, min_scores: 2, single_shot_window_hours: 24}"
    assert old in text
    bad = tmp_path / "nia-cg-310@2023-01.yaml"
    bad.write_text(text.replace(old, "{aggregate: lowest, min_scores: 2}", 1), encoding="utf-8")
    with pytest.raises(PolicyFileError, match="needs over_days"):
        load_policy_file(bad)
