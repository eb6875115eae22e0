"""docs/integration.md: its generated tables match the data files, and its worked examples give what it says."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cds_service.cli import main
from cds_service.integration_doc import BEGIN, END, tables

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "integration.md").read_text(encoding="utf-8")


def test_the_generated_tables_match_the_data_files():
    block = DOC[DOC.index(BEGIN) + len(BEGIN) : DOC.index(END)].strip()
    assert block == tables(), "run: idds-cds integration-tables --write docs/integration.md"


EXAMPLES = re.findall(
    r"\| (trial|permanent|replacement) \| `idds-cds assess (\S+)` \| (\S+) (\S+): (\S+?)[ |]", DOC
)


def test_there_is_a_worked_example_per_phase():
    assert sorted(e[0] for e in EXAMPLES) == ["permanent", "replacement", "trial"]


@pytest.mark.parametrize("phase,path,policy,version,determination", EXAMPLES)
def test_each_worked_example_gives_the_determination_it_states(
    capsys, phase, path, policy, version, determination
):
    assert main(["assess", str(ROOT / path), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [
        (a["policy"]["id"], a["policy"]["version"], a["order"]["phase"], a["determination"]) for a in found
    ] == [(policy, version, phase, determination)]


def test_nothing_in_the_docs_or_readme_links_outside_the_repository():
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "shared/contract" not in text, path.name
