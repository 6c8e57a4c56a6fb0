"""The command line, run as a user runs it."""

import subprocess
import sys
from pathlib import Path

import pytest

from crosscheck import ops_spec
from crosscheck.cli import main

ROOT = Path(__file__).resolve().parent.parent
USER_CASES = ROOT / "examples" / "my_cases"


def test_user_case_file_is_short():
    assert len((USER_CASES / "swish.py").read_text().splitlines()) < 15


def test_list_names_every_case_with_tags(capsys):
    assert main(["list", "--cases", str(ROOT / "cases")]) == 0
    out = capsys.readouterr().out
    assert "xor_mlp" in out and "[mlp, seed]" in out and "+handwritten" in out
    generated = sum(o.random_cases + len(o.points) for o in ops_spec.OPS.values())  # cases/ops.py
    layers = 13  # issue 11: cases/layers_conv.py (12) and cases/cnn.py (1)
    sequence_layers = 8  # cases/layers_sequence.py (issue 11): attention ×2, MHA, block, its training, RNN, LSTM, GRU
    assert out.strip().endswith(f"{57 + layers + sequence_layers + generated} cases")


def test_run_on_a_user_folder(tmp_path, capsys):
    assert main(["run", "--cases", str(USER_CASES), "--backend", "core", "--backend", "handwritten",
                 "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # the core in three modes (gradient, J·v, H·v), the hand-written backward in one, each in two dtypes
    assert out.count("swish") >= 8 and "8 rows: 8 pass" in out
    assert " fwd " in out and " hvp " in out
    assert (tmp_path / "run.csv").read_text().startswith("case,param,backend,dtype")
    assert "| swish |" in (tmp_path / "run.md").read_text()


def test_run_exits_non_zero_when_a_gradient_is_wrong(tmp_path, capsys):
    (tmp_path / "wrong.py").write_text(
        "from crosscheck import case, inputs\n\n"
        "@case(x=inputs.normal(3), backward=lambda g, x: {'x': -g})\n"
        "def wrong(nn, x):\n    return nn.exp(x)\n")
    assert main(["run", "--cases", str(tmp_path), "--dtype", "float64"]) == 1
    out = capsys.readouterr().out
    assert "fail" in out and "case 'wrong', parameter 'x', backend handwritten" in out


def test_filters_select_cases(capsys):
    assert main(["run", "--cases", str(ROOT / "cases"), "-k", "stack_relu_*", "--dtype", "float32",
                 "--backend", "handwritten"]) == 0
    out = capsys.readouterr().out
    assert "5 cases" in out and "float64" not in out.split("\n\n")[0]


def test_a_missing_case_folder_is_named(capsys):
    assert main(["list", "--cases", "/no/such/folder"]) == 2
    assert "/no/such/folder does not exist" in capsys.readouterr().err


def test_an_unknown_backend_is_named(capsys):
    assert main(["run", "--backend", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown backend 'nope'" in err and "tensorflow" in err and "package.module:Class" in err
    assert main(["run", "--backend", "no_such_module:Engine"]) == 2
    assert "cannot import 'no_such_module'" in capsys.readouterr().err
    assert main(["run", "--backend", "crosscheck.backends.core:NoSuchClass"]) == 2
    assert "has no attribute 'NoSuchClass'" in capsys.readouterr().err
    assert main(["run", "--backend", "crosscheck.backends.core:CoreVocabulary"]) == 2
    assert "not a crosscheck.backends.Backend" in capsys.readouterr().err


def test_console_script_help():
    for cmd in ("list", "run"):
        out = subprocess.run([sys.executable, "-m", "crosscheck.cli", cmd, "--help"], capture_output=True, text=True,
                             check=True).stdout
        assert "usage: crosscheck " + cmd in out


def test_a_numpy_only_run_imports_no_framework():
    code = ("import sys; from crosscheck.cli import main; "
            f"rc = main(['run', '--cases', {str(ROOT / 'cases')!r}, '--backend', 'core', '--backend', 'handwritten', "
            "'-q']); "
            "print('IMPORTED', sorted(m for m in ('torch', 'jax', 'tensorflow', 'autograd') if m in sys.modules)); "
            "sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "IMPORTED []" in out.stdout
