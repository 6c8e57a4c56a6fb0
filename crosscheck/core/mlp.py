"""The article's MLP, 2 → 4 → 4 → 1 (ReLU, ReLU, sigmoid) with a BCE loss, backward written out by hand.

No tape here: the backward is the chain rule applied layer by layer, right to
left, mirroring the forward X → z1 → a1 → z2 → a2 → z3 → a3.
"""

from __future__ import annotations

import numpy as np

from .ops import sigmoid_value

PARAMETERS = ("W1", "b1", "W2", "b2", "W3", "b3")

XOR_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_TARGETS = np.array([[0], [1], [1], [0]], dtype=float)


def initial_parameters(seed=3, sizes=(2, 4, 4, 1), scale=0.5):
    """The article's initialisation: weights N(0, 1)·0.5 drawn in layer order from the legacy seed, zero biases."""
    rng = np.random.RandomState(seed)
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{i}"] = rng.randn(fan_in, fan_out) * scale
        params[f"b{i}"] = np.zeros((1, fan_out))
    return params


def forward(params, X):
    """The forward pass; returns the output and the cache the backward needs."""
    z1 = X @ params["W1"] + params["b1"]
    a1 = np.maximum(0, z1)
    z2 = a1 @ params["W2"] + params["b2"]
    a2 = np.maximum(0, z2)
    z3 = a2 @ params["W3"] + params["b3"]
    a3 = sigmoid_value(z3)
    return a3, {"X": X, "z1": z1, "a1": a1, "z2": z2, "a2": a2, "a3": a3}


def bce_loss(p, y):
    """Mean binary cross-entropy on probabilities."""
    return -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))


def backward(params, cache, y, upstream=1.0):
    """dL/d(every parameter) for L = BCE(a3, y), scaled by ``upstream`` (the cotangent of L)."""
    m = y.shape[0]
    # BCE composed with the sigmoid output: dL/dz3 = (a3 - y) / m
    dz3 = upstream * (cache["a3"] - y) / m
    # z3 = a2 W3 + b3: dW3 = a2ᵀ dz3, db3 = Σ_rows dz3, da2 = dz3 W3ᵀ
    dW3 = cache["a2"].T @ dz3
    db3 = dz3.sum(axis=0, keepdims=True)
    da2 = dz3 @ params["W3"].T
    # a2 = relu(z2): the gradient passes where z2 > 0
    dz2 = da2 * (cache["z2"] > 0)
    dW2 = cache["a1"].T @ dz2
    db2 = dz2.sum(axis=0, keepdims=True)
    da1 = dz2 @ params["W2"].T
    # a1 = relu(z1)
    dz1 = da1 * (cache["z1"] > 0)
    dW1 = cache["X"].T @ dz1
    db1 = dz1.sum(axis=0, keepdims=True)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


def sgd_step(params, grads, lr):
    """Plain gradient descent: θ ← θ - lr · dL/dθ (returns new arrays)."""
    return {k: params[k] - lr * grads[k] for k in params}


def train(params, X, y, *, lr=1.0, epochs=2000):
    """Full-batch SGD; returns the final parameters and the loss before each step."""
    losses = np.empty(epochs)
    for epoch in range(epochs):
        out, cache = forward(params, X)
        losses[epoch] = bce_loss(out, y)
        params = sgd_step(params, backward(params, cache, y), lr)
    return params, losses
