"""The judge's boundaries, pinned by hand-computed numbers (issue 16).

Each test names the rule it pins; each is built so that a plausible bug in that rule (a swapped atol and
rtol, ``&`` for ``|``, a loosened default, the wrong denominator, a backend compared with itself) makes it
fail. ``scripts/mutation.py`` runs these against every mutant of ``crosscheck/compare.py`` and of the
judging functions of ``crosscheck/runner.py``.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from crosscheck import runner
from crosscheck.compare import (DEFAULT_TOLERANCES, ORACLE_TOLERANCE, REFERENCE_ERROR_FACTOR, Row, Tolerance,
                                agreement, compare, error_in_eps, is_subgradient, ulp_error)

F64, F32 = DEFAULT_TOLERANCES["float64"], DEFAULT_TOLERANCES["float32"]


# ------------------------------------------------------------------ the tolerances themselves


def test_the_default_tolerances_are_the_documented_numbers():
    """float64 atol 1e-7 rtol 1e-6; float32 atol 1e-5 rtol 1e-4; the oracle's 1e-13 / 1e-11; factor 2."""
    assert (F64.atol, F64.rtol) == (1e-7, 1e-6)
    assert (F32.atol, F32.rtol) == (1e-5, 1e-4)
    assert (ORACLE_TOLERANCE.atol, ORACLE_TOLERANCE.rtol) == (1e-13, 1e-11)
    assert REFERENCE_ERROR_FACTOR == 2.0
    assert str(F64) == "atol=1e-07 rtol=1e-06"
    with pytest.raises(AttributeError):  # frozen: a tolerance once made cannot be loosened in place
        F64.atol = 1.0


def test_the_defaults_of_the_records():
    from crosscheck.compare import Convention, Pair

    p = Pair("c", "float64", "a", "b", 0.0, 0.0, "x")
    assert (p.beyond, p.both_pass, p.scale_rel) == (0, False, 0.0)
    empty = compare(np.zeros(0), np.zeros(0), F64)
    assert (empty.scale, empty.worst_ratio) == (0.0, 0.0)
    assert empty.uncertain.size == 0 and empty.uncertain.dtype.kind == "i"
    conv = Convention("relu", "float64", "x", (1,), 0.0, 1.0, {"torch": 0.0, "core": 0.5})
    assert conv.describe() == "relu x[1] float64: left derivative 0, right 1; core 0.5, torch 0"
    row = Row("c", "x", "b", "float64", "pass")
    assert (row.reference, row.message, row.tags, row.precision) == ("numeric", "", (), "")
    assert all(np.isnan(getattr(row, k)) for k in ("max_abs", "max_rel", "atol", "rtol", "value", "expected",
                                                     "err_eps", "ratio", "ulps", "ref_error", "detectable"))


@pytest.mark.parametrize("bad", [-1e-9, float("inf"), float("nan"), "1e-7"])
def test_a_tolerance_must_be_a_finite_number_at_least_zero(bad):
    with pytest.raises(ValueError, match="atol must be a finite number"):
        Tolerance(atol=bad, rtol=0.0)
    with pytest.raises(ValueError, match="rtol must be a finite number"):
        Tolerance(atol=0.0, rtol=bad)
    assert Tolerance(atol=0, rtol=0).atol == 0.0  # zero is allowed


# ------------------------------------------------------------------ atol + rtol·|r|, per dtype


@pytest.mark.parametrize("dtype, reference, inside, outside", [
    # allowed = atol + rtol·|r|: float64 at r = 2: 1e-7 + 2e-6 = 2.1e-6; at r = 1000: 1e-7 + 1e-3 ≈ 1.0001e-3
    ("float64", 2.0, 2.0e-6, 2.2e-6),
    ("float64", 1000.0, 0.99e-3, 1.01e-3),
    ("float64", 0.0, 0.9e-7, 1.1e-7),  # at r = 0 only atol is left
    # float32 at r = 2: 1e-5 + 2e-4 = 2.1e-4; at r = -1000: 1e-5 + 1e-1
    ("float32", 2.0, 2.0e-4, 2.2e-4),
    ("float32", -1000.0, 0.099, 0.101),
    ("float32", 0.0, 0.9e-5, 1.1e-5),
])
def test_just_inside_passes_and_just_outside_fails(dtype, reference, inside, outside):
    """|v - r| <= atol + rtol·|r| with the dtype's default: both signs of the error, on each side of it.
    (A swapped atol and rtol, or a default loosened 10x, moves the boundary past one of these.)"""
    tol = DEFAULT_TOLERANCES[dtype]
    for sign in (1, -1):
        assert compare(reference + sign * inside, reference, tol).passed
        c = compare(reference + sign * outside, reference, tol)
        assert not c.passed and list(c.mismatched) == [0]


def test_the_worst_element_is_the_largest_error_in_units_of_what_was_allowed():
    """Per element ratio |v - r| / (atol + rtol·|r|): element 0 (ratio 2) is worse than element 1 (ratio 1.5)
    though its absolute error is ten times smaller; max_abs is still the largest absolute error."""
    tol = Tolerance(atol=0.0, rtol=1e-6)
    c = compare([1 + 2e-6, 10 + 1.5e-5], [1.0, 10.0], tol)
    assert c.worst_index == (0,)
    assert c.value_at_worst == 1 + 2e-6 and c.reference_at_worst == 1.0
    assert c.worst_ratio == pytest.approx(2.0, rel=1e-6, abs=0)
    assert c.max_abs == pytest.approx(1.5e-5, rel=1e-6, abs=0)
    assert list(c.mismatched) == [0, 1] and c.size == 2 and c.scale == 10.0


def test_the_relative_error_divides_by_the_reference_not_the_value():
    """v = 3, r = 2: relative error 0.5 (1/3 were it divided by the value); r = 0, v ≠ 0: inf; both 0: 0."""
    tol = Tolerance(atol=0.0, rtol=0.0)
    assert compare([3.0], [2.0], tol).max_rel == 0.5
    assert compare([3.0, 0.0], [2.0, 0.0], tol).max_rel == 0.5
    assert compare([1.0], [0.0], tol).max_rel == np.inf
    assert compare([0.0, 4.0], [0.0, 5.0], tol).max_rel == pytest.approx(0.2)


def test_the_references_own_error_widens_the_rule_by_twice_itself():
    """r = 1, error 1e-6, float64 default: allowed 1.1e-6 + 2·1e-6 = 3.1e-6. An element needing the slack,
    where the slack is larger than the tolerance, is uncertain; with a small error (1e-7: slack 2e-7 < 1.1e-6)
    it simply passes."""
    c = compare([1 + 3.0e-6], [1.0], F64, error=[1e-6])
    assert c.passed and list(c.uncertain) == [0]
    assert c.worst_ratio == pytest.approx(3.0 / 3.1, rel=1e-6, abs=0)
    assert not compare([1 + 3.2e-6], [1.0], F64, error=[1e-6]).passed
    inside = compare([1 + 1.0e-6], [1.0], F64, error=[1e-6])
    assert inside.passed and inside.uncertain.size == 0
    small = compare([1 + 1.2e-6], [1.0], F64, error=[1e-7])  # outside 1.1e-6, inside 1.3e-6
    assert small.passed and small.uncertain.size == 0
    assert not compare([1 + 1.4e-6], [1.0], F64, error=[1e-7]).passed


def test_a_nan_value_against_a_finite_reference_is_nonfinite_and_a_nan_reference_is_not_judged():
    c = compare([np.nan, 1.0, np.inf], [1.0, 1.0, 2.0], F64)
    assert list(c.nonfinite) == [0, 2] and not c.passed and c.max_abs == np.inf
    both = compare([np.nan, 1.0], [np.nan, 1.0], F64)
    assert both.nonfinite.size == 0 and both.mismatched.size == 0 and both.passed
    with pytest.raises(ValueError, match="shape"):
        compare([1.0, 2.0], [1.0], F64)
    empty = compare(np.zeros(0), np.zeros(0), F64)
    assert empty.passed and empty.size == 0


def test_an_exact_match_passes_with_a_zero_tolerance_and_the_boundary_itself_passes():
    """|v - r| <= allowed, not <: 0 <= 0 with atol = rtol = 0; |v - r| = atol exactly (0.5 + 0.25 = 0.75, exact
    in binary) passes too."""
    zero = Tolerance(atol=0, rtol=0)
    assert compare([1.0, -3.0], [1.0, -3.0], zero).passed
    assert compare([0.75], [0.5], Tolerance(atol=0.25, rtol=0)).passed
    assert compare([0.75], [0.5], Tolerance(atol=0.25, rtol=0), error=[0.0]).passed
    on_edge = compare([0.75], [0.5], Tolerance(atol=0.25, rtol=0), error=[0.25])  # within the tolerance itself:
    assert on_edge.passed and on_edge.uncertain.size == 0  # no need of the reference's error, so not uncertain
    assert compare([0.75], [0.5], Tolerance(atol=0.125, rtol=0), error=[0.0625]).passed  # 0.125 + 2·0.0625
    assert not compare([0.75], [0.5], Tolerance(atol=0.125, rtol=0), error=[0.0]).passed


def test_a_reference_error_equal_to_the_tolerance_is_not_uncertain():
    """uncertain needs 2·error > allowed, strictly: atol 1, error 0.5 (slack 1 = allowed), off by 1.5: a pass."""
    c = compare([1.5], [0.0], Tolerance(atol=1.0, rtol=0.0), error=[0.5])
    assert c.passed and c.uncertain.size == 0
    c = compare([1.5], [0.0], Tolerance(atol=1.0, rtol=0.0), error=[0.625])
    assert c.passed and list(c.uncertain) == [0]


def test_the_figures_of_an_empty_gradient_and_the_scale_over_finite_references():
    empty = compare(np.zeros(0), np.zeros(0), F64)
    assert (empty.max_abs, empty.max_rel, empty.worst_index, empty.size) == (0.0, 0.0, (), 0)
    assert np.isnan(empty.value_at_worst) and np.isnan(empty.reference_at_worst)
    c = compare([np.nan, 0.5, 0.25], [np.nan, 0.5, 0.25], F64)
    assert (c.scale, c.max_abs, c.max_rel) == (0.5, np.inf, np.inf)  # an element not judged counts as inf
    assert compare([0.2], [0.25], F64).scale == 0.25
    scalar = compare(3.0, 2.0, Tolerance(atol=0, rtol=0))
    assert scalar.worst_index == () and scalar.max_rel == 0.5


# ------------------------------------------------------------------ kinks: [left, right] ± slack


@pytest.mark.parametrize("left, right", [(0.0, 1.0), (1.0, 0.0)])
def test_a_kink_accepts_inside_and_on_the_edge_and_rejects_outside(left, right):
    """[min(l, r) - s, max(l, r) + s] with s = atol + rtol·max(|l|, |r|) = 1.1e-6 here (float64 default)."""
    values = np.array([0.5, 0.0, 1.0, 1 + 1.0e-6, -1.0e-6, 1 + 1.2e-6, -1.2e-6, 2.0, -1.0])
    expect = [True, True, True, True, True, False, False, False, False]
    assert is_subgradient(values, left, right, F64).tolist() == expect
    # noise widens the slack: 1.0005 is within 1e-3
    assert is_subgradient([1.0005, -0.0005, 1.002], left, right, F64, noise=1e-3).tolist() == [True, True, False]


def test_a_kink_slack_scales_with_the_larger_one_sided_derivative():
    """l = -100, r = 1: s = 1e-7 + 1e-6·100 = 1.001e-4 on both ends."""
    assert is_subgradient([1 + 1.0e-4, -100 - 1.0e-4], -100.0, 1.0, F64).all()
    assert not is_subgradient([1 + 1.1e-4], -100.0, 1.0, F64).any()
    assert not is_subgradient([-100 - 1.1e-4], -100.0, 1.0, F64).any()


def test_a_kink_with_zero_tolerance_still_accepts_its_own_one_sided_derivatives():
    """[l, r] is closed: with atol = rtol = 0 and no noise, 0 and 1 are subgradients, 1 + 1e-15 is not."""
    zero = Tolerance(atol=0, rtol=0)
    assert is_subgradient([0.0, 1.0, 0.25], 0.0, 1.0, zero).all()
    assert not is_subgradient([1 + 1e-15, -1e-15], 0.0, 1.0, zero).any()


# ------------------------------------------------------------------ agreement between two backends


def test_agreement_of_two_gradients_differing_by_a_known_amount():
    """a = [1, 2], b = [1, 2.5]: max abs 0.5, max rel 0.5 / max(2, 2.5) = 0.2, symmetric; equal: 0."""
    assert agreement([1.0, 2.0], [1.0, 2.5]) == (0.5, 0.2)
    assert agreement([1.0, 2.5], [1.0, 2.0]) == (0.5, 0.2)
    assert agreement([0.0, 3.0], [0.0, 3.0]) == (0.0, 0.0)
    assert agreement(np.zeros(0), np.zeros(0)) == (0.0, 0.0)
    assert agreement([-4.0], [4.0]) == (8.0, 2.0)


def test_error_in_eps_and_ulps_by_hand():
    eps64 = np.finfo(np.float64).eps
    assert error_in_eps(4 * eps64, 1.0, "float64") == pytest.approx(4.0)
    assert error_in_eps(4 * eps64 * 8, 8.0, "float64") == pytest.approx(4.0)
    assert ulp_error([1 + 2 * 2.0**-52], [1.0], "float64") == pytest.approx(2.0)
    assert ulp_error([1 + 3 * 2.0**-23], [1.0], "float32") == pytest.approx(3.0)
    assert ulp_error([2 + 3 * 2.0**-22], [2.0], "float32") == pytest.approx(3.0)  # an ulp of 2 is 2^-22
    # elements below eps·max|r| are left out: their error is absolute at the gradient's scale
    assert ulp_error([1.0, 1e-3], [1.0, 0.0], "float64") == 0.0
    assert ulp_error([1.0], [1.0], "float64") == 0.0
    assert np.isnan(ulp_error([np.nan], [1.0], "float64"))
    # the worst element counts; a NaN element is left out, not the whole gradient
    assert ulp_error([1 + 2.0**-51, 1.0], [1.0, 1.0], "float64") == pytest.approx(2.0)
    assert ulp_error([np.nan, 1 + 2.0**-51], [1.0, 1.0], "float64") == pytest.approx(2.0)
    assert ulp_error([1 + 2.0**-51, 5.0], [1.0, np.nan], "float64") == pytest.approx(2.0)
    # a small element beside a large one is left out (below eps·max|r|), a large one's error still counts
    assert ulp_error([1 + 2.0**-51, 1e-3], [1.0, 0.0], "float64") == pytest.approx(2.0)
    assert ulp_error([4.0, 2e-16], [4.0, 1e-16], "float64") == 0.0  # 1e-16 < eps·4 = 8.9e-16: left out
    # a reference that is 0 everywhere: the error in units of the smallest subnormal
    assert ulp_error([3 * 2.0**-1074], [0.0], "float64") == pytest.approx(3.0)


# ------------------------------------------------------------------ runner: one parameter's row


class FakeCase:
    """What the judge reads of a case: name, tolerances, the input summary, declared expectations."""

    name, tags, location = "planted", frozenset(), "planted.py:1"

    def __init__(self, tolerances=None, expect=None, wrt=("x",)):
        self.tolerances = tolerances or {}
        self.expect = expect
        self.wrt = list(wrt)

    def tolerance(self, dtype):
        return self.tolerances.get(dtype, DEFAULT_TOLERANCES[dtype])

    def inputs_summary(self, dtype):
        return "x=[...]"

    def expectation(self, backend, dtype, param, mode="rev"):
        return self.expect if (backend, dtype, param) == ("b", "float64", "x") else None


def pref(grad, *, error=None, kink=None, left=None, right=None, side_error=0.0, oracle=None):
    grad = np.asarray(grad, dtype=np.float64)
    z = np.zeros_like(grad)
    return SimpleNamespace(
        method="central", grad=grad, error=z if error is None else np.asarray(error, np.float64),
        kink=np.zeros(grad.shape, bool) if kink is None else np.asarray(kink, bool),
        left=grad if left is None else np.asarray(left, np.float64),
        right=grad if right is None else np.asarray(right, np.float64),
        left_error=z + side_error, right_error=z + side_error, oracle=oracle)


def judge(g, p, dtype="float64", case=None, probe="all", others=None):
    g = np.asarray(g, dtype=np.float64)
    others = np.zeros(g.shape, bool) if others is None else others
    return runner._judge_central(case or FakeCase(), "x", "planted", dtype, g, p, probe, others)


@pytest.mark.parametrize("dtype, off_in, off_out", [("float64", 2.0e-6, 2.2e-6), ("float32", 2.0e-4, 2.2e-4)])
def test_a_row_passes_just_inside_and_fails_just_outside_with_the_worst_element_named(dtype, off_in, off_out):
    """r = [5, 2] (allowed at 2: 2.1e-6 in float64, 2.1e-4 in float32): element 1 just off either side."""
    tol = DEFAULT_TOLERANCES[dtype]
    row = judge([5.0, 2 + off_in], pref([5.0, 2.0]), dtype)
    assert row.verdict == "pass" and (row.atol, row.rtol) == (tol.atol, tol.rtol)
    assert row.ratio == pytest.approx(off_in / (tol.atol + 2 * tol.rtol), rel=1e-6, abs=0) and row.ratio < 1
    row = judge([5.0, 2 + off_out], pref([5.0, 2.0]), dtype)
    assert row.verdict == "fail" and row.worst_index == (1,)
    assert row.value == 2 + off_out and row.expected == 2.0
    assert row.max_abs == pytest.approx(off_out, rel=1e-6, abs=0)
    assert row.max_rel == pytest.approx(off_out / 2, rel=1e-6, abs=0)
    assert "1 of 2 elements outside tolerance" in row.message and "x[1]" in row.message


def test_a_rows_precision_figures_by_hand():
    """g = [5, 2 + 2e-6] against r = [5, 2] ± 1e-7: in eps at the gradient's scale 2e-6 / (eps·5); in ulps of
    the reference 2e-6 / spacing(2); the reference's error against the tolerance 1e-7 / (1e-7 + 2e-6)."""
    row = judge([5.0, 2 + 2e-6], pref([5.0, 2.0], error=[1e-7, 1e-7]))
    assert row.verdict == "pass"
    eps = np.finfo(np.float64).eps
    assert row.err_eps == pytest.approx(2e-6 / (eps * 5), rel=1e-6, abs=0)
    assert row.ulps == pytest.approx(2e-6 / np.spacing(2.0), rel=1e-6, abs=0)
    assert row.ref_error == pytest.approx(1e-7 / 2.1e-6, rel=1e-9, abs=0)
    # in ulps of the reference (2: spacing 2^-51), not of the value (just below 2: spacing 2^-52)
    below = judge([5.0, 2 - 2e-6], pref([5.0, 2.0]))
    assert below.ulps == pytest.approx(2e-6 / np.spacing(2.0), rel=1e-6, abs=0)
    f32 = judge([5.0, 2 + 2e-4], pref([5.0, 2.0]), "float32")
    assert f32.ulps == pytest.approx(2e-4 / float(np.spacing(np.float32(2.0))), rel=1e-3, abs=0)
    assert f32.err_eps == pytest.approx(2e-4 / (float(np.finfo(np.float32).eps) * 5), rel=1e-3, abs=0)


def test_a_valid_kink_is_a_kink_and_its_edges_are_accepted():
    """x[0] a kink with left 0, right 1 (central 0.5): 0.7, 0, 1 and 1 + 1e-6 are subgradients (slack 1.1e-6)."""
    p = pref([0.5, 3.0], kink=[True, False], left=[0.0, 3.0], right=[1.0, 3.0])
    for v in (0.7, 0.0, 1.0, 1 + 1.0e-6, -1.0e-6):
        row = judge([v, 3.0], p)
        assert row.verdict == "kink", (v, row.message)
        assert "x[0] is a kink" in row.message


@pytest.mark.parametrize("v", [1.5, -0.5, 1 + 1.2e-6])
def test_a_value_outside_the_kinks_interval_fails_and_names_the_kink(v):
    p = pref([0.5, 3.0], kink=[True, False], left=[0.0, 3.0], right=[1.0, 3.0])
    row = judge([v, 3.0], p)
    assert row.verdict == "fail" and row.worst_index == (0,) and row.value == v
    assert "x[0] is a kink (left derivative 0, right 1)" in row.message and "no subgradient" in row.message


def test_a_wrong_smooth_element_beside_a_valid_kink_fails():
    """x[0] a valid subgradient at its kink, x[1] smooth and 3.5 where the reference is 3: a fail naming x[1]."""
    p = pref([0.5, 3.0], kink=[True, False], left=[0.0, 3.0], right=[1.0, 3.0])
    row = judge([0.7, 3.5], p)
    assert row.verdict == "fail" and row.worst_index == (1,)
    assert row.value == 3.5 and row.expected == 3.0 and row.max_abs == 0.5
    assert "1 of 2 elements outside tolerance" in row.message and "worst at x[1]: got 3.5" in row.message
    # with the reference's own error 1e-9 per element: still one element outside, its ratio 0.5 / (3.1e-6 + 2e-9)
    q = pref([0.5, 3.0], error=[1e-9, 1e-9], kink=[True, False], left=[0.0, 3.0], right=[1.0, 3.0])
    row = judge([0.7, 3.5], q)
    assert "1 of 2 elements outside tolerance" in row.message and row.worst_index == (1,)
    assert row.ratio == pytest.approx(0.5 / (3.1e-6 + 2e-9), rel=1e-9, abs=0)
    # a wrong smooth element and a kink element outside its interval: the row names the smooth one as the
    # worst, and the message the kink too
    row = judge([1.5, 3.5], p)
    assert row.verdict == "fail" and row.worst_index == (1,) and row.value == 3.5
    assert "x[0] is a kink (left derivative 0, right 1); planted gives 1.5" in row.message
    # with probe="failing" too (the kink is considered where the smooth comparison fails)
    assert judge([0.7, 3.5], p, probe="failing").verdict == "fail"
    assert judge([0.7, 3.0], p, probe="failing").verdict == "kink"


def test_probe_failing_considers_kinks_only_where_the_smooth_comparison_fails():
    """x[0] flagged a kink (left 0, right 0.4) where the central 0.5 agrees with the backend: probe="failing"
    does not look at it (a pass), probe="all" does (0.5 is outside [0, 0.4]: a fail). x[1] smooth (not a kink)
    with one-sided derivatives 2 and 4 round a reference of 3: 3.5 fails under either probe, though it lies
    between them."""
    p = pref([0.5, 3.0], kink=[True, False], left=[0.0, 2.0], right=[0.4, 4.0])
    assert judge([0.5, 3.0], p, probe="failing").verdict == "pass"
    assert judge([0.5, 3.0], p, probe="all").verdict == "fail"
    assert judge([0.2, 3.5], p, probe="failing").verdict == "fail"
    assert judge([0.2, 3.5], p, probe="all").verdict == "fail"
    assert judge([0.2, 3.0], p, probe="failing").verdict == "kink"


def test_the_one_sided_derivatives_errors_widen_a_kinks_interval_by_twice_their_sum():
    """left/right error 1e-4 each: slack 1.1e-6 + 2·(1e-4 + 1e-4) = 4.011e-4 beyond right = 1."""
    p = pref([0.5], kink=[True], left=[0.0], right=[1.0], side_error=1e-4)
    assert judge([1 + 4.0e-4], p).verdict == "kink"
    assert judge([1 + 4.1e-4], p).verdict == "fail"
    assert judge([-4.0e-4], p).verdict == "kink"
    assert judge([-4.1e-4], p).verdict == "fail"


def test_a_nan_at_a_kink_or_where_the_reference_is_finite_is_a_nan_row():
    p = pref([0.5, 3.0], kink=[True, False], left=[0.0, 3.0], right=[1.0, 3.0])
    assert judge([np.nan, 3.0], p).verdict == "nan"
    row = judge([0.5, np.inf], p)
    assert row.verdict == "nan" and "x[1]" in row.message
    # where neither the reference nor another backend is finite, a NaN of the backend is not its fault
    q = pref([np.nan, 3.0], error=[np.nan, 0.0])
    assert judge([np.nan, 3.0], q).verdict == "unjudged"
    assert judge([np.nan, 3.0], q, others=np.array([True, False])).verdict == "nan"


def test_a_nan_row_names_the_first_eight_elements():
    row = judge(np.full(10, np.nan), pref(np.ones(10)))
    assert row.verdict == "nan" and "at 10 element(s)" in row.message
    assert "x[7]" in row.message and "x[8]" not in row.message


def test_an_unusable_reference_element_is_unjudged_not_passed():
    q = pref([np.nan, 3.0], error=[np.nan, 0.0])
    row = judge([7.0, 3.0], q)
    assert row.verdict == "unjudged" and "the reference is not finite or has no error bound at x[0]" in row.message
    # a wrong element elsewhere still fails
    assert judge([7.0, 4.0], q).verdict == "fail"


def test_an_element_whose_reference_error_is_not_finite_is_unjudged_whatever_the_value():
    """A finite reference with a NaN error estimate has no bound: unjudged, even where the value equals it."""
    q = pref([1.0, 3.0], error=[np.nan, 0.0])
    assert judge([1.0, 3.0], q).verdict == "unjudged"
    assert judge([1 + 1e-3, 3.0], q).verdict == "unjudged"
    assert judge([1.0, 3.0], q).ref_error == 0.0  # the error estimates that exist, against the tolerance
    empty = judge(np.zeros(0), pref(np.zeros(0)))
    assert empty.verdict == "pass" and empty.ref_error == 0.0 and empty.max_abs == 0.0


def test_within_the_references_error_but_beyond_the_tolerance_is_unjudged():
    """r = 1 ± 1e-5: 1 + 1.5e-5 is beyond 1.1e-6 and within 1.1e-6 + 2e-5: unjudged; 1 + 2.2e-5 fails."""
    p = pref([1.0], error=[1e-5])
    row = judge([1 + 1.5e-5], p)
    assert row.verdict == "unjudged" and "carries an estimated error of 1.00e-05, larger than the tolerance " \
        "1.10e-06" in row.message
    assert judge([1 + 2.2e-5], p).verdict == "fail"
    assert judge([1 + 1.0e-6], p).verdict == "pass"
    assert judge([1 + 1.0e-6], p).ref_error == pytest.approx(1e-5 / 1.1e-6, rel=1e-6, abs=0)


def test_float64_against_the_oracle_takes_the_oracles_tolerance_unless_the_case_sets_its_own():
    every = np.array([True, True])
    assert runner._tolerance(FakeCase(), "float64", pref([1.0, 2.0], oracle=every)) is ORACLE_TOLERANCE
    assert runner._tolerance(FakeCase(), "float32", pref([1.0, 2.0], oracle=every)) == F32
    assert runner._tolerance(FakeCase(), "float64", pref([1.0, 2.0], oracle=np.array([True, False]))) == F64
    assert runner._tolerance(FakeCase(), "float64", pref([1.0, 2.0], oracle=None)) == F64
    own = Tolerance(atol=1e-3, rtol=1e-3)
    assert runner._tolerance(FakeCase({"float64": own}), "float64", pref([1.0, 2.0], oracle=every)) == own
    # judged: 1 + 1e-10 fails against the oracle (allowed 1e-13 + 1e-11), passes against finite differences
    assert judge([1 + 1e-10, 2.0], pref([1.0, 2.0], oracle=every)).verdict == "fail"
    assert judge([1 + 1e-10, 2.0], pref([1.0, 2.0], oracle=np.array([False, False]))).verdict == "pass"
    assert judge([1 + 1e-12, 2.0], pref([1.0, 2.0], oracle=every)).verdict == "pass"


def test_the_forward_check_uses_the_dtypes_tolerance():
    case, ref = FakeCase(), SimpleNamespace(value=2.0)
    assert runner._forward_check(case, "b", "float64", 2 + 2.0e-6, ref) == ""
    assert "difference 2.20e-06" in runner._forward_check(case, "b", "float64", 2 + 2.2e-6, ref)
    assert runner._forward_check(case, "b", "float32", 2 - 2.0e-4, ref) == ""
    assert runner._forward_check(case, "b", "float32", 2 - 2.2e-4, ref) != ""
    exact = FakeCase({"float64": Tolerance(atol=0.25, rtol=0.0)})  # |0.75 - 0.5| = 0.25 exactly: inside
    assert runner._forward_check(exact, "b", "float64", 0.75, SimpleNamespace(value=0.5)) == ""


def test_a_declared_expectation_turns_a_fail_kink_or_nan_into_expected_and_a_pass_gets_a_note():
    case = FakeCase(expect=SimpleNamespace(reason="known"))
    for verdict in ("fail", "kink", "nan"):
        row = runner._apply_expectation(case, Row("planted", "x", "b", "float64", verdict, message="m"))
        assert row.verdict == "expected-discrepancy" and row.note == "expected: known | m"
    row = runner._apply_expectation(case, Row("planted", "x", "b", "float64", "pass"))
    assert row.verdict == "pass" and "did not occur" in row.note
    for verdict in ("error", "unjudged"):
        assert runner._apply_expectation(case, Row("planted", "x", "b", "float64", verdict)).verdict == verdict
    assert runner._apply_expectation(FakeCase(), Row("planted", "x", "b", "float64", "fail")).verdict == "fail"
    # the expectation is looked up for the row's own backend, dtype and parameter
    assert runner._apply_expectation(case, Row("planted", "x", "b", "float32", "fail")).verdict == "fail"
    assert runner._apply_expectation(case, Row("planted", "y", "b", "float64", "fail")).verdict == "fail"
    assert [r.verdict for r in runner.failed([Row("c", "x", "b", "float64", v) for v in
                                              ("pass", "fail", "nan", "error", "kink", "unjudged")])] == [
        "fail", "nan", "error"]


# ------------------------------------------------------------------ pairwise agreement


def evaluations(**grads):
    return {name: SimpleNamespace(grads={"x": np.asarray(g, np.float64)}) for name, g in grads.items()}


def test_pairwise_measures_two_different_backends_not_a_backend_with_itself():
    """a = [1, 2], b = [1, 2.5] (b off by 0.5 at x[1]), c = a: a vs b and b vs c show 0.5 abs, 0.2 rel, one
    element beyond the tolerance, 0.2 of the gradient's scale; a vs c shows 0."""
    pairs = runner.pairwise(FakeCase(), "float64", evaluations(b=[1.0, 2.5], a=[1.0, 2.0], c=[1.0, 2.0]))
    got = {(p.a, p.b): (p.max_abs, p.max_rel, p.beyond, p.scale_rel, p.worst_param) for p in pairs}
    assert got == {("a", "b"): (0.5, 0.2, 1, 0.2, "x"), ("a", "c"): (0.0, 0.0, 0, 0.0, "x"),
                   ("b", "c"): (0.5, 0.2, 1, 0.2, "x")}
    assert all(p.case == "planted" and p.dtype == "float64" for p in pairs)


def test_pairwise_beyond_counts_elements_outside_the_cases_tolerance():
    """allowed |a - b| <= atol + rtol·max(|a|, |b|): at 2 in float64, 2.1e-6; two NaNs agree; a gradient of
    0 against 1e-9 is scaled by atol (1e-9 / 1e-7 = 0.01)."""
    pairs = runner.pairwise(FakeCase(), "float64",
                            evaluations(a=[2.0, 2.0, np.nan, 0.0], b=[2 + 2.0e-6, 2 + 2.2e-6, np.nan, 0.0]))
    assert pairs[0].beyond == 1
    zero = runner.pairwise(FakeCase(), "float64", evaluations(a=[0.0], b=[1e-9]))[0]
    assert zero.scale_rel == pytest.approx(0.01) and zero.beyond == 0
    assert runner.pairwise(FakeCase(), "float32", evaluations(a=[2.0], b=[2 + 2.2e-4]))[0].beyond == 1
    assert runner.pairwise(FakeCase(), "float32", evaluations(a=[2.0], b=[2 + 2.0e-4]))[0].beyond == 0


def test_pairwise_beyond_is_strictly_outside_the_rule_with_the_larger_of_the_two():
    """|a - b| <= atol + rtol·max(|a|, |b|): 0.5 against 0.75 with atol 0.25 is on the edge (not beyond);
    1 against 1.5 with rtol 0.4 is inside by the larger (0.6), outside by the smaller (0.4)."""
    edge = FakeCase({"float64": Tolerance(atol=0.25, rtol=0.0)})
    assert runner.pairwise(edge, "float64", evaluations(a=[0.5], b=[0.75]))[0].beyond == 0
    assert runner.pairwise(edge, "float64", evaluations(a=[0.5], b=[0.875]))[0].beyond == 1
    rel = FakeCase({"float64": Tolerance(atol=0.0, rtol=0.4)})
    assert runner.pairwise(rel, "float64", evaluations(a=[1.0], b=[1.5]))[0].beyond == 0
    assert runner.pairwise(rel, "float64", evaluations(a=[1.0], b=[1.75]))[0].beyond == 1


def test_pairwise_reports_the_worst_parameter():
    ev = {"a": SimpleNamespace(grads={"x": np.array([1.0]), "y": np.array([4.0])}),
          "b": SimpleNamespace(grads={"x": np.array([1.1]), "y": np.array([2.0])})}
    (p,) = runner.pairwise(FakeCase(wrt=("x", "y")), "float64", ev)
    assert (p.worst_param, p.max_abs, p.max_rel) == ("y", 2.0, 0.5)
    assert p.scale_rel == pytest.approx(0.5)


# ------------------------------------------------------------------ joint kinks: the convex hull


def test_the_distance_to_the_hull_of_a_three_way_tie():
    """Pieces (1,0,0), (0,1,0), (0,0,1): (1/3, 1/3, 1/3) and (1, 0, 0) lie in the hull; (1, 1, 1) lies 2/√3
    from it and (0, 0, 0) 1/√3, both nearest (1/3, 1/3, 1/3)."""
    eye = np.eye(3)
    assert runner.hull_distance(eye, np.full(3, 1 / 3))[0] == pytest.approx(0.0, abs=1e-6)
    assert runner.hull_distance(eye, np.array([1.0, 0, 0]))[0] == pytest.approx(0.0, abs=1e-6)
    d, nearest = runner.hull_distance(eye, np.ones(3))
    assert d == pytest.approx(2 / np.sqrt(3), rel=1e-3, abs=0) and nearest == pytest.approx(np.full(3, 1 / 3), abs=1e-3)
    d, nearest = runner.hull_distance(eye, np.zeros(3))
    assert d == pytest.approx(1 / np.sqrt(3), rel=1e-3, abs=0) and nearest == pytest.approx(np.full(3, 1 / 3), abs=1e-3)
    # a segment: from (0, 2) to the hull of (-1, 0), (1, 0) is 2, nearest (0, 0)
    d, nearest = runner.hull_distance(np.array([[-1.0, 0.0], [1.0, 0.0]]), np.array([0.0, 2.0]))
    assert d == pytest.approx(2.0, rel=1e-6, abs=0) and nearest == pytest.approx([0.0, 0.0], abs=1e-6)
    # the bound is a lower bound: never above the true distance
    d, _ = runner.hull_distance(np.array([[-1.0, 0.0], [1.0, 0.0]]), np.array([3.0, 4.0]))
    assert d <= np.hypot(2.0, 4.0) + 1e-12 and d == pytest.approx(np.hypot(2.0, 4.0), rel=1e-3, abs=0)


# ------------------------------------------------------------------ the directional judge's allowance, and limits


def test_the_directional_rounding_allowance_by_hand():
    """6 sigmas × 32 eps × sqrt(Σ (|g_i| + max|g| / 16)²): for g = [1, -1], sqrt(2 · 1.0625²) = 1.0625·√2."""
    for dtype in ("float64", "float32"):
        eps = float(np.finfo(dtype).eps)
        got = runner._projection_allowance(np.array([1.0, -1.0]), dtype)
        rel = 1e-12 if dtype == "float64" else 1e-6  # the allowance is computed in the dtype's eps's precision
        assert got == pytest.approx(6 * 32 * eps * 1.0625 * np.sqrt(2), rel=rel, abs=0)
    # g = [4, 0]: (4 + 0.25)² + 0.25² = 18.125
    assert runner._projection_allowance(np.array([4.0, 0.0]), "float64") == pytest.approx(
        6 * 32 * np.finfo(np.float64).eps * np.sqrt(18.125), rel=1e-12, abs=0)
    assert runner._dot_int8(np.array([1.0, 2.0, 3.0]), np.array([1, -1, 1], np.int8)) == 2.0
    # below 1 the largest |g| is what it is (not 1): g = [0.5, 0]: (0.5 + 1/32)² + (1/32)²
    assert runner._projection_allowance(np.array([0.5, 0.0]), "float64") == pytest.approx(
        6 * 32 * np.finfo(np.float64).eps * np.sqrt((0.5 + 1 / 32) ** 2 + (1 / 32) ** 2), rel=1e-12, abs=0)
    # past one slice of 2^18 elements: every element counted once
    n = 2**18 + 5
    g, v = np.arange(n, dtype=np.float64) % 7, np.where(np.arange(n) % 3 == 0, 1, -1).astype(np.int8)
    assert runner._dot_int8(g, v) == float(np.dot(g, v.astype(np.float64)))
    m = float(np.max(np.abs(g)))
    assert runner._projection_allowance(g, "float64") == pytest.approx(
        6 * 32 * np.finfo(np.float64).eps * np.sqrt(np.sum((np.abs(g) + m / 16) ** 2)), rel=1e-9, abs=0)


def test_the_documented_limits():
    """README: a failed directional check falls back element-wise up to 2^18 elements; joint kinks are judged
    together for at most 8 kink elements."""
    assert runner.FALLBACK_MAX == 2 ** 18 and runner.JOINT_MAX == 8
    assert (runner.ROUNDING_ULPS, runner.ROUNDING_SIGMAS) == (32.0, 6.0)


def test_a_misspelt_method_on_a_backends_array_gets_the_nearest_op():
    hint = runner._method_hint(AttributeError("'Tensor' object has no attribute 'sqeeze'"))
    assert hint == " (as an op of the vocabulary: did you mean nn.squeeze?)"
    assert runner._method_hint(AttributeError("'Tensor' object has no attribute 'zzzzzzzz'")) == ""
    assert runner._method_hint(ValueError("has no attribute 'sqeeze'")) == ""


# ------------------------------------------------------------------ the directional judge, on a planted reference


R4 = np.array([1.0, 2.0, 3.0, 4.0])
V = np.array([[1, 1, 1, 1], [1, -1, 1, -1]], np.int8)  # directions: projections of R4 are 10 and -2


def directional(value=(10.0, -2.0), error=(1e-6, 1e-6), kink=(False, False), left=None, right=None, side=0.0):
    value = np.array(value, float)
    est = SimpleNamespace(value=value, error=np.array(error, float), kink=np.array(kink, bool),
                          left=value if left is None else np.array(left, float),
                          right=value if right is None else np.array(right, float),
                          left_error=np.full(2, side), right_error=np.full(2, side))
    dp = SimpleNamespace(method="directional", estimate=est, count=2, direction=lambda k: V[k])
    return SimpleNamespace(params={"x": dp}, point={"x": np.zeros(4)}, method_label=lambda p: "directional×2",
                           screened=lambda param, g, tol: pref(R4))


def judge_directional(g, reference):
    g = np.asarray(g, float)
    return runner._judge_param(FakeCase(), "x", "planted", "float64", g, reference, "all", np.zeros(4, bool))


def test_directional_projections_within_twice_the_estimates_error_pass():
    """got g·v = 10 and -2 against 10 ± 1e-6: a pass; the row says the smallest single-element error it catches
    (2·1e-6 + the rounding allowance)."""
    row = judge_directional(R4, directional())
    assert row.verdict == "pass" and row.method == "directional×2" and row.max_abs == 0.0
    rounding = runner._projection_allowance(R4, "float64")
    assert row.detectable == pytest.approx(2e-6 + rounding, rel=1e-12, abs=0)
    assert row.note.startswith("directional: a single element off by 2.00e-06 or more is caught")
    # off by 1.9e-6 along both directions (x[0] + 1.9e-6): inside 2e-6; by 2.1e-6: outside, then element-wise
    assert judge_directional(R4 + [1.9e-6, 0, 0, 0], directional()).verdict == "pass"
    row = judge_directional(R4 + [2.1e-6, 0, 0, 0], directional())
    assert row.verdict == "fail" and row.method == "directional×2, then central" and row.worst_index == (0,)
    assert "2 of 2 random ±1 directions outside tolerance" in row.message and "; element-wise: " in row.message


def test_a_nan_gradient_is_a_nan_row_in_the_directional_judge():
    row = judge_directional([1.0, np.nan, 3.0, np.inf], directional())
    assert row.verdict == "nan" and "x[1], x[3]" in row.message


def test_a_directional_flag_the_element_wise_check_clears_is_a_pass_with_a_note():
    """The estimate along direction 1 is planted wrong (-2.5): the directional check flags it, the element-wise
    fallback (the true gradient) passes the row and the note says what was flagged."""
    row = judge_directional(R4, directional(value=(10.0, -2.5)))
    assert row.verdict == "pass" and "the directional check had flagged 1 of 2 directions" in row.note


def test_a_kink_along_a_direction_accepts_the_one_sided_interval_widened_by_their_errors(monkeypatch):
    """Direction 0 crosses a kink with left 9, right 11 (errors 0.1 each: slack 2·0.2 = 0.4): a projection of 10
    or 11.3 is a kink; 11.5 is suspicious, which alone is unjudged (no element-wise fallback here)."""
    monkeypatch.setattr(runner, "FALLBACK_MAX", 0)
    ref = directional(kink=(True, False), left=(9.0, -2.0), right=(11.0, -2.0), side=0.1)
    row = judge_directional(R4, ref)
    assert row.verdict == "kink" and row.message.startswith("1 of 2 directions cross a kink of 'x'")
    assert judge_directional(R4 + 0.325, ref).verdict == "kink"  # g·v0 = 11.3, g·v1 = -2
    row = judge_directional(R4 + 0.375, ref)  # g·v0 = 11.5
    assert row.verdict == "unjudged" and "1 of 2 directions cross kinks" in row.message
    row = judge_directional(R4 + [0.0, 1e-3, 0.0, 0.0], ref)  # direction 1 (smooth) off by 1e-3: a fail
    assert row.verdict == "fail" and row.worst_index == (1,) and row.value == pytest.approx(-2.001)
    # its figures: direction 0 (kink, inside) has error 0, direction 1 1e-3 of -2: max rel 5e-4; the error per
    # element against the projections' scale per element (1e-3 / 4 against 10 / 4) in eps: 1e-4 / eps
    assert row.max_abs == pytest.approx(1e-3) and row.max_rel == pytest.approx(5e-4, rel=1e-9, abs=0)
    rounding = runner._projection_allowance(R4 + [0.0, 1e-3, 0.0, 0.0], "float64")
    assert row.ratio == pytest.approx(1e-3 / (2e-6 + rounding), rel=1e-9, abs=0)
    assert row.err_eps == pytest.approx(1e-4 / np.finfo(np.float64).eps, rel=1e-9, abs=0)


def test_a_direction_without_a_finite_estimate_is_unjudged(monkeypatch):
    monkeypatch.setattr(runner, "FALLBACK_MAX", 0)
    row = judge_directional(R4, directional(value=(10.0, np.nan)))
    assert row.verdict == "unjudged" and "not finite or has no error bound along 1 of 2 directions" in row.message
    row = judge_directional(R4, directional(error=(1e-6, np.inf)))
    assert row.verdict == "unjudged"


# ------------------------------------------------------------------ joint kinks, on planted pieces


def joint(pieces, g, kinks=None, verdicts=None, wrt=("x",)):
    """_judge_joint on input x (and y) with kinks at the given (param, index) elements, the pieces' gradients
    given; returns {param: (verdict, message)} after it."""
    g = np.asarray(g, float)
    kinks = kinks or [("x", i) for i in range(g.size)]
    sizes = {p: 1 + max(i for q, i in kinks if q == p) for p in wrt}
    kink = {p: np.isin(np.arange(sizes[p]), [i for q, i in kinks if q == p]) for p in wrt}
    grads = {p: np.zeros(sizes[p]) for p in wrt}
    for (p, i), v in zip(kinks, g):
        grads[p][i] = v
    ref = SimpleNamespace(params={p: SimpleNamespace(method="central", kink=kink[p]) for p in wrt},
                          point={p: np.zeros(sizes[p]) for p in wrt}, pieces=lambda k: np.asarray(pieces, float))
    verdicts = verdicts or {p: "kink" for p in wrt}
    rows = [Row("planted", p, "planted", "float64", verdicts[p]) for p in wrt]
    runner._judge_joint(FakeCase(wrt=wrt), "planted", "float64", grads, ref, rows)
    return {r.param: (r.verdict, r.message) for r in rows}


def test_a_joint_kink_of_two_elements_is_judged_as_a_vector():
    """maximum(a, b) at a tie: pieces (1, 0) and (0, 1). (0.5, 0.5) lies in their hull; (1, 1) lies 1/√2 off."""
    eye = np.eye(2)
    assert joint(eye, [0.5, 0.5])["x"][0] == "kink"
    verdict, message = joint(eye, [1.0, 1.0])["x"]
    assert verdict == "fail" and "joint kink at x[0], x[1]" in message and "7.071e-01" in message
    assert "the nearest valid one is (0.5, 0.5)" in message


def test_joint_kinks_are_judged_from_two_up_to_eight_elements():
    assert joint(np.eye(8), np.ones(8))["x"][0] == "fail"  # 0.875·√8 from the simplex
    assert joint(np.eye(9), np.ones(9))["x"][0] == "kink"  # nine: element by element only
    assert joint(np.eye(1), np.ones(1))["x"][0] == "kink"  # one: nothing joint


def test_a_joint_kink_counts_only_rows_still_kink_or_pass_and_needs_finite_pieces():
    """x[0] and y[0] kinks, y's row already nan: only x's kink is left, nothing joint; pieces with a NaN: no
    verdict either."""
    both = [("x", 0), ("y", 0)]
    out = joint(np.eye(2), [1.0, 1.0], kinks=both, verdicts={"x": "kink", "y": "nan"}, wrt=("x", "y"))
    assert out == {"x": ("kink", ""), "y": ("nan", "")}
    out = joint(np.eye(2), [1.0, 1.0], kinks=both, verdicts={"x": "pass", "y": "kink"}, wrt=("x", "y"))
    assert out["x"][0] == "fail" and out["y"][0] == "fail"
    assert joint([[1.0, 0.0], [0.0, np.nan]], [1.0, 1.0])["x"][0] == "kink"


@pytest.mark.parametrize("scale, inside, outside", [
    # slack = √2·(atol + rtol·size) + 1e-6·size, size = the pieces' largest |component|
    (100.0, 2.3e-4, 2.5e-4),    # √2·(1e-7 + 1e-4) + 1e-4 = 2.4149e-4
    (0.01, 1.6e-7, 1.7e-7),     # √2·(1e-7 + 1e-8) + 1e-8 = 1.6556e-7
])
def test_the_joint_kinks_slack_by_hand(scale, inside, outside):
    """From the middle of the segment between (s, 0) and (0, s), a step d along (1, 1)/√2 is d from the hull."""
    pieces = scale * np.eye(2)
    mid = np.array([scale / 2, scale / 2])
    assert joint(pieces, mid + inside / np.sqrt(2))["x"][0] == "kink"
    assert joint(pieces, mid + outside / np.sqrt(2))["x"][0] == "fail"
