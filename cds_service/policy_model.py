"""Typed shape of a policy file (policies/README.md is the prose version).

Validation here is what makes a bad policy file stop the service at start-up
with the file and field named, instead of surfacing as a wrong card later.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from .facts.catalogue import DURATION_UNITS, FACTS, INDICATIONS, OPS_BY_KIND, PHASES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Leaf(_Strict):
    id: str
    text: str
    source: str
    fact: str
    params: dict[str, Any] = Field(default_factory=dict)
    op: str
    value: Any = None
    unit: Literal["months", "weeks", "days", "hours"] | None = None
    # Fact values that neither meet nor contradict the sentence (the record says
    # something, but not what the policy asks): the criterion stays unknown.
    # E.g. a pump "malfunction" says nothing on whether it "cannot be repaired".
    undecided: list[Any] = Field(default_factory=list)
    # A requirement that holds only in some cases ("prior to undergoing an intrathecal
    # opioid trial"): when this condition is not met the requirement does not apply
    # (met, with the reason); when it is met or unknown, the requirement stands.
    applies_if: Leaf | None = None

    @model_validator(mode="after")
    def _fits_catalogue(self) -> Leaf:
        spec = FACTS.get(self.fact)
        if spec is None:
            raise ValueError(f"unknown fact {self.fact!r}; known: {sorted(FACTS)}")
        for name in self.params:
            if name not in spec.params:
                raise ValueError(f"fact {self.fact!r} takes no param {name!r}")
            allowed = spec.params[name]
            values = self.params[name]
            if name in spec.lists:
                if not isinstance(values, list) or not values:
                    raise ValueError(f"param {name} of {self.fact!r} takes a non-empty list")
            else:
                values = [values]
            if isinstance(allowed, tuple) and allowed and isinstance(allowed[0], str):
                for value in values:
                    if value not in allowed:
                        raise ValueError(f"param {name}={value!r} not in {allowed}")
            elif isinstance(allowed, type) or (
                isinstance(allowed, tuple) and allowed and isinstance(allowed[0], type)
            ):
                for value in values:
                    if not isinstance(value, allowed) or (isinstance(value, bool) and allowed is not bool):
                        raise ValueError(f"param {name}={value!r} is not a {allowed}")
        for name in spec.required:
            if name not in self.params:
                raise ValueError(f"fact {self.fact!r} needs param {name!r}")
        if (
            "over_days" in spec.params
            and self.params.get("aggregate", "latest") != "latest"
            and "over_days" not in self.params
        ):
            raise ValueError(
                f"aggregate {self.params['aggregate']!r} of {self.fact!r} needs over_days (the period)"
            )
        if self.op not in OPS_BY_KIND[spec.kind]:
            raise ValueError(f"op {self.op!r} not valid for {spec.kind} fact {self.fact!r}")
        if spec.kind == "duration" and self.op != "documented" and self.unit not in DURATION_UNITS:
            raise ValueError("a duration comparison needs unit: months|weeks|days|hours")
        if self.op == "is" and not isinstance(self.value, bool):
            raise ValueError("op 'is' needs value true or false")
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs a list value")
        if self.op in (">", ">=", "<", "<=") and not isinstance(self.value, (int, float)):
            raise ValueError(f"op {self.op!r} needs a numeric value")
        return self


Leaf.model_rebuild()


class All(_Strict):
    all: list[Node]


class AnyOf(_Strict):
    any: list[Node]
    # An open list ("including, but not limited to", "e.g."): the named
    # alternatives can make it met, but none of them met is not a contradiction,
    # since an unnamed alternative may still be documented; it stays unknown.
    open: bool = False


class Not(_Strict):
    not_: Node = Field(alias="not")


class Ref(_Strict):
    ref: str
    # "as_of: trial": "the above criteria for a trial … has been met" is judged on the
    # record as it stood on the day of the trial (the latest performed trial), not with
    # what was documented after it; with no dated trial on record, on the date of service.
    as_of: Literal["trial"] | None = None

    @field_validator("ref")
    @classmethod
    def _shape(cls, v: str) -> str:
        indication, _, phase = v.partition(".")
        if indication not in (*INDICATIONS, "*") or phase not in PHASES:
            raise ValueError(f"ref must be <indication>.<phase>, got {v!r}")
        return v


def _node_kind(value: Any) -> str | None:
    """Pick the node type by its key so a bad leaf gets the leaf's error, not a union soup."""
    if isinstance(value, dict):
        for key, tag in (("all", "all"), ("any", "any"), ("not", "not"), ("ref", "ref")):
            if key in value:
                return tag
        return "leaf"
    return {All: "all", AnyOf: "any", Not: "not", Ref: "ref", Leaf: "leaf"}.get(type(value))


Node = Annotated[
    Annotated[Leaf, Tag("leaf")]
    | Annotated[All, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")]
    | Annotated[Ref, Tag("ref")],
    Discriminator(_node_kind),
]
All.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()


class Deferred(_Strict):
    to: str
    text: str
    source: str
    # What the policy still asks to be documented; an `any` holds alternatives
    # ("Results of Modified Ashworth Scale or Penn Spasm Frequency Scale").
    documentation: list[Node] = Field(default_factory=list)


class NotCovered(_Strict):
    text: str
    source: str


class NotAddressed(_Strict):
    text: str


class PhaseRule(_Strict):
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


class IndicationRule(_Strict):
    trial: PhaseRule | None = None
    permanent: PhaseRule | None = None
    replacement: PhaseRule | None = None
    deferred: Deferred | None = None
    not_covered: NotCovered | None = None
    not_addressed: NotAddressed | None = None
    same_as: str | None = None


class ExcludedInjectates(_Strict):
    # `classes`: injectates of these classes are out; `other_than`: an identified injectate
    # with none of these classes is out ("or any other injectates that are not in scope").
    classes: list[str] = Field(default_factory=list)
    other_than: list[str] = Field(default_factory=list)
    except_indications: list[str] = Field(default_factory=list)
    # not-applicable: the policy does not apply ("does NOT apply to"); criteria-not-met:
    # the policy applies and does not cover it (e.g. "experimental, investigational").
    determination: Literal["not-applicable", "criteria-not-met"] = "not-applicable"
    source: str

    @model_validator(mode="after")
    def _one_rule(self) -> ExcludedInjectates:
        if bool(self.classes) == bool(self.other_than):
            raise ValueError("an injectate exclusion names either classes or other_than")
        return self

    def excludes(self, classes: frozenset[str], identified: bool) -> set[str]:
        """The classes (or, for other_than, the identified injectate's classes) that exclude it."""
        if self.classes:
            return set(classes) & set(self.classes)
        if identified and not classes & set(self.other_than):
            return set(classes) or {"an injectate outside its scope"}
        return set()


class OtherIndications(_Strict):
    """What the policy says of an order whose reason names a condition outside its list."""

    determination: Literal["not-applicable", "criteria-not-met"]
    text: str
    source: str


class ExcludedUses(_Strict):
    uses: list[Literal["obstetric-anesthesia", "surgical-anesthesia"]]
    source: str


class Scope(_Strict):
    source: str
    indications: list[Literal["nonmalignant-pain", "cancer-pain", "spasticity", "dystonia"]]
    excluded_injectates: list[ExcludedInjectates] = Field(default_factory=list)
    excluded_uses: list[ExcludedUses] = Field(default_factory=list)
    other_indications: OtherIndications | None = None
    min_age_years: int | None = None
    age_source: str | None = None

    @model_validator(mode="after")
    def _age_cited(self) -> Scope:
        if (self.min_age_years is None) != (self.age_source is None):
            raise ValueError("min_age_years and age_source go together (a scope age cites its sentence)")
        return self


class Reading(_Strict):
    topic: str
    reading: str


class Contraindication(_Strict):
    phases: list[Literal["trial", "permanent", "replacement"]]
    indications: list[str] = Field(default_factory=list)  # empty = all
    criterion: Leaf


class Policy(_Strict):
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
            if key not in (*INDICATIONS, "*"):
                raise ValueError(f"unknown indication {key!r}")
            if rule.same_as and rule.same_as not in v:
                raise ValueError(f"{key}.same_as names {rule.same_as!r}, not in this file")
        return v
