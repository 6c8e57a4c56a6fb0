"""Nothing lost: a report killed partway leaves the previous results/ intact and readable."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from crosscheck import tables
from crosscheck.cli import main

ROOT = Path(__file__).resolve().parent.parent

# A quick case, and one that signals it has started (a marker file) and then takes a minute: a report of
# both is surely still computing when the marker appears, whatever the machine's speed or load.
CASES = """
    import pathlib
    import time

    from crosscheck import case, inputs

    @case(x=inputs.normal(3))
    def quick(nn, x):
        return nn.tanh(x)

    @case(x=inputs.normal(3))
    def slow(nn, x):
        pathlib.Path({marker!r}).touch()
        time.sleep(60)
        return nn.tanh(x)
"""


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_an_interrupted_report_leaves_the_previous_results(tmp_path, sig):
    marker = tmp_path / "started"
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "cases.py").write_text(textwrap.dedent(CASES.format(marker=str(marker))))
    results = tmp_path / "results"
    assert main(["report", "--cases", str(cases), "-k", "quick", "--backend", "core", "--results", str(results)]) == 0
    before = snapshot(results)
    # A pytest-xdist worker may run with SIGINT ignored, and a child inherits that (then Python installs no
    # KeyboardInterrupt handler): the report gets Python's own Ctrl-C handler back, as in a terminal.
    argv = ["report", "--cases", str(cases), "--backend", "core", "--results", str(results)]
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            f"from crosscheck.cli import main; sys.exit(main({argv!r}))")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the report never reached the slow case"
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL), err[-2000:]
    if sig == signal.SIGINT:
        assert b"interrupted; files already written are left as they were" in err
    after = snapshot(results)
    assert sorted(after) == sorted(before)  # no file added, none lost, no stray temporary file
    changed = [name for name in before if after[name] != before[name]]
    assert not changed
    assert "quick" in (results / "rows.csv").read_text()


def test_a_failed_write_keeps_the_old_files(tmp_path, monkeypatch):
    tables.write_files(tmp_path, {"a.csv": "old a\n", "b.csv": "old b\n"})
    real_stage = tables._stage

    def stage_then_fail(path, content):  # the second file cannot be written (disk full)
        if path.name == "b.csv":
            raise OSError("disk full")
        return real_stage(path, content)

    monkeypatch.setattr(tables, "_stage", stage_then_fail)
    with pytest.raises(OSError, match="disk full"):
        tables.write_files(tmp_path, {"a.csv": "new a\n", "b.csv": "new b\n"})
    assert (tmp_path / "a.csv").read_text() == "old a\n" and (tmp_path / "b.csv").read_text() == "old b\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]


def test_a_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "table.csv"
    tables.write_atomic(path, "old\n")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        tables.write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
