"""Bugs planted in the textbook layer backwards people get wrong (issue 11): batch norm without the mean term,
conv2d's input gradient with the kernel flipped or its channel axes transposed, an embedding's scatter written as
an assignment (repeated indices lose all but one gradient), a max-pool handing a tie's gradient to every tied
element."""

import numpy as np

from crosscheck import case, inputs
from crosscheck.core import layer_backwards as lb

N = inputs.normal
_PLANTED = {"planted", "expect_fail", "layers"}


def _bn_without_mean_term(g, x, weight, bias):
    dx, dw, db = lb.batch_norm_backward(g, x, weight, mean_term=False)  # μ̄/m dropped
    return {"x": dx, "weight": dw, "bias": db}


@case(x=N(4, 3, 2, 2), weight=N(3), bias=N(3), backward=_bn_without_mean_term, tags=_PLANTED)
def batch_norm_without_mean_term(nn, x, weight, bias):
    return nn.batch_norm(x, weight, bias)


_CONV = {"stride": 1, "padding": 1, "dilation": 1, "groups": 2}


def _conv_with_kernel(kernel_of):
    def backward(g, x, weight, bias):
        dx, dw, db = lb.conv2d_backward(g, x, weight, **_CONV, kernel=kernel_of(weight))
        return {"x": dx, "weight": dw, "bias": db}
    return backward


def _flipped(w):
    """The full-convolution slip: ḡ correlated with the kernel itself instead of the kernel rotated by 180°
    (in the tap loop: tap (ki, kj) meets w[kh-1-ki, kw-1-kj])."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1])


def _channels_transposed(w):
    """Each group's (C_out, C_in) matrix transposed, as when x̄ is written with w[o, c] where w[c, o] is meant."""
    groups = _CONV["groups"]
    co, cg = w.shape[:2]
    return np.ascontiguousarray(w.reshape(groups, co // groups, cg, *w.shape[2:]).swapaxes(1, 2).reshape(w.shape))


@case(x=N(2, 4, 5, 5), weight=N(4, 2, 3, 3, scale=0.5), bias=N(4), backward=_conv_with_kernel(_flipped),
      tags=_PLANTED)
def conv2d_kernel_not_flipped(nn, x, weight, bias):
    return nn.conv2d(x, weight, bias, **_CONV)


@case(x=N(2, 4, 5, 5), weight=N(4, 2, 3, 3, scale=0.5), bias=N(4), backward=_conv_with_kernel(_channels_transposed),
      tags=_PLANTED)
def conv2d_kernel_channels_transposed(nn, x, weight, bias):
    return nn.conv2d(x, weight, bias, **_CONV)


def _embedding_assigned(g, indices, weight):
    dw = np.zeros_like(weight)
    dw[indices.astype(np.intp)] += g  # buffered: a repeated row keeps one copy's gradient, not their sum
    return {"weight": dw}


@case(indices=inputs.data([[1, 4, 1, 0], [4, 4, 2, 1]]), weight=N(5, 3), backward=_embedding_assigned,
      tags=_PLANTED)
def embedding_scatter_by_assignment(nn, indices, weight):
    return nn.embedding(indices, weight)


def _pool_every_tied_max(g, x):
    """Every tied maximum of a window gets the window's whole gradient: a sum of 2 over a two-way tie, outside
    the subdifferential (whose weights sum to 1)."""
    dx = np.zeros_like(x)
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            window = x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
            is_max = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2] += is_max * g[:, :, i, j, None, None]
    return {"x": dx}


@case(x=inputs.fixed([[[[1.0, 1.0, 0.0, -1.0], [0.5, 0.0, 0.0, 0.0], [2.0, 2.0, -1.0, 3.0], [2.0, 0.0, 1.0, 0.0]]]]),
      backward=_pool_every_tied_max, tags=_PLANTED)
def max_pool2d_tie_to_every_maximum(nn, x):
    return nn.max_pool2d(x, 2, 2)
