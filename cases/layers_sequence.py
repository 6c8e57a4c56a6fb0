"""Attention and recurrent layers, each with its backward derived by hand (``crosscheck/core/sequence.py``).

- scaled dot-product attention, with and without the causal mask: the ``scaled_dot_product_attention`` op
  (torch's and jax's own kernels; a composition on tensorflow and autograd);
- multi-head attention (2 heads) and a pre-norm transformer block: x + MHA(LN(x)), then h + MLP(LN(h)) with an
  exact-GELU MLP; the layer norm is composed from mean, rsqrt and arithmetic (it is no op here);
- an Elman RNN (tanh), an LSTM and a GRU unrolled over T = 5 steps (backpropagation through time), every hidden
  state as the output: gradients for the weights, the initial state(s) and every input step. No framework but
  torch has a functional cell, so each is built from matmul, sigmoid, tanh and multiply on every backend;
- the flow-through-time study runs the same three models (defined in ``crosscheck/flow_time.py``) at T = 5, 10,
  20, 50 outside the catalogue: a T = 50 unroll costs jax and tensorflow long compilations;
- ``transformer_training``: the block trained by SGD to output the running mean of its input sequence, the
  same steps on every backend (``crosscheck/trajectories.py``).

Shapes are tiny (batch 2, length 5, width 8 or 3 → 4) so that every backend and the reference run in seconds.
"""

import numpy as np

from crosscheck import Expected, Training, case, flow_time, inputs
from crosscheck.core import sequence
from crosscheck.ops_spec import R_SDPA_FLOAT32_SOFTMAX, T_GELU

B, L, E = 2, 5, 4  # attention: batch, length, width
D, HEADS, F = 8, 2, 8  # multi-head attention and the block: model width, heads, MLP width
T = 5  # recurrent models: steps (widths: flow_time.I, flow_time.H)


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
      train=Training(steps=20, lr=0.1, predict=_training_predict), expect=[_TF_GELU, _JAX_F32],
      tags={"layers", "attention", "training"})
def transformer_training(nn, x, target, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2):
    return nn.mean_squared_error(_block(nn, x, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2), target)


# ---------------------------------------------------------------- recurrent models, unrolled over T steps


MODELS = flow_time.RECURRENT  # the models, written once against nn (shared with the flow-through-time study)


def _make(model, steps):
    names = list(flow_time.recurrent_inputs(model, steps, B))

    def fn(nn, **a):
        return nn.stack(MODELS[model](nn, *(a[k] for k in names), steps), axis=1)

    def backward(g, **a):
        return sequence.bptt(model, **a, dhs=g)  # every hidden state is an output: dL/dhs = g

    fn.__name__ = model
    return fn, backward


for _model in MODELS:
    _fn, _backward = _make(_model, T)
    _specs = {k: (_w(*s) if k[0] == "W" else inputs.normal(*s, scale=0.5))
              for k, s in flow_time.recurrent_inputs(_model, T, B).items()}
    case(_model if _model != "rnn" else "rnn_tanh", backward=_backward, tags={"layers", "recurrent"}, **_specs)(_fn)
