"""Installed as a user installs it: a free distribution name, a wheel that carries the catalogue, and the
command line that finds its cases where pytest does."""

import importlib.util
import subprocess
import sys
import textwrap
import tomllib
import venv
from pathlib import Path

import pytest

from crosscheck.catalogue import discover
from crosscheck.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_the_distribution_name_is_not_the_taken_one():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # `crosscheck` on the package index is an unrelated project (0.0.0.2); ours is published as crosscheck-grad
    assert project["name"] == "crosscheck-grad"
    assert all(extra.startswith("crosscheck-grad[") for extra in project["optional-dependencies"]["all"])
    readme = (ROOT / "README.md").read_text()
    assert "pip install crosscheck[" not in readme and "pip install 'crosscheck-grad[torch]'" in readme


@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None, reason="setuptools is needed to build the wheel")
def test_a_regular_install_lists_the_shipped_catalogue(tmp_path):
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                            str(wheels), str(ROOT)], capture_output=True, text=True, timeout=300)
    if built.returncode and "bdist_wheel" in built.stderr:  # an old setuptools without the wheel package
        pytest.skip("this environment's setuptools cannot build wheels (no 'wheel' package, setuptools < 70.1)")
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("crosscheck_grad-*.whl")
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # the dependencies (numpy, pandas, ...) from this interpreter; crosscheck itself only from the wheel
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (site / "zz_deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    empty = tmp_path / "empty"
    empty.mkdir()
    where = subprocess.run([str(python), "-c", "import crosscheck; print(crosscheck.__file__)"], cwd=empty,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site))
    proc = subprocess.run([str(env / "bin" / "crosscheck"), "list"], cwd=empty, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    shipped = len(discover([ROOT / "cases"]))
    assert "xor_mlp" in proc.stdout and proc.stdout.strip().endswith(f"{shipped} cases")


def test_the_command_line_honours_crosscheck_cases_from_pyproject(tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""
        [tool.pytest.ini_options]
        testpaths = ["tests", "mycases"]
        crosscheck_cases = ["mycases"]
    """))
    (tmp_path / "mycases").mkdir()
    (tmp_path / "mycases" / "mine.py").write_text(textwrap.dedent("""
        from crosscheck import case, inputs

        @case(x=inputs.normal(3))
        def only_mine(nn, x):
            return nn.tanh(x)
    """))
    (tmp_path / "cases").mkdir()  # a ./cases folder loses to the configured one
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # found from below the project root, as pytest finds it
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "only_mine" in out and out.strip().endswith("1 cases")
