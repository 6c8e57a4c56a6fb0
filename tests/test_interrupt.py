"""Nothing lost: a report killed partway leaves the previous results/ intact and readable."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crosscheck import tables
from crosscheck.cli import main

ROOT = Path(__file__).resolve().parent.parent


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def previous(tmp_path):
    out = tmp_path / "results"
    assert main(["report", "--cases", str(ROOT / "cases"), "-k", "sin_of_quadratic", "--backend", "core",
                 "--results", str(out)]) == 0
    return out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_an_interrupted_report_leaves_the_previous_results(previous, sig):
    before = snapshot(previous)
    # A pytest-xdist worker may run with SIGINT ignored, and a child inherits that (then Python installs no
    # KeyboardInterrupt handler): give the report the default disposition, as in a terminal.
    proc = subprocess.Popen([sys.executable, "-m", "crosscheck.cli", "report", "--cases", str(ROOT / "cases"),
                             "--results", str(previous)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(4)  # well into the run: imports done, the catalogue half judged (a full report takes ~20 s)
    assert proc.poll() is None, "the report finished before it could be interrupted"
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    after = snapshot(previous)
    assert after == before  # every file as it was, byte for byte, and no stray temporary file
    assert "sin_of_quadratic" in (previous / "rows.csv").read_text()


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "table.csv"
    tables.write_atomic(path, "old\n")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        tables.write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
