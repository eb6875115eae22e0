"""Typed shape of a policy file (policies/README.md is the prose version).

Validation here is what makes a bad policy file stop the service at start-up
with the file and field named, instead of surfacing as a wrong card later.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from pydantic import Field, field_validator, model_validator

from .policy_scope import ExcludedInjectates, ExcludedUses, OtherIndications, Reading, Scope
from .policy_tree import (
    All,
    AnyOf,
    Deferred,
    Leaf,
    Node,
    Not,
    Ref,
    Strict,
    TreeNode,
    documentation_leaves,
)
from .vocabulary import (
    ANY_INDICATION,
    DETERMINATION_LABEL,
    INDICATION_LABEL,
    OTHER_INDICATION,
    PHASE_LABEL,
    STATUS_WORDS,
    Determination,
    Indication,
    Phase,
    Status,
)

__all__ = [
    "ANY_INDICATION",
    "DETERMINATION_LABEL",
    "INDICATION_LABEL",
    "OTHER_INDICATION",
    "PHASE_LABEL",
    "STATUS_WORDS",
    "All",
    "AnyOf",
    "Contraindication",
    "Deferred",
    "Determination",
    "ExcludedInjectates",
    "ExcludedUses",
    "Indication",
    "IndicationRule",
    "Leaf",
    "Node",
    "Not",
    "NotAddressed",
    "NotCovered",
    "OtherIndications",
    "Phase",
    "PhaseRule",
    "Policy",
    "Reading",
    "Ref",
    "Scope",
    "Status",
    "TreeNode",
    "documentation_leaves",
]


class NotCovered(Strict):
    text: str
    source: str


class NotAddressed(Strict):
    text: str


class PhaseRule(Strict):
    criteria: Node | None = None
    deferred: Deferred | None = None
    not_covered: NotCovered | None = None
    not_addressed: NotAddressed | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PhaseRule:
        given = [k for k in ("criteria", "deferred", "not_covered", "not_addressed") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                f"a phase needs exactly one of criteria/deferred/not_covered/not_addressed, got {given}"
            )
        return self


class IndicationRule(Strict):
    trial: PhaseRule | None = None
    permanent: PhaseRule | None = None
    replacement: PhaseRule | None = None
    deferred: Deferred | None = None
    not_covered: NotCovered | None = None
    not_addressed: NotAddressed | None = None
    same_as: str | None = None

    def for_phase(self, phase: str) -> PhaseRule | None:
        return {
            Phase.TRIAL: self.trial,
            Phase.PERMANENT: self.permanent,
            Phase.REPLACEMENT: self.replacement,
        }[Phase(phase)]


class Contraindication(Strict):
    phases: list[Phase]
    indications: list[str] = Field(default_factory=list)  # empty = all
    criterion: Leaf


class Policy(Strict):
    policy: str
    version: str
    payer: str
    title: str
    effective: date
    seed: str
    url: str | None = None
    scope: Scope
    readings: list[Reading] = Field(default_factory=list)
    indications: dict[str, IndicationRule]
    contraindications: list[Contraindication] = Field(default_factory=list)

    @field_validator("indications")
    @classmethod
    def _known_indications(cls, v: dict[str, IndicationRule]) -> dict[str, IndicationRule]:
        for key, rule in v.items():
            if key not in (*Indication, ANY_INDICATION):
                raise ValueError(f"unknown indication {key!r}")
            if rule.same_as and rule.same_as not in v:
                raise ValueError(f"{key}.same_as names {rule.same_as!r}, not in this file")
        return v

    # -- the policy's criteria, found once for every reader (engine, cards, checklist, policy
    # table, questionnaires), so a rule of precedence or of merging cannot differ between them.

    def phase_rules(self) -> Iterator[tuple[str, str, PhaseRule | Deferred]]:
        """Every (indication key, phase, rule) the file defines; an indication-level
        deferral as phase "*"."""
        for indication, rule in self.indications.items():
            if rule.deferred:
                yield indication, ANY_INDICATION, rule.deferred
            for phase in Phase:
                phase_rule = rule.for_phase(phase)
                if phase_rule is not None:
                    yield indication, phase, phase_rule

    def resolve(self, ref: Ref) -> Node:
        """The criteria tree a `ref` names (the loader refuses a file where there is none)."""
        indication, phase = ref.target
        rule = self.indications[indication].for_phase(phase)
        if rule is None or rule.criteria is None:
            raise KeyError(f"{self.policy}@{self.version}: ref {ref.ref!r} names no criteria tree")
        return rule.criteria

    def walk(self, node: Node | None) -> Iterator[TreeNode]:
        """Every node under `node` with each `ref` followed into the tree it names (once on a path)."""

        def go(current: TreeNode, seen: frozenset[str]) -> Iterator[TreeNode]:
            yield current
            if isinstance(current, Ref):
                if current.ref not in seen:
                    yield from go(self.resolve(current), seen | {current.ref})
                return
            for child in current.children():
                yield from go(child, seen)

        if node is not None:
            yield from go(node, frozenset())

    def rule_for(self, indication: str | None, phase: str) -> tuple[PhaseRule | Deferred | None, str | None]:
        """The rule that governs (indication, phase), or why the policy is silent.

        An indication-level deferral or non-coverage applies to every phase; then
        the indication's own phase rule; then the policy's "*" rule for the phase.
        """
        rule = self._indication_rule(indication)
        if rule is not None:
            if rule.deferred is not None:
                return rule.deferred, None
            if rule.not_covered is not None:
                return PhaseRule(not_covered=rule.not_covered), None
            if rule.not_addressed is not None:
                return PhaseRule(not_addressed=rule.not_addressed), None
            if rule.for_phase(phase) is not None:
                return rule.for_phase(phase), None
        generic = self.indications.get(ANY_INDICATION)
        if generic is not None and generic.for_phase(phase) is not None:
            return generic.for_phase(phase), None
        if indication is None:
            return None, "indication"
        if rule is None and indication not in self.scope.indications:
            return None, f"the policy does not address {indication}"
        return None, f"the policy has no {phase} criteria for {indication}"

    def _indication_rule(self, indication: str | None) -> IndicationRule | None:
        """The indication's rule, following `same_as` (the loader guarantees targets exist)."""
        rule = self.indications.get(indication) if indication else None
        seen: set[str] = set()
        while rule is not None and rule.same_as and rule.same_as not in seen:
            seen.add(rule.same_as)
            rule = self.indications.get(rule.same_as)
        return rule

    def contraindications_for(self, phase: str, indication: str | None) -> list[Leaf]:
        """The policy's contraindication criteria for this phase and indication."""
        return [
            c.criterion
            for c in self.contraindications
            if phase in c.phases and (not c.indications or indication in c.indications)
        ]

    def criteria_for(self, phase: str, indication: str | None, rule: PhaseRule | None = None) -> Node | None:
        """The criteria tree an assessment of (indication, phase) evaluates: the governing rule's
        (or the given `rule`'s) tree with the contraindications for the phase added under one ALL.
        None when the policy answers without criteria (deferred, not covered, not addressed, silent)."""
        if rule is None:
            found, _ = self.rule_for(indication, phase)
            rule = found if isinstance(found, PhaseRule) else None
        if rule is None or rule.criteria is None:
            return None
        extra = self.contraindications_for(phase, indication)
        return All(all=[rule.criteria, *extra]) if extra else rule.criteria

    def assessed(self, indication: str | None, phase: str) -> tuple[Node | Deferred | None, str | None]:
        """What an assessment of (indication, phase) evaluates: the criteria tree (as
        `criteria_for`), or a deferral whose documentation list is asked instead; else none,
        and the policy's own reason (not covered, not addressed) or why it is silent."""
        rule, silent = self.rule_for(indication, phase)
        if isinstance(rule, PhaseRule) and rule.deferred is not None:
            rule = rule.deferred
        if isinstance(rule, Deferred):
            return rule, None
        if isinstance(rule, PhaseRule):
            if rule.not_addressed is not None:
                return None, rule.not_addressed.text
            if rule.not_covered is not None:
                return None, rule.not_covered.text
            return self.criteria_for(phase, indication, rule), None
        return None, silent

    def requirement_ids(self, phase: str, indication: str | None) -> list[str]:
        """The distinct criteria an assessment of (indication, phase) reads, referenced trees
        included, each once (the README policy table counts these)."""
        tree = self.criteria_for(phase, indication)
        return list(dict.fromkeys(n.id for n in self.walk(tree) if isinstance(n, Leaf)))

    def reportable_leaves(self) -> list[Leaf]:
        """Every leaf an assessment of this policy can report: criteria, deferred documentation
        and contraindications (a leaf repeated by a YAML anchor is listed each time)."""
        leaves: list[Leaf] = []
        for _, _, rule in self.phase_rules():
            if isinstance(rule, Deferred):
                leaves += documentation_leaves(rule)
                continue
            if rule.criteria is not None:
                leaves += rule.criteria.leaves()
            if rule.deferred is not None:
                leaves += documentation_leaves(rule.deferred)
        leaves += [c.criterion for c in self.contraindications]
        return leaves
