"""The readings half of a policy diff: how the service reads the policy's ambiguous sentences.

Each policy file's `readings:` pairs a topic (the sentence, or the question, it interprets) with
the reading the encoding follows. When a payer publishes a new version the reviewer must see
which readings were added, which were dropped, and which changed: the same sentence read
differently, or a sentence reworded under the same reading (is the reading still right for the
new words?).

Readings are paired, in this order, by their topic (the same interpreted sentence), then by their
reading text (the sentence quoted in the topic was reworded, the reading kept), then by the label
a topic gives before the sentence it quotes ("Trial window and single-shot horizon: '…'"), when
that label names one reading on each side. Each pairing says which of the three it was, so a
reviewer can check it; what is left over is added or removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .policy_diff_model import ReadingChange, ReadingEntry, ReadingsDiff
from .policy_model import Policy

# A topic's label: the words before its first colon, parenthesis or quotation, e.g. "The trial"
# in "The trial: 'The above criteria …'". A topic that opens with its quotation has none.
_LABEL = re.compile(r"^([^:('\"\u2018\u201c]+)[:('\"\u2018\u201c]")
MIN_LABEL = 3  # characters; shorter is no label to pair by


def _entries(p: Policy) -> list[ReadingEntry]:
    return [ReadingEntry(topic=_words(r.topic), reading=_words(r.reading)) for r in p.readings]


def _words(text: str) -> str:
    """Whitespace as a reader sees it: a refolded line is not a change."""
    return " ".join(text.split())


def label(topic: str) -> str | None:
    """The label a topic gives before the sentence it quotes; None when it has none."""
    found = _LABEL.match(topic)
    words = found.group(1).strip() if found else ""
    return words.casefold() if len(words) >= MIN_LABEL else None


def _pair(
    left: list[ReadingEntry],
    right: list[ReadingEntry],
    key: Callable[[ReadingEntry], str | None],
    how: str,
) -> list[ReadingChange]:
    """Pairs of left and right with the same key, when the key names one entry on each side."""
    pairs: list[ReadingChange] = []
    for x in list(left):
        k = key(x)
        if k is None or [key(o) for o in left].count(k) != 1:
            continue
        same = [y for y in right if key(y) == k]
        if len(same) == 1:
            pairs.append(ReadingChange(before=x, after=same[0], matched_by=how))
            left.remove(x)
            right.remove(same[0])
    return pairs


def readings(a: Policy, b: Policy) -> ReadingsDiff:
    left, right = _entries(a), _entries(b)
    pairs = _pair(left, right, lambda e: e.topic, "topic")
    pairs += _pair(left, right, lambda e: e.reading, "reading")
    pairs += _pair(left, right, lambda e: label(e.topic), "label")
    changed = [c for c in pairs if c.topic_changed or c.reading_changed]
    return ReadingsDiff(added=right, removed=left, changed=changed, unchanged=len(pairs) - len(changed))
