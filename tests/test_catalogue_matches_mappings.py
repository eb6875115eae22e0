"""The fact catalogue (what a policy may ask) and mappings/ (how the record says it) agree.

The catalogue is kept apart from the extractors so the policy loader needs no
FHIR code; these tests make sure it never names a class, code or value set the
mapping files do not define, and that every mapping a policy can reach is in
the catalogue, so neither side drifts silently.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from cds_service import mappings_schema
from cds_service.codes import Terminology
from cds_service.facts import catalogue
from cds_service.facts.clinical import INFECTION_SETS
from cds_service.policy_model import Indication
from cds_service.policy_store import PolicyStore

ROOT = Path(__file__).resolve().parent.parent
T = Terminology()


def _yaml(name: str) -> dict:
    return yaml.safe_load((ROOT / "mappings" / name).read_text(encoding="utf-8"))


def test_therapy_classes_are_exactly_the_classes_of_therapies_yaml():
    assert set(catalogue.THERAPY_CLASSES) == set(T.therapies.classes)


def test_every_therapy_class_has_a_clinician_label():
    assert set(T.therapies.classes) <= set(T.therapies.labels)


def test_every_therapy_class_is_made_of_known_kinds():
    kinds = set(T.therapies.procedure_kinds) | set(T.therapies.medication_kinds)
    for cls, members in T.therapies.classes.items():
        assert set(members) <= kinds, cls


def test_waiver_reasons_are_the_reasons_an_allergy_can_document():
    documented = {r for reasons in T.therapies.allergy_reasons.values() for r in reasons}
    assert documented <= set(catalogue.WAIVER_REASONS)


def test_the_routes_a_leaf_may_name_are_routes_of_therapies_yaml():
    allowed = catalogue.FACTS["therapy_failed_duration"].params["routes"]
    assert set(allowed) <= set(T.therapies.routes)


def test_flag_codes_are_the_boolean_observations_of_observations_yaml():
    flags = set(_yaml("observations.yaml")["flags"]["idds"])
    trial_flags = set(catalogue.FACTS["trial_flag"].params["code"])
    assert set(catalogue.FLAG_CODES) | trial_flags == flags


def test_every_idds_code_the_catalogue_names_is_in_the_service_codesystem():
    concepts = set(mappings_schema.codesystem().concepts)
    names = (
        set(catalogue.FLAG_CODES)
        | set(catalogue.PUMP_STATUSES)
        | set(catalogue.FACTS["trial_flag"].params["code"])
    )
    assert names <= concepts, names - concepts


def test_trial_drug_classes_are_classes_of_drugs_yaml():
    drug_classes = {c for body in T.drugs.ingredients.values() for c in body.classes}
    assert set(catalogue.TRIAL_DRUG_CLASSES) <= drug_classes


def test_every_injectate_class_a_policy_excludes_or_admits_is_a_class_of_drugs_yaml():
    drug_classes = {c for body in T.drugs.ingredients.values() for c in body.classes}
    for policy in PolicyStore.load().all():
        for ex in policy.scope.excluded_injectates:
            assert set(ex.classes) | set(ex.other_than) <= drug_classes, (policy.policy, ex)


def test_every_condition_value_set_a_fact_may_name_exists():
    named = set(catalogue.FACTS["diagnosis_documented"].params["value_set"]) | set(INFECTION_SETS.values())
    named |= {f"indication-{i}" for i in Indication}
    assert named <= set(T.value_sets)


def test_every_indication_combination_names_known_value_sets():
    for indication, groups in T.indication_combinations.items():
        assert indication in tuple(Indication)
        for group in groups:
            assert set(group) <= set(T.value_sets)


def test_every_waiver_therapy_a_policy_names_is_a_therapy_kind_or_a_drug():
    known = set(T.therapies.procedure_kinds) | set(T.drugs.ingredients)
    for policy in PolicyStore.load().all():
        leaves = [leaf for _, _, rule in _rules(policy) for leaf in rule]
        for leaf in leaves:
            for therapy in leaf.params.get("waiver_therapies") or ():
                assert therapy in known, (policy.policy, leaf.id, therapy)


def _rules(policy):
    from cds_service.policy_model import Deferred, documentation_leaves

    for indication, phase, rule in policy.phase_rules():
        if isinstance(rule, Deferred):
            yield indication, phase, list(documentation_leaves(rule))
        else:
            yield indication, phase, list(rule.criteria.leaves() if rule.criteria else ())


def test_every_scale_a_policy_names_is_an_observation_value_set_with_a_label():
    observed = set(_yaml("observations.yaml"))
    scales = set(catalogue.FACTS["spasticity_score_latest"].params["scale"]) | {"pain-nrs"}
    assert scales <= observed, scales - observed
    assert scales <= set(catalogue.SCALE_LABEL)
