"""Attention and recurrent layers: each forward beside its hand-derived backward (numpy only).

Two kinds of thing live here:

- the tape op :func:`scaled_dot_product_attention` (``(value, vjp)``, like every op of ``ops``);
- whole layers and models with their backward written out, as a reader derives them by hand (like
  :mod:`.mlp` and :mod:`.stacks`): multi-head attention, a pre-norm transformer block, and the Elman RNN,
  LSTM and GRU unrolled over T steps with backpropagation through time. The catalogue's ``handwritten``
  backend runs these.

Forward mode: the tape op's rule (``scaled_dot_product_attention.jvp``, see ``tape.tangent_of``) is written with
the tape's ops on tensors, so the H·v sweep (reverse over forward) differentiates it.

Shapes: attention takes (..., L, E) queries and (..., S, E) keys and values; the recurrent models take
x of shape (B, T, I) and return every hidden state, (B, T, H).
"""

from __future__ import annotations

import numpy as np

from .elementwise import erf_value
from .ops import sigmoid_value


def _t(a):
    """The transpose of the last two axes."""
    return np.swapaxes(a, -1, -2)


# ---------------------------------------------------------------- scaled dot-product attention


def attention_forward(q, k, v, causal=False):
    """softmax(q kᵀ / √E + mask) v, and what the backward needs (the scale and the probabilities P)."""
    scale = np.asarray(1 / np.sqrt(q.shape[-1]), dtype=q.dtype)
    s = (q @ _t(k)) * scale
    if causal:  # query i sees keys j ≤ i (the top-left aligned lower triangle, as torch and jax)
        s = np.where(np.tril(np.ones(s.shape[-2:], dtype=bool)), s, -np.inf)
    s = s - np.max(s, axis=-1, keepdims=True)
    e = np.exp(s)
    p = e / np.sum(e, axis=-1, keepdims=True)
    return p @ v, (scale, p)


def attention_backward(q, k, v, cache, g):
    """(dq, dk, dv) of O = P v, P = softmax(S), S = q kᵀ·scale, given dO = g.

    dv = Pᵀ g;  dP = g vᵀ;  dS = P ⊙ (dP - Σ_j dP·P)  (the softmax's Jacobian, row by row; a masked entry has
    P = 0, so dS = 0 there);  dq = scale·dS k;  dk = scale·dSᵀ q."""
    scale, p = cache
    dv = _t(p) @ g
    dp = g @ _t(v)
    ds = p * (dp - np.sum(dp * p, axis=-1, keepdims=True))
    return scale * (ds @ k), scale * (_t(ds) @ q), dv


def scaled_dot_product_attention(q, k, v, *, causal=False):
    # O = softmax(q kᵀ·s) v: dv = Pᵀg, dS = P ⊙ (g vᵀ - Σ_j P·(g vᵀ)), dq = s·dS k, dk = s·dSᵀ q (attention_backward)
    out, cache = attention_forward(q, k, v, causal)
    return out, lambda g: attention_backward(q, k, v, cache, g)


def _attention_jvp(T, y, q, k, v, dq, dk, dv, *, causal=False):
    # S = s·q kᵀ (masked), P = softmax(S), O = P v:  dS = s (dq kᵀ + q dkᵀ),  dP = P ⊙ (dS - Σ_j P dS) (the
    # softmax's Jacobian; 0 at a masked entry, where P = 0),  dO = dP v + P dv   (P recomputed on the tape)
    scale = float(np.asarray(1 / np.sqrt(q.shape[-1]), dtype=q.dtype))  # the forward's scale, rounded alike
    swap = lambda x: T.transpose(x, axes=tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))  # noqa: E731
    s = (q @ swap(k)) * scale
    if causal:  # the forward's mask: query i sees keys j ≤ i
        allowed = np.tril(np.ones(s.shape[-2:], dtype=bool))
        s = T.where(T.constant(allowed), s, T.constant(np.full(s.shape[-2:], -np.inf, dtype=s.dtype)))
    p = T.softmax(s, axis=-1)
    ds = (dq @ swap(k) + q @ swap(dk)) * scale
    dp = p * (ds - T.sum(p * ds, axis=-1, keepdims=True))
    return dp @ v + p @ dv


scaled_dot_product_attention.jvp = _attention_jvp


# ---------------------------------------------------------------- multi-head attention


def _split(x, heads):
    """(B, L, D) -> (B, heads, L, D/heads)."""
    b, n, d = x.shape
    return x.reshape(b, n, heads, d // heads).transpose(0, 2, 1, 3)


def _merge(x):
    """(B, heads, L, Dh) -> (B, L, heads·Dh), the inverse of _split."""
    b, h, n, dh = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, n, h * dh)


def mha_forward(x, Wq, Wk, Wv, Wo, heads, causal=False):
    """Self-attention of x (B, L, D) with ``heads`` heads: y = merge(attention(split(x Wq), split(x Wk),
    split(x Wv))) Wo."""
    q, k, v = _split(x @ Wq, heads), _split(x @ Wk, heads), _split(x @ Wv, heads)
    o, att = attention_forward(q, k, v, causal)
    m = _merge(o)
    return m @ Wo, (x, q, k, v, att, m)


def mha_backward(Wq, Wk, Wv, Wo, heads, cache, g):
    """dx and the weights' gradients: back through Wo, the merge, attention, the split, the three projections
    (x feeds all three: its gradient is the sum)."""
    x, q, k, v, att, m = cache
    dWo = np.einsum("bld,ble->de", m, g)
    dm = g @ Wo.T
    b, h, n, dh = q.shape
    do = dm.reshape(b, n, h, dh).transpose(0, 2, 1, 3)
    dq, dk, dv = (_merge(d) for d in attention_backward(q, k, v, att, do))
    dWq, dWk, dWv = (np.einsum("bld,ble->de", x, d) for d in (dq, dk, dv))
    dx = dq @ Wq.T + dk @ Wk.T + dv @ Wv.T
    return dx, {"Wq": dWq, "Wk": dWk, "Wv": dWv, "Wo": dWo}


# ---------------------------------------------------------------- the pre-norm transformer block

LN_EPS = 1e-5


def layer_norm_forward(x, gamma, beta, eps=LN_EPS):
    """(x - mean)/√(var + ε)·γ + β over the last axis (biased variance, as torch and jax)."""
    xc = x - x.mean(axis=-1, keepdims=True)
    r = 1 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + np.asarray(eps, dtype=x.dtype))
    xhat = xc * r
    return xhat * gamma + beta, (xhat, r)


def layer_norm_backward(gamma, cache, g):
    """dx = r·(dx̂ - mean(dx̂) - x̂·mean(dx̂ ⊙ x̂)) with dx̂ = g γ (the mean and the variance both depend on x);
    dγ = Σ g x̂, dβ = Σ g over every axis but the last."""
    xhat, r = cache
    dxhat = g * gamma
    dx = r * (dxhat - dxhat.mean(axis=-1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    rows = tuple(range(g.ndim - 1))
    return dx, (g * xhat).sum(axis=rows), g.sum(axis=rows)


def gelu_forward(u):
    """u Φ(u), Φ the standard normal CDF (the exact, erf form)."""
    return u * 0.5 * (1 + erf_value(u / np.sqrt(np.asarray(2.0, dtype=u.dtype))))


def gelu_derivative(u):
    """d(u Φ(u)) = Φ(u) + u φ(u)."""
    phi = np.exp(-0.5 * u * u) / np.sqrt(np.asarray(2 * np.pi, dtype=u.dtype))
    return 0.5 * (1 + erf_value(u / np.sqrt(np.asarray(2.0, dtype=u.dtype)))) + u * phi


BLOCK_PARAMS = ("g1", "b1", "Wq", "Wk", "Wv", "Wo", "g2", "b2", "W1", "c1", "W2", "c2")


def block_forward(x, p, heads, causal=True):
    """h = x + MHA(LN₁(x));  y = h + W₂ gelu(LN₂(h) W₁ + c₁) + c₂."""
    n1, ln1 = layer_norm_forward(x, p["g1"], p["b1"])
    a, mha = mha_forward(n1, p["Wq"], p["Wk"], p["Wv"], p["Wo"], heads, causal)
    h = x + a
    n2, ln2 = layer_norm_forward(h, p["g2"], p["b2"])
    u = n2 @ p["W1"] + p["c1"]
    y = h + gelu_forward(u) @ p["W2"] + p["c2"]
    return y, (ln1, mha, ln2, n2, u)


def block_backward(x, p, heads, cache, g):
    """The block's backward: each residual adds the gradient that flows around its branch."""
    ln1, mha, ln2, n2, u = cache
    rows = tuple(range(g.ndim - 1))
    act = gelu_forward(u)
    outer = lambda a, b: a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1])  # noqa: E731 Σ over rows of aᵀb
    grads = {"W2": outer(act, g), "c2": g.sum(axis=rows)}
    du = (g @ p["W2"].T) * gelu_derivative(u)
    grads["W1"], grads["c1"] = outer(n2, du), du.sum(axis=rows)
    dh_ln, grads["g2"], grads["b2"] = layer_norm_backward(p["g2"], ln2, du @ p["W1"].T)
    dh = g + dh_ln  # the residual passes g through unchanged
    dn1, dw = mha_backward(p["Wq"], p["Wk"], p["Wv"], p["Wo"], heads, mha, dh)
    grads.update(dw)
    dx_ln, grads["g1"], grads["b1"] = layer_norm_backward(p["g1"], ln1, dn1)
    return dh + dx_ln, grads


# ---------------------------------------------------------------- recurrent models, unrolled over time
# Every model returns all hidden states hs (B, T, H) and is given dhs, their gradient. Backpropagation through
# time walks t = T-1 .. 0 carrying dh (and the LSTM's dc): at each step the gradient from the step's own output
# is added to the one flowing back from step t+1.


def rnn_forward(x, h0, Wx, Wh, b):
    """h_t = tanh(x_t Wx + h_{t-1} Wh + b)."""
    hs, h = [], h0
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    return np.stack(hs, axis=1)


def rnn_backward(x, h0, Wx, Wh, b, hs, dhs):
    """da_t = dh_t ⊙ (1 - h_t²);  dWx += x_tᵀ da_t;  dWh += h_{t-1}ᵀ da_t;  dh_{t-1} = da_t Whᵀ + dhs_{t-1}."""
    dx, dWx, dWh, db = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh = np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        h_prev = hs[:, t - 1] if t > 0 else h0
        da = (dh + dhs[:, t]) * (1 - hs[:, t] ** 2)
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
        dh = da @ Wh.T
    return {"x": dx, "h0": dh, "Wx": dWx, "Wh": dWh, "b": db}


def lstm_forward(x, h0, c0, Wx, Wh, b):
    """Gates in torch's order i, f, g, o: [i f g o] = x_t Wx + h Wh + b (Wx: I × 4H);
    i, f, o = σ(·), g = tanh(·);  c_t = f c_{t-1} + i g;  h_t = o tanh(c_t)."""
    H = h0.shape[-1]
    h, c, hs, steps = h0, c0, [], []
    for t in range(x.shape[1]):
        a = x[:, t] @ Wx + h @ Wh + b
        i, f, o = sigmoid_value(a[:, :H]), sigmoid_value(a[:, H:2 * H]), sigmoid_value(a[:, 3 * H:])
        g = np.tanh(a[:, 2 * H:3 * H])
        c_prev, c = c, f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
        steps.append((i, f, g, o, c_prev, c))
    return np.stack(hs, axis=1), steps


#: each gate's derivative from its activation value: σ' = s(1 - s), tanh' = 1 - y²
GATE_DERIVATIVES = {"i": lambda s: s * (1 - s), "f": lambda s: s * (1 - s), "g": lambda y: 1 - y * y,
                    "o": lambda s: s * (1 - s)}


def lstm_backward(x, h0, c0, Wx, Wh, b, hs, steps, dhs, derivatives=GATE_DERIVATIVES):
    """Back through h_t = o tanh(c_t) and c_t = f c_{t-1} + i g, step by step:
    do = dh tanh c;  dc += dh o (1 - tanh² c);  di = dc g;  df = dc c_{t-1};  dg = dc i;  dc_{t-1} = dc f;
    each gate's pre-activation gradient is its gradient times its derivative (``derivatives``, by gate)."""
    H = h0.shape[-1]
    dx, dWx, dWh, db = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh, dc = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(x.shape[1])):
        i, f, g, o, c_prev, c = steps[t]
        h_prev = hs[:, t - 1] if t > 0 else h0
        dh = dh + dhs[:, t]
        tc = np.tanh(c)
        do = dh * tc
        dc = dc + dh * o * (1 - tc * tc)
        di, df, dg = dc * g, dc * c_prev, dc * i
        da = np.concatenate([di * derivatives["i"](i), df * derivatives["f"](f), dg * derivatives["g"](g),
                             do * derivatives["o"](o)], axis=1)
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
        dh, dc = da @ Wh.T, dc * f
    return {"x": dx, "h0": dh, "c0": dc, "Wx": dWx, "Wh": dWh, "b": db}


def gru_forward(x, h0, Wx, Wh, bx, bh):
    """torch's GRU, gates r, z, n: [ar az an] = x_t Wx + bx, [hr hz hn] = h Wh + bh;
    r = σ(ar + hr), z = σ(az + hz), n = tanh(an + r ⊙ hn);  h_t = (1 - z) n + z h_{t-1}."""
    H = h0.shape[-1]
    h, hs, steps = h0, [], []
    for t in range(x.shape[1]):
        ax, ah = x[:, t] @ Wx + bx, h @ Wh + bh
        r = sigmoid_value(ax[:, :H] + ah[:, :H])
        z = sigmoid_value(ax[:, H:2 * H] + ah[:, H:2 * H])
        n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
        h = (1 - z) * n + z * h
        hs.append(h)
        steps.append((r, z, n, ah[:, 2 * H:]))
    return np.stack(hs, axis=1), steps


def gru_backward(x, h0, Wx, Wh, bx, bh, hs, steps, dhs):
    """dn = dh (1 - z);  dz = dh (h_{t-1} - n);  dan = dn (1 - n²);  dr = dan ⊙ hn;  dhn = dan ⊙ r;
    dar = dr σ',  daz = dz σ';  dh_{t-1} = dh z + [dar daz dhn] Whᵀ (r multiplies hn, inside the tanh)."""
    dx, dWx, dWh = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh)
    dbx, dbh, dh = np.zeros_like(bx), np.zeros_like(bh), np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        r, z, n, hn = steps[t]
        h_prev = hs[:, t - 1] if t > 0 else h0
        dh = dh + dhs[:, t]
        dn, dz = dh * (1 - z), dh * (h_prev - n)
        dan = dn * (1 - n * n)
        dar, daz = dan * hn * r * (1 - r), dz * z * (1 - z)
        dax = np.concatenate([dar, daz, dan], axis=1)  # x's side: an enters the tanh directly
        dah = np.concatenate([dar, daz, dan * r], axis=1)  # h's side: hn is scaled by r
        dx[:, t] = dax @ Wx.T
        dWx += x[:, t].T @ dax
        dWh += h_prev.T @ dah
        dbx += dax.sum(axis=0)
        dbh += dah.sum(axis=0)
        dh = dh * z + dah @ Wh.T
    return {"x": dx, "h0": dh, "Wx": dWx, "Wh": dWh, "bx": dbx, "bh": dbh}


def bptt(model, x, h0, dhs, **weights):
    """The hand-written backpropagation through time of ``model`` ("rnn", "lstm" or "gru"; the LSTM's c0 among
    ``weights``), given dL/d(every hidden state) ``dhs`` (B, T, H): {input name: gradient}."""
    w = weights
    if model == "rnn":
        return rnn_backward(x, h0, w["Wx"], w["Wh"], w["b"], rnn_forward(x, h0, w["Wx"], w["Wh"], w["b"]), dhs)
    if model == "lstm":
        hs, steps = lstm_forward(x, h0, w["c0"], w["Wx"], w["Wh"], w["b"])
        return lstm_backward(x, h0, w["c0"], w["Wx"], w["Wh"], w["b"], hs, steps, dhs)
    if model == "gru":
        hs, steps = gru_forward(x, h0, w["Wx"], w["Wh"], w["bx"], w["bh"])
        return gru_backward(x, h0, w["Wx"], w["Wh"], w["bx"], w["bh"], hs, steps, dhs)
    raise ValueError(f"no recurrent model {model!r}: rnn, lstm or gru")
