"""Element-wise ops beyond the first 22: each forward beside its hand-derived backward (same form as ``ops``).

At a point where the derivative does not exist the rule returns one subgradient, said in its comment
(the conventions table in the README compares it with torch's and jax's).
"""

from __future__ import annotations

import numpy as np

from .ops import sigmoid_value


def erf_value(a):
    """erf element-wise (numpy has none): erf z = (2/√π) e^(-z²) Σ_n (2z²)^n z / (1·3·…·(2n+1)), a series of
    positive terms for real z (no cancellation, ~1e-16 relative) that holds for complex z too; |Re z| > 6
    gives ±1 (erfc(6) ≈ 2e-17). Computed in float64 (complex128 for complex input), returned in a's dtype."""
    a = np.asarray(a)
    z = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
    far = np.abs(z.real) > 6
    z = np.where(far, 0, z)
    two_z2 = 2 * z * z
    term, total = z.copy(), z.copy()
    for n in range(1, 200):
        term = term * two_z2 / (2 * n + 1)
        total = total + term
        if np.all(np.abs(term) <= 1e-17 * np.abs(total)):
            break
    value = np.where(far, np.sign(a.real), 2 / np.sqrt(np.pi) * np.exp(-z * z) * total)
    return value.astype(a.dtype) if a.dtype.kind in "fc" else value


def _zeros(g, *arrays):
    return np.zeros(np.broadcast_shapes(np.shape(g), *(np.shape(a) for a in arrays)), dtype=np.result_type(g))


# ---------------------------------------------------------------- unary


def abs(a):  # noqa: A001 - the op's own name
    # d|a| = sign(a) da; at a = 0 the subdifferential is [-1, 1] and we return 0 (as torch and jax)
    return np.abs(a), lambda g: (g * np.sign(a),)


def sign(a):
    # sign is piecewise constant: 0 wherever a derivative exists; 0 at the jump a = 0 too
    return np.sign(a), lambda g: (_zeros(g, a),)


def floor(a):
    # piecewise constant: 0 almost everywhere (and 0 at the integers, where floor jumps)
    return np.floor(a), lambda g: (_zeros(g, a),)


def round(a):  # noqa: A001
    # piecewise constant (half to even, as numpy, torch and jax): 0 almost everywhere
    return np.round(a), lambda g: (_zeros(g, a),)


def sqrt(a):
    # d√a = da / (2√a)   (inf at a = 0: the one-sided derivative from the right)
    y = np.sqrt(a)
    return y, lambda g: (g / (2 * y),)


def rsqrt(a):
    # d a^(-1/2) = -½ a^(-3/2) da = -½ y³ da
    y = 1 / np.sqrt(a)
    return y, lambda g: (-0.5 * g * y * y * y,)


def square(a):
    # d a² = 2a da
    return a * a, lambda g: (2 * g * a,)


def reciprocal(a):
    # d(1/a) = -da / a² = -y² da
    y = 1 / a
    return y, lambda g: (-g * y * y,)


def expm1(a):
    # d(e^a - 1) = e^a da = (y + 1) da
    y = np.expm1(a)
    return y, lambda g: (g * (y + 1),)


def log1p(a):
    # d log(1 + a) = da / (1 + a)
    return np.log1p(a), lambda g: (g / (1 + a),)


def tan(a):
    # d tan a = (1 + tan² a) da = (1 + y²) da
    y = np.tan(a)
    return y, lambda g: (g * (1 + y * y),)


def arcsin(a):
    # d asin a = da / √(1 - a²)   (inf at a = ±1, the domain's edges)
    return np.arcsin(a), lambda g: (g / np.sqrt(1 - a * a),)


def arccos(a):
    # d acos a = -da / √(1 - a²)   (-inf at a = ±1)
    return np.arccos(a), lambda g: (-g / np.sqrt(1 - a * a),)


def arctan(a):
    # d atan a = da / (1 + a²)
    return np.arctan(a), lambda g: (g / (1 + a * a),)


def sinh(a):
    # d sinh a = cosh a da
    return np.sinh(a), lambda g: (g * np.cosh(a),)


def cosh(a):
    # d cosh a = sinh a da
    return np.cosh(a), lambda g: (g * np.sinh(a),)


def erf(a):
    # d erf a = (2/√π) e^(-a²) da
    return erf_value(a), lambda g: (g * (2 / np.sqrt(np.pi)) * np.exp(-a * a),)


# ---------------------------------------------------------------- binary and ternary


def minimum(a, b):
    # d min(a, b) = da where a < b, db where b < a; at a tie each side gets half (as torch and jax)
    y = np.minimum(a, b)

    def vjp(g):
        wa = (a < b) + 0.5 * (a == b)
        return g * wa, g * (1.0 - wa)

    return y, vjp


def clip(a, lo, hi):
    # clip(a) = a on [lo, hi], else the bound it crossed: da on lo ≤ a ≤ hi (1 at a bound, as torch.clamp;
    # the subdifferential there is [0, 1]), d lo where a < lo, d hi where a > hi
    y = np.minimum(np.maximum(a, lo), hi)

    def vjp(g):
        inside = (a >= lo) & (a <= hi)
        return g * inside, g * (a < lo), g * (a > hi)

    return y, vjp


def where(cond, a, b):
    # where(c, a, b) picks a where c, else b: da gated by c, db by not c; the condition is data (no gradient)
    c = np.asarray(cond).astype(bool)
    return np.where(c, a, b), lambda g: (None, g * c, g * ~c)


def atan2(y, x):
    # θ = atan2(y, x):  dθ = (x dy - y dx) / (x² + y²)   (undefined at the origin: 0/0 there)
    r2 = x * x + y * y
    return np.arctan2(y, x), lambda g: (g * x / r2, -g * y / r2)


def logaddexp(a, b):
    # y = log(e^a + e^b):  dy = e^(a-y) da + e^(b-y) db   (the softmax weights of a and b)
    y = np.logaddexp(a, b)
    return y, lambda g: (g * np.exp(a - y), g * np.exp(b - y))


def fmod(a, b):
    # a - b·trunc(a/b):  da = 1,  db = -trunc(a/b)   (piecewise; jumps where a/b is an integer)
    return np.fmod(a, b), lambda g: (g * np.ones_like(a), -g * np.trunc(a / b))


def remainder(a, b):
    # a - b·floor(a/b):  da = 1,  db = -floor(a/b)
    return np.remainder(a, b), lambda g: (g * np.ones_like(a), -g * np.floor(a / b))


def xlogy(x, y):
    # x log y, defined as 0 where x = 0:  dx = log y (x log y is linear in x for y > 0, also at x = 0;
    # where x = y = 0 it is undefined and we return 0),  dy = x / y
    safe = np.where(x == 0, 1, y)
    value = np.where(x == 0, 0, x * np.log(safe))

    def vjp(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * np.where((x == 0) & (y == 0), 0, np.log(np.where(y == 0, 1, y))), g * x / y

    return value, vjp


def pow(a, b):  # noqa: A001
    # y = a^b (tensor exponent):  dy = b a^(b-1) da + a^b log(a) db;
    # the da term is 0 where b = 0 (a^0 = 1), the db term 0 where a = 0 and b ≥ 0 (y is 0 there for b > 0)
    y = np.power(a, b)

    def vjp(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            da = g * np.where(b == 0, 0, b * np.power(a, b - 1))  # b = 0: a^0 = 1, derivative 0 (not 0·inf)
            db = g * np.where((a == 0) & (b >= 0), 0, y * np.log(np.where(a == 0, 1, a)))
        return da, db

    return y, vjp


# ---------------------------------------------------------------- activations


def softplus(a, *, beta=1.0, threshold=20.0):
    # y = log(1 + e^(βa))/β:  dy = σ(βa) da   (exact: the core applies no threshold; torch turns linear above
    # βa > threshold, where σ(βa) = 1 - e^(-20) ≈ 1 anyway)
    z = beta * a
    return np.logaddexp(0, z) / beta, lambda g: (g * sigmoid_value(z),)


def log_sigmoid(a):
    # y = -log(1 + e^-a):  dy = σ(-a) da = (1 - σ(a)) da
    return -np.logaddexp(0, -a), lambda g: (g * sigmoid_value(-a),)


def relu6(a):
    # min(max(a, 0), 6):  1 on (0, 6), 0 outside; 0 at both kinks (as torch and jax)
    return np.minimum(np.maximum(a, 0), 6), lambda g: (g * ((a > 0) & (a < 6)),)


def leaky_relu(a, *, negative_slope=0.01):
    # a for a > 0, slope·a otherwise:  1 for a > 0, slope for a ≤ 0 (slope at the kink, as torch)
    return np.where(a > 0, a, negative_slope * a), lambda g: (g * np.where(a > 0, 1, negative_slope),)


def elu(a, *, alpha=1.0):
    # a for a > 0, α(e^a - 1) otherwise:  1 for a > 0, α e^a = y + α for a ≤ 0
    neg = alpha * np.expm1(np.minimum(a, 0))
    return np.where(a > 0, a, neg), lambda g: (g * np.where(a > 0, 1, neg + alpha),)


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(a):
    # λ·elu(a, α):  λ for a > 0, λα e^a for a ≤ 0 (a kink at 0: left λα, right λ)
    neg = SELU_ALPHA * np.expm1(np.minimum(a, 0))
    y = SELU_SCALE * np.where(a > 0, a, neg)
    return y, lambda g: (g * SELU_SCALE * np.where(a > 0, 1, neg + SELU_ALPHA),)


def celu(a, *, alpha=1.0):
    # max(0, a) + min(0, α(e^(a/α) - 1)):  1 for a > 0, e^(a/α) for a ≤ 0 (C1 at 0)
    neg = alpha * np.expm1(np.minimum(a, 0) / alpha)
    return np.where(a > 0, a, neg), lambda g: (g * np.where(a > 0, 1, neg / alpha + 1),)


def gelu(a):
    # a Φ(a), Φ the normal cdf = (1 + erf(a/√2))/2:  d = Φ(a) + a φ(a),  φ(a) = e^(-a²/2)/√(2π)
    cdf = 0.5 * (1 + erf_value(a / np.sqrt(2)))
    return a * cdf, lambda g: (g * (cdf + a * np.exp(-0.5 * a * a) / np.sqrt(2 * np.pi)),)


_K = np.sqrt(2 / np.pi)


def gelu_tanh(a):
    # ½a(1 + t), t = tanh(k(a + 0.044715a³)):  d = ½(1 + t) + ½a(1 - t²)·k(1 + 3·0.044715a²)
    t = np.tanh(_K * (a + 0.044715 * a * a * a))
    return 0.5 * a * (1 + t), lambda g: (g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * _K * (1 + 0.134145 * a * a)),)


def silu(a):
    # a σ(a):  d = σ(a) + a σ(a)(1 - σ(a)) = σ(a)(1 + a(1 - σ(a)))
    s = sigmoid_value(a)
    return a * s, lambda g: (g * s * (1 + a * (1 - s)),)


def mish(a):
    # a tanh(softplus(a)):  d = t + a (1 - t²) σ(a),  t = tanh(softplus(a)), softplus' = σ
    t = np.tanh(np.logaddexp(0, a))
    return a * t, lambda g: (g * (t + a * (1 - t * t) * sigmoid_value(a)),)


def hardtanh(a, *, min_val=-1.0, max_val=1.0):
    # clip(a, min, max):  1 on the open interval, 0 outside and at both kinks (as torch)
    return np.clip(a, min_val, max_val), lambda g: (g * ((a > min_val) & (a < max_val)),)


def hard_sigmoid(a):
    # relu6(a + 3)/6:  1/6 on (-3, 3), 0 outside and at the kinks (as torch and jax)
    return np.minimum(np.maximum(a + 3, 0), 6) / 6, lambda g: (g * ((a > -3) & (a < 3)) / 6,)


def hard_swish(a):
    # a relu6(a + 3)/6:  0 for a ≤ -3, (2a + 3)/6 between, 1 for a ≥ 3; at the kinks (left/right 0/-½ at -3,
    # 3/2/1 at 3) the outer pieces' 0 and 1, as torch and jax
    y = a * np.minimum(np.maximum(a + 3, 0), 6) / 6
    return y, lambda g: (g * np.where(a <= -3, 0, np.where(a < 3, (2 * a + 3) / 6, 1)),)


def softsign(a):
    # a / (1 + |a|):  d = 1 / (1 + |a|)²   (smooth at 0: both sides give 1)
    d = 1 + np.abs(a)
    return a / d, lambda g: (g / (d * d),)
