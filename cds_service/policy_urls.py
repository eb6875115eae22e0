"""Where a policy's pages are, so every link to one (cards, checklist, policy diff) is built here.

`/policies/{id}/{version}` is the policy's text with its cited sentences marked
(policy_page.py); `/policies/{id}/diff` what changed between two of its versions
(policy_diff_routes.py).
"""

from __future__ import annotations

from urllib.parse import quote, urlencode


def policy_page(policy_id: str, version: str, anchor: str = "") -> str:
    """The policy's text; `anchor` (#criterion-id) lands on the sentence a criterion cites."""
    return f"/policies/{quote(policy_id)}/{quote(version)}{anchor}"


def diff_page(policy_id: str, before: str | None = None, after: str | None = None, **query: str) -> str:
    """The policy diff from `before` to `after` (each defaulting as the page says), and any other query."""
    params = {k: v for k, v in {"from": before, "to": after, **query}.items() if v is not None}
    return f"/policies/{quote(policy_id)}/diff" + (f"?{urlencode(params)}" if params else "")
