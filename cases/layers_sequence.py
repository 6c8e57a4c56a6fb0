"""Attention and recurrent layers, each with its backward derived by hand (``crosscheck/core/sequence.py``).

- scaled dot-product attention, with and without the causal mask: the ``scaled_dot_product_attention`` op
  (torch's and jax's own kernels; a composition on tensorflow and autograd);
- multi-head attention (2 heads) and a pre-norm transformer block: x + MHA(LN(x)), then h + MLP(LN(h)) with an
  exact-GELU MLP; the layer norm is composed from mean, rsqrt and arithmetic (it is no op here);
- an Elman RNN (tanh), an LSTM and a GRU unrolled over T = 5 steps (backpropagation through time), every hidden
  state as the output: gradients for the weights, the initial state(s) and every input step. No framework but
  torch has a functional cell, so each is built from matmul, sigmoid, tanh and multiply on every backend;
- ``flow_time_<model>_<T>``: the same three models at T = 5, 10, 20, 50 with only the last hidden state as the
  output (cotangent of ones): the gradient at the first input step is the flow-through-time study
  (``crosscheck/flow_time.py``);
- ``transformer_training``: the block trained by SGD to output the running mean of its input sequence, the
  same steps on every backend (``crosscheck/trajectories.py``).

Shapes are tiny (batch 2, length 5, width 8 or 3 → 4) so that every backend and the reference run in seconds.
"""

import numpy as np

from crosscheck import Expected, Training, case, inputs
from crosscheck.core import sequence
from crosscheck.ops_spec import R_SDPA_FLOAT32_SOFTMAX, T_GELU

B, L, E = 2, 5, 4  # attention: batch, length, width
D, HEADS, F = 8, 2, 8  # multi-head attention and the block: model width, heads, MLP width
T, I, H = 5, 3, 4  # recurrent models: steps, input width, hidden width


#: every case that attends: jax's attention kernel takes its softmax in float32
_JAX_F32 = Expected(R_SDPA_FLOAT32_SOFTMAX, backend="jax", dtype="float64")


def _w(*shape, scale=None):
    """A seeded N(0, 1/fan_in) weight."""
    return inputs.normal(*shape, scale=scale or 1 / np.sqrt(shape[0]))


# ---------------------------------------------------------------- attention


def _attention_backward(causal):
    def backward(g, q, k, v):
        _, cache = sequence.attention_forward(q, k, v, causal)
        dq, dk, dv = sequence.attention_backward(q, k, v, cache, g)
        return {"q": dq, "k": dk, "v": dv}

    return backward


@case(q=inputs.normal(B, L, E), k=inputs.normal(B, L, E), v=inputs.normal(B, L, E),
      backward=_attention_backward(False), expect=[_JAX_F32], tags={"layers", "attention"})
def attention(nn, q, k, v):
    return nn.scaled_dot_product_attention(q, k, v)


@case(q=inputs.normal(B, L, E), k=inputs.normal(B, L, E), v=inputs.normal(B, L, E),
      backward=_attention_backward(True), expect=[_JAX_F32], tags={"layers", "attention"})
def attention_causal(nn, q, k, v):
    return nn.scaled_dot_product_attention(q, k, v, causal=True)


def _split(nn, a):
    """(B, L, D) -> (B, heads, L, D/heads)."""
    return nn.transpose(nn.reshape(a, (B, L, HEADS, D // HEADS)), (0, 2, 1, 3))


def _mha(nn, x, Wq, Wk, Wv, Wo, causal):
    o = nn.scaled_dot_product_attention(_split(nn, x @ Wq), _split(nn, x @ Wk), _split(nn, x @ Wv), causal=causal)
    return nn.reshape(nn.transpose(o, (0, 2, 1, 3)), (B, L, D)) @ Wo


def _mha_backward(g, x, Wq, Wk, Wv, Wo):
    _, cache = sequence.mha_forward(x, Wq, Wk, Wv, Wo, HEADS)
    dx, grads = sequence.mha_backward(Wq, Wk, Wv, Wo, HEADS, cache, g)
    return {"x": dx, **grads}


@case(x=inputs.normal(B, L, D), Wq=_w(D, D), Wk=_w(D, D), Wv=_w(D, D), Wo=_w(D, D), backward=_mha_backward, expect=[_JAX_F32],
      tags={"layers", "attention"})
def multi_head_attention(nn, x, Wq, Wk, Wv, Wo):
    return _mha(nn, x, Wq, Wk, Wv, Wo, causal=False)


# ---------------------------------------------------------------- the pre-norm transformer block


def _layer_norm(nn, x, gamma, beta):
    xc = x - nn.mean(x, axis=-1, keepdims=True)
    return xc * nn.rsqrt(nn.mean(xc * xc, axis=-1, keepdims=True) + sequence.LN_EPS) * gamma + beta


def _block(nn, x, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2):
    h = x + _mha(nn, _layer_norm(nn, x, g1, b1), Wq, Wk, Wv, Wo, causal=True)
    return h + nn.gelu(_layer_norm(nn, h, g2, b2) @ W1 + c1) @ W2 + c2


_BLOCK_INPUTS = dict(g1=inputs.normal(D, mean=1.0, scale=0.2), b1=inputs.normal(D, scale=0.2), Wq=_w(D, D),
                     Wk=_w(D, D), Wv=_w(D, D), Wo=_w(D, D), g2=inputs.normal(D, mean=1.0, scale=0.2),
                     b2=inputs.normal(D, scale=0.2), W1=_w(D, F), c1=inputs.normal(F, scale=0.2), W2=_w(F, D),
                     c2=inputs.normal(D, scale=0.2))
#: tf.nn.gelu in float64 rounds 1/√2 to float32 (see ops_spec.T_GELU): ~1e-8 relative, every parameter upstream
_TF_GELU = Expected("the block's MLP is tf.nn.gelu: " + T_GELU, backend="tensorflow", dtype="float64")


def _block_backward(g, x, **p):
    y, cache = sequence.block_forward(x, p, HEADS)
    dx, grads = sequence.block_backward(x, p, HEADS, cache, g)
    return {"x": dx, **grads}


@case(x=inputs.normal(B, L, D), **_BLOCK_INPUTS, backward=_block_backward, expect=[_TF_GELU, _JAX_F32],
      tags={"layers", "attention"})
def transformer_block(nn, x, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2):
    return _block(nn, x, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2)


# The training task: output the running mean of the input sequence, y_t = mean(x_1..x_t) (the causal mask lets
# position t see exactly x_1..x_t). MSE, plain SGD from the seeded block above, the same on every backend.
_TRAIN_X = np.random.default_rng(11).standard_normal((B, L, D))
_TRAIN_Y = np.cumsum(_TRAIN_X, axis=1) / np.arange(1, L + 1)[:, None]


def _training_backward(g, x, target, **p):
    y, cache = sequence.block_forward(x, p, HEADS)
    _, grads = sequence.block_backward(x, p, HEADS, cache, g * 2 * (y - target) / y.size)  # d MSE / dy
    return grads


def _training_predict(x, target, **p):
    return sequence.block_forward(x, p, HEADS)[0]


@case(x=inputs.data(_TRAIN_X), target=inputs.data(_TRAIN_Y), **_BLOCK_INPUTS, backward=_training_backward,
      train=Training(steps=30, lr=0.1, predict=_training_predict), expect=[_TF_GELU, _JAX_F32],
      tags={"layers", "attention", "training"})
def transformer_training(nn, x, target, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2):
    return nn.mean_squared_error(_block(nn, x, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2), target)


# ---------------------------------------------------------------- recurrent models, unrolled over T steps


def _rnn(nn, x, h0, Wx, Wh, b, steps):
    h, hs = h0, []
    for t in range(steps):
        h = nn.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    return hs


def _lstm(nn, x, h0, c0, Wx, Wh, b, steps):
    n = H
    h, c, hs = h0, c0, []
    for t in range(steps):
        a = x[:, t] @ Wx + h @ Wh + b
        i, f, o = nn.sigmoid(a[:, :n]), nn.sigmoid(a[:, n:2 * n]), nn.sigmoid(a[:, 3 * n:])
        c = f * c + i * nn.tanh(a[:, 2 * n:3 * n])
        h = o * nn.tanh(c)
        hs.append(h)
    return hs


def _gru(nn, x, h0, Wx, Wh, bx, bh, steps):
    n = H
    h, hs = h0, []
    for t in range(steps):
        ax, ah = x[:, t] @ Wx + bx, h @ Wh + bh
        r = nn.sigmoid(ax[:, :n] + ah[:, :n])
        z = nn.sigmoid(ax[:, n:2 * n] + ah[:, n:2 * n])
        cand = nn.tanh(ax[:, 2 * n:] + r * ah[:, 2 * n:])
        h = (1 - z) * cand + z * h
        hs.append(h)
    return hs


MODELS = {"rnn": _rnn, "lstm": _lstm, "gru": _gru}
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _bptt(model, x, h0, dhs, **w):
    """The hand-written backpropagation through time of ``model`` given dL/d(every hidden state)."""
    if model == "rnn":
        return sequence.rnn_backward(x, h0, w["Wx"], w["Wh"], w["b"], sequence.rnn_forward(x, h0, **w), dhs)
    if model == "lstm":
        hs, steps = sequence.lstm_forward(x, h0, w["c0"], w["Wx"], w["Wh"], w["b"])
        return sequence.lstm_backward(x, h0, w["c0"], w["Wx"], w["Wh"], w["b"], hs, steps, dhs)
    hs, steps = sequence.gru_forward(x, h0, w["Wx"], w["Wh"], w["bx"], w["bh"])
    return sequence.gru_backward(x, h0, w["Wx"], w["Wh"], w["bx"], w["bh"], hs, steps, dhs)


def _recurrent_inputs(model, steps, batch, fixed_seed=None):
    """x, h0 (and c0), the weights. With ``fixed_seed`` the values are fixed arrays: the flow study's models
    share their weights across T, and each x is the first T steps of one 50-step sequence."""
    g = _GATES[model] * H
    shapes = {"x": (batch, steps, I), "h0": (batch, H)} | ({"c0": (batch, H)} if model == "lstm" else {})
    shapes |= {"Wx": (I, g), "Wh": (H, g)} | ({"bx": (g,), "bh": (g,)} if model == "gru" else {"b": (g,)})
    if fixed_seed is None:
        return {k: (_w(*s) if k[0] == "W" else inputs.normal(*s, scale=0.5)) for k, s in shapes.items()}
    rng = np.random.default_rng(fixed_seed)
    out = {}
    for k, s in shapes.items():
        if k == "x":
            out[k] = inputs.fixed(rng.standard_normal((batch, 50, I))[:, :steps])
        else:
            out[k] = inputs.fixed(rng.standard_normal(s) * (1 / np.sqrt(s[0]) if k[0] == "W" else 0.5))
    return out


def _make(model, steps, last_only):
    names = list(_recurrent_inputs(model, steps, 1))

    def fn(nn, **a):
        hs = MODELS[model](nn, *(a[k] for k in names), steps)
        return hs[-1] if last_only else nn.stack(hs, axis=1)

    def backward(g, **a):
        x, h0 = a["x"], a["h0"]
        dhs = np.zeros(x.shape[:2] + (H,), dtype=x.dtype)
        if last_only:
            dhs[:, -1] = g
        else:
            dhs[...] = g
        return _bptt(model, **a, dhs=dhs)

    fn.__name__ = f"{model}_{steps}"
    return fn, backward


for _model in MODELS:
    _fn, _backward = _make(_model, T, last_only=False)
    case(_model if _model != "rnn" else "rnn_tanh", backward=_backward, tags={"layers", "recurrent"},
         **_recurrent_inputs(_model, T, B))(_fn)

LENGTHS = (5, 10, 20, 50)
for _model in MODELS:
    for _steps in LENGTHS:
        _fn, _backward = _make(_model, _steps, last_only=True)
        # float64 only: the study reads float64 gradients, and each T = 50 unroll costs every compiling backend
        # (jax, tensorflow) a long compilation per dtype
        case(f"flow_time_{_model}_{_steps}", backward=_backward, cotangent="ones", dtypes=("float64",),
             tags={"layers", "recurrent", "flow_time"}, **_recurrent_inputs(_model, _steps, 1, fixed_seed=7))(_fn)
