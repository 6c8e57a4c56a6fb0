"""The judge at the points where the first one went wrong: each situation a user met, its right verdict.

False alarms (correct gradients that failed), missed bugs (wrong gradients that passed), and discrepancies
that had no verdict of their own. Cases are written as a user would, in a temporary folder.
"""

import textwrap

import numpy as np
import pytest

from crosscheck import runner
from crosscheck.backends.core import CoreBackend, CoreVocabulary
from crosscheck.catalogue import discover
from crosscheck.cli import main
from crosscheck.compare import ORACLE_TOLERANCE
from crosscheck.core import ops
from crosscheck.core.tape import apply

pytest_plugins = "pytester"


def run_rev(*args, **kwargs):
    """A run of the gradients' rows only (what these tests judge; J·v and H·v rows are tests/test_modes*.py's)."""
    return runner.run(*args, modes=("rev",), **kwargs)


def installed(*names):
    """The backends among ``names`` that can run here (the suite also runs without torch and jax)."""
    import importlib.util

    return [n for n in names if n not in ("torch", "jax") or importlib.util.find_spec(n) is not None]


def cases_from(tmp_path, source, name="user.py"):
    (tmp_path / name).write_text(textwrap.dedent(source))
    return {c.name: c for c in discover([tmp_path])}


def verdicts(rows, **match):
    return {(r.param, r.backend, r.dtype): r.verdict for r in rows
            if all(getattr(r, k) == v for k, v in match.items())}


# ------------------------------------------------------------------ correct gradients that failed


SMALL = """
    import numpy as np
    from crosscheck import case, inputs

    @case(x=inputs.fixed([1e-3, 1e-4, 1e-6, 3e-8]))
    def log_small(nn, x):
        return nn.log(x)

    @case(x=inputs.fixed([1e-3, -1e-4, 2e-6]))
    def reciprocal_small(nn, x):
        return 1 / x

    @case(x=inputs.fixed([1e-3, 1e-5, 1e-9]))
    def sqrt_small(nn, x):
        return nn.power(x, 0.5)

    @case(p=inputs.fixed([1e-3, 1e-5, 0.999, 0.5]), y=inputs.data([1.0, 0.0, 0.0, 1.0]))
    def bce_small(nn, p, y):
        return nn.binary_cross_entropy(p, y)
"""


def test_small_inputs_near_a_singularity_pass(tmp_path):
    """log, 1/x, sqrt and BCE at inputs of 1e-3 and far below: the step scales with |x| (and goes down a
    ladder where it must), so float64 gradients that are right pass."""
    rows = run_rev(cases_from(tmp_path, SMALL).values(), backends=installed("core", "torch", "jax"))
    assert {r.verdict for r in rows} == {"pass"}, [r.message for r in rows if r.verdict != "pass"]


DRAWN = """
    import numpy as np
    from crosscheck import case, inputs

    @case(p=inputs.uniform(64, low=0.0, high=1.0), y=inputs.data((np.arange(64) % 2).astype(float)))
    def bce_uniform(nn, p, y):
        return nn.binary_cross_entropy(p, y)

    @case(x=inputs.uniform(32, low=0.0, high=1.0))
    def log_uniform(nn, x):
        return nn.log(x)
"""


def test_bce_and_log_over_uniform_draws_never_fail(tmp_path):
    """The issue's figures: BCE with p ~ U(0, 1) over 64 elements failed 16 of 50 float64 draws, log(x) with
    x ~ U(0, 1) 10 of 50. Now none does, on any backend or dtype."""
    cases = list(cases_from(tmp_path, DRAWN).values())
    bad = [r for d in range(50) for r in runner.run([c.redrawn(d) for c in cases], backends=installed("core", "torch"))
           if r.verdict != "pass" and not _torch_bce_cancellation(r)]
    assert not bad, bad[0].message


def _torch_bce_cancellation(row):
    """The one row of these draws that is not a pass, and rightly (issue 13): torch's float32 H·v of BCE at draw
    42, p[17] = 0.99991965, y = 1. Its double backward (FunctionsManual.cpp) takes the numerator as
    x² - 2xt + t, which is (1 - x)² = 6.5e-9 computed by cancelling terms of size 1 in float32: 0, where
    y/(p²n) = 0.0156."""
    return (row.backend, row.dtype, row.mode, row.case, row.verdict, row.worst_index) == \
        ("torch", "float32", "hvp", "bce_uniform", "fail", (17,)) and row.value == 0 and abs(row.expected) > 0.015


C1 = """
    import numpy as np
    from crosscheck import case, inputs

    def huber(nn, d):
        a = nn.relu(d) + nn.relu(-d)
        m = a - nn.relu(a - 1)
        return 0.5 * m * m + (a - m)

    @case(d=inputs.fixed([1.0, -1.0, 0.5, 3.0]))
    def huber_breakpoints(nn, d):
        return huber(nn, d)

    def elu_backward(g, x):
        return {"x": g * np.where(x > 0, 1.0, np.exp(np.minimum(x, 0))).astype(x.dtype)}

    @case(x=inputs.fixed([0.0, 0.5, -0.5]), backward=elu_backward)
    def elu_at_zero(nn, x):
        return nn.relu(x) + nn.exp(x - nn.relu(x)) - 1
"""


def test_c1_points_are_smooth_not_kinks(tmp_path):
    """Huber at |d| = 1 and ELU (α = 1) at 0: f' is continuous there and f'' jumps. The central difference
    has an O(h) error there; the one-sided stencils keep O(h²), and the point is judged as smooth."""
    rows = run_rev(cases_from(tmp_path, C1).values(), backends=installed("core", "handwritten", "torch", "jax"))
    assert {r.verdict for r in rows} == {"pass"}, [r.message for r in rows if r.verdict != "pass"]


EDGES = """
    import numpy as np
    from crosscheck import case, inputs

    @case(x=inputs.fixed([-0.999999, -0.5, 2.0]))
    def log1p_edge(nn, x):
        return nn.log(1 + x)

    @case(x=inputs.fixed([-np.inf, 0.0, 1.0]))
    def exp_minus_inf(nn, x):
        return nn.exp(x)

    @case(x=inputs.fixed([-np.inf, np.inf, 0.25]))
    def sigmoid_infinities(nn, x):
        return nn.sigmoid(x)
"""


def test_a_step_that_would_cross_a_domain_edge_and_infinite_inputs(tmp_path):
    """log(1 + x) at x = -0.999999 (a step of 2^-17 crosses -1) and inputs of ±inf where the function is
    defined: the reference stays finite and every backend passes (before: every row 'nan')."""
    rows = run_rev(cases_from(tmp_path, EDGES).values(), backends=installed("core", "torch", "jax"))
    assert {r.verdict for r in rows} == {"pass"}, [r.message for r in rows if r.verdict != "pass"]


@pytest.mark.parametrize("name", ["relu_at_zero", "xor_mlp"])
def test_directional_checks_probe_kinks(catalogue, name):
    """Forced to the directional method, known kinks stay kinks (the projections along a kink are judged
    between their left and right derivatives), not fails."""
    rows = run_rev([catalogue[name]], backends=["core"], dtypes=("float64",), method="directional")
    assert {r.verdict for r in rows} <= {"pass", "kink"} and "kink" in {r.verdict for r in rows}


LARGE_KINK = """
    import numpy as np
    from crosscheck import case, inputs

    X = np.where(np.arange(20000) % 5 == 0, 0.0, np.random.default_rng(1).standard_normal(20000)).reshape(200, 100)

    @case(x=inputs.fixed(X), dtypes=("float64",))
    def big_relu(nn, x):
        return nn.relu(x)
"""


def test_a_large_input_on_kinks_goes_directional_and_is_a_kink(tmp_path, monkeypatch):
    """Every random direction crosses some of the 4000 kinks: a projection outside the one-sided slopes there
    is no proof of a bug, so the element-wise check (kinks probed) settles it — or, past the fallback's size,
    the row is unjudged, never a false fail."""
    rows = run_rev(cases_from(tmp_path, LARGE_KINK).values(), backends=installed("core", "torch"))
    assert {r.method for r in rows} <= {"directional×16", "directional×16, then central"}
    assert {r.verdict for r in rows} == {"kink"}, [r.message for r in rows]
    monkeypatch.setattr(runner, "FALLBACK_MAX", 0)
    rows = run_rev(cases_from(tmp_path, LARGE_KINK).values(), backends=["core"])
    assert {r.verdict for r in rows} <= {"kink", "unjudged"}


# ------------------------------------------------------------------ wrong gradients that passed


NONDETERMINISTIC = """
    import itertools
    import numpy as np
    from crosscheck import case, inputs

    CALLS = itertools.count()

    def backward(g, x):
        return {"x": 100 * g * np.cos(x)}

    @case(x=inputs.normal(5), backward=backward)
    def counter(nn, x):
        return nn.sin(x) * (1 + 1e-3 * next(CALLS))

    @case(x=inputs.normal(5), backward=backward)
    def own_randomness(nn, x):
        return nn.sin(x) + 1e-6 * float(np.random.standard_normal()) * nn.sum(x)
"""


def test_a_case_whose_value_changes_between_calls_is_an_error_not_a_kink(tmp_path, capsys):
    rows = run_rev(cases_from(tmp_path, NONDETERMINISTIC).values(), backends=["handwritten", "core"])
    assert {r.verdict for r in rows} == {"error"}
    assert all("not deterministic" in r.message for r in rows)
    assert main(["run", "--cases", str(tmp_path), "--backend", "handwritten"]) == 1
    assert "not deterministic" in capsys.readouterr().out


def test_a_nondeterministic_case_fails_its_pytest_tests(pytester):
    (pytester.path / "mine").mkdir()
    (pytester.path / "mine" / "nd.py").write_text(textwrap.dedent(NONDETERMINISTIC))
    result = pytester.runpytest("-p", "no:cacheprovider", "--crosscheck-cases", "mine", "--crosscheck-backend",
                                "handwritten", "--crosscheck-dtype", "float64")
    result.assert_outcomes(failed=2)
    assert "not deterministic" in result.stdout.str()


IN_PLACE = """
    import numpy as np
    from crosscheck import case, inputs

    def backward(g, x):
        np.cos(x, out=x)
        return {"x": g * x}

    @case(x=inputs.normal(6), backward=backward)
    def writes_input(nn, x):
        return nn.sin(x)
"""


@pytest.mark.parametrize("order", [["handwritten", "core", "torch"], ["core", "torch", "handwritten"]])
def test_a_backward_writing_into_its_input_is_an_error_and_harms_no_other_backend(tmp_path, order):
    """Each backend gets its own read-only copy: the writer's row is an error naming the input, and the
    rows of the backends after it are unaffected, in any order (and so under pytest -n 2)."""
    rows = run_rev(cases_from(tmp_path, IN_PLACE).values(), backends=installed(*order))
    by = {(r.backend, r.dtype): r for r in rows}
    for dtype in ("float64", "float32"):
        hw = by[("handwritten", dtype)]
        assert hw.verdict == "error" and "wrote into 'x'" in hw.message and "writes_input" in hw.message
        assert all(by[(b, dtype)].verdict == "pass" for b in installed("core", "torch"))


TIES = """
    import numpy as np
    from crosscheck import case, inputs

    E = np.eye(3)

    def backward_with(values):
        def backward(g, x):
            return {"x": g * np.asarray(values, dtype=x.dtype)}
        return backward

    def max3(nn, x):
        a, b, c = (nn.sum(x * E[i]) for i in range(3))
        return nn.maximum(nn.maximum(a, b), c)

    @case(x=inputs.fixed([0.4, 0.4, 0.4]), backward=backward_with([1, 1, 1]), tags={"kinks"})
    def tie_ones(nn, x):
        return max3(nn, x)

    @case(x=inputs.fixed([0.4, 0.4, 0.4]), backward=backward_with([0, 0, 0]), tags={"kinks"})
    def tie_zeros(nn, x):
        return max3(nn, x)

    @case(x=inputs.fixed([0.4, 0.4, 0.4]), backward=backward_with([1 / 3, 1 / 3, 1 / 3]), tags={"kinks"})
    def tie_thirds(nn, x):
        return max3(nn, x)

    @case(x=inputs.fixed([0.4, 0.4, 0.4]), backward=backward_with([1, 0, 0]), tags={"kinks"})
    def tie_first(nn, x):
        return max3(nn, x)
"""


def test_a_subgradient_at_a_three_way_tie_is_judged_as_a_vector(tmp_path):
    """max(x0, x1, x2) at a three-way tie: (1, 1, 1) and (0, 0, 0) lie between each coordinate's left and
    right derivatives, but not on the simplex; (1/3, 1/3, 1/3) and (1, 0, 0) do."""
    rows = run_rev(cases_from(tmp_path, TIES).values(), backends=["handwritten"], dtypes=("float64",))
    got = {r.case: r.verdict for r in rows}
    assert got == {"tie_ones": "fail", "tie_zeros": "fail", "tie_thirds": "kink", "tie_first": "kink"}
    assert "joint kink" in next(r.message for r in rows if r.case == "tie_ones")


SPURIOUS = """
    import numpy as np
    from crosscheck import case, inputs

    def backward(g, x):
        return {"x": -1.2 * g / (x * x)}

    @case(x=inputs.fixed([1e-5, -2e-5]), backward=backward)
    def reciprocal_off(nn, x):
        return 1 / x
"""


def test_a_smooth_point_near_a_pole_is_no_kink(tmp_path):
    """1/x at 1e-5: a step crossing the pole looked like a kink and accepted a gradient 20 % wrong."""
    rows = run_rev(cases_from(tmp_path, SPURIOUS).values(), backends=["handwritten"])
    assert {r.verdict for r in rows} == {"fail"}


# ------------------------------------------------------------------ discrepancies with a verdict of their own


SQRT_ZERO = """
    import numpy as np
    from crosscheck import case, inputs

    def finite_wrong(g, x):
        return {"x": g * np.where(x > 0, 0.5 / np.sqrt(np.where(x > 0, x, 1.0)), 0.0).astype(x.dtype)}

    @case(x=inputs.fixed([0.0, 0.25]), backward=finite_wrong)
    def sqrt_at_zero(nn, x):
        return nn.power(x, 0.5)
"""


def test_where_the_reference_is_not_finite_a_nan_and_a_finite_value_differ(tmp_path):
    """sqrt at 0: the derivative is infinite, so the reference cannot judge x[0]. A backend returning a finite
    value there is 'unjudged' (with the reason); one returning inf where another backend is finite is 'nan'."""
    rows = run_rev(cases_from(tmp_path, SQRT_ZERO).values(), backends=["core", "handwritten"],
                      dtypes=("float64",))
    by = {r.backend: r for r in rows}
    assert by["handwritten"].verdict == "unjudged" and "x[0]" in by["handwritten"].message
    assert by["core"].verdict == "nan"


class ShiftedSin(CoreVocabulary):
    """sin with its value shifted by 1e-3 and its gradient right: only the forward value is wrong."""

    def sin(self, a):
        return apply(ops.add, apply(ops.sin, a), self.constant(np.array(1e-3)))


class ShiftedSinBackend(CoreBackend):
    name = "shifted"
    vocabulary = ShiftedSin


def test_forward_values_are_compared_with_the_reference(tmp_path):
    (tmp_path / "s.py").write_text("from crosscheck import case, inputs\n\n"
                                   "@case(x=inputs.normal(4))\ndef plain_sin(nn, x):\n    return nn.sin(x)\n")
    rows = run_rev(discover([tmp_path]), backends=[ShiftedSinBackend(), CoreBackend()], dtypes=("float64",))
    by = {r.backend: r for r in rows}
    assert by["shifted"].forward.startswith("forward value") and "reference gives" in by["shifted"].forward
    assert by["core"].forward == ""


KINK_CONVENTION = """
    import numpy as np
    from crosscheck import case, inputs

    def relu_one_at_zero(g, x):
        return {"x": g * (x >= 0).astype(x.dtype)}

    @case(x=inputs.fixed([0.0, 1.0, -1.0]), backward=relu_one_at_zero, tags={"kinks"})
    def relu_convention(nn, x):
        return nn.relu(x)
"""


def test_different_valid_subgradients_make_a_convention_record_and_run_prints_them(tmp_path, capsys):
    """relu'(0) = 1 by hand, 0 on the tape: both are subgradients, both rows stay 'kink', and the record
    with the left and right derivatives and each backend's value is printed, with the pairwise difference."""
    conventions, pairs = [], []
    rows = run_rev(cases_from(tmp_path, KINK_CONVENTION).values(), backends=["core", "handwritten"],
                      dtypes=("float64",), conventions=conventions, pairs=pairs)
    assert {r.verdict for r in rows} == {"kink"}
    (record,) = conventions
    assert record.index == (0,) and record.left == pytest.approx(0, abs=1e-9)
    assert record.values["core"] == 0 and record.values["handwritten"] == pytest.approx(record.right)
    assert main(["run", "--cases", str(tmp_path), "--backend", "core", "--backend", "handwritten",
                 "--dtype", "float64"]) == 0
    out = capsys.readouterr().out
    assert "kink conventions" in out and "relu_convention x[0] float64" in out
    assert "backends that disagree with each other" in out and "core vs handwritten: 1 element(s)" in out


LESS_PRECISE = """
    import numpy as np
    from crosscheck import case, inputs

    def backward(g, x):
        return {"x": (g * np.cos(x) * (1 + 5e-5)).astype(x.dtype)}

    @case(x=inputs.normal(16), backward=backward, dtypes=("float32",))
    def sloppy_sin(nn, x):
        return nn.sin(x)
"""


def test_an_error_below_the_tolerance_shows_in_the_precision_columns(tmp_path):
    """A uniform relative error of 5e-5 passes float32's rtol of 1e-4; its error in ulps and its rank among
    the backends on the same row say it is the least precise."""
    rows = run_rev(cases_from(tmp_path, LESS_PRECISE).values(), backends=installed("core", "handwritten", "torch"))
    by = {r.backend: r for r in rows}
    assert {r.verdict for r in rows} == {"pass"}
    assert by["handwritten"].ulps > 100 > by["core"].ulps
    assert by["handwritten"].precision == f"{len(by)}/{len(by)}"


def test_float64_rows_against_the_oracle_get_the_tighter_tolerance(tmp_path):
    """A uniform relative error of 1e-7 in float64 passed the finite-difference tolerance (rtol 1e-6); judged
    against the complex-step oracle (rtol 1e-10), it fails; a case that is not analytic keeps the old one."""
    (tmp_path / "t.py").write_text(textwrap.dedent("""
        import numpy as np
        from crosscheck import case, inputs

        def backward(g, x):
            return {"x": g * np.cos(x) * (1 + 1e-7)}

        @case(x=inputs.normal(5), backward=backward, dtypes=("float64",))
        def slightly_off(nn, x):
            return nn.sin(x)
    """))
    (row,) = run_rev(discover([tmp_path]), backends=["handwritten"])
    assert row.verdict == "fail" and row.reference == "complex-step"
    assert (row.atol, row.rtol) == (ORACLE_TOLERANCE.atol, ORACLE_TOLERANCE.rtol)
    (row,) = run_rev(discover([tmp_path]), backends=["handwritten"], oracle=False)
    assert row.verdict == "pass" and row.reference == "finite-difference"
