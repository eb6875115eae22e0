"""GET /policies/{id}/{version}: a policy's text with every cited sentence marked.

Why a page of our own: a card's "Policy text" link and each checklist row land on the exact
sentence a criterion quotes (`#<criterion id>`), in the text as it reads after its edits
(policy_text.normalise), so a reviewer checks the citation in one click. The markup is
cds_service/templates/policy.html; this module only finds where each sentence is.
"""

from __future__ import annotations

from itertools import pairwise

from .policy_model import Policy
from .policy_store import cited_sentences
from .policy_text import normalise, normalised_paragraphs
from .templating import templates

Segment = tuple[str, bool, list[str]]  # (text, cited, the criterion ids whose sentence starts here)


def paragraphs(seed: str, cited: list[tuple[str, str]]) -> list[list[Segment]]:
    """The seed's paragraphs cut where a cited sentence starts or ends. Each sentence is found
    at its first occurrence; two criteria quoting the same (or an overlapping) sentence each
    keep an anchor, so every link lands."""
    text = normalised_paragraphs(seed)
    spans: list[tuple[int, int, str]] = []
    for criterion, source in cited:
        needle = normalise(source)
        at = text.find(needle) if needle else -1
        if at >= 0:
            spans.append((at, at + len(needle), criterion))
    out: list[list[Segment]] = []
    offset = 0
    for para in text.split("\n\n"):
        start, end = offset, offset + len(para)
        offset = end + 2
        inside = [(s - start, e - start, c) for s, e, c in spans if start <= s and e <= end]
        cuts = sorted({0, len(para), *(s for s, _, _ in inside), *(e for _, e, _ in inside)})
        out.append(
            [
                (
                    para[a:b],
                    any(s <= a and b <= e for s, e, _ in inside),
                    [c for s, _, c in inside if s == a],
                )
                for a, b in pairwise(cuts)
            ]
        )
    return out


def render(policy: Policy) -> str:
    return templates.env.get_template("policy.html").render(
        title=f"{policy.payer} – {policy.title} ({policy.version})",
        paragraphs=paragraphs(policy.seed, cited_sentences(policy)),
        skip_to="policy text",
        script=False,
    )
