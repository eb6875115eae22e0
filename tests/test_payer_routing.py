"""Which Coverage counts and which policy it routes to (shared/contract/clinical-data.md "Payer").

The Coverage in force on the date of service: status active, `period` (when
given) covering it with period.end inclusive, the patient as beneficiary; with
several, the lowest `order` is the primary and every other one in force is
noted. Matched by mappings/payers.yaml. Oxford's policy "does not apply to
Medicare Advantage members" (a routing exclusion in payers.yaml, not Python).
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from cds_service import payers
from cds_service.assessment import Comparison
from cds_service.codes import Terminology
from cds_service.hook_models import HookRequest
from cds_service.mappings_schema import MappingFileError
from cds_service.pipeline import HookOutcome, assess_hook
from cds_service.prefetch import build_record
from cds_service.settings import Settings

from .chart import SOPT, Chart
from .helpers import services

ROOT = Path(__file__).resolve().parents[1]
OXFORD, CIGNA, MOLINA = "oxford-pharmacy-339", "cigna-cmm-210", "molina-mcp-160"
EVERY = {"cigna-cmm-210", "oxford-pharmacy-339", "nia-cg-310", "molina-mcp-160"}
MA_SENTENCE = "Unless otherwise stated, Oxford policies do not apply to Medicare Advantage members."


def replacement(payer: str | None = None) -> Chart:
    """A pump replacement (battery near its end, MS): every policy has something to say."""
    c = Chart(payer=payer)
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order("62362")
    return c


def run(chart: Chart) -> HookOutcome:
    terminology, store = services()
    req = HookRequest.model_validate(chart.request())
    record = asyncio.run(build_record(req, Settings()))
    return assess_hook(req, record, terminology, store, today=chart.dos)


def routed(chart: Chart) -> payers.Routing:
    (answer, *_) = run(chart).assessments
    return answer.routing


def policies(chart: Chart) -> set[str]:
    return {a.policy.policy for a in run(chart).every_assessment}


# -- which Coverage is in force ---------------------------------------------------------------


def test_coverage_without_a_period_is_in_force():
    c = replacement("Cigna Healthcare")
    r = routed(c)
    assert (
        not r.comparison
        and r.policy_ids == (CIGNA,)
        and r.coverage_ref == c.resources["coverage"][0]["id"].join(["Coverage/", ""])
    )


def test_coverage_that_ended_the_day_before_the_date_of_service_is_not_in_force():
    c = replacement()
    c.coverage("Cigna Healthcare", start="2025-01-01", end=c.dos - timedelta(days=1))
    r = routed(c)
    assert r.comparison and r.reason == payers.NO_COVERAGE and r.coverage_ref is None
    assert any("is not in force on 2026-09-14" in n and "ended 2026-09-13" in n for n in r.notes)


def test_coverage_ending_on_the_date_of_service_is_in_force_period_end_is_inclusive():
    c = replacement()
    c.coverage("Cigna Healthcare", start="2025-01-01", end=c.dos)
    assert routed(c).policy_ids == (CIGNA,)


def test_coverage_ending_at_a_time_on_the_date_of_service_is_in_force():
    c = replacement()
    c.coverage("Cigna Healthcare", start="2025-01-01T00:00:00-05:00", end="2026-09-14T00:00:00-05:00")
    assert routed(c).policy_ids == (CIGNA,)


def test_coverage_that_starts_the_day_after_the_date_of_service_is_not_in_force():
    c = replacement()
    c.coverage("Cigna Healthcare", start=c.dos + timedelta(days=1))
    r = routed(c)
    assert r.comparison and r.reason == payers.NO_COVERAGE
    assert any("starts 2026-09-15, after the date of service" in n for n in r.notes)


def test_coverage_that_starts_on_the_date_of_service_is_in_force():
    c = replacement()
    c.coverage("Cigna Healthcare", start=c.dos)
    assert routed(c).policy_ids == (CIGNA,)


def test_coverage_period_ending_as_a_month_covers_that_whole_month():
    c = replacement()
    c.coverage("Cigna Healthcare", start="2026-01", end="2026-09")
    assert routed(c).policy_ids == (CIGNA,)


def test_coverage_period_ending_the_month_before_is_not_in_force():
    c = replacement()
    c.coverage("Cigna Healthcare", start="2026-01", end="2026-08")
    assert routed(c).comparison


def test_coverage_with_an_unreadable_period_is_not_used_and_the_record_says_so():
    c = replacement()
    cov = c.coverage("Cigna Healthcare")
    cov["period"] = {"start": "2025-01-01", "end": "2026-02-30"}  # no such day
    out = run(c)
    (answer,) = out.assessments
    assert isinstance(answer, Comparison) and answer.routing.reason == payers.NO_COVERAGE
    assert any(f"Coverage/{cov['id']} was not valid FHIR" in n and "period" in n for n in out.record.issues)


@pytest.mark.parametrize(
    "period",
    [{"end": "14/09/2026"}, {"start": 20250101}, "2025-01-01/2026-12-31"],
    ids=["end-not-a-date", "start-a-number", "period-a-string"],
)
def test_a_period_the_service_cannot_read_is_neither_in_force_nor_out_of_force(period):
    force, how = payers.in_force({"resourceType": "Coverage", "period": period}, date(2026, 9, 14))
    assert force is None and ("could not be read" in how or "not a Period" in how)


def test_coverage_whose_period_ends_before_it_starts_is_not_used():
    c = replacement()
    c.coverage("Cigna Healthcare", start="2026-12-01", end="2026-01-01")
    r = routed(c)
    assert r.comparison and any("ends (2026-01-01) before it starts" in n for n in r.notes)


def test_cancelled_coverage_is_ignored():
    c = replacement()
    c.coverage("Cigna Healthcare", status="cancelled")
    assert routed(c).comparison


def test_entered_in_error_coverage_is_ignored():
    c = replacement()
    c.coverage("Cigna Healthcare", status="entered-in-error")
    c.coverage("Molina Healthcare of Ohio")
    assert routed(c).policy_ids == (MOLINA,)


def test_another_patients_coverage_is_ignored():
    c = replacement()
    c.coverage("Cigna Healthcare", beneficiary="someone-else", order=1)
    c.coverage("Molina Healthcare of Ohio", order=2)
    r = routed(c)
    assert r.policy_ids == (MOLINA,) and not any("someone-else" in n or "Cigna" in n for n in r.notes)


def test_another_patients_coverage_alone_leaves_no_coverage():
    c = replacement()
    c.coverage("Cigna Healthcare", beneficiary="someone-else")
    r = routed(c)
    assert r.comparison and r.reason == payers.NO_COVERAGE


def test_a_dependent_covered_under_a_parents_subscription_is_routed_by_their_own_coverage():
    """The subscriber (a parent) need not be the patient; the beneficiary must be."""
    c = replacement()
    c.coverage("Cigna Healthcare", subscriber="parent-1")
    assert routed(c).policy_ids == (CIGNA,)


# -- the primary -------------------------------------------------------------------------------


def test_secondary_cigna_and_primary_molina_routes_to_molina_and_notes_cigna():
    c = replacement()
    cigna = c.coverage("Cigna Healthcare", order=2)
    molina = c.coverage("Molina Healthcare of Ohio", order=1)
    r = routed(c)
    assert r.policy_ids == (MOLINA,) and r.coverage_ref == f"Coverage/{molina['id']}"
    assert any(f"Also in force: Coverage/{cigna['id']} (Cigna Healthcare, order 2)" in n for n in r.notes)
    assert policies(c) == {MOLINA}


def test_a_secondary_coverage_that_has_ended_is_not_noted_as_in_force():
    c = replacement()
    c.coverage("Molina Healthcare of Ohio", order=1)
    cigna = c.coverage("Cigna Healthcare", order=2, end=c.dos - timedelta(days=1))
    r = routed(c)
    assert r.policy_ids == (MOLINA,)
    assert not any(n.startswith("Also in force") for n in r.notes)
    assert any(f"Coverage/{cigna['id']}" in n and "not in force" in n for n in r.notes)


def test_two_coverages_without_order_take_the_first_and_say_the_primary_is_not_recorded():
    c = replacement()
    c.coverage("Molina Healthcare of Ohio")
    c.coverage("Cigna Healthcare")
    r = routed(c)
    assert r.policy_ids == (MOLINA,)
    assert any("does not say which is primary" in n for n in r.notes)


def test_primary_payer_unknown_and_secondary_cigna_is_a_comparison_noting_cigna():
    c = replacement()
    c.coverage("Acme Health Plan", order=1)
    c.coverage("Cigna Healthcare", order=2)
    r = routed(c)
    assert r.comparison and r.reason == payers.UNMATCHED and r.payer == "Acme Health Plan"
    assert any("Also in force" in n and "Cigna Healthcare" in n for n in r.notes)


# -- matching the payer ------------------------------------------------------------------------


def test_payer_is_matched_by_payor_identifier_value_when_there_is_no_display():
    c = replacement()
    cov = c.coverage(None, plan="Gold 500", payor_id="MOLINA-OH-1234")
    assert routed(c).policy_ids == (MOLINA,) and cov["payor"][0].get("display") is None


def test_payer_is_matched_by_plan_class_name():
    c = replacement()
    c.coverage(None, plan="Evernorth Behavioral Open Access")
    assert routed(c).policy_ids == (CIGNA,)


def test_a_payer_no_policy_matches_is_a_comparison_of_every_policy():
    c = replacement("Acme Health Plan")
    r = routed(c)
    assert r.comparison and r.reason == payers.UNMATCHED and set(r.policy_ids) == EVERY
    assert policies(c) == EVERY


def test_no_coverage_at_all_is_a_comparison_of_every_policy():
    r = routed(replacement())
    assert r.comparison and r.reason == payers.NO_COVERAGE and r.coverage_ref is None


def test_coverage_unavailable_is_a_comparison_that_says_it_could_not_be_retrieved():
    c = replacement("Cigna Healthcare")
    terminology, store = services()
    req = HookRequest.model_validate(c.request(omit=("coverage",)))
    record = asyncio.run(build_record(req, Settings()))
    (answer,) = assess_hook(req, record, terminology, store, today=c.dos).assessments
    assert isinstance(answer, Comparison) and answer.routing.reason == payers.UNAVAILABLE


# -- Oxford and Medicare Advantage ---------------------------------------------------------------


def test_uhc_medicare_advantage_by_sopt_type_111_is_not_routed_to_oxford():
    c = replacement()
    cov = c.coverage("UnitedHealthcare", plan="UHC Choice Plus", type_code=(SOPT, "111", "Medicare HMO"))
    r = routed(c)
    assert r.comparison and r.reason == payers.EXCLUDED and r.coverage_ref == f"Coverage/{cov['id']}"
    assert OXFORD in r.policy_ids and set(r.policy_ids) == EVERY  # every policy, as a comparison
    why = r.exclusion
    assert "Medicare Advantage members" in why and "code 111 (Medicare HMO)" in why and MA_SENTENCE in why


def test_uhc_medicare_advantage_by_sopt_type_11_is_not_routed_to_oxford():
    c = replacement()
    c.coverage("UnitedHealthcare", plan="UHC Plan 7", type_code=(SOPT, "11", "Medicare (Managed Care)"))
    assert routed(c).reason == payers.EXCLUDED


def test_uhc_medicare_advantage_by_the_sopt_oid_is_not_routed_to_oxford():
    c = replacement()
    c.coverage(
        "UnitedHealthcare",
        plan="UHC Plan 7",
        type_code=("urn:oid:2.16.840.1.113883.3.221.5", "112", "Medicare PPO"),
    )
    assert routed(c).reason == payers.EXCLUDED


def test_uhc_medicare_advantage_by_plan_name_is_not_routed_to_oxford():
    c = replacement()
    c.coverage("UnitedHealthcare", plan="AARP Medicare Advantage Choice (PPO)")
    r = routed(c)
    assert r.reason == payers.EXCLUDED
    assert "its plan is named" in r.exclusion and "medicare" in r.exclusion


def test_oxford_medicare_plan_name_is_not_routed_to_oxford():
    c = replacement()
    c.coverage("Oxford Health Plans", plan="Oxford Medicare Advantage HMO")
    assert routed(c).reason == payers.EXCLUDED


def test_uhc_commercial_plan_still_routes_to_oxford():
    c = replacement()
    c.coverage(
        "UnitedHealthcare", plan="UHC Choice Plus", type_code=(SOPT, "512", "Commercial Managed Care - PPO")
    )
    r = routed(c)
    assert r.policy_ids == (OXFORD,) and not r.comparison and r.exclusion is None


def test_a_code_11_from_another_system_does_not_mark_medicare_advantage():
    c = replacement()
    c.coverage(
        "UnitedHealthcare",
        plan="UHC Choice Plus",
        type_code=("http://terminology.hl7.org/CodeSystem/v3-ActCode", "11", "not a payment typology"),
    )
    assert routed(c).policy_ids == (OXFORD,)


def test_medicare_in_a_group_name_is_not_a_plan_name():
    c = replacement()
    c.coverage("UnitedHealthcare", plan="UHC Choice Plus", group="Medicare Retirees Association staff")
    assert routed(c).policy_ids == (OXFORD,)


def test_the_medicare_advantage_exclusion_is_oxfords_own_not_widened_to_other_payers():
    c = replacement()
    c.coverage("Cigna Healthcare", plan="Cigna Medicare Advantage", type_code=(SOPT, "111", "Medicare HMO"))
    assert routed(c).policy_ids == (CIGNA,)


def test_molina_medicare_member_by_plan_name_is_not_routed_to_molina():
    """'… an existing NCD or LCD will supersede the contents of this MCP … for all Medicare members.'"""
    c = replacement()
    c.coverage("Molina Healthcare", plan="Molina Medicare Complete Care (HMO D-SNP)")
    r = routed(c)
    assert r.reason == payers.EXCLUDED and "NCD" in r.exclusion


def test_molina_medicare_fee_for_service_type_is_not_routed_to_molina():
    c = replacement()
    c.coverage("Molina Healthcare", plan="Molina Plan 3", type_code=(SOPT, "121", "Medicare FFS"))
    assert routed(c).reason == payers.EXCLUDED


def test_molina_medicaid_member_still_routes_to_molina():
    c = replacement()
    c.coverage("Molina Healthcare", plan="Molina Medicaid", type_code=(SOPT, "2", "Medicaid"))
    assert routed(c).policy_ids == ("molina-mcp-160",)


# -- the exclusion is data ---------------------------------------------------------------------


def test_payers_yaml_quotes_each_exclusion_verbatim_from_its_seed():
    raw = yaml.safe_load((ROOT / "mappings/payers.yaml").read_text(encoding="utf-8"))
    seen = 0
    for r in raw["routes"]:
        for ex in r.get("not_for") or ():
            seed = (ROOT / "policies/sources" / ex["seed"]).read_text(encoding="utf-8")
            assert ex["source"] in " ".join(seed.split()), ex["source"]
            seen += 1
    assert seen >= 1
    oxford = next(r for r in raw["routes"] if r["policy"] == OXFORD)
    assert oxford["not_for"][0]["source"] == MA_SENTENCE


def test_no_payer_name_or_payment_code_is_in_the_routing_code():
    text = (ROOT / "cds_service/payers.py").read_text(encoding="utf-8").lower()
    for word in ("oxford", "unitedhealthcare", "medicare", "cigna", "molina", "magellan", "nahdo", "221.5"):
        assert word not in text, word
    assert not re.search(r"['\"]11\d?['\"]", text)


def test_a_malformed_exclusion_is_refused_when_the_mappings_load(tmp_path):
    raw = yaml.safe_load((ROOT / "mappings/payers.yaml").read_text(encoding="utf-8"))
    raw["routes"][1]["not_for"][0].pop("source")
    for f in (ROOT / "mappings").glob("*.yaml"):
        (tmp_path / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "payers.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(MappingFileError, match="source"):
        payers.load_routes(Terminology(tmp_path))


# -- per order -----------------------------------------------------------------------------------


def test_each_order_is_routed_by_the_coverage_in_force_on_its_own_date_of_service():
    c = replacement()
    c.coverage("Cigna Healthcare", end="2026-09-30")
    c.order("62362", order_id="sr-later", occurrence=date(2026, 10, 5))
    answers = run(c).assessments
    (payer_card,) = [a for a in answers if not isinstance(a, Comparison)]
    (folded,) = [a for a in answers if isinstance(a, Comparison)]
    assert payer_card.policy.policy == CIGNA and payer_card.order.reference == "ServiceRequest/sr-1"
    assert folded.order.reference == "ServiceRequest/sr-later" and folded.routing.reason == payers.NO_COVERAGE


def test_a_coverage_whose_beneficiary_is_not_a_reference_to_the_patient_is_not_used_and_said():
    c = replacement()
    cov = c.coverage("Cigna Healthcare")
    cov["beneficiary"] = {"identifier": {"system": "urn:oid:2.16.840.1.113883.4.1", "value": "999-00-1234"}}
    r = routed(c)
    assert r.comparison and any(
        f"Coverage/{cov['id']} does not reference the patient as its beneficiary" in n for n in r.notes
    )


# -- which payer a Coverage names: whole words, never a fragment of another name ---------------


@pytest.mark.parametrize(
    ("payer", "policy"),
    [
        ("Cigna Healthcare of Texas", CIGNA),
        ("CIGNA", CIGNA),
        ("Cigna-HealthSpring", CIGNA),
        ("UnitedHealthcare Oxford Health Plans", OXFORD),
        ("Molina Healthcare of Ohio", MOLINA),
    ],
)
def test_a_payer_named_as_a_whole_word_routes_to_its_policy(payer, policy):
    assert routed(replacement(payer)).policy_ids == (policy,)


@pytest.mark.parametrize("payer", ["Cignature Health Plan", "Molinari Benefits Trust", "Oxfordshire Mutual"])
def test_a_payer_whose_name_only_contains_another_payers_name_is_not_routed_to_that_policy(payer):
    """A payer routed to another payer's policy would be told that policy's requirements as its
    own: a name that merely contains "Cigna" or "Molina" is a payer no policy matches."""
    r = routed(replacement(payer))
    assert r.comparison and r.reason == payers.UNMATCHED
