"""The checklist's pages: what each template (cds_service/templates/) is given to show.

The markup is in the templates, escaped by Jinja2's autoescape; the styles and the one script
are static files (cds_service/static/), so the Content-Security-Policy allows no inline script
or style. This module only lays the data out: a sheet's labels, the patient line, the links
that keep the page's own query (its launch's session, or the card's assessment).

Accessibility choices: every status is an icon AND a word (never colour alone), colours pass
WCAG AA contrast on their backgrounds, the filter is a native labelled checkbox
(keyboard-usable, works without JS through its form), and the verdict is the first thing
read in each section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

from ..policy_model import INDICATION_LABEL, PHASE_LABEL, STATUS_WORDS, Determination, Status
from ..questionnaire.form import Form, form_view
from ..templating import templates
from .sheet_model import ComparisonSheets, Group, Row, Sheet

STATUS_ICON = {Status.MET: "\u2714", Status.NOT_MET: "\u2716", Status.UNKNOWN: "?"}
# (icon, word) per status: the words are STATUS_WORDS, the clinician's, capitalised as a badge.
STATUS = {status: (icon, STATUS_WORDS[status].capitalize()) for status, icon in STATUS_ICON.items()}
# A documentation requirement's badge: met means "documented".
DOC_STATUS = STATUS | {Status.MET: (STATUS_ICON[Status.MET], "Documented")}
VERDICT_ICON = {
    Determination.CRITERIA_MET: "\u2714",
    Determination.CRITERIA_NOT_MET: "\u2716",
    Determination.DOCUMENTATION_INCOMPLETE: "!",
    Determination.NOT_APPLICABLE: "\u2013",
    Determination.NOT_EVALUABLE: "?",
}
# What every template that shows a status badge is given.
WORDS = {"status_words": STATUS, "doc_status": DOC_STATUS, "met": Status.MET}


@dataclass
class View:
    sheets: list[Sheet | ComparisonSheets]
    patient: dict[str, Any] | None = None
    patient_id: str | None = None
    notes: list[str] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)  # the query that produced it
    banners: list[str] = field(default_factory=list)  # said above the sheets (a comparison's why)

    def __post_init__(self) -> None:
        """A comparison opens as its policies' sheets, said to be a comparison."""
        flat: list[Sheet | ComparisonSheets] = []
        for s in self.sheets:
            if isinstance(s, ComparisonSheets):
                self.banners.append(s.explanation)
                flat.extend(s.sheets)
            else:
                flat.append(s)
        self.sheets = flat

    @property
    def flat(self) -> list[Sheet]:
        return [s for s in self.sheets if isinstance(s, Sheet)]


@dataclass
class Who:
    """The patient line: a name when the chart was read, else the id, else the EHR's context."""

    name: str | None
    born: str | None
    id: str | None


def who(view: View) -> Who:
    p = view.patient
    if p is None:
        return Who(None, None, view.patient_id)
    names = p.get("name") or [{}]
    n = names[0] if isinstance(names[0], dict) else {}
    given = [g for g in n.get("given") or () if isinstance(g, str)]
    family = n.get("family") if isinstance(n.get("family"), str) else ""
    text = n.get("text") if isinstance(n.get("text"), str) else ""
    full = " ".join([*given, family or ""]).strip() or text or "Unnamed patient"
    born = p.get("birthDate")
    return Who(str(full), str(born) if born else None, str(p.get("id")))


@dataclass
class SheetView:
    """One sheet as the checklist and the summary show it."""

    policy: dict[str, Any]
    order: dict[str, Any]
    phase: str
    indication: str
    date_of_service: str
    determination: str
    icon: str
    headline: str
    explanation: str
    documentation: bool  # a policy that defers to documentation: "Documented" rather than "Met"
    gaps: list[Row]
    nodes: list[Row | Group]
    rows: list[tuple[Row, bool]]  # each criterion once, with "an alternative is met"
    notes: list[str]
    diff_url: str | None  # what changed since the policy's previous version (the diff page)
    form: Form | None = None


def _unique_rows(s: Sheet) -> list[tuple[Row, bool]]:
    seen: set[str] = set()
    out = []
    for r, spare in s.rows_in_context():
        if r.id not in seen:
            seen.add(r.id)
            out.append((r, spare))
    return out


def sheet_view(
    s: Sheet, form: Form | None = None, indication_missing: str = "indication not determined"
) -> SheetView:
    a = s.assessment
    order = a.get("order") or {}
    phase = str(order.get("phase") or "")
    indication = str(a.get("indication") or "")
    return SheetView(
        policy=a["policy"],
        order=order,
        phase=PHASE_LABEL.get(phase, phase),
        indication=INDICATION_LABEL.get(indication, indication or indication_missing),
        date_of_service=str(a.get("dateOfService")),
        determination=s.determination,
        icon=VERDICT_ICON.get(s.determination, ""),
        headline=s.headline,
        explanation=s.explanation,
        documentation=s.deferred_to is not None,
        gaps=s.gaps(Status.NOT_MET) + s.gaps(Status.UNKNOWN),
        nodes=list(s.root.children),
        rows=_unique_rows(s),
        notes=[str(n) for n in a.get("notes") or ()],
        diff_url=s.diff_url,
        form=form,
    )


def _href(path: str, params: dict[str, str]) -> str:
    return path + (f"?{urlencode(params)}" if params else "")


def render(name: str, **context: Any) -> str:
    return templates.env.get_template(name).render(**WORDS, **context)


def legend() -> list[tuple[str, str]]:
    """The checklist's legend, (icon, word) per status: the words are STATUS_WORDS as they are
    now, the one vocabulary, so the legend cannot say other words than the badges and the CLI."""
    return [(icon, STATUS_WORDS[status]) for status, icon in STATUS_ICON.items()]


def checklist_page(view: View, missing_only: bool) -> str:
    # What the documentation form must carry back: the open server, or this launch's session.
    form_keep = {
        k: v
        for k, v in {**view.params, "patient": view.patient_id or view.params.get("patient", "")}.items()
        if k in ("iss", "patient", "session") and v
    }
    sheets = [sheet_view(s, form_view(s, form_keep, index=i)) for i, s in enumerate(view.flat)]
    return render(
        "checklist.html",
        title="Coverage checklist",
        who=who(view),
        hidden={k: v for k, v in view.params.items() if k != "missing"},
        missing_only=missing_only,
        legend=legend(),
        summary_href=_href("/smart/summary", view.params),
        banners=list(dict.fromkeys(view.banners)),
        sheets=sheets,
        notes=view.notes,
    )


def summary_page(view: View) -> str:
    return render(
        "summary.html",
        title="Documentation summary",
        who=who(view),
        today=date.today().isoformat(),
        back_href=_href("/smart/checklist", view.params),
        banners=list(dict.fromkeys(view.banners)),
        sheets=[sheet_view(s, indication_missing="not determined") for s in view.flat],
    )


def error_page(title: str, message: str) -> str:
    return render("error.html", title=title, message=message, skip_to="message")
