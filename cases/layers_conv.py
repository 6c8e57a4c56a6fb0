"""Layers with a hand-written backward for the whole layer: normalisation, dropout, convolution, pooling, embedding.

Each case runs the layer through the vocabulary (so torch's F.layer_norm / F.conv2d / F.max_pool2d ..., jax's
jax.lax.conv_general_dilated / reduce_window ..., TF's and autograd's are compared) and carries ``backward=``: the
textbook derivation in numpy (crosscheck/core/layer_backwards.py), run as the ``handwritten`` backend. The layer's
output is contracted with a seeded random cotangent ``g`` (never all ones: the sum of a normalised row is
constant, so ones would hide a missing mean term).

Max-pool ties: the max-pool case's input is rounded to halves, so windows hold tied maxima. The mathematics has a
kink there (every convex combination of the tied elements is a subgradient); the core, torch, jax and TF send the
gradient to the first maximum in row-major order, autograd splits it evenly: all of them are judged ``kink``.
"""

import numpy as np

from crosscheck import Expected, case, inputs, ops_spec
from crosscheck.core import layer_backwards as lb

N = inputs.normal


def _named(*names):
    """A backward returning a tuple, as the {input: gradient} dict the catalogue wants."""
    def wrap(fn):
        def backward(g, **arrays):
            return dict(zip(names, fn(g, **arrays)))
        backward.__doc__ = fn.__doc__
        return backward
    return wrap


# ---------------------------------------------------------------- normalisation

#: TensorFlow's norms compute the variance with tf.nn.moments, whose stop_gradient is exact to first order only
_MOMENTS = Expected(ops_spec.S_MOMENTS, backend="tensorflow", param="x", mode="hvp")


@case(x=N(4, 6), weight=N(6), bias=N(6), tags={"layers"},
      backward=_named("x", "weight", "bias")(lambda g, x, weight, bias: lb.layer_norm_backward(g, x, weight)),
      expect=[_MOMENTS])
def layer_norm(nn, x, weight, bias):
    """LayerNorm over the last axis, affine."""
    return nn.layer_norm(x, weight, bias)


@case(x=N(3, 8), weight=N(8), tags={"layers"},
      backward=_named("x", "weight")(lambda g, x, weight: lb.rms_norm_backward(g, x, weight)))
def rms_norm(nn, x, weight):
    """RMSNorm over the last axis (no centring, no bias)."""
    return nn.rms_norm(x, weight)


@case(x=N(4, 3, 3, 3), weight=N(3), bias=N(3), tags={"layers"},
      backward=_named("x", "weight", "bias")(lambda g, x, weight, bias: lb.batch_norm_backward(g, x, weight)),
      expect=[_MOMENTS])
def batch_norm(nn, x, weight, bias):
    """BatchNorm2d in training mode: the batch's statistics per channel, affine."""
    return nn.batch_norm(x, weight, bias)


@case(x=N(2, 6, 3, 3), weight=N(6), bias=N(6), tags={"layers"},
      backward=_named("x", "weight", "bias")(
          lambda g, x, weight, bias: lb.group_norm_backward(g, x, weight, num_groups=3)),
      expect=[_MOMENTS])
def group_norm(nn, x, weight, bias):
    """GroupNorm: 6 channels in 3 groups."""
    return nn.group_norm(x, weight, bias, num_groups=3)


_MASK = (np.random.default_rng(7).uniform(size=(4, 6)) > 0.3).astype(np.float64)


@case(x=N(4, 6), mask=inputs.data(_MASK), tags={"layers"},
      backward=lambda g, x, mask: {"x": lb.dropout_backward(g, mask, 0.3)})
def dropout(nn, x, mask):
    """Dropout with p = 0.3 and a given (seeded) mask: the mask is data, so the backward is deterministic."""
    return nn.dropout(x, mask, 0.3)


# ---------------------------------------------------------------- convolution

_CONV2D = {"stride": 2, "padding": 2, "dilation": 2, "groups": 2}


@case(x=N(2, 4, 7, 7), weight=N(4, 2, 3, 3, scale=0.5), bias=N(4), tags={"layers"},
      backward=_named("x", "weight", "bias")(lambda g, x, weight, bias: lb.conv2d_backward(g, x, weight, **_CONV2D)))
def conv2d(nn, x, weight, bias):
    """Conv2d with stride 2, padding 2, dilation 2 and 2 groups."""
    return nn.conv2d(x, weight, bias, **_CONV2D)


_CONV1D = {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}


@case(x=N(2, 4, 9), weight=N(6, 2, 3, scale=0.5), bias=N(6), tags={"layers"},
      backward=_named("x", "weight", "bias")(lambda g, x, weight, bias: lb.conv1d_backward(g, x, weight, **_CONV1D)))
def conv1d(nn, x, weight, bias):
    """Conv1d with stride 2, padding 1, dilation 2 and 2 groups."""
    return nn.conv1d(x, weight, bias, **_CONV1D)


_TRANSPOSED = {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2, "dilation": 1}


@case(x=N(2, 4, 3, 3), weight=N(4, 2, 3, 3, scale=0.5), bias=N(4), tags={"layers"},
      backward=_named("x", "weight", "bias")(
          lambda g, x, weight, bias: lb.conv_transpose2d_backward(g, x, weight, **_TRANSPOSED)))
def conv_transpose2d(nn, x, weight, bias):
    """ConvTranspose2d with stride 2, padding 1, output padding 1 and 2 groups (3×3 → 6×6)."""
    return nn.conv_transpose2d(x, weight, bias, **_TRANSPOSED)


# ---------------------------------------------------------------- pooling and embedding

#: a seeded input rounded to halves: many windows hold tied maxima
_TIES = np.round(2 * np.random.default_rng(3).standard_normal((2, 2, 6, 6))) / 2


@case(x=inputs.fixed(_TIES), tags={"layers"}, backward=lambda g, x: {"x": lb.max_pool2d_backward(g, x, 2, 2)})
def max_pool2d_ties(nn, x):
    """MaxPool2d 2×2, stride 2, on an input with tied maxima inside windows."""
    return nn.max_pool2d(x, 2, 2)


@case(x=N(2, 3, 6, 6), tags={"layers"}, backward=lambda g, x: {"x": lb.max_pool2d_backward(g, x, 3, 1)})
def max_pool2d_overlapping(nn, x):
    """MaxPool2d 3×3, stride 1: overlapping windows (a maximum shared by several windows gets each one's)."""
    return nn.max_pool2d(x, 3, 1)


@case(x=N(2, 3, 7, 7), tags={"layers"}, backward=lambda g, x: {"x": lb.avg_pool2d_backward(g, x, 3, 2)})
def avg_pool2d(nn, x):
    """AvgPool2d 3×3, stride 2 (overlapping by one row and column)."""
    return nn.avg_pool2d(x, 3, 2)


_TOKENS = np.array([[1, 4, 1, 0], [4, 4, 2, 1]], dtype=np.float64)  # 1 and 4 repeated, 3 never used


@case(indices=inputs.data(_TOKENS), weight=N(5, 3), tags={"layers"},
      backward=lambda g, indices, weight: {"weight": lb.embedding_backward(g, indices, weight)})
def embedding(nn, indices, weight):
    """Embedding lookup with repeated indices: the backward scatter-adds (row 4 gets three gradients, row 3 none)."""
    return nn.embedding(indices, weight)
