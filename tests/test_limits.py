"""Runs that cannot hang or end silently: a time limit per case, sys.exit and os._exit in a case or at import."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crosscheck.cli import main

GOOD = """
    from crosscheck import case, inputs

    @case(x=inputs.normal(3))
    def good(nn, x):
        return nn.tanh(x)
"""


def folder_with(tmp_path, **files):
    folder = tmp_path / "cases"
    folder.mkdir(exist_ok=True)
    for name, body in files.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(body))
    return folder


def test_a_case_that_hangs_is_an_error_row_naming_it(tmp_path, capsys):
    cases = folder_with(tmp_path, good=GOOD, hangs="""
        import time
        from crosscheck import case, inputs

        @case(x=inputs.normal(3))
        def hangs(nn, x):
            while True:
                time.sleep(0.01)
    """)
    argv = ["run", "--cases", str(cases), "--backend", "core", "--dtype", "float64", "--timeout", "0.5"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "error    hangs x core float64 rev: case 'hangs'" in out and "time limit of 0.5 s (--timeout)" in out
    # the good case still ran (its gradient, J·v and H·v); the hanging one is one error row
    assert "3 pass, 1 error" in out


def test_a_time_limit_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--timeout", "0"])
    assert exc.value.code == 2 and "--timeout: must be more than 0" in capsys.readouterr().err


def test_sys_exit_in_a_case_is_an_error_row(tmp_path, capsys):
    cases = folder_with(tmp_path, good=GOOD, exits="""
        import sys
        from crosscheck import case, inputs

        @case(x=inputs.normal(3))
        def exits(nn, x):
            sys.exit(0)
    """)
    results = tmp_path / "results"
    assert main(["report", "--cases", str(cases), "--backend", "core", "--results", str(results)]) == 1
    out = capsys.readouterr().out
    assert "error    exits x core float64 rev: case 'exits'" in out and "called sys.exit(0)" in out
    assert "exits" in (results / "rows.csv").read_text()


def test_sys_exit_at_import_of_a_case_file_is_a_load_error(tmp_path, capsys):
    cases = folder_with(tmp_path, good=GOOD, leaves="""
        import sys
        sys.exit(0)
    """)
    assert main(["run", "--cases", str(cases), "--backend", "core"]) == 1
    captured = capsys.readouterr()
    assert "leaves.py:3: case file called sys.exit(0) while loading" in captured.err
    assert "good" in captured.out


@pytest.mark.parametrize("where", ["case", "import"])
def test_os_exit_is_reported_by_the_command_not_a_silent_zero(tmp_path, where):
    body = ("    os._exit(0)\n" if where == "case" else "    return nn.tanh(x)\n")
    top = "os._exit(0)\n" if where == "import" else ""
    cases = folder_with(tmp_path, good=GOOD)
    (cases / "abrupt.py").write_text("import os\nfrom crosscheck import case, inputs\n" + top +
                                     "\n@case(x=inputs.normal(3))\ndef abrupt(nn, x):\n" + body)
    command = Path(sys.executable).parent / "crosscheck"
    if not command.exists():
        pytest.skip(f"the crosscheck command is not installed beside {sys.executable}")
    proc = subprocess.run([str(command), "run", "--cases", str(cases), "--backend", "core"], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode != 0
    assert "the process ended abruptly with exit status 0" in proc.stderr
    if where == "case":
        assert "while running case abrupt float64" in proc.stderr and "abrupt.py" in proc.stderr


def test_a_normal_run_of_the_command_keeps_its_exit_status(tmp_path):
    cases = folder_with(tmp_path, good=GOOD)
    command = Path(sys.executable).parent / "crosscheck"
    if not command.exists():
        pytest.skip(f"the crosscheck command is not installed beside {sys.executable}")
    ok = subprocess.run([str(command), "run", "--cases", str(cases), "--backend", "core"], capture_output=True,
                        text=True, timeout=120, cwd=tmp_path)
    assert ok.returncode == 0 and "ended abruptly" not in ok.stderr and "1 cases" in ok.stdout
    bad = subprocess.run([str(command), "run", "--directions", "0"], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert bad.returncode == 2 and "ended abruptly" not in bad.stderr
    assert os.listdir(tmp_path) == ["cases"]
