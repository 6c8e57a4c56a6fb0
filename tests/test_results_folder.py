"""crosscheck owns the folders it writes: it refuses others', leaves no stale file, takes one writer at a time,
and a writer killed at any moment leaves the old set or the new one, never a mix."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from crosscheck import folder
from crosscheck.cli import main

ROOT = Path(__file__).resolve().parent.parent

CASES = """
    from crosscheck import case, inputs

    @case(x=inputs.normal(3), train=None)
    def quick(nn, x):
        return nn.tanh(x)

    @case(x=inputs.normal(2))
    def other(nn, x):
        return nn.sin(x)
"""


@pytest.fixture
def cases(tmp_path):
    path = tmp_path / "cases"
    path.mkdir()
    (path / "cases.py").write_text(textwrap.dedent(CASES))
    return path


def report(cases, results, *extra):
    return main(["report", "--cases", str(cases), "--backend", "core", "--dtype", "float64",
                 "--results", str(results), *extra])


@pytest.mark.parametrize("name", ["report.md", "summary.csv", "report.html"])
def test_a_users_folder_is_refused_not_overwritten(tmp_path, cases, capsys, name):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / name).write_text("my own notes\n")
    assert report(cases, mine) == 2
    err = capsys.readouterr().err
    assert f"--results {mine}" in err and name in err and "--force" in err
    assert (mine / name).read_text() == "my own notes\n" and sorted(os.listdir(mine)) == [name]


def test_force_adopts_a_users_folder(tmp_path, cases):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me\n")
    assert report(cases, mine, "--force") == 0
    assert (mine / "notes.txt").read_text() == "keep me\n" and (mine / "report.md").exists()
    assert folder.read_manifest(mine)["adopted"] is True
    assert report(cases, mine) == 0  # adopted: no --force needed any more


def test_the_working_directory_is_refused(tmp_path, cases, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # holds cases/: not crosscheck's
    assert report(cases, ".") == 2
    assert "--results .: the folder holds files crosscheck did not write (cases)" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["cases"]


@pytest.mark.parametrize("command", ["run", "report"])
def test_a_file_on_the_results_path_is_a_usage_error(tmp_path, cases, capsys, command):
    (tmp_path / "somefile").write_text("x")
    argv = [command, "--cases", str(cases), "--backend", "core", "--results", str(tmp_path / "somefile" / "sub")]
    assert main(argv) == 2
    assert f"{tmp_path / 'somefile'} is a file" in capsys.readouterr().err


def test_a_narrower_run_leaves_no_stale_file(tmp_path, cases):
    results = tmp_path / "results"
    (cases / "trained.py").write_text(textwrap.dedent("""
        from crosscheck import Training, case, inputs

        @case(w=inputs.normal(2), x=inputs.data([1.0, 2.0]), train=Training(steps=3, lr=0.1))
        def trained(nn, w, x):
            return nn.mean_squared_error(w, x)
    """))
    assert report(cases, results) == 0
    assert (results / "trajectories.csv").exists()
    (results / "benchmarks.md").write_text("not the report's\n")  # another command's file: kept
    assert report(cases, results, "-k", "quick") == 0
    manifest = folder.read_manifest(results)
    listed = set(manifest["files"]["report"])
    assert not (results / "trajectories.csv").exists()
    assert set(os.listdir(results)) == listed | {folder.MANIFEST, "benchmarks.md"}
    assert (results / "benchmarks.md").read_text() == "not the report's\n"


def test_run_and_report_share_a_folder(tmp_path, cases):
    results = tmp_path / "results"
    assert report(cases, results) == 0
    assert main(["run", "--cases", str(cases), "--backend", "core", "--results", str(results)]) == 0
    assert (results / "run.csv").exists() and (results / "report.md").exists()
    assert report(cases, results, "-k", "quick") == 0
    assert (results / "run.csv").exists()


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path, cases, capsys):
    results = tmp_path / "results"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from crosscheck.folder import claim
        with claim({str(results)!r}):
            print("held", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert report(cases, results) == 2
        err = capsys.readouterr().err
        assert f"another crosscheck (pid {holder.pid}) is writing it now" in err
    finally:
        holder.kill()
        holder.wait()
    assert report(cases, results) == 0  # the lock died with its holder


# ------------------------------------------------------------------ killed at random moments

WRITER = """
import sys
from crosscheck.folder import claim

out = sys.argv[1]
for generation in range(1, 10**6):
    width = 24 if generation % 2 else 12  # a wide run and a narrow one, in turn
    files = {f"table{i:02d}.csv": f"generation {generation}\\n" * 200 for i in range(width)}
    with claim(out) as target:
        target.write(files, "report")
    print(generation, flush=True)
"""


def assert_one_generation(results, recovered=True):
    """The visible folder is exactly one generation's files, plus the user's own files (a user's sub-folder
    moves across just after the swap: until the next run recovers it, it may still be in the old folder)."""
    manifest = folder.read_manifest(results)
    assert manifest is not None, sorted(os.listdir(results))
    names = manifest["files"]["report"]
    generations = {(results / n).read_text().splitlines()[0] for n in names}
    assert len(generations) == 1, generations
    generation = int(generations.pop().split()[1])
    assert len(names) == (24 if generation % 2 else 12)
    assert set(os.listdir(results)) - {"mine"} == set(names) | {folder.MANIFEST, "mine.txt"}
    assert (results / "mine").is_dir() or not recovered
    assert (results / "mine.txt").read_text() == "user\n"
    return generation


def test_twenty_kills_at_random_moments_never_leave_a_mixed_folder(tmp_path):
    results = tmp_path / "results"
    folder.write(results, {"table00.csv": "generation 0\n"}, "report")
    (results / "mine.txt").write_text("user\n")  # a file that is not crosscheck's, and a folder
    (results / "mine").mkdir()
    (results / "mine" / "inner.txt").write_text("user\n")
    rng = random.Random(14)
    seen = set()
    for attempt in range(20):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(results)], stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()  # one generation written: the writer is in its loop
        time.sleep(rng.uniform(0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        # what a reader sees now, before anything is cleaned: one generation's set (the folder may be briefly
        # absent only where the kernel lacks renameat2, never mixed)
        if results.exists():
            seen.add(assert_one_generation(results, recovered=False))
        folder.recover(results)  # what the next run does first
        assert assert_one_generation(results) >= 0
        assert (results / "mine" / "inner.txt").read_text() == "user\n"
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".results.crosscheck-")
                    and p.name != ".results.crosscheck-lock"]
    assert len(seen) > 1  # the kills did land at different moments


def test_a_leftover_of_a_killed_run_is_cleaned_by_the_next(tmp_path, cases):
    results = tmp_path / "results"
    assert report(cases, results) == 0
    before = {p.name: p.read_bytes() for p in results.iterdir()}
    new = tmp_path / ".results.crosscheck-new"  # killed while building the new folder
    new.mkdir()
    (new / "rows.csv").write_text("half")
    assert report(cases, results) == 0
    assert not new.exists()
    assert {p.name: p.read_bytes() for p in results.iterdir()} == before


def test_a_failed_swap_keeps_the_old_folder(tmp_path, monkeypatch):
    results = tmp_path / "results"
    folder.write(results, {"a.csv": "old\n", "b.csv": "old\n"}, "report")
    monkeypatch.setattr(folder, "_exchange", lambda a, b: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        folder.write(results, {"a.csv": "new\n", "b.csv": "new\n"}, "report")
    assert (results / "a.csv").read_text() == "old\n" and (results / "b.csv").read_text() == "old\n"
    folder.recover(results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_the_manifest_lists_what_each_command_wrote(tmp_path):
    results = tmp_path / "results"
    folder.write(results, {"run.csv": "x"}, "run")
    data = json.loads((results / folder.MANIFEST).read_text())
    assert data["files"] == {"run": ["run.csv"]}


def test_a_failed_swap_is_a_message_not_a_traceback(tmp_path, cases, monkeypatch, capsys):
    results = tmp_path / "results"
    assert report(cases, results) == 0
    before = {p.name: p.read_bytes() for p in results.iterdir()}
    monkeypatch.setattr(folder, "_exchange", lambda a, b: (_ for _ in ()).throw(OSError(28, "No space left")))
    assert report(cases, results) == 2
    assert "No space left; the previous results are left as they were" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in results.iterdir()} == before
