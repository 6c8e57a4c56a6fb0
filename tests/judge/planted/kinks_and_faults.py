"""Bugs at kinks and ties, NaNs, non-determinism, in-place writes, wrong shapes, bugs hiding at hard points."""
import itertools

import numpy as np

from crosscheck import case, inputs

# ---- at kinks: a value outside the subdifferential, alone or as a vector


def _relu_two(g, x):
    return {"x": g * np.where(x > 0, 1.0, np.where(x == 0, 2.0, 0.0)).astype(x.dtype)}  # 2 at 0: outside [0, 1]


@case(x=inputs.fixed([-1.0, 0.0, 0.5, 2.0]), backward=_relu_two, tags={"planted", "expect_fail", "kinks"})
def relu_subgradient_outside_at_zero(nn, x):
    return nn.relu(x)


def _max3(value):
    def backward(g, x):
        return {"x": np.full(3, value, dtype=x.dtype) * g}
    return backward


def _tie3(nn, x):
    """max(x0, x1, x2), written with the vocabulary's maximum and sum; at a three-way tie its subdifferential
    is the simplex {g >= 0, g0 + g1 + g2 = 1}."""
    x0, x1, x2 = (nn.sum(x * _E[i]) for i in range(3))
    return nn.maximum(nn.maximum(x0, x1), x2)


_E = np.eye(3)


@case(x=inputs.fixed([0.7, 0.7, 0.7]), backward=_max3(1.0), tags={"planted", "expect_fail", "kinks"})
def three_way_tie_all_ones(nn, x):
    return _tie3(nn, x)


@case(x=inputs.fixed([0.7, 0.7, 0.7]), backward=_max3(0.0), tags={"planted", "expect_fail", "kinks"})
def three_way_tie_all_zeros(nn, x):
    return _tie3(nn, x)


def _both_get_one(g, a, b):
    return {"a": g * np.ones_like(a), "b": g * np.ones_like(b)}


@case(a=inputs.fixed([0.3]), b=inputs.fixed([0.3]), backward=_both_get_one, tags={"planted", "expect_fail", "kinks"})
def two_way_tie_across_inputs_both_one(nn, a, b):
    """maximum(a, b) at a = b: (1, 1) is a subgradient coordinate by coordinate, not as a vector."""
    return nn.maximum(a, b)


def _abs_diff_wrong(g, x):
    return {"x": g * np.ones(2, dtype=x.dtype)}  # |x0 - x1| at x0 = x1: subgradients are (s, -s), |s| <= 1


@case(x=inputs.fixed([0.25, 0.25]), backward=_abs_diff_wrong, tags={"planted", "expect_fail", "kinks"})
def abs_difference_same_sign(nn, x):
    d = nn.sum(x * np.array([1.0, -1.0]))
    return nn.relu(d) + nn.relu(-d)


def _near_kink_wrong(g, x):
    return {"x": g * 0.5 * np.ones_like(x)}  # relu at 1e-9 is smooth: slope 1, not a subgradient 0.5


@case(x=inputs.fixed([1e-9, 3e-10]), backward=_near_kink_wrong, tags={"planted", "expect_fail"})
def near_kink_is_no_kink(nn, x):
    return nn.relu(x)


def _recip_wrong(g, x):
    return {"x": -g / (x * x) * 1.2}


@case(x=inputs.fixed([1e-5, 2e-5, -3e-5]), backward=_recip_wrong, tags={"planted", "expect_fail"})
def reciprocal_20_percent_off_near_zero(nn, x):
    """1/x at 1e-5 is smooth; a step crossing the pole would make it look like a kink."""
    return 1 / x


# ---- non-finite values where the mathematics is finite


def _nan_one(g, x):
    gx = g * np.cos(x)
    gx[1] = np.nan
    return {"x": gx}


@case(x=inputs.normal(4), backward=_nan_one, tags={"planted", "expect_nan"})
def nan_where_finite(nn, x):
    return nn.sin(x)


def _inf_one(g, x):
    gx = g * np.exp(x)
    gx[0] = np.inf
    return {"x": gx}


@case(x=inputs.normal(3), backward=_inf_one, tags={"planted", "expect_nan"})
def inf_where_finite(nn, x):
    return nn.exp(x)


def _log_at_small_nan(g, x):
    return {"x": g / np.where(x < 1e-3, np.nan, x)}


@case(x=inputs.fixed([1e-4, 0.5, 2e-3]), backward=_log_at_small_nan, tags={"planted", "expect_nan"})
def nan_at_small_input(nn, x):
    return nn.log(x)


# ---- cases that cannot be differentiated numerically, and backwards that write into their inputs

_CALLS = itertools.count()


def _times_100(g, x):
    return {"x": 100 * g * np.cos(x)}


@case(x=inputs.normal(5), backward=_times_100, tags={"planted", "expect_error"})
def not_deterministic_counter(nn, x):
    """A module-level counter in the value: every call differs. Its 100x backward must not pass as a 'kink'."""
    return nn.sin(x) * (1 + 1e-3 * next(_CALLS))


_RNG = np.random.default_rng(0)


@case(x=inputs.normal(5), backward=_times_100, tags={"planted", "expect_error"})
def not_deterministic_random(nn, x):
    return nn.sin(x) + float(_RNG.standard_normal()) * 1e-6 * nn.sum(x)


def _in_place(g, x):
    np.cos(x, out=x)  # writes into the input the other backends are given
    return {"x": g * x}


@case(x=inputs.normal(6), backward=_in_place, tags={"planted", "expect_error"})
def backward_writes_its_input(nn, x):
    return nn.sin(x)


def _wrong_shape(g, x, w):
    return {"x": g * np.cos(x), "w": np.zeros(3)}


@case(x=inputs.normal(4), w=inputs.normal(2), backward=_wrong_shape, tags={"planted", "expect_error"})
def wrong_shape_gradient(nn, x, w):
    return nn.sin(x) + nn.sum(w)


# ---- bugs that sit where a naive check raises false alarms, so only a precise reference can see them


def _log1p_edge(g, x):
    return {"x": g / (1 + x) * (1 + 1e-3)}


@case(x=inputs.fixed([-0.999999, 0.5]), backward=_log1p_edge, tags={"planted", "expect_fail"})
def log1p_at_domain_edge_off(nn, x):
    return nn.log(1 + x)


def _bce_small(g, p, y):
    return {"p": g * (p - y) / (p * (1 - p)) / p.size * (1 + 1e-3)}


@case(p=inputs.uniform(16, low=1e-5, high=1e-3), y=inputs.data(np.arange(16) % 2.0), backward=_bce_small,
      tags={"planted", "expect_fail"})
def bce_small_probabilities_off(nn, p, y):
    return nn.binary_cross_entropy(p, y)


def _huber_breakpoint(g, d):
    grad = np.clip(d, -1, 1)
    grad[np.abs(d) == 1] *= 1.001  # wrong exactly at the C1 points |d| = 1
    return {"d": g * grad}


def huber(nn, d):
    a = nn.relu(d) + nn.relu(-d)
    m = a - nn.relu(a - 1)  # min(|d|, 1)
    return 0.5 * m * m + (a - m)


@case(d=inputs.fixed([1.0, -1.0, 0.3, 2.5]), backward=_huber_breakpoint, tags={"planted", "expect_fail"})
def huber_wrong_at_breakpoint(nn, d):
    return huber(nn, d)


# ---- large inputs: the directional check


def _one_element(g, x, w):
    gw = g * np.tanh(x)
    gw.flat[4321] += 1e-3 * np.max(np.abs(gw))
    return {"x": g * w * (1 - np.tanh(x) ** 2), "w": gw}


@case(x=inputs.normal(300, 100), w=inputs.normal(300, 100), backward=_one_element, dtypes=("float64",),
      tags={"planted", "expect_fail"})
def one_wrong_element_in_thirty_thousand(nn, x, w):
    return w * nn.tanh(x)


def _region_sign(g, x, w):
    gw = g * np.tanh(x)
    gw[:10] *= -1
    return {"x": g * w * (1 - np.tanh(x) ** 2), "w": gw}


@case(x=inputs.normal(200, 100), w=inputs.normal(200, 100), backward=_region_sign, tags={"planted", "expect_fail"})
def large_sign_flipped_region(nn, x, w):
    return w * nn.tanh(x)


def _large_relu_two(g, x):
    return {"x": g * np.where(x > 0, 1.0, np.where(x == 0, 2.0, 0.0)).astype(x.dtype)}


_ZEROS = np.where(np.arange(20000) % 7 == 0, 0.0, np.random.default_rng(3).standard_normal(20000)).reshape(200, 100)


@case(x=inputs.fixed(_ZEROS), backward=_large_relu_two, dtypes=("float64",), tags={"planted", "expect_fail", "kinks"})
def large_relu_wrong_at_zeros(nn, x):
    return nn.relu(x)
