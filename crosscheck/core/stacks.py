"""Deep stacks of n dense layers (sigmoid, ReLU, tanh or GELU, optionally residual) and their gradient flow.

Layer i computes a_{i+1} = act(a_i W_i), plus a_i when the stack is residual
and i ≥ 1 (the first layer has no skip, as in the article). The backward is
written by hand; it gives the gradient at the input, at every layer's
output, and for every weight.
"""

from __future__ import annotations

import numpy as np

from .elementwise import erf_value
from .ops import sigmoid_value

ACTIVATIONS = ("sigmoid", "relu", "tanh", "gelu")


def _activate(z, activation):
    if activation == "sigmoid":
        return sigmoid_value(z)
    if activation == "relu":
        return np.maximum(0, z)
    if activation == "tanh":
        return np.tanh(z)
    return z * (0.5 * (1 + erf_value(z / np.sqrt(2))))  # gelu (exact): z Φ(z)


def _local(z, activation):
    """act'(z), derived by hand."""
    if activation == "sigmoid":
        s = sigmoid_value(z)
        return s * (1 - s)  # σ' = σ(1 - σ)
    if activation == "relu":
        return z > 0  # relu' = 1 where z > 0
    if activation == "tanh":
        t = np.tanh(z)
        return 1 - t * t  # tanh' = 1 - tanh²
    # gelu' = Φ(z) + z φ(z), φ(z) = e^(-z²/2)/√(2π)
    return 0.5 * (1 + erf_value(z / np.sqrt(2))) + z * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)


def initial_stack(n_layers, *, seed=42, width=16):
    """The article's setup: one input row x ~ N(0, 1), then Kaiming-scaled weights N(0, 2/width), in that order."""
    rng = np.random.RandomState(seed)
    x = rng.randn(1, width)
    weights = [rng.randn(width, width) * (2.0 / width) ** 0.5 for _ in range(n_layers)]
    return x, weights


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: expected one of {ACTIVATIONS}")


def forward(x, weights, activation="sigmoid", residual=False, offsets=None):
    """Returns the output and the cache (inputs to each layer and pre-activations).

    ``offsets``, optional, one array per layer added to its output (zeros leave the stack as it is; the
    gradient with respect to an offset is the gradient at that layer's output).
    """
    _check_activation(activation)
    acts, pre = [x], []
    for i, W in enumerate(weights):
        z = acts[-1] @ W
        a = _activate(z, activation)
        if residual and i > 0:
            a = a + acts[-1]
        if offsets is not None:
            a = a + offsets[i]
        pre.append(z)
        acts.append(a)
    return acts[-1], {"acts": acts, "pre": pre}


def backward(weights, cache, upstream, activation="sigmoid", residual=False, injected=None):
    """Hand-written backward from dL/d(output) = ``upstream``.

    ``injected``, optional, one array per layer: a gradient arriving at that layer's output directly from
    the loss (a loss that reads every layer's output), added to what comes back from the layers above.
    Returns ``(d_input, d_weights, d_layer_outputs)``: the gradient at the input,
    one per weight, and the gradient at each layer's output (index i is layer i's).
    """
    _check_activation(activation)
    acts, pre = cache["acts"], cache["pre"]
    grad = upstream
    d_weights = [None] * len(weights)
    d_outputs = [None] * len(weights)
    for i in range(len(weights) - 1, -1, -1):
        if injected is not None:
            grad = grad + injected[i]
        d_outputs[i] = grad
        dz = grad * _local(pre[i], activation)
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
