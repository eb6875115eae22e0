"""The shape of a policy diff, as the JSON answer, the HTML page and the CLI all read it.

One model so the three never disagree: `GET /policies/{id}/diff` answers it as JSON
(camelCase, `from` / `to` for the two sides), the template renders it, and
`idds-cds policy-diff` prints it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class FieldChange(_Model):
    """One aspect that differs; `before` / `after` are None when absent on that side."""

    aspect: str  # threshold | waiver | params | structure | location | text | source | scope | rule …
    label: str
    before: str | None = Field(default=None, serialization_alias="from")
    after: str | None = Field(default=None, serialization_alias="to")
    # The sentences each side cites for it (scope entries, phase rules), side by side.
    before_source: str | None = Field(default=None, serialization_alias="fromSource")
    after_source: str | None = Field(default=None, serialization_alias="toSource")


class Criterion(_Model):
    id: str
    indication: str
    phase: str
    part: str  # criteria | documentation | contraindication
    where: str
    text: str
    source: str
    requirement: str
    structure: str
    fact: str
    params: dict[str, Any]
    applies_to: str = ""


class CriterionChange(_Model):
    before: Criterion = Field(serialization_alias="from")
    after: Criterion = Field(serialization_alias="to")
    matched_by: str
    changes: list[FieldChange]
    # False when only the wording changed (plain words or the cited sentence), not what is required.
    substantive: bool


class Restructure(_Model):
    where: str
    summary: str
    before_ids: list[str] = Field(serialization_alias="fromIds")
    after_ids: list[str] = Field(serialization_alias="toIds")
    before_sources: list[str] = Field(serialization_alias="fromSources")
    after_sources: list[str] = Field(serialization_alias="toSources")


class ReadingEntry(_Model):
    """One of a file's `readings:`: the sentence (or question) it interprets, and the reading encoded."""

    topic: str
    reading: str


# How a reading in both versions was paired (policy_diff_readings.py), in the reviewer's words.
READING_PAIRED_BY = {"topic": "the sentence it reads", "reading": "its reading", "label": "its label"}


class ReadingChange(_Model):
    """A reading in both versions, paired (policy_diff_readings.py): its interpreted sentence,
    its reading text, or both differ."""

    before: ReadingEntry = Field(serialization_alias="from")
    after: ReadingEntry = Field(serialization_alias="to")
    matched_by: str  # topic | reading | label

    @property
    def paired_by(self) -> str:
        return READING_PAIRED_BY.get(self.matched_by, self.matched_by)

    @property
    def topic_changed(self) -> bool:
        return self.before.topic != self.after.topic

    @property
    def reading_changed(self) -> bool:
        return self.before.reading != self.after.reading


class ReadingsDiff(_Model):
    """How the two versions' readings differ: a reviewer checks the service still reads the new
    text as the payer means it."""

    added: list[ReadingEntry] = Field(default_factory=list)
    removed: list[ReadingEntry] = Field(default_factory=list)
    changed: list[ReadingChange] = Field(default_factory=list)
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


class Side(_Model):
    version: str
    effective: date
    title: str
    seed: str
    url: str


class PolicyDiff(_Model):
    policy: str
    payer: str
    before: Side = Field(serialization_alias="from")
    after: Side = Field(serialization_alias="to")
    header: list[FieldChange] = Field(default_factory=list)
    scope: list[FieldChange] = Field(default_factory=list)
    rules: list[FieldChange] = Field(default_factory=list)
    added: list[Criterion] = Field(default_factory=list)
    removed: list[Criterion] = Field(default_factory=list)
    changed: list[CriterionChange] = Field(default_factory=list)
    restructured: list[Restructure] = Field(default_factory=list)
    unchanged: int = 0
    readings: ReadingsDiff = Field(default_factory=ReadingsDiff)

    @property
    def empty(self) -> bool:
        """Nothing differs (the same version twice, or two files saying the same)."""
        return not (
            self.header
            or self.scope
            or self.rules
            or self.added
            or self.removed
            or self.changed
            or self.restructured
            or not self.readings.empty
        )

    @property
    def substantive(self) -> list[CriterionChange]:
        return [c for c in self.changed if c.substantive]

    @property
    def reworded(self) -> list[CriterionChange]:
        return [c for c in self.changed if not c.substantive]
