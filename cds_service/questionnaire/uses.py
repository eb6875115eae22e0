"""Which leaves an assessment of (indication, phase) evaluates, and whether the form requires each.

The questionnaire's `required` and `enableWhen`, and the prefill's answers, both read a
policy's tree through this one walk, so the form asks exactly what the engine evaluates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..policy_model import AnyOf, Deferred, Leaf, Node, Not, Policy, Ref


@dataclass(frozen=True)
class Use:
    leaf: Leaf
    mandatory: bool
    group: str | None  # the ANY the leaf is an alternative of


def _uses(
    policy: Policy, node: Node | None, mandatory: bool, group: str | None, seen: tuple[str, ...]
) -> Iterator[Use]:
    if node is None:
        return
    if isinstance(node, Leaf):
        # a requirement that may not apply ("prior to an intrathecal opioid trial") is not required
        yield Use(node, mandatory and node.applies_if is None, group)
        if node.applies_if is not None:
            yield Use(node.applies_if, False, group)
    elif isinstance(node, Ref):
        if node.ref not in seen:
            yield from _uses(policy, policy.resolve(node), mandatory, group, (*seen, node.ref))
    else:
        # an alternative of an ANY, or anything under a NOT, is not required by itself
        if isinstance(node, AnyOf):
            group = group or f"any-{len(seen)}-{id(node)}"
        required = mandatory and not isinstance(node, (AnyOf, Not))
        for child in node.children():
            yield from _uses(policy, child, required, group, seen)


def leaf_uses(policy: Policy, indication: str, phase: str) -> list[Use]:
    """Every leaf (with its place in the tree) an assessment of (indication, phase) evaluates."""
    tree, _ = policy.assessed(indication, phase)
    if isinstance(tree, Deferred):  # documentation items; an `any` of alternatives is not each required
        return [use for item in tree.documentation for use in _uses(policy, item, True, None, ())]
    return list(_uses(policy, tree, True, None, ()))
