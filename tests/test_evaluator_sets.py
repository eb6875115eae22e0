"""The professions a policy may name (facts/catalogue.py EVALUATOR_SETS) and the HEP prescribers
(facts/hep.py) are value sets in mappings/evaluators.yaml, each with the words the card uses."""

from __future__ import annotations

from pathlib import Path

import yaml

from cds_service.facts import hep
from cds_service.facts.catalogue import EVALUATOR_SETS

EVALUATORS = yaml.safe_load((Path(__file__).parent.parent / "mappings" / "evaluators.yaml").read_text())


def test_every_evaluator_set_a_policy_may_name_is_in_the_mappings_with_its_description():
    for name in (*EVALUATOR_SETS, hep.PRESCRIBERS):
        assert name in EVALUATORS, name
        assert isinstance(EVALUATORS[name]["description"], str) and EVALUATORS[name]["description"]
        assert EVALUATORS[name].get("nucc") and EVALUATORS[name].get("snomed"), name


def test_an_orthopaedic_surgeon_is_a_licensed_medical_provider_but_not_a_mental_health_professional():
    assert "207X00000X" in EVALUATORS["licensed-behavioral-or-medical-provider"]["nucc"]
    assert "207X00000X" not in EVALUATORS["licensed-mental-health-professional"]["nucc"]
    assert "163W00000X" not in EVALUATORS["licensed-behavioral-or-medical-provider"]["nucc"]  # RN


def _leaves(node: object):
    if isinstance(node, dict):
        if "fact" in node:
            yield node
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)


def test_the_policies_that_name_the_evaluator_use_their_own_set():
    seen: dict[str, set[str]] = {}
    for path in sorted((Path(__file__).parent.parent / "policies").glob("*.yaml")):
        policy = yaml.safe_load(path.read_text(encoding="utf-8"))
        for leaf in _leaves(policy.get("indications")):
            if leaf["fact"] == "psych_evaluation":
                seen.setdefault(policy["policy"], set()).add(
                    str((leaf.get("params") or {}).get("evaluators"))
                )
    assert seen["molina-mcp-160"] == {"licensed-mental-health-professional"}
    assert seen["cigna-cmm-210"] == {"licensed-behavioral-or-medical-provider"}
    # NIA and Oxford name no evaluator: their sentences ask only for the assessment
    assert seen["nia-cg-310"] == {"None"} and seen["oxford-pharmacy-339"] == {"None"}
