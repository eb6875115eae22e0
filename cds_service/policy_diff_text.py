"""`idds-cds policy-diff` as plain text: the policy diff for a terminal or an e-mail to a reviewer.

Same content and order as the HTML page (policy_diff_routes.py): what changed in
substance first, then what was only reworded, each with the two sentences side by side.
"""

from __future__ import annotations

import textwrap

from .policy_diff_model import Criterion, FieldChange, PolicyDiff, ReadingChange, ReadingEntry


def _fill(text: str, indent: str, width: int) -> str:
    """Wrapped under its first line's indent (a bullet's continuation lines line up under its text)."""
    return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=" " * len(indent))


def _quote(label: str, text: str | None, indent: str, width: int) -> list[str]:
    if not text:
        return []
    return [_fill(f"{label} \u201c{text}\u201d", indent, width)]


def _field(c: FieldChange, indent: str, width: int, names: tuple[str, str]) -> list[str]:
    lines = [f"{indent}{c.label}:"]
    if c.aspect == "source":  # the two sentences are the change
        lines += _quote(names[0], c.before, indent + "  ", width)
        lines += _quote(names[1], c.after, indent + "  ", width)
        return lines
    lines.append(_fill(f"{names[0]} {c.before if c.before is not None else '—'}", indent + "  ", width))
    lines.append(_fill(f"{names[1]} {c.after if c.after is not None else '—'}", indent + "  ", width))
    lines += _quote(f"{names[0]} cites", c.before_source, indent + "    ", width)
    lines += _quote(f"{names[1]} cites", c.after_source, indent + "    ", width)
    return lines


def _criterion(c: Criterion, width: int) -> list[str]:
    lines = [_fill(f"{c.where}: {c.text}", "  - ", width)]
    lines.append(f"      requires: {c.requirement}; grouped: {c.structure}  [{c.id}]")
    if c.applies_to:
        lines.append(f"      applies to: {c.applies_to}")
    lines += _quote("cites", c.source, "      ", width)
    return lines


def render_text(d: PolicyDiff, width: int = 100) -> str:
    a, b = d.before, d.after
    names = (f"{a.version}:", f"{b.version}:")
    lines = [
        f"== {d.payer} {d.policy}: {a.version} (effective {a.effective}) -> {b.version} (effective {b.effective})",
    ]
    if d.empty:
        lines.append("No differences: the two versions encode the same criteria, scope, rules and readings.")
        return "\n".join(lines)
    sections: list[tuple[str, list[str]]] = [
        ("Policy", [line for c in d.header for line in _field(c, "  ", width, names)]),
        ("Scope", [line for c in d.scope for line in _field(c, "  ", width, names)]),
        ("Phases and rules", [line for c in d.rules for line in _field(c, "  ", width, names)]),
        ("Restructured", [_restructured_line(r.where, r.summary, width) for r in d.restructured]),
        ("Criteria added", [line for c in d.added for line in _criterion(c, width)]),
        ("Criteria removed", [line for c in d.removed for line in _criterion(c, width)]),
        ("Criteria changed", _changed(d, substantive=True, width=width, names=names)),
        (
            "Criteria reworded only (same requirement)",
            _changed(d, substantive=False, width=width, names=names),
        ),
        ("Readings changed", [line for c in d.readings.changed for line in _reading_change(c, width, names)]),
        ("Readings added", [line for r in d.readings.added for line in _reading(r, width)]),
        ("Readings removed", [line for r in d.readings.removed for line in _reading(r, width)]),
    ]
    for title, body in sections:
        if body:
            lines += ["", f"-- {title}", *body]
    lines += ["", f"{d.unchanged} criteria unchanged, {d.readings.unchanged} readings unchanged."]
    return "\n".join(lines)


def _restructured_line(where: str, summary: str, width: int) -> str:
    return _fill(f"{where}: {summary}", "  ", width)


def _changed(d: PolicyDiff, substantive: bool, width: int, names: tuple[str, str]) -> list[str]:
    lines: list[str] = []
    for change in d.substantive if substantive else d.reworded:
        x, y = change.before, change.after
        lines.append(_fill(f"{y.where}: {y.text}", "  * ", width))
        lines.append(f"      [{x.id} -> {y.id}, paired by {change.matched_by}]")
        for c in change.changes:
            if c.aspect == "text" and substantive:
                continue  # the plain words follow the requirement; the sentences say the rest
            lines += _field(c, "      ", width, names)
    return lines


def _reading(r: ReadingEntry, width: int) -> list[str]:
    return [_fill(r.topic, "  - ", width), _fill(f"reads: {r.reading}", "      ", width)]


def _reading_change(c: ReadingChange, width: int, names: tuple[str, str]) -> list[str]:
    """A reading in both versions: the sentence it reads when that changed, then the reading."""
    lines = [_fill(c.after.topic, "  * ", width), f"      [paired by {c.paired_by}]"]
    if c.topic_changed:
        # A topic is the service's own words around the sentence it quotes: shown as written.
        lines.append(_fill(f"{names[0].rstrip(':')} interprets: {c.before.topic}", "      ", width))
        lines.append(_fill(f"{names[1].rstrip(':')} interprets: {c.after.topic}", "      ", width))
    if c.reading_changed:
        lines.append(_fill(f"{names[0]} {c.before.reading}", "      ", width))
        lines.append(_fill(f"{names[1]} {c.after.reading}", "      ", width))
    else:
        lines.append(_fill(f"the same reading: {c.after.reading}", "      ", width))
    return lines
