"""Reusable CDS Hooks 2.0 conformance checks for cards and system actions.

Written from the CDS Hooks 2.0 specification, independent of the service's
own models, so a model change cannot quietly make the checks agree with it.
"""

from __future__ import annotations

import uuid
from typing import Any

INDICATORS = {"info", "warning", "critical"}
LINK_TYPES = {"absolute", "smart"}
ACTION_TYPES = {"create", "update", "delete"}
CARD_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/cdshooks-card-type"


def check_card(card: dict[str, Any]) -> None:
    assert isinstance(card.get("summary"), str) and 0 < len(card["summary"]) < 140, card.get("summary")
    assert card.get("indicator") in INDICATORS
    source = card.get("source")
    assert isinstance(source, dict) and isinstance(source.get("label"), str) and source["label"]
    if "topic" in source:
        assert source["topic"].get("system") == CARD_TYPE_SYSTEM and source["topic"].get("code")
    if "uuid" in card:
        uuid.UUID(card["uuid"])
    for link in card.get("links") or []:
        assert link.get("label") and link.get("url"), link
        assert link.get("type") in LINK_TYPES, link
        if link["type"] == "absolute":
            assert link["url"].startswith(("http://", "https://")), link
    for suggestion in card.get("suggestions") or []:
        uuid.UUID(suggestion["uuid"])
        assert suggestion.get("label")
        for action in suggestion.get("actions") or []:
            check_action(action)
    if card.get("selectionBehavior") is not None:
        assert card["selectionBehavior"] in {"at-most-one", "any"}


def check_action(action: dict[str, Any]) -> None:
    assert action.get("type") in ACTION_TYPES
    assert isinstance(action.get("description"), str)
    if action["type"] in ("create", "update"):
        assert isinstance(action.get("resource"), dict) and action["resource"].get("resourceType")
    if action["type"] == "delete":
        assert action.get("resourceId")


def check_response(body: dict[str, Any]) -> None:
    assert isinstance(body.get("cards"), list)
    for card in body["cards"]:
        check_card(card)
    for action in body.get("systemActions") or []:
        check_action(action)
