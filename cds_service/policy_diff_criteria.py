"""The criteria half of a policy diff: every leaf of two versions placed, matched, compared.

Why matching is layered: a payer's new version renumbers ids (Cigna's `cigna-2026-02-…`
became `cigna-2026-08-…`), rewords every sentence and sometimes splits one requirement
into two. A leaf is paired with its counterpart by, in turn: the same id in the same
place; the same id once the version's own tokens are taken out of it; the same id
elsewhere (moved); the same fact reading the same thing (its class, scale, code …) in
the same place; the only leaf of that fact in that place. What stays unpaired is added
or removed, and a sentence whose criteria were split, merged or regrouped is named as
restructured rather than left to look like unrelated additions and removals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

from .policy_diff_model import Criterion, CriterionChange, FieldChange, Restructure
from .policy_diff_words import (
    applies_if_words,
    path_words,
    place_words,
    requirement,
    same_words,
    value_words,
)
from .policy_model import ANY_INDICATION, All, AnyOf, Leaf, Node, Not, Phase, Policy, Ref

WAIVER_PARAMS = ("waived_by", "waiver_therapies")
Place = tuple[str, str, str]  # (indication key, phase, part: criteria | documentation | contraindication)


@dataclass(frozen=True)
class Placed:
    """A leaf where the policy puts it: its tree, and the groups above it (root first)."""

    leaf: Leaf
    place: Place
    path: tuple[str, ...]  # "all", "any", "any-open", "not"
    applies_to: str = ""  # a contraindication's phases and indications


def _walk(node: Node | None, path: tuple[str, ...]) -> Iterator[tuple[Leaf, tuple[str, ...]]]:
    if isinstance(node, Leaf):
        yield node, path
    elif isinstance(node, All):
        for child in node.all:
            yield from _walk(child, (*path, "all"))
    elif isinstance(node, AnyOf):
        for child in node.any:
            yield from _walk(child, (*path, "any-open" if node.open else "any"))
    elif isinstance(node, Not):
        yield from _walk(node.not_, (*path, "not"))


def _refs(node: Node | None) -> Iterator[str]:
    if isinstance(node, Ref):
        yield f"{node.ref}" + (" (as of the trial)" if node.as_of else "")
    elif isinstance(node, (All, AnyOf)):
        for child in node.all if isinstance(node, All) else node.any:
            yield from _refs(child)
    elif isinstance(node, Not):
        yield from _refs(node.not_)


def trees(policy: Policy) -> Iterator[tuple[Place, Node | None]]:
    """Every criteria tree and documentation list of the file, with its place."""
    for indication, rule in policy.indications.items():
        if rule.deferred is not None:
            yield (indication, "*", "documentation"), All(all=list(rule.deferred.documentation))
        for phase in Phase:
            phase_rule = getattr(rule, phase)
            if phase_rule is None:
                continue
            if phase_rule.criteria is not None:
                yield (indication, phase, "criteria"), phase_rule.criteria
            if phase_rule.deferred is not None:
                yield (indication, phase, "documentation"), All(all=list(phase_rule.deferred.documentation))


def placed(policy: Policy) -> list[Placed]:
    out = [Placed(leaf, place, path) for place, tree in trees(policy) for leaf, path in _walk(tree, ())]
    for c in policy.contraindications:
        applies = ", ".join(c.phases) + (f" ({', '.join(c.indications)})" if c.indications else "")
        out.append(Placed(c.criterion, (ANY_INDICATION, "*", "contraindication"), (), applies))
    return out


def refs_by_place(policy: Policy) -> dict[Place, list[str]]:
    return {place: sorted(_refs(tree)) for place, tree in trees(policy)}


def strip_version(leaf_id: str, version: str) -> str:
    """The id without the version's own tokens (`cigna-2026-02-x` → `cigna-x` for version
    2026-02-25, `oxford-339-7-x` → `oxford-x` for 339.7): at least two tokens, or the whole
    version, so a lone number in an id ("50") is never taken for one."""
    tokens, vtokens = leaf_id.split("-"), re.split(r"[-.]", version)
    for size in range(len(vtokens), 0, -1):
        if size < 2 and size < len(vtokens):
            break
        for i in range(len(tokens) - size + 1):
            if tokens[i : i + size] == vtokens[:size]:
                return "-".join(tokens[:i] + tokens[i + size :])
    return leaf_id


def _identity(leaf: Leaf) -> tuple[tuple[str, str], ...]:
    """What a fact reads, as opposed to the bar it sets: its text-valued params (class,
    scale, code, value set …), never a number or a waiver list."""
    return tuple(sorted((k, str(v)) for k, v in leaf.params.items() if isinstance(v, str)))


KeyFn = Callable[[Placed, str], Hashable]
PASSES: tuple[tuple[str, KeyFn], ...] = (
    ("id", lambda p, v: (p.place, p.leaf.id)),
    ("id without the version", lambda p, v: (p.place, strip_version(p.leaf.id, v))),
    ("id (moved)", lambda p, v: p.leaf.id),
    ("id without the version (moved)", lambda p, v: strip_version(p.leaf.id, v)),
    ("what it reads", lambda p, v: (p.place, p.leaf.fact, _identity(p.leaf))),
    ("the one criterion of its fact", lambda p, v: (p.place, p.leaf.fact)),
)


def match(
    old: list[Placed], new: list[Placed], old_version: str, new_version: str
) -> tuple[list[tuple[Placed, Placed, str]], list[Placed], list[Placed]]:
    """(pairs with how they were paired, removed, added); a key pairs only when it is unique on both sides."""
    pairs: list[tuple[Placed, Placed, str]] = []
    left, right = list(old), list(new)
    for how, key in PASSES:
        by_old: dict[Hashable, list[Placed]] = {}
        by_new: dict[Hashable, list[Placed]] = {}
        for p in left:
            by_old.setdefault(key(p, old_version), []).append(p)
        for p in right:
            by_new.setdefault(key(p, new_version), []).append(p)
        for k, olds in by_old.items():
            news = by_new.get(k, [])
            if len(olds) == 1 and len(news) == 1:
                pairs.append((olds[0], news[0], how))
        paired_old = {id(a) for a, _, _ in pairs}
        paired_new = {id(b) for _, b, _ in pairs}
        left = [p for p in left if id(p) not in paired_old]
        right = [p for p in right if id(p) not in paired_new]
    return pairs, left, right


def criterion(p: Placed) -> Criterion:
    leaf = p.leaf
    return Criterion(
        id=leaf.id,
        indication=p.place[0],
        phase=p.place[1],
        part=p.place[2],
        where=place_words(p.place),
        text=leaf.text,
        source=leaf.source,
        requirement=requirement(leaf),
        structure=path_words(p.path),
        fact=leaf.fact,
        params=dict(leaf.params),
        applies_to=p.applies_to,
    )


def compare(a: Placed, b: Placed) -> list[FieldChange]:
    """What differs between two paired leaves, by aspect (substantive ones first)."""
    x, y = a.leaf, b.leaf
    out: list[FieldChange] = []

    def add(aspect: str, label: str, before: str, after: str) -> None:
        if before != after:
            out.append(FieldChange(aspect=aspect, label=label, before=before, after=after))

    add("location", "where", place_words(a.place), place_words(b.place))
    add("applies-to", "applies to", a.applies_to, b.applies_to)
    add("fact", "what the record is read for", x.fact, y.fact)
    add("threshold", "requirement", requirement(x), requirement(y))
    for name in WAIVER_PARAMS:
        add(
            "waiver", name.replace("_", " "), value_words(x.params.get(name)), value_words(y.params.get(name))
        )
    for name in sorted((set(x.params) | set(y.params)) - set(WAIVER_PARAMS)):
        add(
            "params", name.replace("_", " "), value_words(x.params.get(name)), value_words(y.params.get(name))
        )
    add("undecided", "values that leave it undecided", value_words(x.undecided), value_words(y.undecided))
    add("applies-if", "only when", applies_if_words(x.applies_if), applies_if_words(y.applies_if))
    add("structure", "place in the tree", path_words(a.path), path_words(b.path))
    add("text", "plain words", x.text, y.text)
    if x.source != y.source:
        label = "source (punctuation or case only)" if same_words(x.source, y.source) else "source"
        out.append(FieldChange(aspect="source", label=label, before=x.source, after=y.source))
    return out


def changes(pairs: list[tuple[Placed, Placed, str]]) -> tuple[list[CriterionChange], int]:
    """(the changed pairs, how many pairs are identical)."""
    changed: list[CriterionChange] = []
    same = 0
    for a, b, how in pairs:
        found = compare(a, b)
        if not found:
            same += 1
            continue
        changed.append(
            CriterionChange(
                before=criterion(a),
                after=criterion(b),
                matched_by=how,
                changes=found,
                substantive=any(c.aspect not in ("text", "source") for c in found),
            )
        )
    return changed, same


def restructured(
    pairs: list[tuple[Placed, Placed, str]], removed: list[Placed], added: list[Placed]
) -> list[Restructure]:
    """Sentences whose criteria were split, merged or regrouped: criteria citing one sentence
    (in one place) are one cluster, joined across versions by their pairs; a cluster is
    restructured when it holds a paired criterion and an unpaired one, or a paired one moved
    to another group."""
    nodes: list[tuple[str, Placed]] = [("old", a) for a, _, _ in pairs] + [("new", b) for _, b, _ in pairs]
    nodes += [("old", p) for p in removed] + [("new", p) for p in added]
    parent = list(range(len(nodes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    n = len(pairs)
    regrouped: dict[tuple[Place, tuple[str, ...], Place, tuple[str, ...]], int] = {}
    for i, (a, b, _) in enumerate(pairs):
        join(i, n + i)
        if a.path != b.path:  # criteria moved together (a group changed) are one restructuring
            join(i, regrouped.setdefault((a.place, a.path, b.place, b.path), i))
    by_sentence: dict[tuple[str, Place, str], int] = {}
    for i, (side, p) in enumerate(nodes):
        k = (side, p.place, p.leaf.source)
        if k in by_sentence:
            join(i, by_sentence[k])
        else:
            by_sentence[k] = i
    clusters: dict[int, list[int]] = {}
    for i in range(len(nodes)):
        clusters.setdefault(find(i), []).append(i)
    out: list[Restructure] = []
    for members in clusters.values():
        paired = [i for i in members if i < 2 * n]
        unpaired = [i for i in members if i >= 2 * n]
        moved = [i for i in paired if i < n and pairs[i][0].path != pairs[i][1].path]
        if not paired or not (unpaired or moved):
            continue
        olds = [nodes[i][1] for i in members if nodes[i][0] == "old"]
        news = [nodes[i][1] for i in members if nodes[i][0] == "new"]
        gone = [nodes[i][1] for i in unpaired if nodes[i][0] == "old"]
        came = [nodes[i][1] for i in unpaired if nodes[i][0] == "new"]
        out.append(_restructure(olds, news, gone, came, [pairs[i] for i in moved]))
    return out


def _count(k: int) -> str:
    return f"{k} criterion" if k == 1 else f"{k} criteria"


def _restructure(
    olds: list[Placed],
    news: list[Placed],
    gone: list[Placed],
    came: list[Placed],
    moved: list[tuple[Placed, Placed, str]],
) -> Restructure:
    parts: list[str] = []
    if gone or came:
        parts.append(
            f"Restructured: what the policy's sentence asks was encoded as {_count(len(olds))}, now as {_count(len(news))}."
        )
        parts += [f"Dropped: {p.leaf.text}" for p in gone]
        parts += [f"New: {p.leaf.text}" for p in came]
    for before, after in dict.fromkeys((a.path, b.path) for a, b, _ in moved):
        k = sum(1 for a, b, _ in moved if (a.path, b.path) == (before, after))
        parts.append(f"Regrouped: {_count(k)} now under “{path_words(after)}” (was “{path_words(before)}”).")
    return Restructure(
        where="; ".join(sorted({place_words(p.place) for p in olds + news})),
        summary=" ".join(parts),
        before_ids=[p.leaf.id for p in olds],
        after_ids=[p.leaf.id for p in news],
        before_sources=list(dict.fromkeys(p.leaf.source for p in olds)),
        after_sources=list(dict.fromkeys(p.leaf.source for p in news)),
    )
