"""A small CNN for the training-trajectory study: conv(3×3, padding 1) → ReLU → max-pool 2×2 → linear → softmax
cross-entropy, on a tiny synthetic image set (seeded), with its backward written out layer by layer.

The images are 6×6: class 0 carries a vertical bar, class 1 a horizontal one, at a random position, over
N(0, 0.1²) noise. As ``mlp.py`` for the XOR network, this is the whole-model backward a reader writes by hand;
the catalogue's case (``cases/cnn.py``) runs it as the ``handwritten`` backend next to the tape and the
frameworks.
"""

from __future__ import annotations

import numpy as np

from . import layer_backwards as lb

SIZE, CHANNELS, CLASSES = 6, 3, 2


def images(n=4, seed=11):
    """(X (n, 1, 6, 6), labels (n,)): bars of alternating class, seeded."""
    rng = np.random.default_rng(seed)
    x = 0.1 * rng.standard_normal((n, 1, SIZE, SIZE))
    labels = np.arange(n) % CLASSES
    for k, label in enumerate(labels):
        at = rng.integers(1, SIZE - 1)
        if label == 0:
            x[k, 0, :, at] += 1.0  # a vertical bar
        else:
            x[k, 0, at, :] += 1.0  # a horizontal bar
    return x, labels.astype(np.float64)


def initial_parameters(seed=5):
    rng = np.random.default_rng(seed)
    pooled = CHANNELS * (SIZE // 2) ** 2
    return {"W1": 0.5 * rng.standard_normal((CHANNELS, 1, 3, 3)), "b1": 0.1 * rng.standard_normal(CHANNELS),
            "W2": 0.3 * rng.standard_normal((pooled, CLASSES)), "b2": np.zeros(CLASSES)}


def forward(X, W1, b1, W2, b2):
    """(logits, cache) of the network, in numpy."""
    z1 = lb.conv2d_forward(X, W1, b1, padding=1)
    a1 = np.maximum(z1, 0)
    p1 = lb.max_pool2d_forward(a1, 2, 2)
    flat = p1.reshape(len(X), -1)
    return flat @ W2 + b2, (z1, a1, p1, flat)


def backward(g, X, labels, W1, b1, W2, b2):
    """The gradient of g·mean cross-entropy with respect to each parameter, layer by layer."""
    logits, (z1, a1, p1, flat) = forward(X, W1, b1, W2, b2)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = shifted / shifted.sum(axis=1, keepdims=True)
    d_logits = g * (probs - np.eye(CLASSES, dtype=logits.dtype)[labels.astype(np.intp)]) / len(X)  # (p - y)/n
    d_flat = d_logits @ W2.T
    d_a1 = lb.max_pool2d_backward(d_flat.reshape(p1.shape), a1, 2, 2)
    d_z1 = d_a1 * (z1 > 0)  # ReLU passes the gradient where it passed the value
    _, d_w1, d_b1 = lb.conv2d_backward(d_z1, X, W1, padding=1)
    return {"W1": d_w1, "b1": d_b1, "W2": flat.T @ d_logits, "b2": d_logits.sum(axis=0)}


def predict(X, labels, W1, b1, W2, b2):
    """Class probabilities of the trained network."""
    logits = forward(X, W1, b1, W2, b2)[0]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
