"""`idds-cds`: assess a Bundle file offline, check policies, print the policy table, serve with workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cds_service.cli import main
from cds_service.policy_store import PolicyStore
from cds_service.policy_table import table

from .chart import Chart
from .helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
PATIENTS = ROOT / "sandbox" / "patients"
EXPECTED = json.loads((ROOT / "sandbox" / "expected.json").read_text())["patients"]


def untagged(name: str, tmp_path: Path) -> Path:
    """A sandbox patient as a user's own Bundle: no sandbox tag anywhere, draft status only."""
    bundle = json.loads((PATIENTS / f"{name}.json").read_text())
    for e in bundle["entry"]:
        e["resource"].pop("meta", None)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(bundle))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["cigna-pain-trial-met", "molina-pain-trial-gaps", "nia-spasticity-trial"])
def test_assess_json_gives_the_sandbox_determinations_from_a_bundle_with_no_sandbox_tag(
    capsys, tmp_path, name
):
    code, out, err = run(capsys, "assess", str(untagged(name, tmp_path)), "--format", "json")
    assert code == 0, err
    got = {f"{a['policy']['id']}@{a['policy']['version']}": a["determination"] for a in json.loads(out)}
    assert got == EXPECTED[name]["expected"]


def test_assess_text_is_the_checklist_with_the_policy_words(capsys, tmp_path):
    code, out, _ = run(capsys, "assess", str(untagged("molina-pain-trial-gaps", tmp_path)))
    assert code == 0
    assert out.startswith("== Molina") and "documentation-incomplete" in out
    assert "NOT DOCUMENTED" in out and "\u201c" in out  # a gap, and the policy's own sentence


def test_assess_cards_is_the_hook_response(capsys, tmp_path):
    code, out, _ = run(capsys, "assess", str(untagged("cigna-pain-trial-met", tmp_path)), "--format", "cards")
    response = json.loads(out)
    assert (
        code == 0
        and response["cards"][0]["extension"]["idds-cds.assessment"]["determination"] == "criteria-met"
    )


def test_assess_order_picks_one_draft_order_and_date_is_the_assessment_date(capsys, tmp_path):
    c = Chart(payer="Cigna Healthcare")
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order("62362", order_id="sr-a")
    undated = c.order("62362", order_id="sr-b")
    for key in ("occurrenceDateTime", "authoredOn"):  # its date of service: the assessment's date
        undated.pop(key)
    chart = [c.patient, *[r for group in c.resources.values() for r in group], *c.draft]
    path = tmp_path / "chart.json"
    path.write_text(
        json.dumps(
            {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in chart]}
        )
    )
    code, out, err = run(
        capsys, "assess", str(path), "--order", "sr-b", "--format", "json", "--date", "2026-10-01"
    )
    assert code == 0, err
    found = json.loads(out)
    assert found and {a["order"]["reference"] for a in found} == {"ServiceRequest/sr-b"}
    assert {a["dateOfService"] for a in found} == {"2026-10-01"}
    code, out, _ = run(capsys, "assess", str(path), "--format", "json")
    assert {a["order"]["reference"] for a in json.loads(out)} == {
        "ServiceRequest/sr-a",
        "ServiceRequest/sr-b",
    }


@pytest.mark.parametrize(
    "content,args,message",
    [
        (None, (), "cannot read"),
        ("not json", (), "is not JSON"),
        (json.dumps({"resourceType": "Patient", "id": "p"}), (), "is not a FHIR Bundle"),
        (json.dumps({"resourceType": "Bundle", "entry": []}), (), "0 Patient resources"),
        (
            json.dumps(
                {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "id": "p"}}]}
            ),
            (),
            "no draft order",
        ),
        ("BUNDLE", ("--order", "ServiceRequest/nope"), "no draft order 'ServiceRequest/nope'"),
        ("BUNDLE", ("--date", "2026-02-30"), "is not a date"),
    ],
)
def test_assess_bad_input_exits_2_with_a_clear_message(capsys, tmp_path, content, args, message):
    path = tmp_path / "chart.json"
    if content == "BUNDLE":
        path = untagged("cigna-pain-trial-met", tmp_path)
    elif content is not None:
        path.write_text(content)
    code, out, err = run(capsys, "assess", str(path), *args)
    assert code == 2 and out == ""
    assert err.startswith("idds-cds assess: ") and message in err and "Traceback" not in err


def test_check_policies_and_policy_table(capsys, tmp_path):
    code, out, _ = run(capsys, "check-policies")
    assert code == 0 and out.count("\nok ") + out.startswith("ok ") == len(PolicyStore.load().all())
    bad = tmp_path / "bad.yaml"
    bad.write_text("policy: [unclosed")
    code, _, err = run(capsys, "check-policies", str(bad))
    assert code == 1 and err.startswith("policy error:")
    code, out, _ = run(capsys, "policy-table")
    assert code == 0 and out.strip() == table(PolicyStore.load())


def test_the_console_script_is_declared():
    assert 'idds-cds = "cds_service.cli:main"' in (ROOT / "pyproject.toml").read_text()


def _samples(text: str, name: str) -> float:
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


@pytest.mark.slow  # two worker processes
def test_serve_with_two_workers_answers_and_adds_up_every_workers_metrics(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDDS_", "PROMETHEUS_"))} | {
        "IDDS_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.sqlite'}"
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cds_service.cli", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline and proc.poll() is None, "the service did not start"
            time.sleep(0.3)
        c = Chart(payer="Cigna Healthcare")
        c.condition(icd10="G35", display="Multiple sclerosis")
        c.pump("battery-near-end")
        c.order("62362")
        cards = []
        with httpx.Client(timeout=30) as client:
            for _ in range(6):  # a new connection each: spread over the workers
                r = httpx.post(f"{base}/cds-services/idds-order-sign", json=c.request(), timeout=30)
                assert r.status_code == 200
                cards.append(r.json()["cards"][0]["uuid"])
            assert all(client.get(f"{base}/assessments/{u}").status_code == 200 for u in cards)
            text_metrics = client.get(f"{base}/metrics").text
        assert _samples(text_metrics, "idds_hook_calls_total") == 6  # whichever worker answered each
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


# -- assess --payer ---------------------------------------------------------------------------


def without_coverage(name: str, tmp_path: Path) -> Path:
    path = untagged(name, tmp_path)
    bundle = json.loads(path.read_text())
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Coverage"]
    path.write_text(json.dumps(bundle))
    return path


def test_assess_payer_assesses_a_bundle_with_no_coverage_against_that_payers_policy_and_says_so(
    capsys, tmp_path
):
    path = without_coverage("cigna-pain-trial-met", tmp_path)
    code, out, _ = run(capsys, "assess", str(path), "--format", "json")
    compared = json.loads(out)
    assert code == 0 and len({a["policy"]["id"] for a in compared}) > 1  # no Coverage: every policy
    code, out, err = run(capsys, "assess", str(path), "--payer", "Cigna", "--format", "json")
    assert code == 0, err
    (a,) = json.loads(out)
    assert (
        a["policy"]["id"] == "cigna-cmm-210"
        and a["determination"] == EXPECTED["cigna-pain-trial-met"]["expected"]["cigna-cmm-210@2026-08-04"]
    )
    assert a["notes"][0] == (
        "Assessed against Cigna's policy (cigna-cmm-210) because --payer names it; the Bundle has no Coverage."
    )
    code, out, _ = run(capsys, "assess", str(path), "--payer", "Cigna")
    assert code == 0 and "because --payer names it" in out  # the checklist says so too


def test_assess_payer_sets_the_bundles_own_coverage_aside_and_says_so(capsys, tmp_path):
    path = untagged("cigna-pain-trial-met", tmp_path)
    code, out, err = run(capsys, "assess", str(path), "--payer", "molina-mcp-160", "--format", "json")
    assert code == 0, err
    found = json.loads(out)
    assert {a["policy"]["id"] for a in found} == {"molina-mcp-160"}
    note = found[0]["notes"][0]
    assert note.startswith(
        "Assessed against Molina Healthcare's policy (molina-mcp-160) because --payer names it"
    )
    assert "the Bundle's own Coverage (Coverage/cigna-pain-trial-met-cov-1) was set aside" in note
    # Molina's policy does not apply to Medicare members: with no Coverage that cannot be known.
    assert "Medicare members" in note and "is not known without their Coverage" in note


def test_assess_payer_with_cards_says_so_on_stderr(capsys, tmp_path):
    path = without_coverage("cigna-pain-trial-met", tmp_path)
    code, out, err = run(capsys, "assess", str(path), "--payer", "Cigna", "--format", "cards")
    assert code == 0 and json.loads(out)["cards"]
    assert "because --payer names it" in err


@pytest.mark.parametrize("payer", ["nope", "", "Aetna"])
def test_assess_payer_naming_no_encoded_payer_exits_2_naming_those_known(capsys, tmp_path, payer):
    code, out, err = run(capsys, "assess", str(untagged("cigna-pain-trial-met", tmp_path)), "--payer", payer)
    assert code == 2 and out == ""
    assert "names no payer with an encoded policy" in err and "Cigna (EviCore) (cigna-cmm-210)" in err


# -- policy-diff ------------------------------------------------------------------------------


def test_policy_diff_prints_what_changed_between_the_two_cigna_versions(capsys):
    code, out, _ = run(capsys, "policy-diff", "cigna-cmm-210", "2026-02-25", "2026-08-04")
    assert code == 0
    assert out.startswith("== Cigna (EviCore) cigna-cmm-210: 2026-02-25")
    assert "-- Criteria removed" in out and "cigna-2026-02-nonmalignant-trial-noninvasive-6-months" in out
    assert "documented (no minimum)" in out and "at least 6 months" in out
    assert (
        "Restructured" in out
        and "\u201cThere has been >50% reduction in pain for eight (8) hours\u201d" in out
    )


def test_policy_diff_json_is_the_pages_json(capsys):
    from cds_service.policy_diff import policy_diff

    code, out, _ = run(capsys, "policy-diff", "cigna-cmm-210", "2026-02-25", "2026-08-04", "--format", "json")
    assert code == 0
    assert (
        json.loads(out)
        == policy_diff(PolicyStore.load(), "cigna-cmm-210", "2026-02-25", "2026-08-04").as_json()
    )


def test_policy_diff_defaults_to_the_newest_version_and_the_one_before(capsys):
    code, out, _ = run(capsys, "policy-diff", "cigna-cmm-210", "--format", "json")
    body = json.loads(out)
    assert code == 0 and (body["from"]["version"], body["to"]["version"]) == ("2026-02-25", "2026-08-04")


def test_policy_diff_of_the_same_version_twice_is_empty(capsys):
    code, out, _ = run(capsys, "policy-diff", "cigna-cmm-210", "2026-08-04", "2026-08-04")
    assert code == 0 and "No differences" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (("nope",), "no policy 'nope'; known: cigna-cmm-210"),
        (
            ("cigna-cmm-210", "2026-01-01", "2026-08-04"),
            "has no version '2026-01-01'; versions: 2026-02-25, 2026-08-04",
        ),
    ],
)
def test_policy_diff_unknown_policy_or_version_exits_2_naming_what_there_is(capsys, argv, message):
    code, out, err = run(capsys, "policy-diff", *argv)
    assert code == 2 and out == "" and message in err and "Traceback" not in err
