"""Backwards that are nearly right: scaled, sign-flipped on a region, shifted, swapped, missing a factor."""
import numpy as np

from crosscheck import case, inputs


def _scaled(factor):
    def backward(g, x):
        return {"x": g * np.cos(x) * factor}
    return backward


@case(x=inputs.normal(5, 4), backward=_scaled(1 + 1e-3), tags={"planted", "expect_fail"})
def sin_scaled_up_1e3(nn, x):
    return nn.sin(x)


@case(x=inputs.normal(5, 4), backward=_scaled(1 - 1e-3), tags={"planted", "expect_fail"})
def sin_scaled_down_1e3(nn, x):
    return nn.sin(x)


@case(x=inputs.normal(7), backward=_scaled(1 + 1e-7), dtypes=("float64",), tags={"planted", "expect_fail"})
def sin_off_by_1e7_relative(nn, x):
    """A uniform relative error of 1e-7 in float64: far below the finite-difference tolerance, caught
    against the complex-step oracle."""
    return nn.sin(x)


def _sign_region(g, x):
    gx = g * np.cos(x)
    gx[:2] = -gx[:2]
    return {"x": gx}


@case(x=inputs.normal(6, 3), backward=_sign_region, tags={"planted", "expect_fail"})
def sin_sign_flipped_on_rows(nn, x):
    return nn.sin(x)


def _rolled(g, x):
    return {"x": np.roll(g * np.cos(x), 1)}


@case(x=inputs.normal(9), backward=_rolled, tags={"planted", "expect_fail"})
def sin_gradient_shifted_by_one(nn, x):
    return nn.sin(x)


def _missing_inner(g, x):
    return {"x": g * np.cos(x * x)}  # d/dx sin(x²) = 2x·cos(x²): the 2x forgotten


@case(x=inputs.normal(8), backward=_missing_inner, tags={"planted", "expect_fail"})
def chain_rule_factor_missing(nn, x):
    return nn.sin(x * x)


def _sigmoid_wrong(g, x):
    s = 1 / (1 + np.exp(-x))
    return {"x": g * s * (1 + s)}  # s(1 + s) for s(1 - s)


@case(x=inputs.normal(10), backward=_sigmoid_wrong, tags={"planted", "expect_fail"})
def sigmoid_wrong_sign(nn, x):
    return nn.sigmoid(x)


def _tanh_wrong(g, x):
    return {"x": g * (1 - np.tanh(x))}  # 1 - y for 1 - y²


@case(x=inputs.normal(10), backward=_tanh_wrong, tags={"planted", "expect_fail"})
def tanh_missing_square(nn, x):
    return nn.tanh(x)


def _exp_offset(g, x):
    return {"x": g * np.exp(x) + 1e-6}


@case(x=inputs.normal(6), backward=_exp_offset, dtypes=("float64",), tags={"planted", "expect_fail"})
def exp_small_absolute_offset(nn, x):
    return nn.exp(x)


def _swapped(g, a, b):
    return {"a": g @ a.T, "b": b.T @ g}  # each input given the other's formula (square: shapes still match)


@case(a=inputs.normal(4, 4), b=inputs.normal(4, 4), backward=_swapped, tags={"planted", "expect_fail"})
def matmul_gradients_swapped(nn, a, b):
    return a @ b


def _transposed(g, a, b):
    return {"a": (g @ b.T).T, "b": a.T @ g}


@case(a=inputs.normal(5, 5), b=inputs.normal(5, 5), backward=_transposed, tags={"planted", "expect_fail"})
def matmul_gradient_transposed(nn, a, b):
    return a @ b


def _bias_not_summed(g, x, b):
    return {"x": g, "b": g[0]}  # the broadcast axis not summed: the first row only


@case(x=inputs.normal(6, 3), b=inputs.normal(3), backward=_bias_not_summed, tags={"planted", "expect_fail"})
def bias_missing_sum_over_broadcast(nn, x, b):
    return x + b


def _mse_missing_mean(g, p, t):
    return {"p": g * 2 * (p - t)}  # d/dp mean((p - t)²) = 2(p - t)/n: the 1/n forgotten


@case(p=inputs.normal(4, 3), t=inputs.normal(4, 3, grad=False), backward=_mse_missing_mean,
      tags={"planted", "expect_fail"})
def mse_missing_mean(nn, p, t):
    return nn.mean_squared_error(p, t)


def _ce_missing_mean(g, z, t):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return {"z": g * (p - t)}  # (p - t)/m for the mean over rows: the 1/m forgotten


@case(z=inputs.normal(5, 4), t=inputs.data(np.eye(4)[[0, 1, 2, 3, 1]]), backward=_ce_missing_mean,
      tags={"planted", "expect_fail"})
def softmax_cross_entropy_missing_mean(nn, z, t):
    return nn.softmax_cross_entropy(z, t)


def _mask_ignored(g, x, m):
    return {"x": g}  # the mask (data) forgotten in the backward


@case(x=inputs.normal(4, 5), m=inputs.data((np.arange(20).reshape(4, 5) % 3 != 0).astype(float)),
      backward=_mask_ignored, tags={"planted", "expect_fail"})
def dropout_mask_ignored(nn, x, m):
    return x * m


def _leaky_slope(g, x):
    return {"x": g * np.where(x > 0, 1.0, 0.1).astype(x.dtype)}


@case(x=inputs.away_from_zero(12), backward=_leaky_slope, tags={"planted", "expect_fail"})
def leaky_relu_wrong_slope(nn, x):
    return nn.maximum(x, 0.01 * x)
