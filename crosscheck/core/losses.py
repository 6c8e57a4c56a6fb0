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
