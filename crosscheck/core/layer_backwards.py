"""Whole-layer backward passes written the way a textbook derives them, for the catalogue's hand-written backend.

Independent of the tape's rules in ``layers.py`` (which write every convolution as one einsum): here a
convolution's backward loops over the kernel taps and scatters into a padded input, a pool's over its windows,
batch norm goes through μ and σ² as Ioffe & Szegedy (2015) write it. Each function takes the upstream gradient
``g`` of the layer's output and the layer's inputs, and returns the gradient of each input, in the inputs' dtype
(every constant below is a python number or an array made in that dtype, so float32 stays float32).
"""

from __future__ import annotations

import numpy as np


# ---------------------------------------------------------------- normalisation


def layer_norm_backward(g, x, weight, eps=1e-5):
    """y = x̂·w + b, x̂ = (x - μ)/√(σ² + ε) over the last axis: (x̄, w̄, b̄)."""
    mu = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + eps)
    x_hat = (x - mu) / std
    d_hat = g * weight
    dx = (d_hat - d_hat.mean(axis=-1, keepdims=True) - x_hat * (d_hat * x_hat).mean(axis=-1, keepdims=True)) / std
    rows = tuple(range(x.ndim - 1))
    return dx, (g * x_hat).sum(axis=rows), g.sum(axis=rows)


def rms_norm_backward(g, x, weight, eps=1e-6):
    """y = x·r·w, r = 1/√(mean(x²) + ε): x̄ = r·ḡw - x·r³·mean(ḡ w x), w̄ = Σ ḡ x r."""
    r = 1 / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps)
    gw = g * weight
    dx = r * gw - x * r**3 * (gw * x).mean(axis=-1, keepdims=True)
    return dx, (g * x * r).sum(axis=tuple(range(x.ndim - 1)))


def batch_norm_backward(g, x, weight, eps=1e-5, mean_term=True):
    """Training-mode batch norm over (N, H, W) per channel, the chain through σ² and μ (Ioffe & Szegedy, alg. 1):

        x̂̄ = ḡ·γ
        σ²̄ = Σ x̂̄·(x - μ)·(-½)(σ² + ε)^(-3/2)
        μ̄ = Σ x̂̄·(-1/√(σ² + ε)) + σ²̄·mean(-2(x - μ))
        x̄ = x̂̄/√(σ² + ε) + σ²̄·2(x - μ)/m + μ̄/m

    ``mean_term=False`` drops μ̄/m, the classic slip (a test plants it on purpose)."""
    axes = (0,) + tuple(range(2, x.ndim))
    m = x.size // x.shape[1]
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    inv = 1 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv
    d_hat = g * weight.reshape(shape)
    d_var = (d_hat * (x - mu)).sum(axis=axes, keepdims=True) * -0.5 * inv**3
    d_mu = (-d_hat * inv).sum(axis=axes, keepdims=True) + d_var * (-2 * (x - mu)).mean(axis=axes, keepdims=True)
    dx = d_hat * inv + d_var * 2 * (x - mu) / m
    if mean_term:
        dx = dx + d_mu / m
    return dx, (g * x_hat).sum(axis=axes), g.sum(axis=axes)


def group_norm_backward(g, x, weight, num_groups, eps=1e-5):
    """Layer norm over each group of C/G channels and the spatial axes, per sample; w̄, b̄ per channel."""
    n = x.shape[0]
    grouped = x.reshape(n, num_groups, -1)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    d_hat = (g * weight.reshape(shape)).reshape(grouped.shape)
    mu = grouped.mean(axis=-1, keepdims=True)
    std = np.sqrt(((grouped - mu) ** 2).mean(axis=-1, keepdims=True) + eps)
    x_hat = (grouped - mu) / std
    dx = (d_hat - d_hat.mean(axis=-1, keepdims=True) - x_hat * (d_hat * x_hat).mean(axis=-1, keepdims=True)) / std
    others = (0,) + tuple(range(2, x.ndim))
    return dx.reshape(x.shape), (g * x_hat.reshape(x.shape)).sum(axis=others), g.sum(axis=others)


def dropout_backward(g, mask, p):
    """y = x·mask/(1 - p): x̄ = ḡ·mask/(1 - p)."""
    return g * mask / (1 - p)


# ---------------------------------------------------------------- convolution (loops over the kernel taps)


def _taps(n_out, stride, dilation, k):
    """The slice of the padded input that kernel tap k reads for outputs 0..n_out-1."""
    start = dilation * k
    return slice(start, start + stride * (n_out - 1) + 1, stride)


def conv2d_forward(x, w, b, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, i, j] = b[o] + Σ_{c, ki, kj} x_pad[n, c, s·i + d·ki, s·j + d·kj]·w[o, c, ki, kj] (per group)."""
    n, c, h, wd = x.shape
    co, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    og = co // groups
    y = np.zeros((n, co, oh, ow), dtype=x.dtype) + b.reshape(1, -1, 1, 1)
    for ki in range(kh):
        for kj in range(kw):
            patch = xp[:, :, _taps(oh, stride, dilation, ki), _taps(ow, stride, dilation, kj)]
            for grp in range(groups):
                y[:, grp * og:(grp + 1) * og] += np.einsum("ncij,oc->noij", patch[:, grp * cg:(grp + 1) * cg],
                                                           w[grp * og:(grp + 1) * og, :, ki, kj])
    return y


def conv2d_backward(g, x, w, stride=1, padding=0, dilation=1, groups=1, kernel=None):
    """(x̄, w̄, b̄) of conv2d_forward: tap (ki, kj) read x_pad at the strided positions, so

        w̄[o, c, ki, kj] = Σ ḡ[n, o, i, j]·x_pad[n, c, s·i + d·ki, s·j + d·kj]
        x̄_pad[n, c, s·i + d·ki, s·j + d·kj] += Σ_o ḡ[n, o, i, j]·w[o, c, ki, kj]   (then the padding cropped)

    (for stride 1 the second is the full convolution of ḡ with the kernel rotated by 180°). ``kernel``, if
    given, replaces w in x̄ (a test plants a wrongly flipped or transposed kernel there)."""
    n, c, h, wd = x.shape
    co, cg, kh, kw = w.shape
    kernel = w if kernel is None else kernel
    oh, ow = g.shape[2:]
    og = co // groups
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for ki in range(kh):
        for kj in range(kw):
            rows, cols = _taps(oh, stride, dilation, ki), _taps(ow, stride, dilation, kj)
            for grp in range(groups):
                gs = g[:, grp * og:(grp + 1) * og]
                ci = slice(grp * cg, (grp + 1) * cg)
                dw[grp * og:(grp + 1) * og, :, ki, kj] = np.einsum("noij,ncij->oc", gs, xp[:, ci, rows, cols])
                dxp[:, ci, rows, cols] += np.einsum("noij,oc->ncij", gs, kernel[grp * og:(grp + 1) * og, :, ki, kj])
    return dxp[:, :, padding:padding + h, padding:padding + wd], dw, g.sum(axis=(0, 2, 3))


def conv1d_backward(g, x, w, stride=1, padding=0, dilation=1, groups=1):
    """conv1d as conv2d on a height of 1: the 1-D padding made explicit, the 2-D one zero."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    dxp, dw, db = conv2d_backward(g[:, :, None], xp[:, :, None], w[:, :, None], stride, 0, dilation, groups)
    return dxp[:, :, 0, padding:padding + x.shape[2]], dw[:, :, 0], db


def conv_transpose2d_backward(g, x, w, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """conv_transpose2d scatters: y_full[n, o, s·i + d·ki, s·j + d·kj] += Σ_c x[n, c, i, j]·w[c, o, ki, kj], then
    crops ``padding`` from the front of each axis. Its backward gathers: ḡ put back into y_full's frame, then

        x̄[n, c, i, j] = Σ_{o, ki, kj} ḡ_full[n, o, s·i + d·ki, s·j + d·kj]·w[c, o, ki, kj]  (a strided conv)
        w̄[c, o, ki, kj] = Σ x[n, c, i, j]·ḡ_full[n, o, s·i + d·ki, s·j + d·kj]"""
    n, ci, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = ci // groups
    full = ((h - 1) * stride + dilation * (kh - 1) + 1 + output_padding,
            (wd - 1) * stride + dilation * (kw - 1) + 1 + output_padding)
    g_full = np.zeros((n, g.shape[1]) + full, dtype=g.dtype)
    g_full[:, :, padding:padding + g.shape[2], padding:padding + g.shape[3]] = g
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for ki in range(kh):
        for kj in range(kw):
            rows, cols = _taps(h, stride, dilation, ki), _taps(wd, stride, dilation, kj)
            for grp in range(groups):
                gs = g_full[:, grp * og:(grp + 1) * og, rows, cols]  # (n, o, i, j)
                cs = slice(grp * cg, (grp + 1) * cg)
                dx[:, cs] += np.einsum("noij,co->ncij", gs, w[cs, :, ki, kj])
                dw[cs, :, ki, kj] = np.einsum("ncij,noij->co", x[:, cs], gs)
    return dx, dw, g.sum(axis=(0, 2, 3))


# ---------------------------------------------------------------- pooling and embedding (loops over the windows)


def max_pool2d_forward(x, k, stride):
    n, c, h, wd = x.shape
    oh, ow = (h - k) // stride + 1, (wd - k) // stride + 1
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            y[:, :, i, j] = x[:, :, stride * i:stride * i + k, stride * j:stride * j + k].max(axis=(2, 3))
    return y


def max_pool2d_backward(g, x, k, stride):
    """Each window's gradient goes to its maximum; at a tie, to the first in row-major order (one subgradient:
    any split between the tied elements is another)."""
    dx = np.zeros_like(x)
    n, c = x.shape[:2]
    nn, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            window = x[:, :, stride * i:stride * i + k, stride * j:stride * j + k].reshape(n, c, -1)
            first = window.argmax(axis=-1)
            dx[nn, cc, stride * i + first // k, stride * j + first % k] += g[:, :, i, j]
    return dx


def avg_pool2d_backward(g, x, k, stride):
    """Each window spreads its gradient evenly: ḡ/k² to every element it averaged (overlaps add)."""
    dx = np.zeros_like(x)
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            dx[:, :, stride * i:stride * i + k, stride * j:stride * j + k] += g[:, :, i, j, None, None] / (k * k)
    return dx


def embedding_backward(g, indices, weight):
    """y = W[indices]: W̄ scatter-adds ḡ into the rows picked (np.add.at: a repeated index gets every copy's
    gradient, where W̄[indices] += ḡ would keep only the last)."""
    dw = np.zeros_like(weight)
    np.add.at(dw, indices.astype(np.intp), g)
    return dw
