"""The domain vocabulary of shared/contract/assessment.md as types.

One StrEnum per closed list of the contract, so a typo is an error where it is
written, not a card that never shows. The values are the contract's strings: a
member compares, hashes, formats and serialises as its string, so JSON output
is what it was with bare literals. Import them from `policy_model`, which owns
them; they live in this leaf module only so that the fact catalogue (and the
CLI, which starts without it) can name them without importing the policy schema.
"""

from __future__ import annotations

from enum import StrEnum


class Determination(StrEnum):
    """What an assessment concludes for one (order, policy)."""

    CRITERIA_MET = "criteria-met"
    CRITERIA_NOT_MET = "criteria-not-met"
    DOCUMENTATION_INCOMPLETE = "documentation-incomplete"
    NOT_APPLICABLE = "not-applicable"
    NOT_EVALUABLE = "not-evaluable"


class Status(StrEnum):
    """A criterion's three-valued status (and a tree node's, by the ALL/ANY rules)."""

    MET = "met"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"


class Phase(StrEnum):
    """What the order is: a trial, a first permanent implant, or a pump replacement."""

    TRIAL = "trial"
    PERMANENT = "permanent"
    REPLACEMENT = "replacement"


class Indication(StrEnum):
    """Why the pump is ordered; the order is the policy table's and the questionnaires'."""

    NONMALIGNANT_PAIN = "nonmalignant-pain"
    CANCER_PAIN = "cancer-pain"
    SPASTICITY = "spasticity"
    DYSTONIA = "dystonia"


# An order reason naming a condition outside every indication: not an Indication (the
# contract reports it as indication null, with a note).
OTHER_INDICATION = "other"
ANY_INDICATION = "*"  # a policy file's rule for every indication

# How a clinician names each phase and indication (cards, checklist, questionnaires).
PHASE_LABEL: dict[str, str] = {
    Phase.TRIAL: "trial",
    Phase.PERMANENT: "permanent implant",
    Phase.REPLACEMENT: "pump replacement",
}
INDICATION_LABEL: dict[str, str] = {
    Indication.NONMALIGNANT_PAIN: "chronic non-malignant pain",
    Indication.CANCER_PAIN: "cancer-related pain",
    Indication.SPASTICITY: "spasticity",
    Indication.DYSTONIA: "dystonia",
}
# How a clinician names a determination (the comparison card's table, the checklist's headline).
DETERMINATION_LABEL: dict[str, str] = {
    Determination.CRITERIA_MET: "criteria met",
    Determination.CRITERIA_NOT_MET: "criteria not met",
    Determination.DOCUMENTATION_INCOMPLETE: "documentation incomplete",
    Determination.NOT_APPLICABLE: "policy does not apply",
    Determination.NOT_EVALUABLE: "criteria not public",
}
# How a clinician names a criterion's status, wherever one is shown (checklist, CLI, packet).
STATUS_WORDS: dict[str, str] = {
    Status.MET: "met",
    Status.NOT_MET: "not met",
    Status.UNKNOWN: "not documented",
}
