"""A block of a document that is generated from the data (README's policy table,
docs/integration.md's tables): printed, or written between its two markers, so a test
can check that the file is in step with what generates it."""

from __future__ import annotations

from pathlib import Path


def replace_block(text: str, block: str, begin: str, end: str) -> str:
    """`text` with what stands between the markers `begin` and `end` replaced by `block`."""
    start, stop = text.index(begin), text.index(end)
    return text[: start + len(begin)] + "\n" + block + "\n" + text[stop:]


def print_or_write(rendered: str, write: str | None, begin: str, end: str) -> int:
    """Printed, or written between its markers in the file named `write`."""
    if write:
        path = Path(write)
        path.write_text(
            replace_block(path.read_text(encoding="utf-8"), rendered, begin, end), encoding="utf-8"
        )
    else:
        print(rendered)
    return 0
