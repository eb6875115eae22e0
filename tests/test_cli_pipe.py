"""`idds-cds … | head`: when the reader of stdout goes away the command stops quietly, as a Unix
tool does, rather than printing a BrokenPipeError traceback on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def with_stdout_closed(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run `idds-cds ARGV` with a stdout pipe whose read end is closed before the command writes a
    byte, so every write fails (EPIPE) whatever the machine's speed: `| head` at its earliest."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "cds_service.cli", *argv],
            cwd=ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "argv",
    [
        ("policy-table",),
        ("policy-diff", "cigna-cmm-210"),
        ("policy-diff", "cigna-cmm-210", "--format", "json"),
        ("check-policies",),
    ],
    ids=" ".join,
)
def test_a_closed_stdout_ends_the_command_quietly_with_the_sigpipe_status(argv):
    done = with_stdout_closed(*argv)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.stderr == ""
    assert done.returncode == 141


def test_an_open_stdout_still_gets_the_whole_output_and_status_0():
    done = subprocess.run(
        [sys.executable, "-m", "cds_service.cli", "policy-table"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") > 3 and done.stderr == ""
