"""Element-wise ops beyond the first 22: each forward beside its hand-derived backward (same form as ``ops``),
and after each op its forward-mode rule ``op.jvp`` with the derivation in its comment (see ``tape.tangent_of``).

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


# Forward-mode rules (``op.jvp(T, y, *primals, *tangents, **attrs)``, see ``tape.tangent_of``) are computed with
# the tape's ops on tensors, so that a reverse sweep of them gives H·v; only piecewise-constant data (masks, the
# integer parts of fmod and remainder) comes from the primals' values, as constants in the tangent's dtype.


def _mask(T, array, like):
    """A piecewise-constant factor (a mask, a slope per piece) as a constant in ``like``'s dtype."""
    return T.constant(np.asarray(array).astype(like.dtype))


def _no_tangent(T, y, like):
    """The zero tangent of a piecewise-constant op (a constant: nothing for the reverse sweep to reach)."""
    return T.constant(np.zeros(y.shape, dtype=like.dtype))


def _moves(t):
    """False for a tangent that is a constant zero (an input held still): its term is left out, as the tape's
    multilinear rule leaves it out, so that a slope undefined in that input alone (pow's log of a negative base)
    does not turn the other input's tangent into NaN (0·NaN); a tangent that depends on the tape is kept."""
    return t.requires_grad or bool(np.any(t.value != 0))


def _vanishing_at_infinity(T, a, slope, like):
    """``slope(a)`` where a is not ±inf, 0 where it is (the limit there of a slope that vanishes at infinity),
    with slope evaluated on a whose infinite entries are replaced by 0: the reverse sweep of the rule then never
    meets inf·0 (the tape would give NaN for the slope's derivative, whose limit is 0 too)."""
    infinite = np.isinf(a.value)
    if not infinite.any():
        return slope(a)
    finite = T.constant(~infinite)
    zeros = T.constant(np.zeros(a.shape, dtype=like.dtype))
    return T.where(finite, slope(T.where(finite, a, zeros)), zeros)


_TWO_OVER_SQRT_PI = float(2 / np.sqrt(np.pi))
_SQRT_HALF = float(np.sqrt(0.5))
_INV_SQRT_2PI = float(1 / np.sqrt(2 * np.pi))


# ---------------------------------------------------------------- unary


def abs(a):  # noqa: A001 - the op's own name
    # d|a| = sign(a) da; at a = 0 the subdifferential is [-1, 1] and we return 0 (as torch and jax)
    return np.abs(a), lambda g: (g * np.sign(a),)


# d|a| = sign(a) da; 0 at a = 0 (the backward's subgradient): sign is piecewise constant, a mask
abs.jvp = lambda T, y, a, da: da * _mask(T, np.sign(a.value), da)


def sign(a):
    # sign is piecewise constant: 0 wherever a derivative exists; 0 at the jump a = 0 too
    return np.sign(a), lambda g: (_zeros(g, a),)


# piecewise constant: d sign a = 0 (0 at the jump too, as the backward)
sign.jvp = lambda T, y, a, da: _no_tangent(T, y, da)


def floor(a):
    # piecewise constant: 0 almost everywhere (and 0 at the integers, where floor jumps)
    return np.floor(a), lambda g: (_zeros(g, a),)


# piecewise constant: d floor a = 0 (0 at the integers too, as the backward)
floor.jvp = lambda T, y, a, da: _no_tangent(T, y, da)


def round(a):  # noqa: A001
    # piecewise constant (half to even, as numpy, torch and jax): 0 almost everywhere
    return np.round(a), lambda g: (_zeros(g, a),)


# piecewise constant: d round a = 0 (0 at the half-integers too, as the backward)
round.jvp = lambda T, y, a, da: _no_tangent(T, y, da)


def sqrt(a):
    # d√a = da / (2√a)   (inf at a = 0: the one-sided derivative from the right)
    y = np.sqrt(a)
    return y, lambda g: (g / (2 * y),)


# d√a = da / (2√a) = da / (2y)   (inf at a = 0, the right derivative, as the backward)
sqrt.jvp = lambda T, y, a, da: da / (2 * y)


def rsqrt(a):
    # d a^(-1/2) = -½ a^(-3/2) da = -½ y³ da
    y = 1 / np.sqrt(a)
    return y, lambda g: (-0.5 * g * y * y * y,)


# d a^(-1/2) = -½ a^(-3/2) da = -½ y³ da
rsqrt.jvp = lambda T, y, a, da: -0.5 * da * y * y * y


def square(a):
    # d a² = 2a da
    return a * a, lambda g: (2 * g * a,)


# d a² = 2a da
square.jvp = lambda T, y, a, da: 2 * da * a


def reciprocal(a):
    # d(1/a) = -da / a² = -y² da
    y = 1 / a
    return y, lambda g: (-g * y * y,)


# d(1/a) = -da / a² = -y² da
reciprocal.jvp = lambda T, y, a, da: -da * y * y


def expm1(a):
    # d(e^a - 1) = e^a da = (y + 1) da
    y = np.expm1(a)
    return y, lambda g: (g * (y + 1),)


# d(e^a - 1) = e^a da = (y + 1) da
expm1.jvp = lambda T, y, a, da: da * (y + 1)


def log1p(a):
    # d log(1 + a) = da / (1 + a)
    return np.log1p(a), lambda g: (g / (1 + a),)


# d log(1 + a) = da / (1 + a)
log1p.jvp = lambda T, y, a, da: da / (1 + a)


def tan(a):
    # d tan a = (1 + tan² a) da = (1 + y²) da
    y = np.tan(a)
    return y, lambda g: (g * (1 + y * y),)


# d tan a = (1 + tan² a) da = (1 + y²) da
tan.jvp = lambda T, y, a, da: da * (1 + y * y)


def arcsin(a):
    # d asin a = da / √(1 - a²)   (inf at a = ±1, the domain's edges)
    return np.arcsin(a), lambda g: (g / np.sqrt(1 - a * a),)


# d asin a = da / √(1 - a²)   (inf at a = ±1, as the backward)
arcsin.jvp = lambda T, y, a, da: da / T.sqrt(1 - a * a)


def arccos(a):
    # d acos a = -da / √(1 - a²)   (-inf at a = ±1)
    return np.arccos(a), lambda g: (-g / np.sqrt(1 - a * a),)


# d acos a = -da / √(1 - a²)   (-inf at a = ±1, as the backward)
arccos.jvp = lambda T, y, a, da: -da / T.sqrt(1 - a * a)


def arctan(a):
    # d atan a = da / (1 + a²)
    return np.arctan(a), lambda g: (g / (1 + a * a),)


# d atan a = da / (1 + a²)
arctan.jvp = lambda T, y, a, da: da * _vanishing_at_infinity(T, a, lambda a: 1 / (1 + a * a), da)


def sinh(a):
    # d sinh a = cosh a da
    return np.sinh(a), lambda g: (g * np.cosh(a),)


# d sinh a = cosh a da
sinh.jvp = lambda T, y, a, da: da * T.cosh(a)


def cosh(a):
    # d cosh a = sinh a da
    return np.cosh(a), lambda g: (g * np.sinh(a),)


# d cosh a = sinh a da
cosh.jvp = lambda T, y, a, da: da * T.sinh(a)


def erf(a):
    # d erf a = (2/√π) e^(-a²) da
    return erf_value(a), lambda g: (g * (2 / np.sqrt(np.pi)) * np.exp(-a * a),)


# d erf a = (2/√π) e^(-a²) da
erf.jvp = lambda T, y, a, da: da * _vanishing_at_infinity(T, a, lambda a: T.exp(-(a * a)) * _TWO_OVER_SQRT_PI, da)


# ---------------------------------------------------------------- binary and ternary


def minimum(a, b):
    # d min(a, b) = da where a < b, db where b < a; at a tie each side gets half (as torch and jax)
    y = np.minimum(a, b)

    def vjp(g):
        wa = (a < b) + 0.5 * (a == b)
        return g * wa, g * (1.0 - wa)

    return y, vjp


# d min(a, b) = da where a < b, db where b < a, the mean at a tie (the backward's convention; masks)
def _tie_weighted_min(T, a, b, da, db):
    wa = (a.value < b.value) + 0.5 * (a.value == b.value)
    return da * _mask(T, wa, da) + db * _mask(T, 1.0 - wa, db)


minimum.jvp = lambda T, y, a, b, da, db: _tie_weighted_min(T, a, b, da, db)


def clip(a, lo, hi):
    # clip(a) = a on [lo, hi], else the bound it crossed: da on lo ≤ a ≤ hi (1 at a bound, as torch.clamp;
    # the subdifferential there is [0, 1]), d lo where a < lo, d hi where a > hi
    y = np.minimum(np.maximum(a, lo), hi)

    def vjp(g):
        inside = (a >= lo) & (a <= hi)
        return g * inside, g * (a < lo), g * (a > hi)

    return y, vjp


# d clip(a, lo, hi) = da where lo ≤ a ≤ hi (at a bound too, as the backward), d lo where a < lo, d hi where
# a > hi (the three masks are piecewise constant)
clip.jvp = lambda T, y, a, lo, hi, da, dlo, dhi: (
    da * _mask(T, (a.value >= lo.value) & (a.value <= hi.value), da)
    + dlo * _mask(T, a.value < lo.value, da) + dhi * _mask(T, a.value > hi.value, da))


def where(cond, a, b):
    # where(c, a, b) picks a where c, else b: da gated by c, db by not c; the condition is data (no gradient)
    c = np.asarray(cond).astype(bool)
    return np.where(c, a, b), lambda g: (None, g * c, g * ~c)


# d where(c, a, b) = where(c, da, db): the condition is data (no tangent), a mask
where.jvp = lambda T, y, cond, a, b, dcond, da, db: T.where(T.constant(np.asarray(cond.value).astype(bool)), da, db)


def atan2(y, x):
    # θ = atan2(y, x):  dθ = (x dy - y dx) / (x² + y²)   (undefined at the origin: 0/0 there)
    r2 = x * x + y * y
    return np.arctan2(y, x), lambda g: (g * x / r2, -g * y / r2)


# θ = atan2(y, x): dθ = (x dy - y dx) / (x² + y²)   (0/0 at the origin, as the backward)
atan2.jvp = lambda T, out, y, x, dy, dx: (x * dy - y * dx) / (x * x + y * y)


def logaddexp(a, b):
    # y = log(e^a + e^b):  dy = e^(a-y) da + e^(b-y) db   (the softmax weights of a and b)
    y = np.logaddexp(a, b)
    return y, lambda g: (g * np.exp(a - y), g * np.exp(b - y))


# y = log(e^a + e^b): dy = e^(a-y) da + e^(b-y) db
logaddexp.jvp = lambda T, y, a, b, da, db: da * T.exp(a - y) + db * T.exp(b - y)


def fmod(a, b):
    # a - b·trunc(a/b):  da = 1,  db = -trunc(a/b)   (piecewise; jumps where a/b is an integer)
    return np.fmod(a, b), lambda g: (g * np.ones_like(a), -g * np.trunc(a / b))


# a - b·trunc(a/b): dy = da - trunc(a/b) db   (trunc(a/b) piecewise constant: a constant)
fmod.jvp = lambda T, y, a, b, da, db: da - db * _mask(T, np.trunc(a.value / b.value), db)


def remainder(a, b):
    # a - b·floor(a/b):  da = 1,  db = -floor(a/b)
    return np.remainder(a, b), lambda g: (g * np.ones_like(a), -g * np.floor(a / b))


# a - b·floor(a/b): dy = da - floor(a/b) db   (floor(a/b) piecewise constant: a constant)
remainder.jvp = lambda T, y, a, b, da, db: da - db * _mask(T, np.floor(a.value / b.value), db)


def xlogy(x, y):
    # x log y, defined as 0 where x = 0:  dx = log y (x log y is linear in x for y > 0, also at x = 0;
    # where x = y = 0 it is undefined and we return 0),  dy = x / y
    safe = np.where(x == 0, 1, y)
    value = np.where(x == 0, 0, x * np.log(safe))

    def vjp(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * np.where((x == 0) & (y == 0), 0, np.log(np.where(y == 0, 1, y))), g * x / y

    return value, vjp


# d(x log y) = log y dx + (x / y) dy, with the backward's conventions: the dx coefficient is log 1 = 0 where
# y = 0 (so 0 where x = y = 0); x/y as it falls (0/0 where x = y = 0, as the backward)
xlogy.jvp = lambda T, out, x, y, dx, dy: (dx * T.log(y + _mask(T, y.value == 0, dx)) + dy * x / y)


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


# y = a^b: dy = b a^(b-1) da + a^b log a db; the da term is 0 where b = 0 (a^0 = 1) and the db term 0 where
# a = 0 and b ≥ 0 (the backward's masks), computed on a base moved to 1 there so no 0·inf enters the tape
def _pow_tangent(T, y, a, b, da, db):
    shape = np.broadcast_shapes(a.shape, b.shape)
    a0 = a.value == 0
    terms = []
    if _moves(da):
        # b a^(b-1), 0 where a = b = 0 (elsewhere b = 0 gives 0 by itself), on a base moved to 1 there
        flat = np.broadcast_to(a0 & (b.value == 0), shape)
        terms.append(da * (b * (a + _mask(T, flat, da)) ** (b - 1) * _mask(T, ~flat, da)))
    if _moves(db):
        # a^b log a, 0 where a = 0 and b ≥ 0 (y = 0 there for b > 0): the log of a base moved to 1 there
        lifted = np.broadcast_to(a0 & (b.value >= 0), shape)
        terms.append(db * (y * T.log(a + _mask(T, lifted, db))))
    # a held input contributes nothing ((-2)^b's log is NaN, but J·v along da alone is b a^(b-1) da)
    return terms[0] + terms[1] if len(terms) == 2 else terms[0] if terms else _no_tangent(T, y, da)


pow.jvp = lambda T, y, a, b, da, db: _pow_tangent(T, y, a, b, da, db)


# ---------------------------------------------------------------- activations


def softplus(a, *, beta=1.0, threshold=20.0):
    # y = log(1 + e^(βa))/β:  dy = σ(βa) da   (exact: the core applies no threshold; torch turns linear above
    # βa > threshold, where σ(βa) = 1 - e^(-20) ≈ 1 anyway)
    z = beta * a
    return np.logaddexp(0, z) / beta, lambda g: (g * sigmoid_value(z),)


# y = log(1 + e^(βa))/β: dy = σ(βa) da   (no threshold, as the backward)
softplus.jvp = lambda T, y, a, da, *, beta=1.0, threshold=20.0: da * T.sigmoid(a * beta)


def log_sigmoid(a):
    # y = -log(1 + e^-a):  dy = σ(-a) da = (1 - σ(a)) da
    return -np.logaddexp(0, -a), lambda g: (g * sigmoid_value(-a),)


# y = -log(1 + e^-a): dy = σ(-a) da
log_sigmoid.jvp = lambda T, y, a, da: da * T.sigmoid(-a)


def relu6(a):
    # min(max(a, 0), 6):  1 on (0, 6), 0 outside; 0 at both kinks (as torch and jax)
    return np.minimum(np.maximum(a, 0), 6), lambda g: (g * ((a > 0) & (a < 6)),)


# d min(max(a, 0), 6) = da on (0, 6), else 0 (0 at both kinks, as the backward; a mask)
relu6.jvp = lambda T, y, a, da: da * _mask(T, (a.value > 0) & (a.value < 6), da)


def leaky_relu(a, *, negative_slope=0.01):
    # a for a > 0, slope·a otherwise:  1 for a > 0, slope for a ≤ 0 (slope at the kink, as torch)
    return np.where(a > 0, a, negative_slope * a), lambda g: (g * np.where(a > 0, 1, negative_slope),)


# d leaky_relu a = da for a > 0, slope·da for a ≤ 0 (the slope at the kink, as the backward; a mask)
leaky_relu.jvp = lambda T, y, a, da, *, negative_slope=0.01: da * _mask(T, np.where(a.value > 0, 1, negative_slope), da)


def elu(a, *, alpha=1.0):
    # a for a > 0, α(e^a - 1) otherwise:  1 for a > 0, α e^a = y + α for a ≤ 0
    neg = alpha * np.expm1(np.minimum(a, 0))
    return np.where(a > 0, a, neg), lambda g: (g * np.where(a > 0, 1, neg + alpha),)


# d elu a = da for a > 0, α e^a da = (y + α) da for a ≤ 0 (α at a = 0, the left side, as the backward)
elu.jvp = lambda T, y, a, da, *, alpha=1.0: T.where(T.constant(a.value > 0), da, da * (y + alpha))


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(a):
    # λ·elu(a, α):  λ for a > 0, λα e^a for a ≤ 0 (a kink at 0: left λα, right λ)
    neg = SELU_ALPHA * np.expm1(np.minimum(a, 0))
    y = SELU_SCALE * np.where(a > 0, a, neg)
    return y, lambda g: (g * SELU_SCALE * np.where(a > 0, 1, neg + SELU_ALPHA),)


# d selu a = λ da for a > 0, λα e^a da = (y + λα) da for a ≤ 0 (the left side at the kink, as the backward)
selu.jvp = lambda T, y, a, da: T.where(T.constant(a.value > 0), da * SELU_SCALE, da * (y + SELU_SCALE * SELU_ALPHA))


def celu(a, *, alpha=1.0):
    # max(0, a) + min(0, α(e^(a/α) - 1)):  1 for a > 0, e^(a/α) for a ≤ 0 (C1 at 0)
    neg = alpha * np.expm1(np.minimum(a, 0) / alpha)
    return np.where(a > 0, a, neg), lambda g: (g * np.where(a > 0, 1, neg / alpha + 1),)


# d celu a = da for a > 0, e^(a/α) da = (y/α + 1) da for a ≤ 0
celu.jvp = lambda T, y, a, da, *, alpha=1.0: T.where(T.constant(a.value > 0), da, da * (y / alpha + 1))


def gelu(a):
    # a Φ(a), Φ the normal cdf = (1 + erf(a/√2))/2:  d = Φ(a) + a φ(a),  φ(a) = e^(-a²/2)/√(2π)
    cdf = 0.5 * (1 + erf_value(a / np.sqrt(2)))
    return a * cdf, lambda g: (g * (cdf + a * np.exp(-0.5 * a * a) / np.sqrt(2 * np.pi)),)


# d(a Φ(a)) = (Φ(a) + a φ(a)) da,  Φ(a) = (1 + erf(a/√2))/2,  φ(a) = e^(-a²/2)/√(2π)
gelu.jvp = lambda T, y, a, da: da * (0.5 * (1 + T.erf(a * _SQRT_HALF)) + a * T.exp(-0.5 * (a * a)) * _INV_SQRT_2PI)


_K = np.sqrt(2 / np.pi)


def gelu_tanh(a):
    # ½a(1 + t), t = tanh(k(a + 0.044715a³)):  d = ½(1 + t) + ½a(1 - t²)·k(1 + 3·0.044715a²)
    t = np.tanh(_K * (a + 0.044715 * a * a * a))
    return 0.5 * a * (1 + t), lambda g: (g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * _K * (1 + 0.134145 * a * a)),)


# d ½a(1 + t) = (½(1 + t) + ½a(1 - t²)·k(1 + 3·0.044715a²)) da,  t = tanh(k(a + 0.044715a³))
def _gelu_tanh_slope(T, a):
    t = T.tanh((a + 0.044715 * a * a * a) * float(_K))
    return 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * (1 + 0.134145 * a * a) * float(_K)


gelu_tanh.jvp = lambda T, y, a, da: da * _gelu_tanh_slope(T, a)


def silu(a):
    # a σ(a):  d = σ(a) + a σ(a)(1 - σ(a)) = σ(a)(1 + a(1 - σ(a)))
    s = sigmoid_value(a)
    return a * s, lambda g: (g * s * (1 + a * (1 - s)),)


# d(a σ(a)) = σ(a)(1 + a(1 - σ(a))) da
def _silu_slope(T, a):
    s = T.sigmoid(a)
    return s * (1 + a * (1 - s))


silu.jvp = lambda T, y, a, da: da * _silu_slope(T, a)


def mish(a):
    # a tanh(softplus(a)):  d = t + a (1 - t²) σ(a),  t = tanh(softplus(a)), softplus' = σ
    t = np.tanh(np.logaddexp(0, a))
    return a * t, lambda g: (g * (t + a * (1 - t * t) * sigmoid_value(a)),)


# d(a tanh(softplus a)) = (t + a(1 - t²)σ(a)) da,  t = tanh(softplus a)
def _mish_slope(T, a):
    t = T.tanh(T.softplus(a))
    return t + a * (1 - t * t) * T.sigmoid(a)


mish.jvp = lambda T, y, a, da: da * _mish_slope(T, a)


def hardtanh(a, *, min_val=-1.0, max_val=1.0):
    # clip(a, min, max):  1 on the open interval, 0 outside and at both kinks (as torch)
    return np.clip(a, min_val, max_val), lambda g: (g * ((a > min_val) & (a < max_val)),)


# d clip(a, min, max) = da strictly inside, else 0 (0 at both kinks, as the backward; a mask)
hardtanh.jvp = lambda T, y, a, da, *, min_val=-1.0, max_val=1.0: da * _mask(
    T, (a.value > min_val) & (a.value < max_val), da)


def hard_sigmoid(a):
    # relu6(a + 3)/6:  1/6 on (-3, 3), 0 outside and at the kinks (as torch and jax)
    return np.minimum(np.maximum(a + 3, 0), 6) / 6, lambda g: (g * ((a > -3) & (a < 3)) / 6,)


# d relu6(a + 3)/6 = da/6 on (-3, 3), else 0 (0 at the kinks, as the backward; a mask)
hard_sigmoid.jvp = lambda T, y, a, da: da * _mask(T, ((a.value > -3) & (a.value < 3)) / 6, da)


def hard_swish(a):
    # a relu6(a + 3)/6:  0 for a ≤ -3, (2a + 3)/6 between, 1 for a ≥ 3; at the kinks (left/right 0/-½ at -3,
    # 3/2/1 at 3) the outer pieces' 0 and 1, as torch and jax
    y = a * np.minimum(np.maximum(a + 3, 0), 6) / 6
    return y, lambda g: (g * np.where(a <= -3, 0, np.where(a < 3, (2 * a + 3) / 6, 1)),)


# d a·relu6(a + 3)/6 = 0 for a ≤ -3, (2a + 3)/6 da between, da for a ≥ 3 (the outer pieces at the kinks, as
# the backward)
hard_swish.jvp = lambda T, y, a, da: T.where(T.constant((a.value > -3) & (a.value < 3)), da * (2 * a + 3) / 6,
                                             da * _mask(T, a.value >= 3, da))


def softsign(a):
    # a / (1 + |a|):  d = 1 / (1 + |a|)²   (smooth at 0: both sides give 1)
    d = 1 + np.abs(a)
    return a / d, lambda g: (g / (d * d),)


# d a/(1 + |a|) = da / (1 + |a|)²
softsign.jvp = lambda T, y, a, da: da / ((1 + T.abs(a)) * (1 + T.abs(a)))
