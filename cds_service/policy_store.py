"""Loads every policy file once, refuses bad ones, and picks the version in force.

Start-up is the only place policy files are read; a file that does not parse,
does not fit the schema, cites a sentence its seed does not contain, or refers
to a tree that does not exist stops the service with the file and field named.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from pydantic import ValidationError

from .policy_model import Deferred, Leaf, PhaseRule, Policy, Ref, documentation_leaves
from .policy_text import cites

POLICIES_DIR = Path(__file__).resolve().parent.parent / "policies"


class PolicyFileError(Exception):
    """A policy file is unusable; the message names the file and the field."""


def cited_sentences(policy: Policy) -> list[tuple[str, str]]:
    """(anchor id, source) for every sentence the file cites."""
    out: list[tuple[str, str]] = [(f"{policy.policy}-scope", policy.scope.source)]
    for i, ex in enumerate(policy.scope.excluded_injectates):
        out.append((f"{policy.policy}-excluded-injectates-{i}", ex.source))
    for i, use in enumerate(policy.scope.excluded_uses):
        out.append((f"{policy.policy}-excluded-uses-{i}", use.source))
    if policy.scope.other_indications:
        out.append((f"{policy.policy}-other-indication", policy.scope.other_indications.source))
    if policy.scope.age_source:
        out.append((f"{policy.policy}-age", policy.scope.age_source))
    for indication, phase, rule in policy.phase_rules():
        if isinstance(rule, Deferred):
            out.append((f"{indication}-deferred", rule.source))
            out.extend((leaf.id, leaf.source) for leaf in documentation_leaves(rule))
            continue
        if rule.criteria is not None:
            out.extend((leaf.id, leaf.source) for leaf in rule.criteria.leaves())
        for other in (rule.deferred, rule.not_covered):
            if other is not None:
                out.append((f"{indication}-{phase}", other.source))
                if isinstance(other, Deferred):
                    out.extend((leaf.id, leaf.source) for leaf in documentation_leaves(other))
    for indication_rule in policy.indications.values():
        if indication_rule.not_covered:
            out.append(("not-covered", indication_rule.not_covered.source))
    out.extend((c.criterion.id, c.criterion.source) for c in policy.contraindications)
    return out


def _check(policy: Policy, where: str) -> None:
    ids: set[str] = set()
    for indication, phase, rule in policy.phase_rules():
        leaves = (
            list(documentation_leaves(rule))
            if isinstance(rule, Deferred)
            else list(rule.criteria.leaves() if rule.criteria else ())
            + (list(documentation_leaves(rule.deferred)) if rule.deferred else [])
        )
        for leaf in leaves:
            if leaf.id in ids and not _same_leaf_elsewhere(policy, leaf):
                raise PolicyFileError(f"{where}: criterion id {leaf.id!r} is used twice")
            ids.add(leaf.id)
        if isinstance(rule, PhaseRule):
            refs = [n for n in rule.criteria.walk() if isinstance(n, Ref)] if rule.criteria else []
            for ref in refs:
                ind, ph = ref.target
                target = policy.indications.get(ind)
                found = target.for_phase(ph) if target is not None else None
                if found is None or found.criteria is None:
                    raise PolicyFileError(
                        f"{where}: indications.{indication}.{phase}: ref {ref.ref!r} names no criteria tree"
                    )
    for anchor, source in cited_sentences(policy):
        if not cites(policy.seed, source):
            raise PolicyFileError(
                f"{where}: {anchor}: source is not verbatim in {policy.seed}: {source[:120]!r}"
            )


def _same_leaf_elsewhere(policy: Policy, leaf: Leaf) -> bool:
    """A leaf may be repeated verbatim (YAML anchors); a clash of different leaves may not."""
    seen = [
        other
        for _, _, rule in policy.phase_rules()
        for other in (
            documentation_leaves(rule)
            if isinstance(rule, Deferred)
            else (rule.criteria.leaves() if rule.criteria else ())
        )
        if other.id == leaf.id
    ]
    return all(other == leaf for other in seen)


def load_policy_file(path: Path) -> Policy:
    where = path.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PolicyFileError(f"{where}: not valid YAML: {exc}") from exc
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise PolicyFileError(f"{where}: {field}: {first['msg']}") from exc
    expected = f"{policy.policy}@{policy.version}.yaml"
    if path.name != expected:
        raise PolicyFileError(f"{where}: file name should be {expected}")
    _check(policy, where)
    return policy


@dataclass(frozen=True)
class Selection:
    policy: Policy
    in_force: bool  # False when the date of service precedes the earliest version


class PolicyStore:
    def __init__(self, policies: list[Policy]):
        by_id: dict[str, list[Policy]] = defaultdict(list)
        for p in policies:
            by_id[p.policy].append(p)
        self._versions = {k: sorted(v, key=lambda p: p.effective) for k, v in by_id.items()}
        self._by_key = {(p.policy, p.version): p for p in policies}

    @classmethod
    def load(cls, directory: Path = POLICIES_DIR) -> PolicyStore:
        files = sorted(directory.glob("*.yaml"))
        if not files:
            raise PolicyFileError(f"{directory}: no policy files")
        return cls([load_policy_file(f) for f in files])

    @property
    def policy_ids(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, policy_id: str) -> list[Policy]:
        """Every version of one policy, oldest first (the policy diff pairs them); [] if unknown."""
        return list(self._versions.get(policy_id, ()))

    def get(self, policy_id: str, version: str) -> Policy | None:
        return self._by_key.get((policy_id, version))

    def in_force(self, policy_id: str, on: date) -> Selection:
        versions = self._versions[policy_id]
        chosen = [p for p in versions if p.effective <= on]
        if chosen:
            return Selection(chosen[-1], True)
        return Selection(versions[0], False)

    def all(self) -> list[Policy]:
        return [p for versions in self._versions.values() for p in versions]


if __name__ == "__main__":  # python -m cds_service.policy_store: check every file
    import sys

    try:
        if len(sys.argv) > 1:  # check the named files only
            store = PolicyStore([load_policy_file(Path(a)) for a in sys.argv[1:]])
        else:
            store = PolicyStore.load()
    except PolicyFileError as exc:
        print(f"policy error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    for p in store.all():
        print(f"ok {p.policy}@{p.version} ({len(cited_sentences(p))} cited sentences)")
