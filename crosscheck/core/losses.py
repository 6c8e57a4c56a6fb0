"""Losses, each a scalar op with its hand-derived backward (same form as ``ops``)."""

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


def nll(logp, labels):
    # L = -(1/m) Σ_rows logp[label]:  dL/dlogp = -onehot(label) / m
    lab = _labels(labels)
    m = int(np.prod(logp.shape[:-1])) if logp.ndim > 1 else 1

    def vjp(g):
        d = np.zeros_like(logp)
        np.put_along_axis(d, lab[..., None], -g / m, -1)
        return d, None

    return -np.sum(np.take_along_axis(logp, lab[..., None], -1)) / m, vjp


def l1(pred, target):
    # L = (1/n) Σ |p - t|:  dL/dp = sign(p - t)/n (0 where p = t: the subgradient of least norm, as torch),
    # dL/dt = -dL/dp
    d = pred - target
    n = d.size
    return np.mean(np.abs(d)), lambda g: (g * np.sign(d) / n, -g * np.sign(d) / n)


def huber(pred, target, *, delta=1.0):
    # per element ½d² for |d| ≤ δ, δ(|d| - ½δ) beyond (C1 at |d| = δ):
    # dL/dp = clip(d, -δ, δ)/n,  dL/dt = -dL/dp
    d = pred - target
    n = d.size
    a = np.abs(d)
    value = np.mean(np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta)))
    return value, lambda g: (g * np.clip(d, -delta, delta) / n, -g * np.clip(d, -delta, delta) / n)


def smooth_l1(pred, target, *, beta=1.0):
    # per element ½d²/β for |d| < β, |d| - ½β beyond = huber(δ=β)/β:  dL/dp = clip(d/β, -1, 1)/n
    d = pred - target
    n = d.size
    a = np.abs(d)
    value = np.mean(np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta))
    return value, lambda g: (g * np.clip(d / beta, -1, 1) / n, -g * np.clip(d / beta, -1, 1) / n)


def kl_div(log_q, p):
    # KL(p ‖ q) per row, averaged over rows ("batchmean"): L = (1/m) Σ p (log p - log q), with 0·log 0 = 0;
    # dL/dlog_q = -p/m;  p is data here (a target distribution)
    m = log_q.shape[0] if log_q.ndim > 1 else 1
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)
    return np.sum(plogp - p * log_q) / m, lambda g: (np.broadcast_to(-g * p / m, np.shape(log_q)), None)


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
