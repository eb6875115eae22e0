"""Server-rendered pages for the checklist: plain HTML, a few lines of JS, print CSS.

Accessibility choices: every status is an icon AND a word (never colour
alone), colours pass WCAG AA contrast on their backgrounds, the filter is a
native labelled checkbox (keyboard-usable, works without JS through its form),
and the verdict is the first thing read in each section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from html import escape
from typing import Any
from urllib.parse import urlencode

from ..engine import MET, NOT_MET, UNKNOWN
from ..questionnaire.form import form_html as documentation_form
from .checklist import INDICATION_LABEL, PHASE_LABEL, ComparisonSheets, Group, Row, Sheet

STATUS = {
    MET: ("\u2714", "Met"),
    NOT_MET: ("\u2716", "Not met"),
    UNKNOWN: ("?", "Not documented"),
}
DOC_STATUS = {MET: ("\u2714", "Documented"), UNKNOWN: ("?", "Not documented"), NOT_MET: ("\u2716", "Not met")}
VERDICT_ICON = {
    "criteria-met": "\u2714",
    "criteria-not-met": "\u2716",
    "documentation-incomplete": "!",
    "not-applicable": "\u2013",
    "not-evaluable": "?",
}

CSS = """
:root{--ink:#14171a;--muted:#4a5561;--line:#c9d1d9;--bg:#ffffff;--met:#0b6b2f;--met-bg:#e6f4ea;
--no:#a4161a;--no-bg:#fdecec;--unk:#6b4300;--unk-bg:#fff3d1;--na:#3c4650;--na-bg:#eef1f4;--focus:#1a56db}
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg);margin:0}
.wrap{max-width:62rem;margin:0 auto;padding:1rem 1.25rem 3rem}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem;z-index:9}
header.top{border-bottom:2px solid var(--line);padding-bottom:.75rem;margin-bottom:1rem}
h1{font-size:1.5rem;margin:.2rem 0}h1 small{font-size:1rem;color:var(--muted);font-weight:normal}
h2{font-size:1.25rem;margin:0 0 .25rem}
.who,.order,.legend,.fine{color:var(--muted);margin:.2rem 0}
.tools{display:flex;flex-wrap:wrap;gap:.75rem 1.5rem;align-items:center;margin:.75rem 0 .25rem}
.tools label{font-weight:600;cursor:pointer}
.tools input[type=checkbox]{width:1.15rem;height:1.15rem;vertical-align:-.2rem;margin-right:.4rem}
a{color:#0b4fa8}a:focus,button:focus,input:focus,summary:focus{outline:3px solid var(--focus);outline-offset:2px}
.button,button{display:inline-block;font:inherit;padding:.35rem .8rem;border:1px solid #0b4fa8;border-radius:.3rem;
background:#fff;color:#0b4fa8;text-decoration:none;cursor:pointer}
section.assessment{border:1px solid var(--line);border-radius:.5rem;padding:1rem 1.1rem;margin:0 0 1.5rem}
.verdict{display:flex;gap:.75rem;align-items:flex-start;border-radius:.4rem;padding:.6rem .8rem;margin:.6rem 0 1rem;
border-left:.45rem solid}
.verdict .icon{font-size:1.6rem;line-height:1;font-weight:700}
.verdict strong{display:block;font-size:1.15rem}
.v-criteria-met{background:var(--met-bg);color:var(--met);border-color:var(--met)}
.v-criteria-not-met{background:var(--no-bg);color:var(--no);border-color:var(--no)}
.v-documentation-incomplete,.v-not-evaluable{background:var(--unk-bg);color:var(--unk);border-color:var(--unk)}
.v-not-applicable{background:var(--na-bg);color:var(--na);border-color:var(--na)}
.verdict span.expl{color:var(--ink)}
ol.criteria,ol.criteria ol{list-style:none;margin:0;padding:0}
ol.criteria ol{margin-left:1.1rem;border-left:3px solid var(--line);padding-left:.8rem}
li.crit{display:grid;grid-template-columns:8rem 1fr;gap:.25rem 1rem;padding:.7rem 0;border-top:1px solid var(--line)}
.badge{font-weight:700;border-radius:.3rem;padding:.1rem .45rem;display:inline-block;white-space:nowrap}
.b-met{color:var(--met);background:var(--met-bg)}.b-not-met{color:var(--no);background:var(--no-bg)}
.b-unknown{color:var(--unk);background:var(--unk-bg)}
.crit p{margin:0 0 .3rem}.crit .text{font-weight:600}
.crit .note{color:var(--muted)}
.evidence{margin:0 0 .3rem;padding-left:1.1rem;color:var(--ink);list-style:disc}
.evidence code{color:var(--muted);font-size:.85em}
blockquote{margin:.3rem 0;padding:.3rem .8rem;border-left:4px solid #8a96a3;background:#f6f8fa;color:#24292f;font-style:italic}
li.group{padding:.6rem 0 .2rem;border-top:1px solid var(--line)}
li.group > p{margin:0 0 .3rem;font-weight:600}
.notes{margin-top:1rem;font-size:.95rem}
[hidden]{display:none!important}
.todo{border:1px solid var(--line);border-radius:.4rem;padding:.5rem .9rem;margin:0 0 1rem;background:#fbfcfd}
.todo h3{font-size:1rem;margin:.2rem 0 .3rem}.todo ul{margin:0;padding-left:1.1rem}.todo li{margin:.15rem 0}
.ev{display:flex;gap:.5rem;align-items:baseline}.ev ul{margin:0}
details{margin:.2rem 0}summary{cursor:pointer;color:#0b4fa8}
li.crit:target{outline:3px solid var(--focus);outline-offset:2px}
.all-met-msg{display:none;font-weight:600;color:var(--met)}
.missing-only [data-status="met"]{display:none}
.missing-only .root-met .all-met-msg{display:block}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid var(--line);padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#f1f3f5}
dl.facts{display:grid;grid-template-columns:12rem 1fr;gap:.2rem 1rem}dl.facts dt{font-weight:600}dl.facts dd{margin:0}
@media (max-width:40rem){li.crit{grid-template-columns:1fr}}
@media print{
 .tools,.skip,.noprint,#filter-status{display:none!important}
 details>blockquote{display:block}
 body{font-size:11pt;color:#000}.wrap{max-width:none;padding:0}
 section.assessment{border:0;padding:0;break-before:auto}
 li.crit,tr,blockquote{break-inside:avoid}
 a{color:#000;text-decoration:none}
}
"""

JS = """
(function(){
  var prints=document.querySelectorAll('[data-print]');
  for(var i=0;i<prints.length;i++){prints[i].addEventListener('click', function(){window.print();});}
  var box=document.getElementById('missing-only'), main=document.getElementById('main'),
      said=document.getElementById('filter-status');
  if(!box||!main){return;}
  function apply(){
    main.classList.toggle('missing-only', box.checked);
    said.textContent = box.checked ? 'Showing only what is still missing.' : 'Showing every criterion.';
    try{var u=new URL(window.location.href);
      if(box.checked){u.searchParams.set('missing','1');}else{u.searchParams.delete('missing');}
      window.history.replaceState(null,'',u.toString());}catch(e){}
  }
  box.addEventListener('change', apply);
  var apply_btn=document.getElementById('apply-filter'); if(apply_btn){apply_btn.hidden=true;}
})();
"""


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
        flat: list[Sheet] = []
        for s in self.sheets:
            if isinstance(s, ComparisonSheets):
                self.banners.append(s.explanation)
                flat.extend(s.sheets)
            else:
                flat.append(s)
        self.sheets = flat


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def patient_line(view: View) -> str:
    p = view.patient
    if p is None:
        return f"Patient {_e(view.patient_id)}" if view.patient_id else "Patient in the EHR's context"
    names = p.get("name") or [{}]
    n = names[0] if isinstance(names[0], dict) else {}
    full = " ".join([*n.get("given", []), n.get("family", "")]).strip() or n.get("text") or "Unnamed patient"
    parts = [f"Patient <strong>{_e(full)}</strong>"]
    if p.get("birthDate"):
        parts.append(f"born {_e(p['birthDate'])}")
    parts.append(f"id {_e(p.get('id'))}")
    return " \u00b7 ".join(parts)


def _status_badge(status: str, documentation: bool = False) -> str:
    icon, word = (DOC_STATUS if documentation else STATUS).get(status, ("?", status))
    return f'<span class="badge b-{_e(status)}"><span aria-hidden="true">{icon}</span> {word}</span>'


def _row(r: Row, documentation: bool, anchor: str) -> str:
    evidence = (
        '<ul class="evidence">'
        + "".join(
            f"<li>{_e(desc)} <code>{_e(ref)}</code></li>"
            if desc != ref
            else f"<li><code>{_e(ref)}</code></li>"
            for ref, desc in r.evidence
        )
        + "</ul>"
        if r.evidence
        else '<p class="note">No evidence found in the record.</p>'
    )
    note = f'<p class="note">{_e(r.note)}</p>' if r.note else ""
    link = f'<a href="{_e(r.link)}">Policy text for this criterion</a>'
    quote = f'<blockquote cite="{_e(r.link)}">{_e(r.source)}</blockquote>' if r.source else ""
    if r.status == MET and quote:
        # Met rows stay short so the gaps stand out; the sentence is one keypress away.
        cited = f'<details><summary>Policy sentence</summary>{quote}<p class="fine">{link}</p></details>'
    else:
        cited = f'{quote}<p class="fine">{link}</p>'
    cls = f"crit s-{_e(r.status)}" + (" blocking" if r.blocking else "")
    return (
        f'<li id="{_e(anchor)}" class="{cls}" data-status="{_e(r.status)}" data-criterion="{_e(r.id)}">'
        f'<div class="status">{_status_badge(r.status, documentation)}</div>'
        f'<div class="body"><p class="text">{_e(r.text)}</p>{note}'
        f'<div class="ev"><span class="fine">Evidence:</span>{evidence}</div>{cited}</div></li>'
    )


def _node(node: Row | Group, documentation: bool, prefix: str) -> str:
    if isinstance(node, Row):
        return _row(node, documentation, f"{prefix}-{node.id}")
    inner = "".join(_node(c, documentation, prefix) for c in node.children)
    return (
        f'<li class="group s-{_e(node.status)}" data-status="{_e(node.status)}">'
        f"<p>{_status_badge(node.status)} {_e(node.label)}</p><ol>{inner}</ol></li>"
    )


def _todo(s: Sheet, prefix: str) -> str:
    """The gaps first: what a clinician must still document or resolve, linked to its row."""
    gaps = s.gaps(NOT_MET) + s.gaps(UNKNOWN)
    if not gaps:
        return ""
    items = "".join(
        f'<li><a href="#{_e(prefix)}-{_e(r.id)}"><span aria-hidden="true">{STATUS[r.status][0]}</span> '
        f"<strong>{_e(STATUS[r.status][1])}:</strong> {_e(r.text)}</a></li>"
        for r in gaps
    )
    title = (
        "Documentation the policy asks for that is missing" if s.deferred_to else "Still missing or not met"
    )
    return f'<div class="todo"><h3>{title} ({len(gaps)})</h3><ul>{items}</ul></div>'


def _sheet(s: Sheet, index: int) -> str:
    a = s.assessment
    p, order = a["policy"], a["order"]
    hid = f"a{index}"
    documentation = s.deferred_to is not None
    items = "".join(_node(c, documentation, hid) for c in s.root.children)
    criteria = f'<ol class="criteria">{items}</ol>' if items else ""
    notes = "".join(f"<li>{_e(n)}</li>" for n in a.get("notes") or ())
    return (
        f'<section class="assessment {"root-met" if s.determination == "criteria-met" else ""}" aria-labelledby="{hid}" '
        f'data-policy="{_e(p["id"])}" data-determination="{_e(s.determination)}">'
        f'<h2 id="{hid}">{_e(p["payer"])}: {_e(p["title"])} <small>(version {_e(p["version"])})</small></h2>'
        f'<p class="order">Order {_e(order.get("code"))} \u2013 {_e(PHASE_LABEL.get(order.get("phase"), order.get("phase")))}'
        f" \u00b7 {_e(INDICATION_LABEL.get(a.get('indication'), a.get('indication') or 'indication not determined'))}"
        f" \u00b7 date of service {_e(a.get('dateOfService'))} \u00b7 <code>{_e(order.get('reference'))}</code></p>"
        f'<div class="verdict v-{_e(s.determination)}"><span class="icon" aria-hidden="true">{VERDICT_ICON.get(s.determination, "")}</span>'
        f'<div><strong class="determination">{_e(s.headline)}</strong><span class="expl">{_e(s.explanation)}</span></div></div>'
        + (
            '<p class="all-met-msg">Nothing is missing for this policy.</p>'
            if s.determination == "criteria-met"
            else ""
        )
        + _todo(s, hid)
        + criteria
        + (f'<div class="notes"><p class="fine">Notes:</p><ul>{notes}</ul></div>' if notes else "")
        + "</section>"
    )


def _banners(view: View) -> str:
    return "".join(
        f'<p class="todo comparison" role="note"><strong>{_e(b)}</strong></p>'
        for b in dict.fromkeys(view.banners)
    )


def _page(title: str, body: str, script: bool = True) -> str:
    """A whole page; its one script is allowed by hash in the CSP (cds_service/web_security.py),
    so no inline event handler may appear anywhere."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f'<body><a class="skip" href="#main">Skip to the checklist</a><div class="wrap">{body}</div>'
        + (f"<script>{JS}</script>" if script else "")
        + "</body></html>"
    )


def checklist_page(view: View, missing_only: bool) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{_e(k)}" value="{_e(v)}">'
        for k, v in view.params.items()
        if k != "missing"
    )
    summary_href = "/smart/summary" + (f"?{urlencode(view.params)}" if view.params else "")
    form_keep = {
        k: v
        for k, v in {**view.params, "patient": view.patient_id or view.params.get("patient")}.items()
        if k in ("iss", "patient", "session") and v
    }
    sheets = "".join(
        _sheet(s, i) + documentation_form(s, form_keep, index=i) for i, s in enumerate(view.sheets)
    ) or ("<p>No coverage assessment to show: no draft intrathecal pump order was found.</p>")
    notes = "".join(f"<li>{_e(n)}</li>" for n in view.notes)
    filtered = ' class="missing-only"' if missing_only else ""
    body = (
        '<header class="top"><h1>Coverage checklist <small>intrathecal drug delivery system</small></h1>'
        f'<p class="who">{patient_line(view)}</p>'
        '<form class="tools" method="get" action="/smart/checklist">'
        f'{hidden}<span><input type="checkbox" id="missing-only" name="missing" value="1"{" checked" if missing_only else ""}>'
        '<label for="missing-only">Show only what is still missing</label></span>'
        '<button type="submit" id="apply-filter">Apply filter</button>'
        f'<a class="button" href="{_e(summary_href)}">Documentation summary for prior authorization</a>'
        '<button type="button" data-print>Print</button></form>'
        '<p id="filter-status" class="fine" role="status" aria-live="polite"></p>'
        '<p class="legend">Status: <span aria-hidden="true">\u2714</span> met \u00b7 <span aria-hidden="true">\u2716</span> not met'
        " \u00b7 ? not documented. Each criterion quotes the policy sentence it comes from.</p></header>"
        f'<main id="main"{filtered}>{_banners(view)}{sheets}'
        + (f'<div class="notes"><h2>Data notes</h2><ul>{notes}</ul></div>' if notes else "")
        + "</main>"
    )
    return _page("Coverage checklist", body)


def _summary_sheet(s: Sheet) -> str:
    a = s.assessment
    p, order = a["policy"], a["order"]
    documentation = s.deferred_to is not None
    rows = []
    seen: set[str] = set()
    for r, spare in s.rows_in_context():
        if r.id in seen:
            continue
        seen.add(r.id)
        evidence = "; ".join(desc for _, desc in r.evidence) or "\u2014"
        status = _status_badge(r.status, documentation) + (
            "<br><small>not needed: an alternative is met</small>" if spare and r.status != MET else ""
        )
        rows.append(
            f"<tr><td>{_e(r.text)}<br><small>\u201c{_e(r.source)}\u201d</small></td>"
            f"<td>{status}</td><td>{_e(evidence)}</td></tr>"
        )
    todo = s.gaps(NOT_MET) + s.gaps(UNKNOWN)
    todo_html = "".join(
        f"<li><strong>{_e(STATUS[r.status][1])}:</strong> {_e(r.text)}"
        + (f" \u2013 {_e(r.note)}" if r.note else "")
        + "</li>"
        for r in todo
    )
    return (
        f'<section class="assessment" data-policy="{_e(p["id"])}">'
        f"<h2>{_e(p['payer'])}: {_e(p['title'])} (version {_e(p['version'])})</h2>"
        '<dl class="facts">'
        f"<dt>Order</dt><dd>{_e(order.get('code'))} \u2013 {_e(PHASE_LABEL.get(order.get('phase'), order.get('phase')))} ({_e(order.get('reference'))})</dd>"
        f"<dt>Indication</dt><dd>{_e(INDICATION_LABEL.get(a.get('indication'), a.get('indication') or 'not determined'))}</dd>"
        f"<dt>Date of service</dt><dd>{_e(a.get('dateOfService'))}</dd>"
        f'<dt>Assessment</dt><dd><strong class="determination">{_e(s.headline)}</strong> \u2013 {_e(s.explanation)}</dd>'
        "</dl>"
        + (
            "<table><thead><tr><th scope=col>Requirement (policy sentence)</th><th scope=col>Status</th>"
            "<th scope=col>Supporting documentation in the record</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
            if rows
            else ""
        )
        + (
            f"<h3>Still to document or resolve before submitting</h3><ul>{todo_html}</ul>"
            if todo_html
            else ""
        )
        + "</section>"
    )


def summary_page(view: View) -> str:
    back = "/smart/checklist" + (f"?{urlencode(view.params)}" if view.params else "")
    body = (
        '<header class="top"><h1>Documentation summary <small>prior authorization request, intrathecal drug delivery system</small></h1>'
        f'<p class="who">{patient_line(view)}</p>'
        f'<p class="fine">Prepared {date.today().isoformat()} by idds-cds from the patient\'s record. '
        "Review it against the chart before sending; statuses are as documented, not a payer decision.</p>"
        f'<p class="tools"><a class="button" href="{_e(back)}">Back to the checklist</a>'
        '<button type="button" data-print>Print</button></p></header>'
        f'<main id="main">{_banners(view)}{"".join(_summary_sheet(s) for s in view.sheets) or "<p>No assessment to summarise.</p>"}</main>'
    )
    return _page("Documentation summary", body)


def error_page(title: str, message: str) -> str:
    return _page(title, f'<main id="main"><h1>{_e(title)}</h1><p>{_e(message)}</p></main>')
