"""The seed documents as a reviewer reads them.

Sources are cited verbatim, but the seeds carry markdown, HTML fragments and
(for NIA) redline strike-outs. Citations are compared against the text *as it
reads after the edits*, so one normalisation serves the source check, the
policy page the cards link to, and the tests.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

SOURCES_DIR = Path(__file__).resolve().parent.parent / "policies" / "sources"

_STRUCK = re.compile(r"~~.*?~~", re.DOTALL)
_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
_BULLET = re.compile(r"(?m)^\s*-\s+")
_GLYPHS = re.compile(r"[◆•○▪⊖●]|\*|__")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Reduce seed text or a citation to comparable plain words.

    Struck text is removed first so a deleted sentence can never be cited.
    """
    text = _STRUCK.sub("", text)
    text = _TAG.sub(" ", text)
    text = _BULLET.sub(" ", text)
    text = _GLYPHS.sub("", text)
    return _SPACE.sub(" ", text).strip()


@cache
def seed_text(seed: str) -> str:
    """The raw seed file as shipped in policies/sources/."""
    return (SOURCES_DIR / seed).read_text(encoding="utf-8")


@cache
def normalised_seed(seed: str) -> str:
    return normalise(seed_text(seed))


def cites(seed: str, source: str) -> bool:
    """True when `source` occurs in the seed as it reads after its edits."""
    wanted = normalise(source)
    return bool(wanted) and wanted in normalised_seed(seed)


def normalised_paragraphs(seed: str) -> str:
    """Normalise each paragraph separately so the page keeps its structure."""
    raw = _STRUCK.sub("", seed_text(seed))
    paragraphs = [normalise(p) for p in re.split(r"\n\s*\n", raw)]
    return "\n\n".join(p for p in paragraphs if p)
