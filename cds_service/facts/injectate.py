"""Which drug the trial is of: the order's own injectate, else the performed trial's.

Some requirements hold only for one kind of trial (Cigna: the opioid-reduction
agreement comes "prior to undergoing an intrathecal opioid trial"), so a
policy can ask whether the trial drug belongs to a drug class
(mappings/drugs.yaml). An unidentified drug is unknown, never "not an opioid".
"""

from __future__ import annotations

from .base import Fact, FactContext


def trial_injectate(ctx: FactContext, **params: str) -> Fact:
    wanted = params["class"]
    order = ctx.order
    if order is not None and order.injectate_classes:
        return _answer(wanted, set(order.injectate_classes), (order.reference,), "the ordered injectate")
    trial, _ = ctx.trial()
    if trial is not None and trial.drug_classes:
        return _answer(wanted, set(trial.drug_classes), (trial.ref,), "the trial's drug")
    return Fact.unknown("the trial drug is not documented (no coded injectate on the order or the trial)")


def _answer(wanted: str, classes: set[str], evidence: tuple[str, ...], what: str) -> Fact:
    found = wanted in classes
    label = wanted.replace("-", " ")
    return Fact(
        found,
        evidence,
        f"{what} {'is' if found else 'is not'} {'an' if label[0] in 'aeiou' else 'a'} {label}",
    )
