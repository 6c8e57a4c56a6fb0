"""Every way a case, a file or a backend can go wrong ends as a clear row; the rest still runs."""

import textwrap

import numpy as np
import pytest

from crosscheck import runner
from crosscheck.backends.core import CoreBackend, CoreVocabulary
from crosscheck.catalogue import CatalogueError, discover
from crosscheck.cli import main
from crosscheck.vocabulary import Vocabulary

GOOD = """
    from crosscheck import case, inputs

    @case(x=inputs.normal(3))
    def good(nn, x):
        return nn.tanh(x)
"""


def run_rev(*args, **kwargs):
    """A run of the gradients' rows only (what these tests judge; J·v and H·v rows are tests/test_modes*.py's)."""
    return runner.run(*args, modes=("rev",), **kwargs)


def folder_with(tmp_path, **files):
    for name, body in files.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    return tmp_path


def run_folder(folder, backends=("core",), dtypes=("float64",)):
    errors = []
    cases = discover([folder], errors)
    rows = runner.load_error_rows(errors) + run_rev(cases, backends=list(backends), dtypes=dtypes)
    return rows


def only(rows, case):
    found = [r for r in rows if r.case == case]
    assert found, case
    return found


def assert_good_still_passes(rows):
    assert {r.verdict for r in only(rows, "good")} == {"pass"}


# ------------------------------------------------------------------ the case itself


def test_a_case_that_raises(tmp_path):
    rows = run_folder(folder_with(tmp_path, good=GOOD, bad="""
        from crosscheck import case, inputs

        @case(x=inputs.normal(3))
        def raises(nn, x):
            y = nn.tanh(x)
            raise ValueError("the model is not ready")
    """))
    (row,) = only(rows, "raises")
    assert row.verdict == "error"
    assert "ValueError: the model is not ready" in row.message and "bad.py:7" in row.message
    assert "case 'raises'" in row.message
    assert_good_still_passes(rows)


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_forward_that_is_not_finite(tmp_path, value):
    rows = run_folder(folder_with(tmp_path, good=GOOD, bad=f"""
        from crosscheck import case, inputs

        @case(x=inputs.fixed([1.0, 2.0]))
        def blows_up(nn, x):
            return nn.sum(nn.log(x - 1.0)) * {"0.0" if value == "nan" else "1.0"} + {"0.0" if value == "inf" else "0.0"}
    """))
    (row,) = only(rows, "blows_up")
    assert row.verdict == "nan"
    assert "forward value is" in row.message and "bad.py" in row.message
    assert_good_still_passes(rows)


class NanAtOne(CoreBackend):
    """The core, except that its gradient of x has a NaN at element 1 and an inf at element 2."""

    name = "leaky"

    def evaluate(self, case, point, dtype):
        ev = super().evaluate(case, point, dtype)
        ev.grads["x"] = ev.grads["x"].copy()
        ev.grads["x"][1], ev.grads["x"][2] = np.nan, np.inf
        return ev


def test_a_gradient_nan_in_one_backend_only(tmp_path):
    (tmp_path / "good.py").write_text(textwrap.dedent(GOOD))
    rows = run_rev(discover([tmp_path]), backends=["core", NanAtOne()], dtypes=("float64",))
    verdicts = {r.backend: r for r in rows}
    assert verdicts["core"].verdict == "pass"
    leaky = verdicts["leaky"]
    assert leaky.verdict == "nan"
    assert "backend leaky" in leaky.message and "x[1], x[2]" in leaky.message


@pytest.mark.parametrize("returned,words", [
    ("(x, x)", "returned tuple"),
    ("'loss'", "returned str"),
    ("np.float64(1.0) * np.ones(3)", "numpy.ndarray, not a crosscheck Tensor"),
])
def test_a_return_that_is_not_this_backends_array(tmp_path, returned, words):
    rows = run_folder(folder_with(tmp_path, good=GOOD, bad=f"""
        import numpy as np
        from crosscheck import case, inputs

        @case(x=inputs.normal(3))
        def odd_return(nn, x):
            return {returned}
    """))
    (row,) = only(rows, "odd_return")
    assert row.verdict == "error" and "odd_return" in row.message
    assert "not an array" in row.message or "not a" in row.message
    assert_good_still_passes(rows)


def test_a_numpy_return_is_named_on_the_core_backend():
    from crosscheck.backends.base import CaseOutputError, output_shape

    with pytest.raises(CaseOutputError, match="numpy.ndarray, not a crosscheck Tensor"):
        output_shape(np.ones(3), CoreVocabulary("float64"))


# ------------------------------------------------------------------ hand-written backwards


@pytest.mark.parametrize("backward,bad,words", [
    ("lambda g, x, y: {'x': g[:1] * 1.0, 'y': g}", "x", "has shape (1,), the input has (3,)"),
    ("lambda g, x, y: {'x': (g * 1.0).astype(np.float32), 'y': g}", "x", "is float32, the run is float64"),
    ("lambda g, x, y: {'x': g}", "y", "gave no gradient for 'y'"),
    ("lambda g, x, y: [g, g]", "x", "returned list, expected a dict"),
])
def test_a_bad_handwritten_backward(tmp_path, backward, bad, words):
    rows = run_folder(folder_with(tmp_path, good=GOOD, bad=f"""
        import numpy as np
        from crosscheck import case, inputs

        @case(x=inputs.normal(3), y=inputs.normal(3), backward={backward})
        def by_hand(nn, x, y):
            return x + y
    """), backends=("core", "handwritten"))
    rows_by = {(r.backend, r.param): r for r in only(rows, "by_hand")}
    assert rows_by[("core", "x")].verdict == "pass"
    assert rows_by[("handwritten", bad)].verdict == "error"
    assert words in rows_by[("handwritten", bad)].message
    assert_good_still_passes(rows)


def test_one_wrong_gradient_leaves_the_others_judged(tmp_path):
    """A wrong-shaped gradient of one parameter is that parameter's error; the correct ones are still judged."""
    rows = run_folder(folder_with(tmp_path, good=GOOD, bad="""
        from crosscheck import case, inputs

        @case(x=inputs.normal(3), y=inputs.normal(3), w=inputs.normal(3),
              backward=lambda g, x, y, w: {"x": g * w, "y": g[:2], "w": g * x})
        def by_hand(nn, x, y, w):
            return x * w + y
    """), backends=("core", "handwritten"), dtypes=("float64", "float32"))
    verdicts = {(r.param, r.dtype): r.verdict for r in only(rows, "by_hand") if r.backend == "handwritten"}
    assert verdicts == {("x", "float64"): "pass", ("y", "float64"): "error", ("w", "float64"): "pass",
                        ("x", "float32"): "pass", ("y", "float32"): "error", ("w", "float32"): "pass"}


# ------------------------------------------------------------------ input specs


@pytest.mark.parametrize("spec,words", [
    ("inputs.normal(3, -2)", "sizes must be non-negative"),
    ("inputs.InputSpec('weird', (3,))", "unknown input distribution 'weird'"),
    ("inputs.fixed([1.0, 2.0], shape=(3,))", "value has shape (2,), the case expects (3,)"),
])
def test_an_invalid_input_spec(tmp_path, spec, words):
    rows = run_folder(folder_with(tmp_path, good=GOOD, bad=f"""
        from crosscheck import case, inputs

        @case(x={spec})
        def badly_specified(nn, x):
            return nn.tanh(x)
    """))
    (row,) = only(rows, "badly_specified")
    assert row.verdict == "error" and words in row.message
    assert "case 'badly_specified'" in row.message and "bad.py:4" in row.message
    assert_good_still_passes(rows)


# ------------------------------------------------------------------ case files


def test_a_syntax_error_in_a_case_file(tmp_path):
    rows = run_folder(folder_with(tmp_path, good=GOOD, broken="x = 1\n\ndef oops(:\n    pass\n"))
    (row,) = [r for r in rows if r.verdict == "error"]
    assert "broken.py:3" in row.message and "syntax error" in row.message
    assert_good_still_passes(rows)


def test_an_import_error_in_a_case_file(tmp_path):
    rows = run_folder(folder_with(tmp_path, good=GOOD, needs="import json\nimport not_installed_anywhere\n"))
    (row,) = [r for r in rows if r.verdict == "error"]
    assert "needs.py:2" in row.message and "ModuleNotFoundError" in row.message
    assert_good_still_passes(rows)


def test_two_cases_with_one_name(tmp_path):
    rows = run_folder(folder_with(tmp_path, a=GOOD, b=GOOD))
    error = [r for r in rows if r.verdict == "error"]
    assert len(error) == 1 and "a.py" in error[0].message and "b.py" in error[0].message
    assert error[0].case == "good"
    assert [r.verdict for r in rows if r.verdict != "error"] == ["pass"]


# ------------------------------------------------------------------ backends


class NoTanhVocabulary(CoreVocabulary):
    tanh = Vocabulary.tanh  # the base's: raises MissingOp


class NoTanh(CoreBackend):
    name = "notanh"
    vocabulary = NoTanhVocabulary


def test_an_op_a_backend_lacks(tmp_path):
    (tmp_path / "good.py").write_text(textwrap.dedent(GOOD))
    rows = run_rev(discover([tmp_path]), backends=["core", NoTanh()], dtypes=("float64",))
    by = {r.backend: r for r in rows}
    assert by["core"].verdict == "pass"
    # a young engine's missing op is no error: skipped, naming the op (issue 12), and the run does not fail
    assert by["notanh"].verdict == "skipped" and "no binding for op 'tanh'" in by["notanh"].message
    assert not runner.failed(rows)


class NoFloat32(CoreBackend):
    name = "no32"

    def evaluate(self, case, point, dtype):
        if dtype == "float32":
            raise TypeError("float32 is not supported by this device")
        return super().evaluate(case, point, dtype)


def test_a_backend_that_raises_for_one_dtype(tmp_path):
    (tmp_path / "good.py").write_text(textwrap.dedent(GOOD))
    rows = run_rev(discover([tmp_path]), backends=["core", NoFloat32()])
    verdicts = {(r.backend, r.dtype): r.verdict for r in rows}
    assert verdicts == {("core", "float64"): "pass", ("core", "float32"): "pass",
                        ("no32", "float64"): "pass", ("no32", "float32"): "error"}
    (row,) = [r for r in rows if r.verdict == "error"]
    assert "TypeError: float32 is not supported" in row.message


# ------------------------------------------------------------------ exit codes and complete tables


ALL_BAD = dict(
    raises="""
        from crosscheck import case, inputs

        @case(x=inputs.normal(3))
        def raises(nn, x):
            raise RuntimeError("no")
    """,
    broken="def (:\n",
    spec="""
        from crosscheck import case, inputs

        @case(x=inputs.normal(-1))
        def negative(nn, x):
            return x
    """,
)


def test_the_cli_exits_non_zero_and_names_the_problems(tmp_path, capsys):
    folder = folder_with(tmp_path / "c" if (tmp_path / "c").mkdir() is None else tmp_path, good=GOOD, **ALL_BAD)
    assert main(["run", "--cases", str(folder), "--backend", "core", "--dtype", "float64"]) == 1
    out = capsys.readouterr()
    assert "broken.py:1" in out.err and "RuntimeError: no" in out.out and "sizes must be non-negative" in out.out


def test_a_report_with_every_case_failing_still_writes_complete_tables(tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    folder_with(cases, **ALL_BAD)
    out = tmp_path / "results"
    assert main(["report", "--cases", str(cases), "--backend", "core", "--results", str(out)]) == 1
    for name in ("rows", "summary", "discrepancies"):
        for ext in ("csv", "md", "json"):
            assert (out / f"{name}.{ext}").stat().st_size > 0, (name, ext)
    text = (out / "discrepancies.csv").read_text()
    assert "RuntimeError: no" in text and "broken.py:1" in text and "non-negative" in text
    assert (out / "report.html").exists()


def test_discovery_without_an_error_list_still_raises(tmp_path):
    folder_with(tmp_path, broken="def (:\n")
    with pytest.raises(CatalogueError, match="broken.py:1"):
        discover([tmp_path])


class WrongShape(CoreBackend):
    """A backend whose gradient comes back with the wrong shape (a buggy framework binding)."""

    name = "wrongshape"

    def evaluate(self, case, point, dtype):
        ev = super().evaluate(case, point, dtype)
        ev.grads = {k: v[:1] for k, v in ev.grads.items()}
        return ev


def test_a_backend_gradient_of_the_wrong_shape_is_an_error_row(tmp_path):
    (tmp_path / "good.py").write_text(textwrap.dedent(GOOD))
    rows = run_rev(discover([tmp_path]), backends=["core", WrongShape()], dtypes=("float64",))
    by = {r.backend: r for r in rows}
    assert by["core"].verdict == "pass"
    assert by["wrongshape"].verdict == "error" and "gradient has shape (1,), the reference (3,)" in by[
        "wrongshape"].message


@pytest.mark.parametrize("body,words", [
    ("return nn.sigmiod(x)", "nn has no op 'sigmiod'; did you mean nn.sigmoid?"),
    ("return np.sin(x)", "use nn's ops, e.g. nn.sin"),
])
def test_a_typo_or_a_numpy_call_in_a_case_says_what_to_use(tmp_path, body, words):
    rows = run_folder(folder_with(tmp_path, good=GOOD, bad=f"""
        import numpy as np
        from crosscheck import case, inputs

        @case(x=inputs.normal(3))
        def slip(nn, x):
            {body}
    """))
    (row,) = only(rows, "slip")
    assert row.verdict == "error" and words in row.message and "bad.py:7" in row.message
    assert_good_still_passes(rows)
