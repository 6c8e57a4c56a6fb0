"""Deep stacks of n dense layers (sigmoid or ReLU, optionally residual) and their gradient flow.

Layer i computes a_{i+1} = act(a_i W_i), plus a_i when the stack is residual
and i ≥ 1 (the first layer has no skip, as in the article). The backward is
written by hand; it gives the gradient at the input, at every layer's
output, and for every weight.
"""

from __future__ import annotations

import numpy as np

from .ops import sigmoid_value

ACTIVATIONS = ("sigmoid", "relu")


def initial_stack(n_layers, *, seed=42, width=16):
    """The article's setup: one input row x ~ N(0, 1), then Kaiming-scaled weights N(0, 2/width), in that order."""
    rng = np.random.RandomState(seed)
    x = rng.randn(1, width)
    weights = [rng.randn(width, width) * (2.0 / width) ** 0.5 for _ in range(n_layers)]
    return x, weights


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: expected one of {ACTIVATIONS}")


def forward(x, weights, activation="sigmoid", residual=False):
    """Returns the output and the cache (inputs to each layer and pre-activations)."""
    _check_activation(activation)
    acts, pre = [x], []
    for i, W in enumerate(weights):
        z = acts[-1] @ W
        a = sigmoid_value(z) if activation == "sigmoid" else np.maximum(0, z)
        if residual and i > 0:
            a = a + acts[-1]
        pre.append(z)
        acts.append(a)
    return acts[-1], {"acts": acts, "pre": pre}


def backward(weights, cache, upstream, activation="sigmoid", residual=False):
    """Hand-written backward from dL/d(output) = ``upstream``.

    Returns ``(d_input, d_weights, d_layer_outputs)``: the gradient at the input,
    one per weight, and the gradient at each layer's output (index i is layer i's).
    """
    _check_activation(activation)
    acts, pre = cache["acts"], cache["pre"]
    grad = upstream
    d_weights = [None] * len(weights)
    d_outputs = [None] * len(weights)
    for i in range(len(weights) - 1, -1, -1):
        d_outputs[i] = grad
        z = pre[i]
        if activation == "sigmoid":
            s = sigmoid_value(z)
            local = s * (1 - s)  # σ' = σ(1 - σ)
        else:
            local = z > 0  # relu' = 1 where z > 0
        dz = grad * local
        d_weights[i] = acts[i].T @ dz  # z = a_i W_i: dW_i = a_iᵀ dz
        skip = grad if (residual and i > 0) else 0  # a_{i+1} = act(z) + a_i: the skip passes grad unchanged
        grad = dz @ weights[i].T + skip
    return grad, d_weights, d_outputs


def gradient_flow(n_layers, activation="sigmoid", residual=False, *, seed=42, width=16):
    """Mean |dL/dx| at the input, with an upstream gradient of ones at the output (the article's measure)."""
    x, weights = initial_stack(n_layers, seed=seed, width=width)
    out, cache = forward(x, weights, activation, residual)
    d_input, _, _ = backward(weights, cache, np.ones_like(out), activation, residual)
    return float(np.mean(np.abs(d_input)))


def layer_gradient_norms(n_layers, activation="sigmoid", residual=False, *, seed=42, width=16):
    """‖dL/da_i‖₂ at the input (i = 0) and at every layer's output (i = 1..n), upstream ones."""
    x, weights = initial_stack(n_layers, seed=seed, width=width)
    out, cache = forward(x, weights, activation, residual)
    d_input, _, d_outputs = backward(weights, cache, np.ones_like(out), activation, residual)
    return [float(np.linalg.norm(d_input))] + [float(np.linalg.norm(g)) for g in d_outputs]
