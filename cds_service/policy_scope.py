"""A policy's scope sentences: what it covers at all, before any criterion is read."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .policy_tree import Strict
from .vocabulary import Determination, Indication


class ExcludedInjectates(Strict):
    # `classes`: injectates of these classes are out; `other_than`: an identified injectate
    # with none of these classes is out ("or any other injectates that are not in scope").
    classes: list[str] = Field(default_factory=list)
    other_than: list[str] = Field(default_factory=list)
    except_indications: list[str] = Field(default_factory=list)
    # not-applicable: the policy does not apply ("does NOT apply to"); criteria-not-met:
    # the policy applies and does not cover it (e.g. "experimental, investigational").
    determination: Literal[Determination.NOT_APPLICABLE, Determination.CRITERIA_NOT_MET] = (
        Determination.NOT_APPLICABLE
    )
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


class OtherIndications(Strict):
    """What the policy says of an order whose reason names a condition outside its list."""

    determination: Literal[Determination.NOT_APPLICABLE, Determination.CRITERIA_NOT_MET]
    text: str
    source: str


class ExcludedUses(Strict):
    uses: list[Literal["obstetric-anesthesia", "surgical-anesthesia"]]
    source: str


class Scope(Strict):
    source: str
    indications: list[Indication]
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


class Reading(Strict):
    topic: str
    reading: str
