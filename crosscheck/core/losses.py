"""Losses, each a scalar op with its hand-derived backward (same form as ``ops``), and its forward-mode rule
``op.jvp(T, y, *arrays, *tangents, **attrs)`` computed with the tape's ops (see ``ops`` and ``tape.tangent_of``).
Labels and masks are data: piecewise-constant numpy, the only values a rule reads from ``.value``."""

from __future__ import annotations

import numpy as np


def mean_squared_error(pred, target):
    # L = (1/n) Σ (p - t)²:  dL/dp = 2(p - t)/n,  dL/dt = -2(p - t)/n
    diff = pred - target
    n = diff.size
    y = np.mean(diff * diff)

    def vjp(g):
        d = g * 2 * diff / n
        return d, -d

    return y, vjp


# dL = (2/n) Σ (p - t)(dp - dt)
mean_squared_error.jvp = lambda T, y, p, t, dp, dt: ((p - t) * (dp - dt)).sum() * (2.0 / _size(p, t))


def _size(*tensors):
    """How many elements the broadcast of ``tensors`` has (a loss's n)."""
    shape = np.broadcast_shapes(*(t.shape for t in tensors))
    return int(np.prod(shape)) if shape else 1


def binary_cross_entropy(p, y):
    # L = -(1/n) Σ [y log p + (1 - y) log(1 - p)]   on probabilities p in (0, 1):
    # dL/dp = (p - y) / (p (1 - p)) / n,   dL/dy = (log(1 - p) - log p) / n
    shape = np.broadcast_shapes(np.shape(p), np.shape(y))
    n = int(np.prod(shape)) if shape else 1
    log_p, log_q = np.log(p), np.log1p(-p)
    value = -np.mean(y * log_p + (1 - y) * log_q)

    def vjp(g):
        # both in the broadcast shape: the tape sums each back to its own input's shape
        return g * (p - y) / (p * (1 - p)) / n, np.broadcast_to(g * (log_q - log_p) / n, shape)

    return value, vjp


def _bce_jvp(T, out, p, y, dp, dy):
    # dL = (1/n) Σ [(p - y)/(p(1 - p)) dp + (log(1 - p) - log p) dy]
    return ((p - y) / (p * (1 - p)) * dp + (T.log1p(-p) - T.log(p)) * dy).sum() / _size(p, y)


binary_cross_entropy.jvp = _bce_jvp


def log_softmax(z, axis=-1):
    """log softmax along ``axis``, shifted by the max so exp never overflows."""
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_cross_entropy(logits, target):
    # L = -(1/m) Σ_rows Σ_k y_k log softmax(z)_k, with target probabilities y over the last axis.
    # dL/dz = (p Σ_k y_k - y) / m  =  (p - y) / m  for one-hot (or any normalised) targets;
    # dL/dy = -log softmax(z) / m.
    # Logits and target may broadcast against each other: rows and sums are over the broadcast shape.
    shape = np.broadcast_shapes(np.shape(logits), np.shape(target))
    logp = log_softmax(np.broadcast_to(logits, shape))  # over the broadcast classes: 1 logit against K classes
    # is K equal logits, whose softmax is 1/K whatever their value
    y = np.broadcast_to(target, shape)
    m = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    value = -np.sum(y * logp) / m

    def vjp(g):
        p = np.exp(logp)
        dz = g * (p * np.sum(y, axis=-1, keepdims=True) - y) / m
        return dz, -g * logp / m

    return value, vjp


def _sce_jvp(T, out, z, y, dz, dy):
    # d log softmax(z) = dz - Σ_k softmax(z)_k dz_k (over the last axis), so
    # dL = -(1/m) Σ [dy · log softmax(z) + y · (dz - Σ_k p_k dz_k)]   (over the broadcast of z and y)
    shape = np.broadcast_shapes(z.shape, y.shape)
    zb = z if z.shape == shape else T.broadcast_to(z, shape=shape)
    logp = T.log_softmax(zb, axis=-1)
    p = T.exp(logp)
    m = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    dlogp = dz - T.sum(p * dz, axis=-1, keepdims=True)
    return -((dy * logp).sum() + (y * dlogp).sum()) / m


softmax_cross_entropy.jvp = _sce_jvp


# ---------------------------------------------------------------- losses of real networks
# Labels (class indices) are data: handed in as arrays of integers (or integer-valued floats), no gradient.


def _labels(labels):
    return np.asarray(labels).astype(np.intp)


def binary_cross_entropy_with_logits(z, y):
    # L = (1/n) Σ [softplus(z) - y z] = (1/n) Σ [max(z, 0) - y z + log(1 + e^-|z|)]:
    # dL/dz = (σ(z) - y)/n,  dL/dy = -z/n
    shape = np.broadcast_shapes(np.shape(z), np.shape(y))
    n = int(np.prod(shape)) if shape else 1
    value = np.mean(np.logaddexp(0, z) - y * z)

    def vjp(g):
        sig = np.exp(-np.logaddexp(0, -z))
        return np.broadcast_to(g * (sig - y) / n, shape), np.broadcast_to(-g * z / n, shape)

    return value, vjp


# dL = (1/n) Σ [(σ(z) - y) dz - z dy]
binary_cross_entropy_with_logits.jvp = lambda T, out, z, y, dz, dy: \
    ((T.sigmoid(z) - y) * dz - z * dy).sum() / _size(z, y)


def _onehot(labels, like):
    """onehot(labels) over ``like``'s last axis, in its dtype (data: a constant of the rule)."""
    lab = _labels(labels.value)
    hot = np.zeros(like.shape, dtype=like.dtype)
    np.put_along_axis(hot, lab[..., None], 1, -1)
    return hot


def cross_entropy(logits, labels):
    # L = -(1/m) Σ_rows log softmax(z)[label]:  dL/dz = (softmax(z) - onehot(label)) / m
    lab = _labels(labels)
    logp = log_softmax(logits)
    m = int(np.prod(logits.shape[:-1])) if logits.ndim > 1 else 1
    picked = np.take_along_axis(logp, lab[..., None], -1)

    def vjp(g):
        d = np.exp(logp)
        np.put_along_axis(d, lab[..., None], np.take_along_axis(d, lab[..., None], -1) - 1, -1)
        return g * d / m, None

    return -np.sum(picked) / m, vjp


def _ce_jvp(T, out, z, labels, dz, dlabels):
    # dL = -(1/m) Σ_rows (dz[label] - Σ_k softmax(z)_k dz_k) = (1/m) Σ (softmax(z) - onehot) · dz;
    # labels are data (no tangent)
    m = int(np.prod(z.shape[:-1])) if z.ndim > 1 else 1
    return ((T.softmax(z, axis=-1) - T.constant(_onehot(labels, z))) * dz).sum() / m


cross_entropy.jvp = _ce_jvp


def nll(logp, labels):
    # L = -(1/m) Σ_rows logp[label]:  dL/dlogp = -onehot(label) / m
    lab = _labels(labels)
    m = int(np.prod(logp.shape[:-1])) if logp.ndim > 1 else 1

    def vjp(g):
        d = np.zeros_like(logp)
        np.put_along_axis(d, lab[..., None], -g / m, -1)
        return d, None

    return -np.sum(np.take_along_axis(logp, lab[..., None], -1)) / m, vjp


def _nll_jvp(T, out, logp, labels, dlogp, dlabels):
    # linear in logp: dL = -(1/m) Σ_rows dlogp[label]  (labels are data)
    m = int(np.prod(logp.shape[:-1])) if logp.ndim > 1 else 1
    return -(dlogp * T.constant(_onehot(labels, logp))).sum() / m


nll.jvp = _nll_jvp


def l1(pred, target):
    # L = (1/n) Σ |p - t|:  dL/dp = sign(p - t)/n (0 where p = t: the subgradient of least norm, as torch),
    # dL/dt = -dL/dp
    d = pred - target
    n = d.size
    return np.mean(np.abs(d)), lambda g: (g * np.sign(d) / n, -g * np.sign(d) / n)


# dL = (1/n) Σ sign(p - t)(dp - dt)   (sign is piecewise constant data; 0 at p = t, as the backward)
l1.jvp = lambda T, y, p, t, dp, dt: ((dp - dt) * T.constant(np.sign(p.value - t.value))).sum() / _size(p, t)


def huber(pred, target, *, delta=1.0):
    # per element ½d² for |d| ≤ δ, δ(|d| - ½δ) beyond (C1 at |d| = δ):
    # dL/dp = clip(d, -δ, δ)/n,  dL/dt = -dL/dp
    d = pred - target
    n = d.size
    a = np.abs(d)
    value = np.mean(np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta)))
    return value, lambda g: (g * np.clip(d, -delta, delta) / n, -g * np.clip(d, -delta, delta) / n)


def _clipped(T, d, bound, inside):
    """clip(d, -bound, bound) on the tape: d where ``inside`` (a mask), ±bound beyond (constants)."""
    mask = inside(np.abs(d.value), bound)
    beyond = np.where(mask, 0, bound * np.sign(d.value)).astype(d.dtype)
    return d * T.constant(mask.astype(d.dtype)) + T.constant(beyond)


# dL = (1/n) Σ clip(d, -δ, δ)(dp - dt), d = p - t  (the clip's slope at |d| = δ is 1, the ≤ of the forward)
huber.jvp = lambda T, y, p, t, dp, dt, *, delta=1.0: \
    (_clipped(T, p - t, delta, np.less_equal) * (dp - dt)).sum() / _size(p, t)


def smooth_l1(pred, target, *, beta=1.0):
    # per element ½d²/β for |d| < β, |d| - ½β beyond = huber(δ=β)/β:  dL/dp = clip(d/β, -1, 1)/n
    d = pred - target
    n = d.size
    a = np.abs(d)
    value = np.mean(np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta))
    return value, lambda g: (g * np.clip(d / beta, -1, 1) / n, -g * np.clip(d / beta, -1, 1) / n)


# dL = (1/n) Σ clip(d/β, -1, 1)(dp - dt), d = p - t  (slope 1/β strictly inside |d| < β, as the forward)
smooth_l1.jvp = lambda T, y, p, t, dp, dt, *, beta=1.0: \
    (_clipped(T, p - t, beta, np.less) * (dp - dt)).sum() / (beta * _size(p, t))


def kl_div(log_q, p):
    # KL(p ‖ q) per row, averaged over rows ("batchmean"): L = (1/m) Σ p (log p - log q), with 0·log 0 = 0;
    # dL/dlog_q = -p/m;  p is data here (a target distribution)
    m = log_q.shape[0] if log_q.ndim > 1 else 1
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)
    return np.sum(plogp - p * log_q) / m, lambda g: (np.broadcast_to(-g * p / m, np.shape(log_q)), None)


def _kl_jvp(T, out, log_q, p, dlog_q, dp):
    # dL = (1/m) Σ [-p dlog_q + (log p + 1 - log q) dp], the dp term only where p > 0 (p is data: its
    # tangent is zero in the catalogue; where p = 0 the one-sided derivative of p log p is -inf and 0 is taken)
    m = log_q.shape[0] if log_q.ndim > 1 else 1
    live = T.constant(p.value > 0)
    safe_p = T.where(live, p, T.constant(np.ones(p.shape, dtype=p.dtype)))
    coef = T.where(live, T.log(safe_p) + 1 - log_q, T.constant(np.zeros(np.broadcast_shapes(p.shape, log_q.shape),
                                                                         dtype=log_q.dtype)))
    return ((coef * dp).sum() - (p * dlog_q).sum()) / m


kl_div.jvp = _kl_jvp


def cosine_similarity(a, b, *, axis=-1, eps=1e-8):
    # c = a·b / (max(‖a‖, ε) max(‖b‖, ε)):  dc/da = b/(na nb) - c a/na²
    # (where ‖a‖ > ε; where ‖a‖ ≤ ε the norm is the constant ε and the a-term drops), symmetrically for b
    na_raw = np.sqrt(np.sum(a * a, axis=axis, keepdims=True))
    nb_raw = np.sqrt(np.sum(b * b, axis=axis, keepdims=True))
    na, nb = np.maximum(na_raw, eps), np.maximum(nb_raw, eps)
    dot = np.sum(a * b, axis=axis, keepdims=True)
    c = dot / (na * nb)

    def vjp(g):
        gk = np.expand_dims(g, axis)
        da = gk * (b / (na * nb) - np.where(na_raw > eps, c * a / (na * na), 0))
        db = gk * (a / (na * nb) - np.where(nb_raw > eps, c * b / (nb * nb), 0))
        return da, db

    return np.squeeze(c, axis), vjp


def _clamped_norm(T, a, axis, eps):
    """(max(‖a‖, ε) on the tape, the mask ‖a‖ > ε): the square root is taken only where the norm is live (its
    reverse sweep never divides by a zero norm)."""
    sq = T.sum(a * a, axis=axis, keepdims=True)
    live = np.sqrt(sq.value) > eps
    norm = T.sqrt(T.where(T.constant(live), sq, T.constant(np.ones(sq.shape, dtype=sq.dtype))))
    return T.where(T.constant(live), norm, T.constant(np.full(sq.shape, eps, dtype=sq.dtype))), live


def _cosine_jvp(T, y, a, b, da, db, *, axis=-1, eps=1e-8):
    # c = a·b / (na nb), na = max(‖a‖, ε):  dc = (da·b + a·db)/(na nb) - c (dna/na + dnb/nb),
    # dna = a·da / na where ‖a‖ > ε, 0 where the norm is clamped to ε (the backward's convention)
    na, live_a = _clamped_norm(T, a, axis, eps)
    nb, live_b = _clamped_norm(T, b, axis, eps)
    c = T.expand_dims(y, axis=axis)
    dna = T.sum(a * da, axis=axis, keepdims=True) / na * T.constant(live_a.astype(na.dtype))
    dnb = T.sum(b * db, axis=axis, keepdims=True) / nb * T.constant(live_b.astype(nb.dtype))
    ddot = T.sum(da * b + a * db, axis=axis, keepdims=True)
    return T.squeeze(ddot / (na * nb) - c * (dna / na + dnb / nb), axis=axis)


cosine_similarity.jvp = _cosine_jvp
