"""Layers: normalisation, dropout, convolution, pooling, embedding — each forward beside its hand-derived backward.

Shapes follow PyTorch's: images are (N, C, H, W), sequences (N, C, L); a convolution's weight is
(C_out, C_in/groups, k...) and a transposed convolution's (C_in, C_out/groups, k...). Notation: ḡ is the
cotangent of the output, x̂ the normalised input, σ = √(var + ε).

A convolution is written once for 1-D and 2-D with one 0/1 "tap" tensor per spatial axis,
T[i, k, h] = 1 when output position i reads input position h through kernel tap k
(h = stride·i + dilation·k - padding; a tap that lands in the padding reads nothing), so

    y[n, o, i, j] = Σ_{c, k, l, h, w} x[n, c, h, w] T₁[i, k, h] T₂[j, l, w] W[o, c, k, l]  (+ b[o]).

The map is linear in x and in W, and its backward is the same sum read the other way (the transpose):
x̄ sums ḡ over the outputs that read each input (a full correlation with the flipped kernel, in the
textbook's words), W̄ sums ḡ·x over the taps. A transposed convolution is exactly that x̄ map.

Max-pool at a tie inside a window (convention of this core, and of PyTorch's and XLA's kernels): the whole
gradient goes to the first maximum in the window's row-major order. Any convex combination of the tied
elements is a valid subgradient (the judge's kink analysis accepts each); HIPS autograd's max splits evenly.

Forward mode: each op's rule ``op.jvp(T, y, *arrays, *tangents, **attrs)`` (see ``tape.tangent_of``), the comment
above it its derivation, is written with the tape's ops on tensors (the statistics of a norm are recomputed from
the primal on the tape), so the H·v sweep (reverse over forward) differentiates it. Only piecewise-constant data
is taken from numpy: dropout's mask, max-pool's choice of the maximum.
"""

from __future__ import annotations

import numpy as np


# ---------------------------------------------------------------- normalisation


def _normalise(a, axes, eps):
    """(x̂, 1/σ, n): a normalised over ``axes`` with the biased variance (as every framework's layer)."""
    mu = a.mean(axis=axes, keepdims=True)
    d = a - mu
    inv = 1 / np.sqrt((d * d).mean(axis=axes, keepdims=True) + eps)
    n = int(np.prod([a.shape[k] for k in axes]))
    return d * inv, inv, n


def _normalise_backward(gx_hat, x_hat, inv, axes):
    # x̂ = (x - μ)/σ over n elements:  x̄ = (1/σ)(ḡ - mean(ḡ) - x̂·mean(ḡ x̂))  (the mean term comes from μ,
    # the x̂ term from σ)
    return inv * (gx_hat - gx_hat.mean(axis=axes, keepdims=True)
                  - x_hat * (gx_hat * x_hat).mean(axis=axes, keepdims=True))


def _normalise_tangent(T, a, da, axes, eps):
    # x̂ = d·r, d = a - μ, r = (mean(d²) + ε)^(-½):  dd = da - mean(da),  dr = -r³ mean(d dd),
    # dx̂ = dd·r + d·dr = r (dd - x̂ mean(x̂ dd))   (x̂, dx̂ as tensors on the tape)
    d = a - T.mean(a, axis=axes, keepdims=True)
    r = (T.mean(d * d, axis=axes, keepdims=True) + eps) ** -0.5
    x_hat = d * r
    dd = da - T.mean(da, axis=axes, keepdims=True)
    return x_hat, r * (dd - x_hat * T.mean(x_hat * dd, axis=axes, keepdims=True))


def layer_norm(a, weight, bias, *, eps=1e-5):
    # y = x̂·w + b over the last axis:  x̄ = normalise_backward(ḡ w),  w̄ = Σ ḡ x̂,  b̄ = Σ ḡ (over the rows)
    x_hat, inv, _ = _normalise(a, (-1,), eps)

    def vjp(g):
        rows = tuple(range(a.ndim - 1))
        return (_normalise_backward(g * weight, x_hat, inv, (-1,)), (g * x_hat).sum(axis=rows), g.sum(axis=rows))

    return x_hat * weight + bias, vjp


def _layer_norm_jvp(T, y, a, weight, bias, da, dw, db, *, eps=1e-5):
    # y = x̂ w + b:  dy = dx̂ w + x̂ dw + db  (dx̂ by _normalise_tangent over the last axis)
    x_hat, dx_hat = _normalise_tangent(T, a, da, (-1,), eps)
    return dx_hat * weight + x_hat * dw + db


layer_norm.jvp = _layer_norm_jvp


def rms_norm(a, weight, *, eps=1e-6):
    # y = x·r·w, r = (mean(x²) + ε)^(-½) over the last axis:  x̄ = r(ḡw - x·r²·mean(ḡ w x)),  w̄ = Σ ḡ x r
    r = 1 / np.sqrt((a * a).mean(axis=-1, keepdims=True) + eps)

    def vjp(g):
        gw = g * weight
        return (r * (gw - a * r * r * (gw * a).mean(axis=-1, keepdims=True)),
                (g * a * r).sum(axis=tuple(range(a.ndim - 1))))

    return a * r * weight, vjp


def _rms_norm_jvp(T, y, a, weight, da, dw, *, eps=1e-6):
    # y = x r w, r = (mean(x²) + ε)^(-½):  dr = -r³ mean(x dx),  dy = (dx r + x dr) w + x r dw
    r = (T.mean(a * a, axis=-1, keepdims=True) + eps) ** -0.5
    dr = -(r * r * r) * T.mean(a * da, axis=-1, keepdims=True)
    return (da * r + a * dr) * weight + a * r * dw


rms_norm.jvp = _rms_norm_jvp


def _channel(v, ndim):
    """A per-channel vector (C,) shaped to broadcast against (N, C, *spatial)."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm(a, weight, bias, *, eps=1e-5):
    # training mode: statistics over the batch and spatial axes of each channel (axis 1);
    # x̄ = normalise_backward(ḡ w),  w̄ = Σ ḡ x̂,  b̄ = Σ ḡ (per channel)
    axes = (0,) + tuple(range(2, a.ndim))
    x_hat, inv, _ = _normalise(a, axes, eps)
    w = _channel(weight, a.ndim)

    def vjp(g):
        return _normalise_backward(g * w, x_hat, inv, axes), (g * x_hat).sum(axis=axes), g.sum(axis=axes)

    return x_hat * w + _channel(bias, a.ndim), vjp


def _per_channel(T, v, ndim):
    return T.reshape(v, shape=(1, -1) + (1,) * (ndim - 2))


def _batch_norm_jvp(T, y, a, weight, bias, da, dw, db, *, eps=1e-5):
    # y = x̂ w + b per channel, x̂ over the batch and spatial axes:  dy = dx̂ w + x̂ dw + db
    x_hat, dx_hat = _normalise_tangent(T, a, da, (0,) + tuple(range(2, a.ndim)), eps)
    return dx_hat * _per_channel(T, weight, a.ndim) + x_hat * _per_channel(T, dw, a.ndim) + _per_channel(T, db, a.ndim)


batch_norm.jvp = _batch_norm_jvp


def group_norm(a, weight, bias, *, num_groups, eps=1e-5):
    # statistics over each group of C/G channels and the spatial axes, per sample: the batch norm rule on
    # a reshaped to (N, G, C/G, *spatial);  w̄, b̄ per channel
    n, c = a.shape[:2]
    grouped = a.reshape((n, num_groups, c // num_groups) + a.shape[2:])
    axes = tuple(range(2, grouped.ndim))
    x_hat, inv, _ = _normalise(grouped, axes, eps)
    x_hat = x_hat.reshape(a.shape)
    w = _channel(weight, a.ndim)
    others = (0,) + tuple(range(2, a.ndim))

    def vjp(g):
        gx = _normalise_backward((g * w).reshape(grouped.shape), x_hat.reshape(grouped.shape), inv, axes)
        return gx.reshape(a.shape), (g * x_hat).sum(axis=others), g.sum(axis=others)

    return x_hat * w + _channel(bias, a.ndim), vjp


def _group_norm_jvp(T, y, a, weight, bias, da, dw, db, *, num_groups, eps=1e-5):
    # y = x̂ w + b, x̂ over each group's channels and the spatial axes (a reshaped to (N, G, C/G, ...)):
    # dy = dx̂ w + x̂ dw + db
    n, c = a.shape[:2]
    grouped = (n, num_groups, c // num_groups) + a.shape[2:]
    axes = tuple(range(2, len(grouped)))
    x_hat, dx_hat = _normalise_tangent(T, T.reshape(a, shape=grouped), T.reshape(da, shape=grouped), axes, eps)
    x_hat, dx_hat = T.reshape(x_hat, shape=a.shape), T.reshape(dx_hat, shape=a.shape)
    return dx_hat * _per_channel(T, weight, a.ndim) + x_hat * _per_channel(T, dw, a.ndim) + _per_channel(T, db, a.ndim)


group_norm.jvp = _group_norm_jvp


def dropout(a, mask, *, p=0.5):
    # y = a·m/(1 - p) with a given mask m (data):  ā = ḡ·m/(1 - p); the mask gets no gradient
    scale = mask / (1 - p)
    return a * scale, lambda g: (g * scale, np.zeros_like(mask))


# d(a·m/(1 - p)) = da·m/(1 - p): the mask is data (no tangent), a constant of the rule
dropout.jvp = lambda T, y, a, mask, da, dmask, *, p=0.5: da * T.constant(
    np.asarray(mask.value / (1 - p)).astype(da.dtype))


# ---------------------------------------------------------------- convolution


def taps(n_in, n_out, k, stride, padding, dilation):
    """T[i, kk, h] = 1 where output i reads input h through tap kk (h = stride·i + dilation·kk - padding)."""
    t = np.zeros((n_out, k, n_in))
    i, kk = np.meshgrid(np.arange(n_out), np.arange(k), indexing="ij")
    h = stride * i + dilation * kk - padding
    inside = (h >= 0) & (h < n_in)
    t[i[inside], kk[inside], h[inside]] = 1.0
    return t


def _tuple(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def conv_size(n_in, k, stride, padding, dilation):
    return (n_in + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def transposed_size(n_in, k, stride, padding, dilation, output_padding):
    return (n_in - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1


# einsum subscripts per spatial rank: x (..., g, c, spatial), taps, W (g, o, c, kernel) -> y (..., g, o, out)
_CONV = {1: "...gch,ikh,gock->...goi", 2: "...gchw,ikh,jlw,gockl->...goij"}
_TRANSPOSED = {1: "...gci,ikh,gcok->...goh", 2: "...gcij,ikh,jlw,gcokl->...gohw"}


def tap_tensors(spatial_in, kernel, stride, padding, dilation, transposed=False, output_padding=0):
    """The tap tensors of each spatial axis (of the conv, or, transposed, of the conv whose adjoint it is)."""
    s = len(kernel)
    stride, padding, dilation, output_padding = (_tuple(v, s) for v in (stride, padding, dilation, output_padding))
    out = []
    for n, k, st, p, d, op in zip(spatial_in, kernel, stride, padding, dilation, output_padding):
        if transposed:  # the conv maps the transposed conv's output (size m) back to its input (size n)
            m = transposed_size(n, k, st, p, d, op)
            out.append(taps(m, n, k, st, p, d))
        else:
            out.append(taps(n, conv_size(n, k, st, p, d), k, st, p, d))
    return out


def grouped_conv(x, w, t, groups, xp=np, transposed=False):
    """The convolution sum for any array module ``xp`` with einsum (numpy, autograd.numpy, numpy over a leading
    batch of points): x (..., C, *spatial), w the layer's weight, t the tap tensors. Returns (..., C_out, *out)."""
    s = len(t)
    lead, (c, *spatial) = x.shape[:-1 - s], x.shape[-1 - s:]
    xg = xp.reshape(x, lead + (groups, c // groups) + tuple(spatial))
    wg = xp.reshape(w, (groups, w.shape[0] // groups) + tuple(w.shape[1:]))
    spec = (_TRANSPOSED if transposed else _CONV)[s]
    y = xp.einsum(spec, xg, *t, wg, optimize=True) if xp is np else xp.einsum(spec, xg, *t, wg)
    return xp.reshape(y, lead + (y.shape[len(lead)] * y.shape[len(lead) + 1],) + tuple(y.shape[len(lead) + 2:]))


def _conv(x, w, b, transposed, stride, padding, dilation, groups, output_padding=0):
    s = w.ndim - 2
    t = [tt.astype(x.dtype) for tt in
         tap_tensors(x.shape[2:], w.shape[2:], stride, padding, dilation, transposed, output_padding)]
    y = grouped_conv(x, w, t, groups, transposed=transposed) + _channel(b, 2 + s)
    n, c = x.shape[:2]
    g_of_x = x.reshape((n, groups, c // groups) + x.shape[2:])
    w_g = w.reshape((groups, w.shape[0] // groups) + w.shape[1:])
    # the subscripts of the forward sum, read the other way: each backward is the same einsum with the
    # output's and one input's roles exchanged
    forward = (_TRANSPOSED if transposed else _CONV)[s]
    ins, out = forward.replace("...", "").split("->")
    xs, *ts, ws = ins.split(",")
    spatial = tuple(range(2, 2 + s))

    def vjp(g):
        gg = g.reshape((n, groups, g.shape[1] // groups) + g.shape[2:])
        gx = np.einsum(f"n{out},{','.join(ts)},{ws}->n{xs}", gg, *t, w_g, optimize=True).reshape(x.shape)
        gw = np.einsum(f"n{out},{','.join(ts)},n{xs}->{ws}", gg, *t, g_of_x, optimize=True).reshape(w.shape)
        return gx, gw, g.sum(axis=(0,) + spatial)

    return y, vjp


def _conv_jvp(T, y, a, weight, bias, da, dw, db, **attrs):
    # y = conv(x, W) + b, bilinear in (x, W) and linear in b:  dy = conv(dx, W) + conv(x, dW) + db
    #   = op(dx, W, db) + op(x, dW, 0)   (the op itself, its bias slot carrying db once)
    conv = getattr(T, y.op)
    zero = T.constant(np.zeros(bias.shape, dtype=a.dtype))
    return conv(da, weight, db, **attrs) + conv(a, dw, zero, **attrs)


def conv1d(a, weight, bias, *, stride=1, padding=0, dilation=1, groups=1):
    # y = Σ x·T·W + b (see the module):  x̄ = Σ ḡ·T·W (the transposed conv),  W̄ = Σ ḡ·T·x,  b̄ = Σ ḡ
    return _conv(a, weight, bias, False, stride, padding, dilation, groups)


conv1d.jvp = _conv_jvp  # dy = conv1d(dx, W, db) + conv1d(x, dW, 0)


def conv2d(a, weight, bias, *, stride=1, padding=0, dilation=1, groups=1):
    # y = Σ x·T₁·T₂·W + b:  x̄ = Σ ḡ·T₁·T₂·W (the transposed conv),  W̄ = Σ ḡ·T₁·T₂·x,  b̄ = Σ ḡ over n, i, j
    return _conv(a, weight, bias, False, stride, padding, dilation, groups)


conv2d.jvp = _conv_jvp  # dy = conv2d(dx, W, db) + conv2d(x, dW, 0)


def conv_transpose2d(a, weight, bias, *, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    # the adjoint of conv2d in its input: y = Σ x·T₁·T₂·W + b read backwards;  x̄ = conv2d(ḡ) (the forward conv),
    # W̄ = Σ ḡ·T₁·T₂·x,  b̄ = Σ ḡ
    return _conv(a, weight, bias, True, stride, padding, dilation, groups, output_padding)


conv_transpose2d.jvp = _conv_jvp  # dy = conv_transpose2d(dx, W, db) + conv_transpose2d(x, dW, 0)


# ---------------------------------------------------------------- pooling


def windows(h, w, kernel, stride):
    """Index arrays (OH, KH, 1, 1) and (1, 1, OW, KW): x[..., rows, cols] is (..., OH, KH, OW, KW)."""
    kh, kw = _tuple(kernel, 2)
    sh, sw = _tuple(stride if stride is not None else kernel, 2)
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    rows = sh * np.arange(oh)[:, None] + np.arange(kh)[None, :]
    cols = sw * np.arange(ow)[:, None] + np.arange(kw)[None, :]
    return rows[:, :, None, None], cols[None, None, :, :]


def _first_maxima(a, kernel_size, stride):
    """(y, index): each window's maximum and the index tuple of a picking it (its first maximum, row-major)."""
    rows, cols = windows(a.shape[-2], a.shape[-1], kernel_size, stride)
    win = a[..., rows, cols]  # (N, C, OH, KH, OW, KW)
    flat = np.moveaxis(win, -3, -2).reshape(win.shape[:-4] + (win.shape[-4], win.shape[-2], -1))
    first = np.argmax(flat, axis=-1)  # numpy's argmax returns the first maximum
    y = np.take_along_axis(flat, first[..., None], axis=-1)[..., 0]
    kw = win.shape[-1]
    r = rows[:, :, 0, 0][np.arange(first.shape[-2])[:, None], first // kw]  # the input row of each maximum
    c = cols[0, 0][np.arange(first.shape[-1])[None, :], first % kw]  # and its column
    lead = np.indices(first.shape[:-2])
    lead = tuple(np.broadcast_to(ix[..., None, None], first.shape) for ix in lead)
    return y, lead + (r, c)


def max_pool2d(a, *, kernel_size, stride=None):
    # y = max over each window:  x̄ receives ḡ at the window's first maximum (row-major), added up where
    # windows overlap; a tie's other elements get 0 (one subgradient of max)
    y, index = _first_maxima(a, kernel_size, stride)

    def vjp(g):
        out = np.zeros_like(a, dtype=g.dtype)
        np.add.at(out, index, g)  # overlapping windows add
        return (out,)

    return y, vjp


# d max(window) = dx at the window's first maximum (the backward's choice at a tie; which element is the
# maximum is piecewise constant, so the index is data of the rule)
max_pool2d.jvp = lambda T, y, a, da, *, kernel_size, stride=None: da[_first_maxima(a.value, kernel_size, stride)[1]]


def avg_pool2d(a, *, kernel_size, stride=None):
    # y = mean over each window:  x̄ = Σ over the windows holding x of ḡ/(kh·kw)
    rows, cols = windows(a.shape[-2], a.shape[-1], kernel_size, stride)
    count = rows.shape[1] * cols.shape[-1]
    y = a[..., rows, cols].sum(axis=(-3, -1)) / count

    def vjp(g):
        out = np.zeros_like(a, dtype=g.dtype)
        spread = np.broadcast_to((g / count)[..., :, None, :, None], g.shape[:-2] + (rows.shape[0], rows.shape[1],
                                                                                    cols.shape[2], cols.shape[3]))
        np.add.at(out, (Ellipsis, rows, cols), spread)
        return (out,)

    return y, vjp


avg_pool2d.linear = True  # d mean(window) = mean of dx over the window


# ---------------------------------------------------------------- embedding


def embedding(indices, weight):
    # y = W[indices]:  W̄ = scatter-add of ḡ into the rows picked (a row picked twice gets both); the indices
    # are data (no gradient)
    idx = np.asarray(indices).astype(np.intp)

    def vjp(g):
        gw = np.zeros_like(weight, dtype=g.dtype)
        np.add.at(gw, idx, g)
        return np.zeros_like(indices), gw

    return weight[idx], vjp


# d W[indices] = dW[indices]  (the indices are data: no tangent)
embedding.jvp = lambda T, y, indices, weight, dindices, dweight: T.embedding(indices, dweight)
