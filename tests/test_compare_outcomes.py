"""The CI check that a parallel run (pytest -n 2) gives the serial run's outcomes."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "compare_outcomes.py"
spec = importlib.util.spec_from_file_location("compare_outcomes", SCRIPT)
compare_outcomes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_outcomes)

SERIAL = """<?xml version="1.0"?><testsuites><testsuite>
<testcase classname="cases.xor_mlp" name="xor_mlp[core-float64]"/>
<testcase classname="cases.xor_mlp" name="xor_mlp[torch-float64]"><skipped type="pytest.skip" message="no torch"/></testcase>
<testcase classname="cases.kinks" name="tie[jax-float32]"><skipped type="pytest.xfail" message="known"/></testcase>
<testcase classname="cases.bad" name="bad[core-float64]"><failure message="fail"/></testcase>
</testsuite></testsuites>"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_identical_runs_agree(tmp_path, capsys):
    a, b = write(tmp_path, "a.xml", SERIAL), write(tmp_path, "b.xml", SERIAL)
    assert compare_outcomes.main([a, b]) == 0
    out = capsys.readouterr().out
    assert "4 tests (1 failure, 1 passed, 1 skipped, 1 xfailed): same outcomes" in out


def test_a_changed_outcome_or_a_missing_test_is_reported(tmp_path, capsys):
    a = write(tmp_path, "a.xml", SERIAL)
    changed = SERIAL.replace('<failure message="fail"/>', "").replace(
        '<testcase classname="cases.xor_mlp" name="xor_mlp[core-float64]"/>', "")
    b = write(tmp_path, "b.xml", changed)
    assert compare_outcomes.main([a, b]) == 1
    out = capsys.readouterr().out
    assert "cases.bad::bad[core-float64]: failure vs passed" in out
    assert "only in the first run: cases.xor_mlp::xor_mlp[core-float64] (passed)" in out


def test_a_subset_run_is_compared_over_its_own_tests(tmp_path, capsys):
    """CI compares the -n 2 run of cases/ with the whole serial run (tests/ and cases/): --subset compares over
    the second run's tests only, and still reports a changed outcome there."""
    whole = SERIAL.replace("</testsuite>", '<testcase classname="tests.test_core" name="test_x"/></testsuite>')
    a, b = write(tmp_path, "a.xml", whole), write(tmp_path, "b.xml", SERIAL)
    assert compare_outcomes.main([a, b]) == 1  # without --subset the unit test is "only in the first run"
    assert compare_outcomes.main(["--subset", a, b]) == 0
    changed = write(tmp_path, "c.xml", SERIAL.replace('<failure message="fail"/>', ""))
    capsys.readouterr()
    assert compare_outcomes.main(["--subset", a, changed]) == 1
    assert "cases.bad::bad[core-float64]: failure vs passed" in capsys.readouterr().out
