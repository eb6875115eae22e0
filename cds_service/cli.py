"""`idds-cds`: the service's command line (a console script, pyproject.toml).

    idds-cds assess CHART.json [--order ID] [--payer NAME] [--date YYYY-MM-DD] [--format text|json|cards]
    idds-cds check-policies [FILE ...]
    idds-cds policy-diff POLICY [FROM [TO]] [--format text|json]
    idds-cds policy-table [--write README.md]
    idds-cds integration-tables [--write docs/integration.md]
    idds-cds serve [--host 127.0.0.1] [--port 8000] [--workers N]

`assess` runs the hook pipeline on a FHIR Bundle file with no server (cli_assess.py);
`policy-diff` says what changed between two versions of a policy (policy_diff.py). Exit
status: 0 done, 1 a policy file is unusable (check-policies), 2 bad input (a message on
stderr, never a traceback), 141 stdout closed before the output was written (`idds-cds … | head`:
quiet, as a Unix tool killed by SIGPIPE). Each command imports what it needs when it runs, so
`idds-cds --help` loads no policy and no FHIR model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from .cli_assess import BadInput


def cmd_assess(args: argparse.Namespace) -> int:
    from .cli_assess import assess, read_bundle, render_text

    try:
        today = date.fromisoformat(args.date) if args.date else date.today()
    except ValueError:
        raise BadInput(f"--date {args.date!r} is not a date (YYYY-MM-DD)") from None
    found = assess(read_bundle(args.chart), args.order, today, payer=args.payer)
    if args.format == "json":
        print(json.dumps(found.assessments, indent=2, ensure_ascii=False))
    elif args.format == "cards":
        print(json.dumps(found.response, indent=2, ensure_ascii=False))
    else:
        print(render_text(found.assessments))
    if found.payer_note and (args.format == "cards" or not found.assessments):
        print(found.payer_note, file=sys.stderr)  # the cards (JSON on stdout) cannot carry it
    return 0


# -- policies ---------------------------------------------------------------------------------


def cmd_check_policies(args: argparse.Namespace) -> int:
    from .policy_store import PolicyFileError, PolicyStore, cited_sentences, load_policy_file

    try:
        store = (
            PolicyStore([load_policy_file(Path(a)) for a in args.files]) if args.files else PolicyStore.load()
        )
    except (PolicyFileError, OSError) as exc:
        print(f"policy error: {exc}", file=sys.stderr)
        return 1
    for p in store.all():
        print(f"ok {p.policy}@{p.version} ({len(cited_sentences(p))} cited sentences)")
    return 0


def cmd_policy_diff(args: argparse.Namespace) -> int:
    from .policy_diff import DiffError, policy_diff
    from .policy_diff_text import render_text
    from .policy_store import PolicyStore

    try:
        found = policy_diff(PolicyStore.load(), args.policy, args.before, args.after)
    except DiffError as exc:
        raise BadInput(str(exc)) from None
    if args.format == "json":
        print(json.dumps(found.as_json(), indent=2, ensure_ascii=False))
    else:
        print(render_text(found))
    return 0


def cmd_policy_table(args: argparse.Namespace) -> int:
    from .generated_block import print_or_write
    from .policy_store import PolicyStore
    from .policy_table import BEGIN, END, table

    return print_or_write(table(PolicyStore.load()), args.write, BEGIN, END)


def cmd_integration_tables(args: argparse.Namespace) -> int:
    from .generated_block import print_or_write
    from .integration_doc import BEGIN, END, tables

    return print_or_write(tables(), args.write, BEGIN, END)


# -- serve ------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .audit.store import store_for
    from .logs import configure, uvicorn_log_config
    from .settings import get_settings

    settings = get_settings()
    configure(settings)
    settings.check()
    store_for(settings)  # the migrations, once, before any worker starts
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every worker writes its metrics here; /metrics adds them up, whichever worker answers.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="idds-metrics-")
    uvicorn.run(
        "cds_service.app:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,
        log_config=uvicorn_log_config(settings),
    )
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="idds-cds", description="CDS Hooks coverage requirements for intrathecal pumps"
    )
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("assess", help="assess a FHIR Bundle file offline and print the checklist")
    a.add_argument("chart", metavar="CHART.json")
    a.add_argument("--order", help="assess this draft order only (id or Type/id)")
    a.add_argument(
        "--payer",
        help="assess against this payer's policy (a payer name or a policy id), the Bundle's Coverage set aside",
    )
    a.add_argument("--date", help="the assessment's date, YYYY-MM-DD (default today)")
    a.add_argument("--format", choices=("text", "json", "cards"), default="text")
    a.set_defaults(run=cmd_assess)
    c = sub.add_parser("check-policies", help="load and check every policy file (or the files named)")
    c.add_argument("files", nargs="*")
    c.set_defaults(run=cmd_check_policies)
    d = sub.add_parser(
        "policy-diff", help="what changed between two versions of a policy (criteria, scope, sentences)"
    )
    d.add_argument("policy", metavar="POLICY", help="policy id, e.g. cigna-cmm-210")
    d.add_argument("before", metavar="FROM", nargs="?", help="version (default: the one before TO)")
    d.add_argument("after", metavar="TO", nargs="?", help="version (default: the newest)")
    d.add_argument("--format", choices=("text", "json"), default="text")
    d.set_defaults(run=cmd_policy_diff)
    generated = (  # a generated block of a document (generated_block.py)
        ("policy-table", "print the README's policy table, or write it into a file", cmd_policy_table),
        (
            "integration-tables",
            "print docs/integration.md's generated tables, or write them into it",
            cmd_integration_tables,
        ),
    )
    for name, help_text, run in generated:
        g = sub.add_parser(name, help=help_text)
        g.add_argument("--write", metavar="FILE")
        g.set_defaults(run=run)
    s = sub.add_parser("serve", help="run the service (uvicorn)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    s.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "1")))
    s.set_defaults(run=cmd_serve)
    return p


# 128 + SIGPIPE: the status a shell shows for a Unix tool whose reader went away (`… | head`).
CLOSED_STDOUT = 141


def _stdout_closed() -> int:
    """The reader of stdout went away: say nothing more. stdout is pointed at /dev/null so the
    interpreter's own flush at exit cannot raise the BrokenPipeError a second time (Python's
    documented recipe; SIGPIPE itself stays ignored, or `serve` would die on a dropped socket)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return CLOSED_STDOUT


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        code = run(args)
        sys.stdout.flush()  # inside the try: a short output is only written here
        return code
    except BadInput as exc:
        print(f"idds-cds {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _stdout_closed()


if __name__ == "__main__":
    raise SystemExit(main())
