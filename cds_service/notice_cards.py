"""Cards that say what the service did not assess, and why: orders past the per-call cap,
and intrathecal pump orders it could not read. Neither makes a coverage statement; both
are warnings, so an order is never silently left without a card."""

from __future__ import annotations

import uuid

from .card_links import service_source
from .hook_models import Card

SHOWN = 20  # references listed on a card; the count says how many there were


def _refs(refs: list[str]) -> str:
    shown = ", ".join(r[:80] for r in refs[:SHOWN])
    return shown + (f" and {len(refs) - SHOWN} more" if len(refs) > SHOWN else "")


def orders_capped_card(not_assessed: list[str], cap: int) -> Card:
    n = len(not_assessed)
    return Card(
        uuid=str(uuid.uuid4()),
        summary=f"{n} more draft order(s) not assessed: at most {cap} per request",
        detail=(
            f"This request carried more draft orders than the {cap} the service assesses in one call. "
            f"The first {cap} were assessed; these were not, so no coverage conclusion can be drawn for them: "
            f"{_refs(not_assessed)}. Select or sign them in smaller groups to have them assessed."
        ),
        indicator="warning",
        source=service_source(),
    )


def unreadable_order_card(reference: str, why: str) -> Card:
    return Card(
        uuid=str(uuid.uuid4()),
        summary="An intrathecal pump order could not be read; coverage not assessed",
        detail=(
            f"The draft order {reference[:80]} is an intrathecal drug delivery order, but part of it could not "
            f"be read, so its coverage requirements were not assessed. What could not be read: {why[:500]} "
            "Correct the order (for instance its date) and select it again."
        ),
        indicator="warning",
        source=service_source(),
    )
