"""Reusable CDS Hooks 2.0 conformance checks for cards and system actions.

Written from the CDS Hooks 2.0 specification, independent of the service's
own models, so a model change cannot quietly make the checks agree with it.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

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
    if card.get("suggestions"):  # "MUST be provided if multiple suggestions are provided"; we always give it
        assert card.get("selectionBehavior") in {"at-most-one", "any"}
    if card.get("selectionBehavior") is not None:
        assert card["selectionBehavior"] in {"at-most-one", "any"}
    for reason in card.get("overrideReasons") or []:  # an array of Coding
        assert isinstance(reason, dict) and isinstance(reason.get("code"), str) and reason["code"], reason
        assert isinstance(reason.get("system", ""), str) and isinstance(reason.get("display", ""), str), (
            reason
        )


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


# -- the service's own contract (shared/contract/assessment.md) -------------------------------
# Written from the contract's text, not from the service's models.

PHASES = {"trial", "permanent", "replacement"}
INDICATIONS = {"nonmalignant-pain", "cancer-pain", "spasticity", "dystonia", None}
DETERMINATIONS = {
    "criteria-met",
    "criteria-not-met",
    "documentation-incomplete",
    "not-applicable",
    "not-evaluable",
}
CRITERION_STATUSES = {"met", "not-met", "unknown"}


def check_assessment(a: dict[str, Any]) -> None:
    """One assessment per (order, policy), shaped as the contract's example."""
    policy, order = a.get("policy"), a.get("order")
    assert isinstance(policy, dict) and all(
        isinstance(policy.get(k), str) and policy[k] for k in ("id", "version", "payer", "title")
    ), policy
    assert (
        isinstance(order, dict) and isinstance(order.get("reference"), str) and "/" in order["reference"]
    ), order
    assert order.get("phase") in PHASES, order
    assert a.get("indication") in INDICATIONS, a.get("indication")
    assert isinstance(a.get("dateOfService"), str) and len(a["dateOfService"]) == 10
    assert a.get("determination") in DETERMINATIONS, a.get("determination")
    assert isinstance(a.get("criteria"), list)
    for c in a["criteria"]:
        assert isinstance(c.get("id"), str) and isinstance(c.get("text"), str) and c["text"], c
        assert c.get("status") in CRITERION_STATUSES, c
        assert isinstance(c.get("evidence"), list) and isinstance(c.get("source"), str), c


def check_payer_card(card: dict[str, Any]) -> None:
    """A card for the patient's own payer: `idds-cds.assessment` (singular), source.label the payer."""
    check_card(card)
    assert card["indicator"] != "critical"  # a coverage gap is not a safety hazard
    a = card["extension"]["idds-cds.assessment"]
    check_assessment(a)
    assert "idds-cds.assessments" not in card["extension"]
    assert card["source"]["label"] == a["policy"]["payer"]
    assert card["indicator"] == (
        "info" if a["determination"] in ("criteria-met", "not-applicable") else "warning"
    )


def check_comparison_card(card: dict[str, Any], service_label: str = "idds-cds") -> None:
    """No Coverage, or a payer no policy matches: one card per order carrying every policy's
    assessment as a list under `idds-cds.assessments`, the detail behind its checklist link."""
    check_card(card)
    assert card["indicator"] in {"info", "warning"}
    ext = card.get("extension") or {}
    assert "idds-cds.assessment" not in ext, "a comparison must not read as one payer's verdict"
    items = ext.get("idds-cds.assessments")
    assert isinstance(items, list) and len(items) >= 2, items
    for a in items:
        check_assessment(a)
    assert len({a["order"]["reference"] for a in items}) == 1, "one comparison card per order"
    assert card["source"]["label"] == service_label
    assert card["source"]["label"] not in {a["policy"]["payer"] for a in items}
    smart = [l for l in card.get("links") or () if l["type"] == "smart"]
    checklist = [l for l in smart if l["label"] != "Complete the documentation"]
    assert len(checklist) == 1 and checklist[0].get("appContext"), card.get("links")
    # the documentation form (DTR), when a compared policy asks for some: the same comparison
    assert all(parse_qs(l["appContext"])["assessment"] == [card["uuid"]] for l in smart), smart
    texts = {
        l["url"].split("#")[0].rstrip("/").rsplit("/", 2)[-2]
        for l in card["links"]
        if l["type"] == "absolute"
    }
    assert texts == {a["policy"]["id"] for a in items}, texts  # every compared policy's text
