"""Typed shape of mappings/next-steps.yaml: what to do next for each criterion, and the reasons
a card may be dismissed for. Validated like every mapping file (mappings_schema.load)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, model_validator

from .mappings_schema import Code, Strict


class SuggestedCode(Strict):
    system: str  # a systems.yaml alias
    code: Code
    display: str = ""


class SuggestedOrder(Strict):
    """An order that closes a gap, offered as a CDS Hooks suggestion (a draft ServiceRequest)."""

    label: str
    service: str | None = None  # its code's text; the label when not given
    value_set: str  # the procedures.yaml set the codes belong to (the one the fact reads)
    codes: list[SuggestedCode] = Field(default_factory=list)


class StepText(Strict):
    """What to do next for a criterion not documented (`unknown`) or contradicted (`not_met`)."""

    unknown: str = Field(min_length=1)
    not_met: str = Field(min_length=1)
    order: SuggestedOrder | None = None


class StepsByParam(Strict):
    """A fact whose leaves differ by a param (`by`): one StepText per value of it."""

    by: str
    values: dict[str, StepText]

    @model_validator(mode="before")
    @classmethod
    def _values_beside_by(cls, data: Any) -> Any:
        if isinstance(data, dict) and "values" not in data:
            return {"by": data.get("by"), "values": {k: v for k, v in data.items() if k != "by"}}
        return data


def _step_kind(value: Any) -> str:
    return (
        "by"
        if isinstance(value, (dict, StepsByParam)) and (isinstance(value, StepsByParam) or "by" in value)
        else "text"
    )


FactSteps = Annotated[
    Annotated[StepText, Tag("text")] | Annotated[StepsByParam, Tag("by")], Discriminator(_step_kind)
]


class OverrideCode(Strict):
    code: str
    display: str


class OverrideReasons(Strict):
    system: str  # the CodeSystem served at /fhir/CodeSystem/idds-override-reason
    codes: list[OverrideCode] = Field(min_length=1)


class NextStepsFile(Strict):
    """next-steps.yaml: a next step per fact (or per fact and param value), and the reasons a
    card may be dismissed for."""

    steps: dict[str, FactSteps]
    override_reasons: OverrideReasons
