"""-j N: the same tables as a serial run, byte for byte; a worker that dies costs only its case; the
compilation cache changes no row."""

import os
import subprocess
import sys
import textwrap

import pytest

from crosscheck import cache, catalogue, parallel, runner
from crosscheck.cli import main

CASES = '''
    import numpy as np
    from crosscheck import Training, case, inputs

    @case(x=inputs.normal(4), w=inputs.normal(4))
    def smooth(nn, x, w):
        return nn.tanh(x * w) + nn.sin(x)

    @case(x=inputs.fixed(np.array([-1.0, 0.0, 2.0])))
    def at_a_kink(nn, x):
        return nn.relu(x) * 3.0

    def _wrong(g, x):  # a hand-written backward that forgets the factor 2: a planted failure
        return {"x": g * np.cos(x)}

    @case(x=inputs.normal(3), backward=_wrong)
    def wrong_backward(nn, x):
        return nn.sin(2.0 * x)

    @case(x=inputs.normal(2, 3), target=inputs.fixed(np.ones((2, 1)), grad=False), w=inputs.normal(3, 1),
          train=Training(steps=25, lr=0.1))
    def regression(nn, x, w, target):
        return nn.mean_squared_error(nn.tanh(x @ w), target)
'''


def folder(tmp_path, **files):
    path = tmp_path / "cases"
    path.mkdir(exist_ok=True)
    for name, body in files.items():
        (path / f"{name}.py").write_text(textwrap.dedent(body))
    return path


BACKENDS = ["--backend", "core", "--backend", "handwritten", "--backend", "torch", "--backend", "jax"]


def test_report_with_two_workers_writes_the_same_files_byte_for_byte(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("jax")
    cases = folder(tmp_path, user=CASES)
    written = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"results-j{jobs}"
        assert main(["report", "--cases", str(cases), *BACKENDS, "-j", jobs, "--results", str(out)]) == 1
        written[jobs] = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert written["1"].keys() == written["2"].keys()
    differ = [str(name) for name in written["1"] if written["1"][name] != written["2"][name]]
    assert not differ, f"-j 2 wrote different bytes in {differ}"
    rows = written["2"][next(n for n in written["2"] if str(n) == "rows.csv")].decode()
    # the run had something in each class: a failure, a kink, trained trajectories
    assert "wrong_backward" in rows and ",fail," in rows and ",kink," in rows
    assert any(str(n) == "trajectories.csv" and b"regression" in written["2"][n] for n in written["2"])


def test_run_with_workers_gives_the_serial_rows_pairs_and_conventions(tmp_path):
    cases = catalogue.discover([folder(tmp_path, user=CASES)])
    results = {}
    for jobs in (1, 2):
        pairs, conventions = [], []
        rows = runner.run(cases, ["core", "handwritten"], pairs=pairs, conventions=conventions, jobs=jobs)
        results[jobs] = (rows, pairs, conventions)
    assert repr(results[1]) == repr(results[2])  # repr: a nan field is equal to itself there
    assert any(r.verdict == "fail" for r in results[2][0])  # the planted failure came back from a worker


def test_a_case_that_kills_its_worker_costs_its_own_rows_only(tmp_path):
    cases = catalogue.discover([folder(tmp_path, user=CASES, abrupt='''
        import os
        from crosscheck import case, inputs

        @case(x=inputs.normal(3))
        def abrupt(nn, x):
            os._exit(3)
    ''')])
    serial = [r for r in runner.run([c for c in cases if c.name != "abrupt"], ["core"], jobs=1)]
    rows = runner.run(cases, ["core"], jobs=2)
    lost = [r for r in rows if r.case == "abrupt"]
    assert lost and all(r.verdict == "error" and "ended abruptly" in r.message and "abrupt.py" in r.message
                        for r in lost)
    assert repr([r for r in rows if r.case != "abrupt"]) == repr(serial)


def test_a_case_made_in_code_keeps_the_run_serial_and_says_why(capsys):
    from crosscheck import inputs

    made = catalogue.Case(name="made_here", fn=lambda nn, x: nn.tanh(x), inputs={"x": inputs.normal(3)})
    rows = runner.run([made, made.redrawn(1)], ["core"], jobs=2)
    assert rows and all(r.verdict == "pass" for r in rows)
    assert "running serially: case 'made_here' was made in code" in capsys.readouterr().err


@pytest.mark.parametrize("value, message", [("two", "is not an integer"), ("0", "must be at least 1")])
def test_a_bad_jobs_variable_is_named(monkeypatch, value, message):
    monkeypatch.setenv(parallel.JOBS_ENV, value)
    with pytest.raises(ValueError, match=f"CROSSCHECK_JOBS='{value}' {message}"):
        parallel.default_jobs()


def test_bad_jobs_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "-j", "0"])
    assert stop.value.code == 2 and "-j/--jobs: must be at least 1, got 0" in capsys.readouterr().err


def _run_command(args, cache_dir, tmp_path):
    env = {**os.environ, cache.CACHE_DIR_ENV: str(cache_dir)}
    env.pop(cache.CACHE_ENV, None)
    return subprocess.run([sys.executable, "-m", "crosscheck.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path, env=env)


def test_the_jax_compilation_cache_is_filled_then_read_and_changes_no_row(tmp_path):
    pytest.importorskip("jax")
    cases = folder(tmp_path, user=CASES)
    store = tmp_path / "cache"
    argv = ["run", "--cases", str(cases), "--backend", "jax", "-j", "1"]
    outputs = {}
    for name, extra in (("cold", []), ("warm", []), ("off", ["--no-cache"])):
        proc = _run_command([*argv, "--results", str(tmp_path / name), *extra], store, tmp_path)
        assert proc.returncode == 0, proc.stderr  # the planted failure is the hand-written backend's: not run
        outputs[name] = proc.stdout
        if name == "cold":
            kept = sorted(p.name for p in (store / "jax").iterdir())
            assert kept, "a cold run with the cache on kept no compilation"
    assert "jax compilation cache cold: 0 of" in outputs["cold"]
    assert "jax compilation cache warm:" in outputs["warm"]
    assert "jax compilation cache" not in outputs["off"]
    assert sorted(p.name for p in (store / "jax").iterdir()) == kept  # the run without the cache wrote nothing
    tables = {name: (tmp_path / name / "run.csv").read_bytes() for name in outputs}
    assert tables["cold"] == tables["warm"] == tables["off"]
