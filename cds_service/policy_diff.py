"""What changed between two versions of a policy, generated from the policy files.

For the payer's reviewer (and ours): when a payer publishes a new version and a new
file is encoded, this says which criteria were added, removed or changed (the bar,
the waiver, the grouping, the place), how the scope and the phase rules moved, and
puts the two versions' sentences side by side, so the encoding of the change can be
checked against the change in the text. `idds-cds policy-diff` prints it;
`GET /policies/{id}/diff` shows it (policy_diff_routes.py). The criteria matching is
in policy_diff_criteria.py, the phase rules in policy_diff_rules.py, the service's readings
(a file's `readings:`, each with the sentence it interprets) in policy_diff_readings.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from .policy_diff_criteria import changes, match, placed, restructured
from .policy_diff_criteria import criterion as as_criterion
from .policy_diff_model import FieldChange, PolicyDiff, Side
from .policy_diff_readings import readings
from .policy_diff_rules import refs, rules
from .policy_diff_words import indication_words
from .policy_model import Determination, ExcludedInjectates, ExcludedUses, Policy
from .policy_store import PolicyStore
from .policy_urls import diff_page, policy_page

DETERMINATION_WORDS = {
    Determination.CRITERIA_NOT_MET: "not covered (criteria not met)",
    Determination.NOT_APPLICABLE: "the policy does not apply",
}


class DiffError(LookupError):
    """No such policy or version; the message says which, and what there is."""


def page_url(policy: Policy) -> str:
    return policy_page(policy.policy, policy.version)


def diff_url(store: PolicyStore, policy: Policy) -> str | None:
    """The diff a checklist links to: from the version before this one to this one (from this
    one to the next when it is the first); None for a policy with one version."""
    versions = [p.version for p in store.versions(policy.policy)]
    if len(versions) < 2 or policy.version not in versions:
        return None
    i = versions.index(policy.version)
    before, after = (versions[i - 1], versions[i]) if i else (versions[0], versions[1])
    return diff_page(policy.policy, before, after)


def versions_between(
    store: PolicyStore, policy_id: str, before: str | None, after: str | None
) -> tuple[Policy, Policy]:
    """The two versions to compare; `after` defaults to the newest, `before` to the one before
    `after` (to `after` itself for a policy with one version: an empty diff)."""
    if policy_id not in store.policy_ids:
        raise DiffError(f"no policy {policy_id[:80]!r}; known: {', '.join(store.policy_ids)}")
    versions = store.versions(policy_id)
    known = [p.version for p in versions]

    def get(version: str) -> Policy:
        p = store.get(policy_id, version)
        if p is None:
            raise DiffError(
                f"policy {policy_id} has no version {version[:80]!r}; versions: {', '.join(known)}"
            )
        return p

    b = get(after) if after else versions[-1]
    if before:
        return get(before), b
    i = known.index(b.version)
    return versions[max(i - 1, 0)], b


def policy_diff(store: PolicyStore, policy_id: str, before: str | None, after: str | None) -> PolicyDiff:
    return diff(*versions_between(store, policy_id, before, after))


def diff(a: Policy, b: Policy) -> PolicyDiff:
    olds, news = placed(a), placed(b)
    pairs, removed, added = match(olds, news, a.version, b.version)
    changed, same = changes(pairs)
    return PolicyDiff(
        policy=b.policy,
        payer=b.payer,
        before=_side(a),
        after=_side(b),
        header=[
            FieldChange(aspect="header", label=label, before=x, after=y)
            for label, x, y in (
                ("payer", a.payer, b.payer),
                ("title", a.title, b.title),
                ("url", a.url, b.url),
            )
            if x != y
        ],
        scope=_scope(a, b),
        rules=rules(a, b) + refs(a, b),
        added=[as_criterion(p) for p in added],
        removed=[as_criterion(p) for p in removed],
        changed=changed,
        restructured=restructured(pairs, removed, added),
        unchanged=same,
        readings=readings(a, b),
    )


def _side(p: Policy) -> Side:
    return Side(version=p.version, effective=p.effective, title=p.title, seed=p.seed, url=page_url(p))


# -- scope ------------------------------------------------------------------------------------


def _scope(a: Policy, b: Policy) -> list[FieldChange]:
    out: list[FieldChange] = []
    x, y = a.scope, b.scope
    if set(x.indications) != set(y.indications):
        out.append(
            FieldChange(
                aspect="scope",
                label="indications the policy covers",
                before=", ".join(indication_words(i) for i in x.indications),
                after=", ".join(indication_words(i) for i in y.indications),
            )
        )
    if x.source != y.source:
        out.append(FieldChange(aspect="source", label="scope sentence", before=x.source, after=y.source))
    out += _paired_entries(
        "excluded injectates", x.excluded_injectates, y.excluded_injectates, _injectate_key, _injectate_words
    )
    out += _paired_entries("excluded uses", x.excluded_uses, y.excluded_uses, _use_key, _use_words)
    xo, yo = x.other_indications, y.other_indications
    if xo != yo:
        out.append(
            FieldChange(
                aspect="scope",
                label="an order for any other indication",
                before=DETERMINATION_WORDS.get(xo.determination, xo.determination) + f": {xo.text}"
                if xo
                else "—",
                after=DETERMINATION_WORDS.get(yo.determination, yo.determination) + f": {yo.text}"
                if yo
                else "—",
                before_source=xo.source if xo else None,
                after_source=yo.source if yo else None,
            )
        )
    if (x.min_age_years, x.age_source) != (y.min_age_years, y.age_source):
        out.append(
            FieldChange(
                aspect="scope",
                label="minimum age",
                before=f"{x.min_age_years} years" if x.min_age_years is not None else "—",
                after=f"{y.min_age_years} years" if y.min_age_years is not None else "—",
                before_source=x.age_source,
                after_source=y.age_source,
            )
        )
    return out


def _injectate_key(e: ExcludedInjectates) -> tuple[str, frozenset[str]]:
    return ("classes", frozenset(e.classes)) if e.classes else ("other_than", frozenset(e.other_than))


def _injectate_words(e: ExcludedInjectates) -> str:
    what = (
        ", ".join(e.classes)
        if e.classes
        else "any identified injectate other than " + ", ".join(e.other_than)
    )
    if e.except_indications:
        what += " (except for " + ", ".join(indication_words(i) for i in e.except_indications) + ")"
    return f"{what}: {DETERMINATION_WORDS.get(e.determination, e.determination)}"


def _use_key(e: ExcludedUses) -> tuple[str, frozenset[str]]:
    return ("uses", frozenset(e.uses))


def _use_words(e: ExcludedUses) -> str:
    return ", ".join(e.uses).replace("-", " ") + ": the policy does not apply"


E = TypeVar("E", ExcludedInjectates, ExcludedUses)


def _paired_entries(
    label: str,
    olds: Sequence[E],
    news: Sequence[E],
    key: Callable[[E], tuple[str, frozenset[str]]],
    words: Callable[[E], str],
) -> list[FieldChange]:
    """Scope entries paired by what they name (exactly, then by overlap of the same kind)."""
    left, right = list(olds), list(news)
    pairs: list[tuple[E, E]] = []
    for x in list(left):
        same = [y for y in right if key(y) == key(x)]
        if same:
            pairs.append((x, same[0]))
            left.remove(x)
            right.remove(same[0])
    for x in list(left):
        kind, names = key(x)
        near = [y for y in right if key(y)[0] == kind and key(y)[1] & names]
        if near:
            pairs.append((x, near[0]))
            left.remove(x)
            right.remove(near[0])
    out = [_entry_change(label, words(x), words(y), x.source, y.source) for x, y in pairs if x != y]
    out += [
        FieldChange(aspect="scope", label=f"{label}: removed", before=words(x), before_source=x.source)
        for x in left
    ]
    out += [
        FieldChange(aspect="scope", label=f"{label}: added", after=words(y), after_source=y.source)
        for y in right
    ]
    return out


def _entry_change(label: str, x: str, y: str, x_source: str, y_source: str) -> FieldChange:
    """A paired scope entry: what it excludes changed, or only the sentence that says it."""
    if x == y:
        return FieldChange(aspect="source", label=f"{label}: {y}", before=x_source, after=y_source)
    same = x_source == y_source
    return FieldChange(
        aspect="scope",
        label=label,
        before=x,
        after=y,
        before_source=None if same else x_source,
        after_source=None if same else y_source,
    )
