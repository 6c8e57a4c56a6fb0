"""The pytest conformance suite: collection, ids, marks, outcomes, messages, xfails file, a user's own folder.

Runs in the repository go through a subprocess (what a user types); the rest run
pytest in-process on small folders of case files, on the numpy backends only, so
they stay fast and never import a framework inside an inner run.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crosscheck.compare import ORACLE_TOLERANCE


pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
NUMPY_ONLY = ("--crosscheck-backend", "core", "--crosscheck-backend", "handwritten")
# hypothesis's terminal summary re-imports its lazily loaded modules in every inner run (pytester restores
# sys.modules after each): a second per run, and nothing these tests need.
INNER = ("-p", "no:hypothesispytest", "--crosscheck-mode", "rev")  # these tests count gradient tests (modes: test_modes)

SWISH = (ROOT / "examples" / "my_cases" / "swish.py").read_text()
WRONG_FACTOR = """
    import numpy as np
    from crosscheck import case, inputs

    def backward(g, x, w):
        return {"x": g * 2 * np.cos(x) * w, "w": g * np.sin(x)}  # wrong factor 2 in x's gradient

    @case(x=inputs.normal(4), w=inputs.normal(4), backward=backward)
    def my_sin(nn, x, w):
        return nn.sin(x) * w
"""


def write_cases(folder, **files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(body))
    return folder


def collected_ids(*args):
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


def expected_ids(cases):
    """A test per (case, backend, dtype), and per mode beyond the gradient for the backends that compute it (all
    but the hand-written backward): ``[b-d]``, ``[b-d-fwd]``, ``[b-d-hvp]``."""
    return {f"cases/{Path(c.file).name}::{c.name}[{b}-{d}{'' if m == 'rev' else '-' + m}]"
            for c in cases for b in ("core", "handwritten", "torch", "jax", "tensorflow", "autograd") if b != "handwritten" or c.backward
            for d in c.dtypes for m in c.modes if m == "rev" or b != "handwritten"}


# ------------------------------------------------------------------ collection in the repository


def test_the_repository_collects_one_test_per_case_backend_and_dtype(catalogue):
    ids = collected_ids("cases")
    assert len(ids) == len(set(ids)) == len(expected_ids(catalogue.values()))
    assert set(ids) == expected_ids(catalogue.values())
    assert "cases/xor_mlp.py::xor_mlp[torch-float32]" in ids
    assert "cases/xor_mlp.py::xor_mlp[handwritten-float64]" in ids
    assert not any("sin_of_quadratic[handwritten" in i for i in ids)  # no hand-written backward, no such test


def test_tags_are_marks_so_minus_m_seed_runs_only_the_articles_cases(catalogue):
    ids = collected_ids("-m", "seed", "-W", "error::pytest.PytestUnknownMarkWarning")  # tests/ and cases/
    assert set(ids) == expected_ids(c for c in catalogue.values() if "seed" in c.tags)


# ------------------------------------------------------------------ outcomes and messages


def test_a_wrong_backward_fails_with_the_rows_message_and_no_traceback(pytester):
    write_cases(pytester.path / "mine", wrong=WRONG_FACTOR)
    result = pytester.runpytest(*INNER, "--crosscheck-cases", "mine", *NUMPY_ONLY, "--crosscheck-dtype", "float64")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    for words in ("my_sin[handwritten-float64]", "case 'my_sin', parameter 'x', backend handwritten, dtype float64",
                  "4 of 4 elements outside tolerance", "worst at x[", "got ", "complex-step reference ",
                  "max abs error", "max rel error",
                  f"allowed atol={ORACLE_TOLERANCE.atol:.1e} + rtol={ORACLE_TOLERANCE.rtol:.1e}",
                  "inputs x=float64[4] normal(", "seed=",
                  "other parameters: w pass"):
        assert words in out, words
    assert "Traceback" not in out and "runtest" not in out and "judge_case" not in out
    result.stdout.fnmatch_lines(["FAILED mine/wrong.py::my_sin[[]handwritten-float64[]] - Failed: case 'my_sin'*"])


def test_a_wrong_rule_in_the_core_fails_the_shipped_cases_that_use_it(pytester, monkeypatch):
    from crosscheck.core import ops

    def wrong_sigmoid(a):
        y = ops.sigmoid_value(a)
        return y, lambda g: (g * y * (1 + y),)  # σ' is y(1 - y)

    monkeypatch.setattr(ops, "sigmoid", wrong_sigmoid)
    result = pytester.runpytest(*INNER, "--crosscheck-cases", ROOT / "cases", "--crosscheck-backend", "core",
                                "-k", "sin_of_quadratic or sigmoid_neuron")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*sigmoid_neuron[[]core-float64[]]*", "*case 'sigmoid_neuron', parameter 'w'*"])


def test_an_expected_discrepancy_is_an_xfail_with_its_reason(pytester):
    write_cases(pytester.path / "mine", expected="""
        from crosscheck import Expected, case, inputs

        @case(x=inputs.fixed([0.0, 1.0]), expect=[Expected("relu has no derivative at 0", backend="core")])
        def relu_kink(nn, x):
            return nn.relu(x)
    """)
    result = pytester.runpytest(*INNER, "--crosscheck-cases", "mine", *NUMPY_ONLY, "-rx")
    result.assert_outcomes(xfailed=2)
    result.stdout.fnmatch_lines(["XFAIL mine/expected.py::relu_kink[[]core-float64[]] - *relu has no derivative at 0"])


def test_a_missing_framework_skips_with_the_reason(pytester, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # what importing an uninstalled torch does
    write_cases(pytester.path / "mine", swish=SWISH)
    result = pytester.runpytest(*INNER, "--crosscheck-cases", "mine", "--crosscheck-backend", "torch", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED [[]2[]] *torch is not installed*"])


def test_a_case_that_raises_fails_with_its_location(pytester):
    write_cases(pytester.path / "mine", broken="""
        from crosscheck import case, inputs

        @case(x=inputs.normal(3), dtypes=("float64",))
        def no_such_op(nn, x):
            return nn.frobnicate(x)
    """)
    result = pytester.runpytest(*INNER, "--crosscheck-cases", "mine", *NUMPY_ONLY)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*case 'no_such_op' (*broken.py:*): AttributeError:*frobnicate*"])


def test_a_case_file_that_does_not_load_is_one_failing_test_and_the_rest_runs(pytester):
    write_cases(pytester.path / "mine", swish=SWISH, typo="""
        from crosscheck import case, inputs

        @case(x=inputs.normal(3)
        def unclosed(nn, x):
            return x
    """)
    result = pytester.runpytest(*INNER, "--crosscheck-cases", "mine", *NUMPY_ONLY)
    result.assert_outcomes(failed=1, passed=4)  # swish on core and handwritten, both dtypes
    result.stdout.fnmatch_lines(["*<load error>*", "*typo.py:*: syntax error in case file*"])
    assert "Traceback" not in result.stdout.str()


def test_a_duplicate_case_name_is_one_failing_test_naming_both_files(pytester):
    write_cases(pytester.path / "mine", a=SWISH, b=SWISH)
    result = pytester.runpytest(*INNER, "--crosscheck-cases", "mine", *NUMPY_ONLY)
    result.assert_outcomes(failed=1, passed=4)  # the first definition runs
    result.stdout.fnmatch_lines(["*swish[[]duplicate[]]*",
                                 "duplicate case name 'swish': defined in *a.py:* and in *b.py:*"])


# ------------------------------------------------------------------ the xfails file


def test_ids_in_the_xfails_file_become_xfails_and_unknown_ids_warn(pytester):
    write_cases(pytester.path / "mine", wrong=WRONG_FACTOR)
    (pytester.path / "xfails.txt").write_text(textwrap.dedent("""
        # known failures of this backend

        my_sin[handwritten-float64]   # factor 2 left in, see issue 7
        mine/wrong.py::my_sin[handwritten-float32]
        renamed_case[core-float64]
    """))
    result = pytester.runpytest(*INNER, "--crosscheck-cases", "mine", *NUMPY_ONLY, "--crosscheck-xfails", "xfails.txt",
                                "-rx")
    # the stale id's warning is checked by its text below; other environment-dependent warnings (e.g. pytest's
    # note that an editable crosscheck was imported before assertion rewriting) are not counted
    result.assert_outcomes(passed=2, xfailed=2)
    result.stdout.fnmatch_lines([
        "*xfails.txt:6: PytestWarning: renamed_case[[]core-float64[]] matches no collected test*",
        "XFAIL mine/wrong.py::my_sin[[]handwritten-float64[]] - factor 2 left in, see issue 7",
        "XFAIL mine/wrong.py::my_sin[[]handwritten-float32[]] - listed in *xfails.txt:5",
    ], consecutive=False)


def test_a_missing_xfails_file_is_a_usage_error(pytester):
    write_cases(pytester.path / "mine", swish=SWISH)
    result = pytester.runpytest(*INNER, "--crosscheck-cases", "mine", "--crosscheck-xfails", "nope.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--crosscheck-xfails: cannot read *nope.txt*"])


# ------------------------------------------------------------------ a user's own project


def test_a_users_folder_runs_even_outside_the_collected_paths(pytester):
    write_cases(pytester.path / "mycases", swish=SWISH)
    pytester.makepyfile(test_unit="def test_unit(): pass")
    pytester.mkdir("tests")
    result = pytester.runpytest(*INNER, "--crosscheck-cases", "mycases", *NUMPY_ONLY, "--strict-markers", "-v")
    result.assert_outcomes(passed=5)  # core and handwritten × 2 dtypes, and the unit test
    result.stdout.fnmatch_lines(["mycases/swish.py::swish[[]handwritten-float32[]] PASSED*"], consecutive=False)
    # not under the paths given: still collected, and -k / -m still deselect
    elsewhere = (*INNER, "test_unit.py", "--crosscheck-cases", "mycases", *NUMPY_ONLY)
    result = pytester.runpytest(*elsewhere, "-k", "float64 or unit")
    result.assert_outcomes(passed=3, deselected=2)
    result = pytester.runpytest(*elsewhere, "-m", "mine and core")
    result.assert_outcomes(passed=2, deselected=3)


def test_backend_and_dtype_options_restrict_the_tests_and_the_header_names_them(pytester):
    write_cases(pytester.path / "mycases", swish=SWISH)
    result = pytester.runpytest(*INNER, "--crosscheck-cases", "mycases", "--crosscheck-backend", "handwritten",
                                "--crosscheck-dtype", "float32", "--collect-only", "-q")
    assert [line for line in result.stdout.lines if "::" in line] == ["mycases/swish.py::swish[handwritten-float32]"]
    result = pytester.runpytest(*INNER, "--crosscheck-cases", "mycases", "--crosscheck-backend", "handwritten",
                                "--crosscheck-backend", "torch", "--collect-only")
    result.stdout.fnmatch_lines(["crosscheck *: cases mycases; backends handwritten, torch; dtypes float64, float32;*",
                                 "crosscheck versions: python *, numpy *, torch *"])
    assert "jax" not in result.stdout.str()


def test_without_case_folders_the_plugin_stays_out_of_the_way(pytester):
    write_cases(pytester.path / "cases", swish=SWISH)
    pytester.makepyfile(test_unit="def test_unit(): pass")
    result = pytester.runpytest(*INNER)
    result.assert_outcomes(passed=1)
    assert "crosscheck versions" not in result.stdout.str() and "swish" not in result.stdout.str()


def test_a_missing_case_folder_is_a_usage_error(pytester):
    result = pytester.runpytest(*INNER, "--crosscheck-cases", "nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*crosscheck case folder(s) not found: *nowhere"])


def test_xdist_workers_collect_the_same_tests_and_agree(pytester):
    pytest.importorskip("xdist")
    write_cases(pytester.path / "mycases", swish=SWISH, wrong=WRONG_FACTOR)
    (pytester.path / "xfails.txt").write_text("my_sin[handwritten-float32]\nstale[core-float64]\n")
    args = ("--crosscheck-cases", "mycases", *NUMPY_ONLY, "-p", "no:cacheprovider", "--crosscheck-xfails", "xfails.txt")
    serial = pytester.runpytest_subprocess(*INNER, *args)
    parallel = pytester.runpytest_subprocess(*INNER, *args, "-n", "2")
    outcomes = {"passed": 6, "failed": 1, "xfailed": 1, "warnings": 1}  # the stale id warned once, not per worker
    assert serial.parseoutcomes() == parallel.parseoutcomes() == outcomes
