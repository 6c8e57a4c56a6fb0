"""Reductions, scans and normalisations: each forward beside its hand-derived backward (same form as ``ops``).

``axis`` is an int or None (all axes) unless said otherwise. At ties (max, min, the ∞-norm) the gradient is
split evenly among the tied elements: the symmetric subgradient, which torch.amax and jnp.max return too.
"""

from __future__ import annotations

import numpy as np

from .ops import _restore_reduced


def _last(a, axis):
    """``a`` with ``axis`` moved last (all axes flattened into one when axis is None)."""
    return a.reshape(-1) if axis is None else np.moveaxis(a, axis, -1)


def _back(g, shape, axis):
    return g.reshape(shape) if axis is None else np.moveaxis(g, -1, axis)


def _extreme(a, axis, keepdims, pick):
    y = pick(a, axis=axis, keepdims=keepdims)

    def vjp(g):
        full = _restore_reduced(y, a.shape, axis, keepdims)
        hit = (a == full)
        count = _restore_reduced(np.sum(hit, axis=axis, keepdims=keepdims), a.shape, axis, keepdims)
        return (_restore_reduced(g, a.shape, axis, keepdims) * hit / count,)

    return y, vjp


def max(a, *, axis=None, keepdims=False):  # noqa: A001
    # d max = dx at the argmax; ties share it evenly (each gets 1/k: a point of the subdifferential's simplex)
    return _extreme(a, axis, keepdims, np.max)


def min(a, *, axis=None, keepdims=False):  # noqa: A001
    # d min = dx at the argmin; ties share it evenly
    return _extreme(a, axis, keepdims, np.min)


def prod(a, *, axis=None, keepdims=False):
    # d Πa = Σ_i (Π_{j≠i} a_j) da_i; the product of the others is taken as (prefix product) × (suffix product),
    # never y / a_i, so a zero in a is exact
    y = np.prod(a, axis=axis, keepdims=keepdims)

    def vjp(g):
        m = _last(a, axis)
        ones = np.ones_like(m[..., :1])
        before = np.cumprod(np.concatenate([ones, m[..., :-1]], axis=-1), axis=-1)
        after = np.flip(np.cumprod(np.concatenate([ones, np.flip(m, -1)[..., :-1]], axis=-1), axis=-1), -1)
        others = _back(before * after, a.shape, axis)
        return (_restore_reduced(g, a.shape, axis, keepdims) * others,)

    return y, vjp


def logsumexp(a, *, axis=None, keepdims=False):
    # y = log Σ e^a:  dy = Σ softmax(a)_i da_i = Σ e^(a_i - y) da_i
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    yk = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    y = yk if keepdims else (np.reshape(yk, ()) if axis is None else np.squeeze(yk, axis))
    return y, lambda g: (_restore_reduced(g, a.shape, axis, keepdims) * np.exp(a - yk),)


def _count(a, axis):
    return a.size if axis is None else a.shape[axis]


def var(a, *, axis=None, ddof=0, keepdims=False):
    # v = Σ (a - ā)² / (n - ddof):  dv = 2 (a - ā) / (n - ddof) da   (the Σ(a - ā) dā term is 0)
    centred = a - np.mean(a, axis=axis, keepdims=True)
    n = _count(a, axis)
    y = np.sum(centred * centred, axis=axis, keepdims=keepdims) / (n - ddof)
    return y, lambda g: (_restore_reduced(g, a.shape, axis, keepdims) * 2 * centred / (n - ddof),)


def std(a, *, axis=None, ddof=0, keepdims=False):
    # s = √v:  ds = dv / (2s) = (a - ā) / ((n - ddof) s) da;  0 where s = 0 (constant input: the
    # subgradient 0, as torch; the derivative does not exist there)
    centred = a - np.mean(a, axis=axis, keepdims=True)
    n = _count(a, axis)
    sk = np.sqrt(np.sum(centred * centred, axis=axis, keepdims=True) / (n - ddof))
    y = sk if keepdims else (np.reshape(sk, ()) if axis is None else np.squeeze(sk, axis))

    def vjp(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(sk == 0, 0, centred / ((n - ddof) * np.where(sk == 0, 1, sk)))
        return (_restore_reduced(g, a.shape, axis, keepdims) * d,)

    return y, vjp


def norm(a, *, ord=2):  # noqa: A002
    # over all elements.  ord 1: Σ|a|, d = sign(a);  ord 2 (and "fro"): √Σa², d = a/‖a‖ (0 at a = 0, a point
    # of the unit ball that is the subdifferential there, as torch);  ord inf: max|a|, d = sign(a)/k at the
    # k elements of largest |a|
    flat = np.abs(a)
    if ord == 1:
        return np.sum(flat), lambda g: (g * np.sign(a),)
    if ord in (2, "fro"):
        y = np.sqrt(np.sum(a * a))
        return y, lambda g: (g * (a / y if y != 0 else np.zeros_like(a)),)
    if ord in (np.inf, "inf"):
        y = np.max(flat)
        hit = flat == y
        return y, lambda g: (g * np.sign(a) * hit / np.sum(hit),)
    raise ValueError(f"norm: ord must be 1, 2, inf or 'fro', got {ord!r}")


def cumsum(a, *, axis):
    # y_j = Σ_{i≤j} a_i:  da_i = Σ_{j≥i} g_j (a reversed cumulative sum of the gradient)
    return np.cumsum(a, axis=axis), lambda g: (np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis),)


def cumprod(a, *, axis):
    # y_j = Π_{i≤j} a_i:  da_i = Σ_{j≥i} g_j Π_{k≤j, k≠i} a_k   (each product taken without a_i, never
    # y_j / a_i, so zeros are exact; O(n²) in the axis' length)
    y = np.cumprod(a, axis=axis)

    def vjp(g):
        m, gm = np.moveaxis(a, axis, -1), np.moveaxis(g, axis, -1)
        out = np.empty_like(gm * m)
        for i in range(m.shape[-1]):
            without = m.copy()
            without[..., i] = 1
            out[..., i] = np.sum((gm * np.cumprod(without, axis=-1))[..., i:], axis=-1)
        return (np.moveaxis(out, -1, axis),)

    return y, vjp


def cummax(a, *, axis):
    # y_j = max_{i≤j} a_i:  g_j goes to the index of the running maximum; at a tie the latest index
    # (as torch.cummax's indices), a vertex of the subdifferential
    m = np.moveaxis(a, axis, -1)
    idx = np.zeros(m.shape, dtype=np.intp)
    best = m[..., 0].copy()
    cur = np.zeros(m.shape[:-1], dtype=np.intp)
    for j in range(m.shape[-1]):
        take = m[..., j] >= best
        best = np.where(take, m[..., j], best)
        cur = np.where(take, j, cur)
        idx[..., j] = cur
    y = np.moveaxis(np.take_along_axis(m, idx, -1), -1, axis)

    def vjp(g):
        gm = np.moveaxis(g, axis, -1)
        out = np.zeros_like(gm)
        n = gm.shape[-1]
        flat_out, flat_g, flat_i = out.reshape(-1, n), gm.reshape(-1, n), idx.reshape(-1, n)
        for r in range(flat_out.shape[0]):
            np.add.at(flat_out[r], flat_i[r], flat_g[r])
        return (np.moveaxis(flat_out.reshape(gm.shape), -1, axis),)

    return y, vjp


def sort(a, *, axis=-1):
    # a permutation: each sorted value's gradient goes back to where it came from (ties in stable order)
    order = np.argsort(a, axis=axis, kind="stable")
    y = np.take_along_axis(a, order, axis)

    def vjp(g):
        out = np.zeros_like(g)
        np.put_along_axis(out, order, g, axis)
        return (out,)

    return y, vjp


def median(a, *, axis=None):
    # an odd count: the middle order statistic; its gradient goes to that element (at ties, to one of them)
    m = _last(a, axis)
    if m.shape[-1] % 2 == 0:
        raise ValueError("median: the op takes an odd count of elements (frameworks define even counts differently)")
    order = np.argsort(m, axis=-1, kind="stable")
    mid = order[..., m.shape[-1] // 2:m.shape[-1] // 2 + 1]
    y = np.take_along_axis(m, mid, -1)[..., 0]

    def vjp(g):
        out = np.zeros_like(m * np.asarray(g)[..., None])
        np.put_along_axis(out, mid, np.asarray(g)[..., None], -1)
        return (_back(out, a.shape, axis),)

    return y, vjp


def softmax(a, *, axis=-1):
    # y = e^a / Σe^a:  dy_i = y_i (da_i - Σ_j y_j da_j)  ⇒  vjp: y (g - Σ g y)
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    y = e / np.sum(e, axis=axis, keepdims=True)
    return y, lambda g: (y * (g - np.sum(g * y, axis=axis, keepdims=True)),)


def log_softmax(a, *, axis=-1):
    # y = a - logΣe^a:  vjp: g - softmax(a) Σ g
    shifted = a - np.max(a, axis=axis, keepdims=True)
    y = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return y, lambda g: (g - np.exp(y) * np.sum(g, axis=axis, keepdims=True),)
