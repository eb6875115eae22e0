"""A policy's criteria tree: leaves (one cited sentence each) under ALL / ANY / NOT / ref.

Each node validates itself against the fact catalogue and walks itself
(`children()`, `walk()`, `leaves()`); only the policy can follow a `ref`
(Policy.walk), since only it holds the tree a ref names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from .facts import catalogue
from .vocabulary import ANY_INDICATION, Indication, Phase


class Strict(BaseModel):
    """Every policy-file model: unknown keys refused, values frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TreeNode(Strict):
    """A node of a criteria tree: it knows its children and walks itself."""

    def children(self) -> tuple[Node, ...]:
        return ()

    def walk(self) -> Iterator[TreeNode]:
        """This node and every node under it, depth first in the file's order. A `ref` is
        a node of its own, not followed: only its policy knows the tree it names (Policy.walk)."""
        yield self
        for child in self.children():
            yield from child.walk()

    def leaves(self) -> Iterator[Leaf]:
        """The leaves under this node (a `ref`'s tree excluded), in the file's order."""
        return (node for node in self.walk() if isinstance(node, Leaf))


class Leaf(TreeNode):
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
        spec = catalogue.FACTS.get(self.fact)
        if spec is None:
            raise ValueError(f"unknown fact {self.fact!r}; known: {sorted(catalogue.FACTS)}")
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
                kinds = (
                    allowed if isinstance(allowed, type) else tuple(k for k in allowed if isinstance(k, type))
                )
                for value in values:
                    if not isinstance(value, kinds) or (isinstance(value, bool) and allowed is not bool):
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
        if self.op not in catalogue.OPS_BY_KIND[spec.kind]:
            raise ValueError(f"op {self.op!r} not valid for {spec.kind} fact {self.fact!r}")
        if spec.kind == "duration" and self.op != "documented" and self.unit not in catalogue.DURATION_UNITS:
            raise ValueError("a duration comparison needs unit: months|weeks|days|hours")
        if self.op == "is" and not isinstance(self.value, bool):
            raise ValueError("op 'is' needs value true or false")
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs a list value")
        if self.op in (">", ">=", "<", "<=") and not isinstance(self.value, (int, float)):
            raise ValueError(f"op {self.op!r} needs a numeric value")
        return self


Leaf.model_rebuild()


class All(TreeNode):
    all: list[Node]

    def children(self) -> tuple[Node, ...]:
        return tuple(self.all)


class AnyOf(TreeNode):
    any: list[Node]
    # An open list ("including, but not limited to", "e.g."): the named
    # alternatives can make it met, but none of them met is not a contradiction,
    # since an unnamed alternative may still be documented; it stays unknown.
    open: bool = False

    def children(self) -> tuple[Node, ...]:
        return tuple(self.any)


class Not(TreeNode):
    not_: Node = Field(alias="not")

    def children(self) -> tuple[Node, ...]:
        return (self.not_,)


class Ref(TreeNode):
    ref: str
    # "as_of: trial": "the above criteria for a trial … has been met" is judged on the
    # record as it stood on the day of the trial (the latest performed trial), not with
    # what was documented after it; with no dated trial on record, on the date of service.
    as_of: Literal[Phase.TRIAL] | None = None

    @property
    def target(self) -> tuple[str, Phase]:
        """(indication key, phase) of the criteria tree this names."""
        indication, _, phase = self.ref.partition(".")
        return indication, Phase(phase)

    @field_validator("ref")
    @classmethod
    def _shape(cls, v: str) -> str:
        indication, _, phase = v.partition(".")
        if indication not in (*Indication, ANY_INDICATION) or phase not in tuple(Phase):
            raise ValueError(f"ref must be <indication>.<phase>, got {v!r}")
        return v


def _node_kind(value: Any) -> str | None:
    """Pick the node type by its key so a bad leaf gets the leaf's error, not a union soup."""
    if isinstance(value, dict):
        for key, tag in (("all", "all"), ("any", "any"), ("not", "not"), ("ref", "ref")):
            if key in value:
                return tag
        return "leaf"
    kinds: dict[type[TreeNode], str] = {All: "all", AnyOf: "any", Not: "not", Ref: "ref", Leaf: "leaf"}
    return kinds.get(type(value))


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


class Deferred(Strict):
    to: str
    text: str
    source: str
    # What the policy still asks to be documented; an `any` holds alternatives
    # ("Results of Modified Ashworth Scale or Penn Spasm Frequency Scale").
    documentation: list[Node] = Field(default_factory=list)


def documentation_leaves(rule: Deferred) -> Iterator[Leaf]:
    """The leaves of what a deferral still asks to be documented."""
    for item in rule.documentation:
        yield from item.leaves()
