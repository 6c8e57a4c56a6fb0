"""Every op of the core: its forward value and its hand-derived backward, side by side.

An op is a function ``op(*arrays, **attrs) -> (y, vjp)``. ``vjp(g)`` takes the
upstream gradient dL/dy (same shape as ``y``) and returns one downstream
gradient per array input, in the broadcast shape of the forward. Summing a
gradient back to its input's own shape (undoing numpy broadcasting) is done
once, by the tape, not in each rule.

The one-line comment above each backward is the derivation.

Forward mode: each op also carries its forward-mode rule, ``op.jvp(T, y, *arrays, *tangents, **attrs)``, the
output's tangent from the inputs' (``T`` holds the tape's ops: the rule is computed on tensors, so it can itself
be differentiated — see ``tape.tangent_of``). Its comment is the derivation. A linear op is marked
``op.linear = True`` (its tangent is the op applied to the tangents) and a product ``op.multilinear = True``
(one term per argument).
"""

from __future__ import annotations

import numpy as np


# ---------------------------------------------------------------- elementwise, binary


def add(a, b):
    # d(a + b) = da + db
    return a + b, lambda g: (g, g)


add.linear = True  # d(a + b) = da + db: the op itself on the tangents


def subtract(a, b):
    # d(a - b) = da - db
    return a - b, lambda g: (g, -g)


subtract.linear = True  # d(a - b) = da - db


def multiply(a, b):
    # d(ab) = b da + a db  (the "swap rule"); a side nobody needs (a constant) costs no product
    def vjp(g, needs=(True, True)):
        return (g * b if needs[0] else None, g * a if needs[1] else None)

    vjp.takes_needs = True
    return a * b, vjp


multiply.multilinear = True  # d(ab) = da b + a db


def divide(a, b):
    # d(a / b) = da / b - (a / b²) db = da / b - y db / b
    y = a / b
    return y, lambda g: (g / b, -g * y / b)


# d(a / b) = (da - y db) / b
divide.jvp = lambda T, y, a, b, da, db: (da - y * db) / b


def _tie_weighted(T, a, b, da, db):
    wa = (a.value > b.value) + 0.5 * (a.value == b.value)
    return da * T.constant(wa.astype(da.dtype)) + db * T.constant((1.0 - wa).astype(db.dtype))


def maximum(a, b):
    # d max(a, b) = da where a > b, db where b > a; at a tie each side gets half
    # (the symmetric subgradient, which is also what torch and jax return).
    y = np.maximum(a, b)

    def vjp(g):
        wa = (a > b) + 0.5 * (a == b)
        return g * wa, g * (1.0 - wa)

    return y, vjp


# d max(a, b) = da where a > b, db where b > a, the mean at a tie (the backward's convention)
maximum.jvp = lambda T, y, a, b, da, db: _tie_weighted(T, a, b, da, db)


# ---------------------------------------------------------------- elementwise, unary


def negative(a):
    # d(-a) = -da
    return -a, lambda g: (-g,)


negative.linear = True  # d(-a) = -da


def power(a, *, exponent):
    # d(a^p) = p a^(p-1) da   (p a constant; for p = 0, a^0 = 1 and the derivative is 0, even at a = 0
    # where p a^(p-1) would be 0·inf)
    if exponent == 0:
        return np.ones_like(a), lambda g: (np.zeros_like(g * a),)
    return a**exponent, lambda g: (g * exponent * a ** (exponent - 1),)


# d a^p = p a^(p-1) da (0 for p = 0)
power.jvp = lambda T, y, a, da, *, exponent: da * 0 if exponent == 0 else da * exponent * a ** (exponent - 1)


def exp(a):
    # d exp(a) = exp(a) da = y da
    y = np.exp(a)
    return y, lambda g: (g * y,)


# d e^a = y da
exp.jvp = lambda T, y, a, da: da * y


def log(a):
    # d log(a) = da / a
    return np.log(a), lambda g: (g / a,)


# d log a = da / a
log.jvp = lambda T, y, a, da: da / a


def sin(a):
    # d sin(a) = cos(a) da
    return np.sin(a), lambda g: (g * np.cos(a),)


# d sin a = cos a da
sin.jvp = lambda T, y, a, da: da * T.cos(a)


def cos(a):
    # d cos(a) = -sin(a) da
    return np.cos(a), lambda g: (-g * np.sin(a),)


# d cos a = -sin a da
cos.jvp = lambda T, y, a, da: -da * T.sin(a)


def tanh(a):
    # d tanh(a) = (1 - y²) da
    y = np.tanh(a)
    return y, lambda g: (g * (1 - y * y),)


# d tanh a = (1 - y²) da
tanh.jvp = lambda T, y, a, da: da * (1 - y * y)


def sigmoid_value(a):
    """1 / (1 + e^-a); overflow of e^-a for a < -709 correctly gives 0."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-a))


def sigmoid(a):
    # d σ(a) = σ(a)(1 - σ(a)) da = y(1 - y) da   (at most 1/4, at a = 0)
    y = sigmoid_value(a)
    return y, lambda g: (g * y * (1 - y),)


# d σ(a) = y (1 - y) da
sigmoid.jvp = lambda T, y, a, da: da * y * (1 - y)


def relu(a):
    # d max(0, a) = da where a > 0, else 0   (0 at a = 0, as torch and jax)
    return np.maximum(a, 0), lambda g: (g * (a > 0),)


# d relu a = da where a > 0, else 0 (0 at a = 0, the backward's convention)
relu.jvp = lambda T, y, a, da: da * (a > 0)


# ---------------------------------------------------------------- linear algebra and shape


def matmul(a, b):
    # C = AB:  dA = dC Bᵀ,  dB = Aᵀ dC   (1-D operands promoted, as numpy does)
    y = a @ b

    def vjp(g, needs=(True, True)):
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = np.expand_dims(g, -1) if b.ndim == 1 else g  # restore the column the vector b lost
        g2 = np.expand_dims(g2, -2) if a.ndim == 1 else g2  # then the row the vector a lost
        da = g2 @ np.swapaxes(b2, -1, -2) if needs[0] else None  # a constant operand costs no product
        db = np.swapaxes(a2, -1, -2) @ g2 if needs[1] else None
        if a.ndim == 1 and da is not None:
            da = da[..., 0, :]
        if b.ndim == 1 and db is not None:
            db = db[..., 0]
        return da, db

    vjp.takes_needs = True
    return y, vjp


matmul.multilinear = True  # d(AB) = dA B + A dB


def _restore_reduced(g, shape, axis, keepdims):
    """Give g back the axes a reduction removed, so it broadcasts to ``shape``."""
    if axis is not None and not keepdims:
        axes = (axis,) if np.isscalar(axis) else tuple(axis)
        g = np.expand_dims(g, tuple(ax % len(shape) for ax in axes))
    elif axis is None and not keepdims:
        g = np.reshape(g, (1,) * len(shape))
    return np.broadcast_to(g, shape)


def sum(a, *, axis=None, keepdims=False):  # noqa: A001 - the op's own name
    # d Σa = da summed: every summed element receives the upstream gradient once
    y = np.sum(a, axis=axis, keepdims=keepdims)
    return y, lambda g: (_restore_reduced(g, a.shape, axis, keepdims),)


sum.linear = True  # d Σa = Σ da


def mean(a, *, axis=None, keepdims=False):
    # d mean(a) = (1/n) Σ da over the n averaged elements
    y = np.mean(a, axis=axis, keepdims=keepdims)
    n = a.size // max(y.size, 1) if a.size else 1
    return y, lambda g: (_restore_reduced(g, a.shape, axis, keepdims) / n,)


mean.linear = True  # d mean(a) = mean(da)


def reshape(a, *, shape):
    # reshape moves no values: the gradient is reshaped back
    return np.reshape(a, shape), lambda g: (np.reshape(g, a.shape),)


reshape.linear = True  # moves no values: the tangent is reshaped


def transpose(a, *, axes=None):
    # a permutation of axes: the gradient takes the inverse permutation
    perm = tuple(reversed(range(a.ndim))) if axes is None else tuple(ax % a.ndim for ax in axes)
    inverse = tuple(np.argsort(perm))
    return np.transpose(a, perm), lambda g: (np.transpose(g, inverse),)


transpose.linear = True  # a permutation: the tangent is permuted


