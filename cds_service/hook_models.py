"""CDS Hooks 2.0 request and response shapes.

Unknown fields are ignored (Da Vinci CRD requires tolerance of extensions);
what the service relies on is typed and required.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

HOOKS = ("order-select", "order-sign")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FhirAuthorization(_Lenient):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None


class HookContext(_Lenient):
    userId: str | None = None
    patientId: str
    encounterId: str | None = None
    selections: list[str] = Field(default_factory=list)
    draftOrders: dict[str, Any]


class HookRequest(_Lenient):
    hook: Literal["order-select", "order-sign"]
    hookInstance: str
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: HookContext
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None


class Link(BaseModel):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None


class Source(BaseModel):
    label: str
    url: str | None = None
    topic: dict[str, str] | None = None


class Action(BaseModel):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: list[str] | None = None


class Suggestion(BaseModel):
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] = Field(default_factory=list)


class Coding(BaseModel):
    code: str
    system: str | None = None
    display: str | None = None


class Card(BaseModel):
    uuid: str
    summary: str = Field(max_length=139)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = (
        None  # required with suggestions (CDS Hooks 2.0)
    )
    overrideReasons: list[Coding] | None = None
    links: list[Link] = Field(default_factory=list)
    extension: dict[str, Any] | None = None


class HookResponse(BaseModel):
    cards: list[Card] = Field(default_factory=list)
    systemActions: list[Action] = Field(default_factory=list)

    def to_json(self) -> bytes:
        """The CDS Hooks answer as bytes, absent fields left out."""
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)


class FeedbackOutcome(_Lenient):
    card: str = Field(max_length=200)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    overrideReason: dict[str, Any] | None = None
    outcomeTimestamp: str = Field(max_length=64)

    def comment(self) -> str:
        """overrideReason.userComment (CDS Hooks 2.0), or '' when there is none."""
        text = (self.overrideReason or {}).get("userComment")
        return text if isinstance(text, str) else ""


class Feedback(_Lenient):
    feedback: list[FeedbackOutcome]
