"""Reductions, scans and normalisations: each forward beside its hand-derived backward (same form as ``ops``).

``axis`` is an int or None (all axes) unless said otherwise. At ties (max, min, the ∞-norm) the gradient is
split evenly among the tied elements: the symmetric subgradient, which torch.amax and jnp.max return too.

Forward mode: each op's rule ``op.jvp(T, y, a, da, **attrs)`` follows it, computed with the tape's ops (``T``) so
that reverse over forward gives H·v; what a rule reads from ``.value`` is piecewise constant (tie weights, the
positions a sort or a running maximum picks). At ties the tangent takes the backward's convention.
"""

from __future__ import annotations

import numpy as np

from .ops import _restore_reduced


def _last(a, axis):
    """``a`` with ``axis`` moved last (all axes flattened into one when axis is None)."""
    return a.reshape(-1) if axis is None else np.moveaxis(a, axis, -1)


def _back(g, shape, axis):
    return g.reshape(shape) if axis is None else np.moveaxis(g, -1, axis)


def _kept(t, ndim, axis, keepdims):
    """A reduction's output (array or tape tensor) with the reduced axes back as 1s (broadcasts against a)."""
    if keepdims:
        return t
    if axis is None:
        return t.reshape((1,) * ndim)
    if isinstance(t, np.ndarray) or np.isscalar(t):
        return np.expand_dims(t, axis)
    from .tape import T

    return T.expand_dims(t, axis=axis)


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


def _extreme_jvp(T, y, a, da, *, axis=None, keepdims=False):
    # d max = Σ_ties da / k: the tangent at the k tied extremes, averaged (the backward's even split); the tie
    # weights are piecewise constant
    hit = a.value == _kept(y.value, a.ndim, axis, keepdims)
    weights = hit / np.sum(hit, axis=axis, keepdims=True)
    return T.sum(da * T.constant(weights.astype(da.dtype)), axis=axis, keepdims=keepdims)


max.jvp = _extreme_jvp  # d max = the mean of da over the tied maxima
min.jvp = _extreme_jvp  # d min = the mean of da over the tied minima


def _to_last(T, t, axis):
    """A tape tensor with ``axis`` moved last (flattened when axis is None)."""
    if axis is None:
        return t.reshape(-1)
    perm = [i for i in range(t.ndim) if i != axis % t.ndim] + [axis % t.ndim]
    return T.transpose(t, axes=tuple(perm))


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


def _prod_jvp(T, y, a, da, *, axis=None, keepdims=False):
    # d Πa = Σ_i (Π_{j≠i} a_j) da_i, the product of the others as (prefix product) × (suffix product) on the tape
    # (no division: exact at zeros, and its own derivative is exact too)
    m, dm = _to_last(T, a, axis), _to_last(T, da, axis)
    ones = T.constant(np.ones(m.shape[:-1] + (1,), dtype=m.dtype))
    before = T.cumprod(T.concatenate(ones, m[..., :-1], axis=-1), axis=-1)
    after = T.flip(T.cumprod(T.concatenate(ones, T.flip(m, axis=-1)[..., :-1], axis=-1), axis=-1), axis=-1)
    return T.reshape(T.sum(before * after * dm, axis=-1), shape=y.shape)


prod.jvp = _prod_jvp


def logsumexp(a, *, axis=None, keepdims=False):
    # y = log Σ e^a:  dy = Σ softmax(a)_i da_i = Σ e^(a_i - y) da_i
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    yk = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    y = yk if keepdims else (np.reshape(yk, ()) if axis is None else np.squeeze(yk, axis))
    return y, lambda g: (_restore_reduced(g, a.shape, axis, keepdims) * np.exp(a - yk),)


# d log Σe^a = Σ e^(a - y) da  (softmax weights; e^(-inf) = 0 at a -inf element)
logsumexp.jvp = lambda T, y, a, da, *, axis=None, keepdims=False: \
    T.sum(T.exp(a - _kept(y, a.ndim, axis, keepdims)) * da, axis=axis, keepdims=keepdims)


def _count(a, axis):
    return a.size if axis is None else a.shape[axis]


def var(a, *, axis=None, ddof=0, keepdims=False):
    # v = Σ (a - ā)² / (n - ddof):  dv = 2 (a - ā) / (n - ddof) da   (the Σ(a - ā) dā term is 0)
    centred = a - np.mean(a, axis=axis, keepdims=True)
    n = _count(a, axis)
    y = np.sum(centred * centred, axis=axis, keepdims=keepdims) / (n - ddof)
    return y, lambda g: (_restore_reduced(g, a.shape, axis, keepdims) * 2 * centred / (n - ddof),)


# dv = 2 Σ (a - ā) da / (n - ddof)   (the mean is on the tape: its own derivative gives the Hessian's -11ᵀ/n)
var.jvp = lambda T, y, a, da, *, axis=None, ddof=0, keepdims=False: T.sum(
    (a - T.mean(a, axis=axis, keepdims=True)) * da, axis=axis, keepdims=keepdims
) * (2.0 / (_count(a.value, axis) - ddof))


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


def _std_jvp(T, y, a, da, *, axis=None, ddof=0, keepdims=False):
    # ds = Σ (a - ā) da / ((n - ddof) s);  0 where s = 0 (the backward's subgradient; s is replaced by 1 there
    # under a mask, so the reverse sweep never divides by 0)
    live = y.value != 0
    safe = T.where(T.constant(live), y, T.constant(np.ones(y.shape, dtype=y.dtype)))
    dot = T.sum((a - T.mean(a, axis=axis, keepdims=True)) * da, axis=axis, keepdims=keepdims)
    return dot / (safe * float(_count(a.value, axis) - ddof)) * T.constant(live.astype(y.dtype))


std.jvp = _std_jvp


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


def _norm_jvp(T, y, a, da, *, ord=2):  # noqa: A002
    # ord 1: d Σ|a| = Σ sign(a) da (sign is piecewise constant; 0 at a zero element, as the backward);
    # ord 2 / fro: d ‖a‖ = Σ a da / ‖a‖, 0 at a = 0 (the backward's point of the unit ball);
    # ord inf: d max|a| = Σ sign(a) da / k over the k elements of largest |a| (the backward's even split)
    if ord == 1:
        return (da * T.constant(np.sign(a.value))).sum()
    if ord in (2, "fro"):
        live = y.value != 0
        safe = T.where(T.constant(live), y, T.constant(np.ones(y.shape, dtype=y.dtype)))
        return (a * da).sum() / safe * T.constant(live.astype(y.dtype))
    hit = np.abs(a.value) == y.value
    return (da * T.constant((np.sign(a.value) * hit / np.sum(hit)).astype(da.dtype))).sum()


norm.jvp = _norm_jvp


def cumsum(a, *, axis):
    # y_j = Σ_{i≤j} a_i:  da_i = Σ_{j≥i} g_j (a reversed cumulative sum of the gradient)
    return np.cumsum(a, axis=axis), lambda g: (np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis),)


cumsum.linear = True  # d cumsum(a) = cumsum(da)


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


def _cumprod_jvp(T, y, a, da, *, axis):
    # dy_j = Σ_{i≤j} (Π_{k≤j, k≠i} a_k) da_i: for each i the running product of a with a_i set to 1, times da_i,
    # from position i on (no division: exact at zeros; O(n) tape ops of length n, as the backward)
    n, ax = a.shape[axis], axis % a.ndim
    along = (1,) * ax + (n,) + (1,) * (a.ndim - ax - 1)
    pos = np.arange(n).reshape(along)
    dy = None
    for i in range(n):
        at_i = (pos == i).astype(a.dtype)
        without = T.cumprod(a * T.constant(1 - at_i) + T.constant(at_i), axis=axis)
        da_i = T.sum(da * T.constant(at_i), axis=axis, keepdims=True)
        term = without * da_i * T.constant((pos >= i).astype(a.dtype))
        dy = term if dy is None else dy + term
    return dy


cumprod.jvp = _cumprod_jvp


def _cummax_index(m):
    """Per position of the last axis of ``m``, the index of the running maximum (the latest at a tie)."""
    idx = np.zeros(m.shape, dtype=np.intp)
    best = m[..., 0].copy()
    cur = np.zeros(m.shape[:-1], dtype=np.intp)
    for j in range(m.shape[-1]):
        take = m[..., j] >= best
        best = np.where(take, m[..., j], best)
        cur = np.where(take, j, cur)
        idx[..., j] = cur
    return idx


def cummax(a, *, axis):
    # y_j = max_{i≤j} a_i:  g_j goes to the index of the running maximum; at a tie the latest index
    # (as torch.cummax's indices), a vertex of the subdifferential
    m = np.moveaxis(a, axis, -1)
    idx = _cummax_index(m)
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


# dy_j = da at the running maximum's index (the latest at a tie, as the backward); the indices are piecewise
# constant
cummax.jvp = lambda T, y, a, da, *, axis: T.take_along_axis(
    da, T.constant(np.moveaxis(_cummax_index(np.moveaxis(a.value, axis, -1)), -1, axis)), axis=axis)


def sort(a, *, axis=-1):
    # a permutation: each sorted value's gradient goes back to where it came from (ties in stable order)
    order = np.argsort(a, axis=axis, kind="stable")
    y = np.take_along_axis(a, order, axis)

    def vjp(g):
        out = np.zeros_like(g)
        np.put_along_axis(out, order, g, axis)
        return (out,)

    return y, vjp


# d sort(a) = da permuted by the same (stable) order: the permutation is piecewise constant
sort.jvp = lambda T, y, a, da, *, axis=-1: T.take_along_axis(
    da, T.constant(np.argsort(a.value, axis=axis, kind="stable")), axis=axis)


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


def _median_jvp(T, y, a, da, *, axis=None):
    # d median = da at the middle order statistic (the stable order's, as the backward); the position is
    # piecewise constant
    if axis is None:
        return da.reshape(-1)[int(np.argsort(a.value.reshape(-1), kind="stable")[a.value.size // 2])]
    order = np.argsort(a.value, axis=axis, kind="stable")
    mid = np.take(order, [a.shape[axis] // 2], axis=axis)
    return T.squeeze(T.take_along_axis(da, T.constant(mid), axis=axis), axis=axis)


median.jvp = _median_jvp


def softmax(a, *, axis=-1):
    # y = e^a / Σe^a:  dy_i = y_i (da_i - Σ_j y_j da_j)  ⇒  vjp: y (g - Σ g y)
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    y = e / np.sum(e, axis=axis, keepdims=True)
    return y, lambda g: (y * (g - np.sum(g * y, axis=axis, keepdims=True)),)


# dy = y (da - Σ y da)
softmax.jvp = lambda T, y, a, da, *, axis=-1: y * (da - T.sum(y * da, axis=axis, keepdims=True))


def log_softmax(a, *, axis=-1):
    # y = a - logΣe^a:  vjp: g - softmax(a) Σ g
    shifted = a - np.max(a, axis=axis, keepdims=True)
    y = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return y, lambda g: (g - np.exp(y) * np.sum(g, axis=axis, keepdims=True),)


# dy = da - Σ softmax(a) da, softmax(a) = e^y
log_softmax.jvp = lambda T, y, a, da, *, axis=-1: da - T.sum(T.exp(y) * da, axis=axis, keepdims=True)
