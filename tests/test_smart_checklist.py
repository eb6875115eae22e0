"""The checklist's layout of an assessment (cds_service/smart/checklist.py, html.py) without
a browser: the policy's alternatives grouped, gaps computed as the engine does, the
deferred and not-applicable cases worded, and colours that pass WCAG AA contrast."""

from __future__ import annotations

import re

import pytest

from cds_service.policy_store import PolicyStore
from cds_service.smart import html
from cds_service.smart.checklist import sheet
from cds_service.smart.sheet_model import Group
from cds_service.templating import STATIC_DIR, templates
from sandbox.build_patients import EXAMPLES
from tests.helpers import assessments

BY_ID = {e.id: e for e in EXAMPLES}


@pytest.fixture(scope="module")
def store() -> PolicyStore:
    return PolicyStore.load()


def assessed(pid: str, policy: str) -> dict:
    e = BY_ID[pid]
    found = [a for a in assessments(e.build(pid), hook="order-select") if a["policy"]["id"] == policy]
    assert len(found) == 1
    return found[0]


def test_a_met_alternative_hides_the_other_alternatives_gaps(store):
    s = sheet(assessed("cigna-spasticity-trial-mas-psfs", "cigna-cmm-210"), store)
    assert s.headline == "Criteria met" and s.gaps("not-met") == s.gaps("unknown") == []
    anys = [n for n in s.root.children if isinstance(n, Group) and n.kind == "any"]
    assert len(anys) == 1 and anys[0].status == "met" and anys[0].label == "One of these is enough:"
    spare = {r.id for r, is_spare in s.rows_in_context() if is_spare and r.status != "met"}
    assert (
        "cigna-2026-08-spasticity-trial-oral-antispasmodic-6-weeks" in spare
    )  # 3 weeks only, but not needed


def test_gaps_match_the_cards_undocumented_requirements(store):
    s = sheet(assessed("oxford-pain-trial-gaps", "oxford-pharmacy-339"), store)
    assert s.headline == "Documentation incomplete"
    assert {r.id for r in s.gaps("unknown")} == {
        "oxford-339-7-nonmalignant-trial-further-treatment-not-indicated",
        "oxford-339-7-nonmalignant-trial-further-treatment-refused",
        "oxford-339-7-nonmalignant-trial-no-untreated-psych-issues",
    }
    # "not indicated OR refused" is one requirement with two alternatives, plus the psych evaluation
    assert "2 requirements are not documented" in s.explanation
    card = assessed("oxford-pain-trial-gaps", "oxford-pharmacy-339")
    assert {c["anyOf"] for c in card["criteria"] if c["id"].endswith(("not-indicated", "refused"))} == {
        "any:oxford-339-7-nonmalignant-trial-further-treatment-not-indicated"
    }


def test_permanent_order_shows_the_trial_criteria_as_a_group(store):
    s = sheet(assessed("cigna-pain-permanent-relief-50", "cigna-cmm-210"), store)
    ref = s.root.children[0]
    assert isinstance(ref, Group) and ref.kind == "ref" and ref.status == "met"
    assert ref.label.startswith("The trial criteria for chronic non-malignant pain")
    assert [r.id for r in s.gaps("not-met")] == ["cigna-2026-08-nonmalignant-permanent-relief-over-50-for-8h"]


def test_deferred_policy_lists_its_documentation(store):
    s = sheet(assessed("oxford-cancer-trial", "oxford-pharmacy-339"), store)
    assert s.headline == "Not evaluable: criteria not public"
    assert s.deferred_to and "InterQual" in s.deferred_to
    assert "oxford-339-7-cancer-doc-life-expectancy" in {r.id for r in s.rows() if r.status == "met"}
    page = html.checklist_page(html.View([s]), missing_only=False)
    assert "\u2714</span> Documented" in page and "Documentation the policy asks for that is missing" in page


def test_not_addressed_replacement_says_why(store):
    s = sheet(assessed("replacement-battery-near-end", "molina-mcp-160"), store)
    assert s.headline == "Policy does not apply"
    assert "states no criteria for replacing an implanted pump" in s.explanation


def test_an_unknown_policy_version_falls_back_to_the_flat_list(store):
    a = assessed("cigna-pain-trial-gaps", "cigna-cmm-210")
    a = {**a, "policy": {**a["policy"], "version": "1999-01-01"}}
    s = sheet(a, store)
    assert [r.id for r in s.rows()] == [c["id"] for c in a["criteria"]]
    assert s.headline == "Documentation incomplete"


def test_page_escapes_what_it_shows(store):
    a = assessed("cigna-pain-trial-gaps", "cigna-cmm-210")
    a["criteria"][0]["note"] = "<script>alert(1)</script>"
    page = html.checklist_page(html.View([sheet(a, store)], params={"patient": '"><x>'}), missing_only=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
    assert '"><x>' not in page
    assert '<main id="main" class="missing-only">' in page


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_status_colours_pass_wcag_aa_contrast():
    css = (STATIC_DIR / "checklist.css").read_text()
    var = dict(re.findall(r"--([a-z-]+):(#[0-9a-f]{6})", css))
    pairs = [
        ("met", "met-bg"),
        ("no", "no-bg"),
        ("unk", "unk-bg"),
        ("na", "na-bg"),
        ("ink", "bg"),
        ("muted", "bg"),
        ("ink", "met-bg"),
        ("ink", "unk-bg"),
        ("ink", "no-bg"),
    ]
    for fg, bg in pairs:
        assert contrast(var[fg], var[bg]) >= 4.5, (fg, bg, round(contrast(var[fg], var[bg]), 2))
    assert contrast("#0b4fa8", "#ffffff") >= 4.5  # links and buttons


def badge(status: str, documentation: bool = False) -> str:
    template = '{% from "_criteria.html" import badge with context %}{{ badge(status, documentation) }}'
    return templates.env.from_string(template).render(
        **html.WORDS, status=status, documentation=documentation
    )


def test_status_is_never_colour_alone():
    for status, (icon, word) in html.STATUS.items():
        shown = badge(status)
        assert icon in shown and word in shown


def test_a_status_the_page_does_not_know_is_escaped_in_its_badge():
    """The badge's word was inserted unescaped: a status from a stored assessment is data."""
    shown = badge('<img src=x onerror="alert(1)">')
    assert "<img" not in shown and "&lt;img src=x" in shown
