"""JAX: every op bound to ``jax.nn.*`` / ``jax.numpy.*``, gradients by a jitted ``jax.value_and_grad``.

jax is imported on first use (``import jax`` below is absolute: it finds the
framework, never this module). float64 needs ``jax_enable_x64``, switched on
for the process at that first use. It leaves float32 runs in float32: inputs,
constants and the cotangent are created in the dtype under test, python
numbers are weakly typed (they take the array's dtype), and no op below
creates an array without an explicit dtype.
"""

from __future__ import annotations

import numpy as np

from ..vocabulary import Vocabulary
from .base import Backend, Evaluation, objective, output_shape
from .framework import CaseCache, Recording, import_framework

#: per case: (vocabulary class, case name, case function, input shapes, dtype[, mode, ...]) -> (jitted function,
#: its vocabulary[, the output's shape]), for the last few cases run (see CaseCache)
_COMPILED = CaseCache()


def _jax():
    import jax

    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    from .. import cache

    cache.configure_jax(jax)  # compilations kept on disk between runs (once per process; off with --no-cache)
    return jax


class JaxVocabulary(Recording, Vocabulary):
    """``nn`` bound to ``jax.nn`` and ``jax.numpy``; jax itself has no losses, so those are composed."""

    backend = "jax"
    bindings = {
        "mean_squared_error": "jnp.mean(jnp.square(pred - target))",
        "binary_cross_entropy": "-jnp.mean(y*jnp.log(p) + (1 - y)*jnp.log1p(-p))",
        "softmax_cross_entropy": "-jnp.mean(jnp.sum(target * jax.nn.log_softmax(logits), axis=-1))",
        "xlogy": "jax.scipy.special.xlogy (jnp has none)",
        "binary_cross_entropy_with_logits": "jnp.mean(jax.nn.softplus(z) - y*z)",
        "cross_entropy": "-jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[..., None], -1))",
        "nll": "-jnp.mean(jnp.take_along_axis(logp, labels[..., None], -1))",
        "l1": "jnp.mean(jnp.abs(pred - target))",
        "huber": "jnp.mean(jnp.where(|d| <= delta, d²/2, delta(|d| - delta/2)))",
        "smooth_l1": "jnp.mean(jnp.where(|d| < beta, d²/(2 beta), |d| - beta/2))",
        "kl_div": "jnp.sum(xlogy(p, p) - p*log_q) / rows",
        "cosine_similarity": "Σab / (max(‖a‖, eps)·max(‖b‖, eps)) with jnp.linalg.vector_norm",
        "index_add": "a.at[index].add(source)",
        "softplus": "jax.nn.softplus (no β, no threshold); β ≠ 1 composed as jax.nn.softplus(β a)/β",
        "hardtanh": "jax.nn.hard_tanh (bounds ±1); other bounds jnp.clip",
        # --- layers (issue 11): jax.nn has no normalisation, dropout or embedding layer (flax's are modules)
        "layer_norm": "jax.nn.standardize(a, axis=-1, epsilon=eps)·weight + bias",
        "rms_norm": "a·jax.lax.rsqrt(jnp.mean(a², -1) + eps)·weight",
        "batch_norm": "jax.nn.standardize(a, axis=(0, 2, ...), epsilon=eps)·weight + bias (batch statistics)",
        "group_norm": "jax.nn.standardize over each group of (N, G, C/G, ...)·weight + bias",
        "dropout": "a·(mask/(1 - p))",
        "conv_transpose2d": "jax.lax.conv_general_dilated with lhs_dilation = stride, padding d(k-1) - p, the kernel "
                            "flipped and its channel axes exchanged per group (jax.lax.conv_transpose has no groups)",
        "max_pool2d": "jax.lax.reduce_window(a, -inf, jax.lax.max, ...)",
        "avg_pool2d": "jax.lax.reduce_window(a, 0, jax.lax.add, ...)/(k·k)",
        "embedding": "jnp.take(weight, indices, axis=0)",
    }

    def __init__(self, dtype):
        self.used = set()  # ops looked up so far (see Recording)
        jax = _jax()
        self.jax, self.jnp, self.jnn = jax, jax.numpy, jax.nn
        self.dtype = np.dtype(dtype)

    array_name = "jax.Array"

    def is_native(self, x):
        return isinstance(x, self.jax.Array)

    def constant(self, array):
        return self.jnp.asarray(np.asarray(array), dtype=self.dtype)

    def add(self, a, b): return self.jnp.add(a, b)
    def subtract(self, a, b): return self.jnp.subtract(a, b)
    def multiply(self, a, b): return self.jnp.multiply(a, b)
    def divide(self, a, b): return self.jnp.divide(a, b)
    def negative(self, a): return self.jnp.negative(a)
    def power(self, a, exponent): return self.jnp.power(a, exponent)
    def exp(self, a): return self.jnp.exp(a)
    def log(self, a): return self.jnp.log(a)
    def sin(self, a): return self.jnp.sin(a)
    def cos(self, a): return self.jnp.cos(a)
    def tanh(self, a): return self.jnp.tanh(a)
    def sigmoid(self, a): return self.jnn.sigmoid(a)
    def relu(self, a): return self.jnn.relu(a)
    def maximum(self, a, b): return self.jnp.maximum(a, b)
    def matmul(self, a, b): return self.jnp.matmul(a, b)
    def sum(self, a, axis=None, keepdims=False): return self.jnp.sum(a, axis=axis, keepdims=keepdims)
    def mean(self, a, axis=None, keepdims=False): return self.jnp.mean(a, axis=axis, keepdims=keepdims)
    def reshape(self, a, shape): return self.jnp.reshape(a, shape)
    def transpose(self, a, axes=None): return self.jnp.transpose(a, axes)

    def mean_squared_error(self, pred, target):
        return self.jnp.mean(self.jnp.square(pred - target))

    def binary_cross_entropy(self, p, y):
        # log1p(-p) = log(1 - p) without cancellation as p -> 0
        return -self.jnp.mean(y * self.jnp.log(p) + (1 - y) * self.jnp.log1p(-p))

    def softmax_cross_entropy(self, logits, target):
        return -self.jnp.mean(self.jnp.sum(target * self.jnn.log_softmax(logits, axis=-1), axis=-1))


    # ------------------------------------------------ element-wise
    def abs(self, a): return self.jnp.abs(a)
    def sign(self, a): return self.jnp.sign(a)
    def floor(self, a): return self.jnp.floor(a)
    def round(self, a): return self.jnp.round(a)
    def sqrt(self, a): return self.jnp.sqrt(a)
    def rsqrt(self, a): return self.jax.lax.rsqrt(a)
    def square(self, a): return self.jnp.square(a)
    def reciprocal(self, a): return self.jnp.reciprocal(a)
    def expm1(self, a): return self.jnp.expm1(a)
    def log1p(self, a): return self.jnp.log1p(a)
    def tan(self, a): return self.jnp.tan(a)
    def arcsin(self, a): return self.jnp.arcsin(a)
    def arccos(self, a): return self.jnp.arccos(a)
    def arctan(self, a): return self.jnp.arctan(a)
    def sinh(self, a): return self.jnp.sinh(a)
    def cosh(self, a): return self.jnp.cosh(a)
    def erf(self, a): return self.jax.lax.erf(a)
    def clip(self, a, lo, hi): return self.jnp.clip(a, lo, hi)
    def where(self, cond, a, b): return self.jnp.where(cond, a, b)
    def minimum(self, a, b): return self.jnp.minimum(a, b)
    def atan2(self, y, x): return self.jnp.arctan2(y, x)
    def logaddexp(self, a, b): return self.jnp.logaddexp(a, b)
    def fmod(self, a, b): return self.jnp.fmod(a, b)
    def remainder(self, a, b): return self.jnp.remainder(a, b)

    def xlogy(self, x, y):
        import jax.scipy.special

        return jax.scipy.special.xlogy(x, y)

    def pow(self, a, b): return self.jnp.power(a, b)

    # ------------------------------------------------ activations
    def softplus(self, a, beta=1.0, threshold=20.0):
        # jax.nn.softplus has neither β nor a threshold: β ≠ 1 is composed (see the op's note)
        return self.jnn.softplus(a) if beta == 1 else self.jnn.softplus(beta * a) / beta

    def log_sigmoid(self, a): return self.jnn.log_sigmoid(a)
    def relu6(self, a): return self.jnn.relu6(a)
    def leaky_relu(self, a, negative_slope=0.01): return self.jnn.leaky_relu(a, negative_slope)
    def elu(self, a, alpha=1.0): return self.jnn.elu(a, alpha)
    def selu(self, a): return self.jnn.selu(a)
    def celu(self, a, alpha=1.0): return self.jnn.celu(a, alpha)
    def gelu(self, a): return self.jnn.gelu(a, approximate=False)
    def gelu_tanh(self, a): return self.jnn.gelu(a, approximate=True)
    def silu(self, a): return self.jnn.silu(a)
    def mish(self, a): return self.jnn.mish(a)

    def hardtanh(self, a, min_val=-1.0, max_val=1.0):
        # jax.nn.hard_tanh has fixed bounds ±1: other bounds are jnp.clip (see the op's note)
        return self.jnn.hard_tanh(a) if (min_val, max_val) == (-1.0, 1.0) else self.jnp.clip(a, min_val, max_val)

    def hard_sigmoid(self, a): return self.jnn.hard_sigmoid(a)
    def hard_swish(self, a): return self.jnn.hard_swish(a)
    def softsign(self, a): return self.jnn.soft_sign(a)

    # ------------------------------------------------ reductions and scans
    def max(self, a, axis=None, keepdims=False): return self.jnp.max(a, axis=axis, keepdims=keepdims)
    def min(self, a, axis=None, keepdims=False): return self.jnp.min(a, axis=axis, keepdims=keepdims)
    def prod(self, a, axis=None, keepdims=False): return self.jnp.prod(a, axis=axis, keepdims=keepdims)
    def logsumexp(self, a, axis=None, keepdims=False): return self.jnn.logsumexp(a, axis=axis, keepdims=keepdims)
    def var(self, a, axis=None, ddof=0, keepdims=False): return self.jnp.var(a, axis=axis, ddof=ddof, keepdims=keepdims)
    def std(self, a, axis=None, ddof=0, keepdims=False): return self.jnp.std(a, axis=axis, ddof=ddof, keepdims=keepdims)

    def norm(self, a, ord=2):  # noqa: A002
        if ord == "fro":
            return self.jnp.linalg.norm(a, "fro") if a.ndim == 2 else self.jnp.linalg.vector_norm(a, ord=2)
        return self.jnp.linalg.vector_norm(a, ord=float("inf") if ord == "inf" else ord)

    def cumsum(self, a, axis): return self.jnp.cumsum(a, axis=axis)
    def cumprod(self, a, axis): return self.jnp.cumprod(a, axis=axis)
    def cummax(self, a, axis): return self.jax.lax.cummax(a, axis=axis % a.ndim)
    def sort(self, a, axis=-1): return self.jnp.sort(a, axis=axis, stable=True)
    def median(self, a, axis=None): return self.jnp.median(a, axis=axis)
    def softmax(self, a, axis=-1): return self.jnn.softmax(a, axis=axis)
    def log_softmax(self, a, axis=-1): return self.jnn.log_softmax(a, axis=axis)

    # ------------------------------------------------ shape and indexing
    def take_along_axis(self, a, indices, axis):
        return self.jnp.take_along_axis(a, indices.astype(self.jnp.int32), axis=axis)

    def concatenate(self, arrays, axis=0): return self.jnp.concatenate(list(arrays), axis=axis)
    def stack(self, arrays, axis=0): return self.jnp.stack(list(arrays), axis=axis)
    def pad(self, a, pad_width, value=0.0): return self.jnp.pad(a, pad_width, constant_values=value)
    def squeeze(self, a, axis): return self.jnp.squeeze(a, axis)
    def expand_dims(self, a, axis): return self.jnp.expand_dims(a, axis)
    def broadcast_to(self, a, shape): return self.jnp.broadcast_to(a, shape)
    def flip(self, a, axis): return self.jnp.flip(a, axis)
    def tile(self, a, reps): return self.jnp.tile(a, reps)
    def repeat(self, a, repeats, axis): return self.jnp.repeat(a, repeats, axis=axis)
    def index_add(self, a, index, source): return a.at[np.asarray(index)].add(source)
    def einsum(self, subscripts, *operands): return self.jnp.einsum(subscripts, *operands)

    # ------------------------------------------------ linear algebra
    def det(self, a): return self.jnp.linalg.det(a)
    def slogdet(self, a): return self.jnp.linalg.slogdet(a)[1]
    def inv(self, a): return self.jnp.linalg.inv(a)
    def solve(self, a, b): return self.jnp.linalg.solve(a, b)
    def cholesky(self, a): return self.jnp.linalg.cholesky(a)
    def eigh(self, a): return self.jnp.linalg.eigvalsh(a)
    def eigh_vectors(self, a): return self.jnp.linalg.eigh(a)[1]
    def svdvals(self, a): return self.jnp.linalg.svd(a, compute_uv=False)
    def trace(self, a): return self.jnp.trace(a, axis1=-2, axis2=-1)
    def diagonal(self, a): return self.jnp.diagonal(a, axis1=-2, axis2=-1)

    # ------------------------------------------------ losses (jax has none: compositions, named in bindings)
    def binary_cross_entropy_with_logits(self, z, y): return self.jnp.mean(self.jnn.softplus(z) - y * z)

    def cross_entropy(self, logits, labels):
        return self.nll(self.jnn.log_softmax(logits, axis=-1), labels)

    def nll(self, logp, labels):
        idx = labels.astype(self.jnp.int32)[..., None]
        return -self.jnp.mean(self.jnp.take_along_axis(logp, idx, axis=-1))

    def l1(self, pred, target): return self.jnp.mean(self.jnp.abs(pred - target))

    def huber(self, pred, target, delta=1.0):
        d = pred - target
        a = self.jnp.abs(d)
        return self.jnp.mean(self.jnp.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta)))

    def smooth_l1(self, pred, target, beta=1.0):
        d = pred - target
        a = self.jnp.abs(d)
        return self.jnp.mean(self.jnp.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta))

    def kl_div(self, log_q, p):
        import jax.scipy.special

        rows = log_q.shape[0] if log_q.ndim > 1 else 1
        return self.jnp.sum(jax.scipy.special.xlogy(p, p) - p * log_q) / rows

    def cosine_similarity(self, a, b, axis=-1, eps=1e-8):
        na = self.jnp.maximum(self.jnp.linalg.vector_norm(a, axis=axis), eps)
        nb = self.jnp.maximum(self.jnp.linalg.vector_norm(b, axis=axis), eps)
        return self.jnp.sum(a * b, axis=axis) / (na * nb)

    # --- layers: attention and recurrent (issue 11)
    bindings = {**bindings, "scaled_dot_product_attention":
                "jax.nn.dot_product_attention; (B, heads, L, E) moved to its (B, L, heads, E), other ranks as one "
                "head with the leading axes as the batch"}

    def scaled_dot_product_attention(self, q, k, v, causal=False):
        if q.ndim == 4:  # (B, heads, L, E) <-> jax's (B, L, heads, E)
            move = lambda a: self.jnp.transpose(a, (0, 2, 1, 3))  # noqa: E731
            return move(self.jnn.dot_product_attention(move(q), move(k), move(v), is_causal=causal))
        lead = q.shape[:-2]
        one_head = lambda a: self.jnp.reshape(a, (-1,) + a.shape[-2:])[:, :, None, :]  # noqa: E731
        out = self.jnn.dot_product_attention(one_head(q), one_head(k), one_head(v), is_causal=causal)
        return self.jnp.reshape(out[:, :, 0, :], lead + out.shape[1:2] + out.shape[3:])
    # --- end of layers: attention and recurrent (issue 11)


    # --- layers: normalisation, dropout, convolution, pooling, embedding (issue 11) -----------------------------
    def _channel(self, v, ndim): return self.jnp.reshape(v, (1, -1) + (1,) * (ndim - 2))

    def layer_norm(self, a, weight, bias, eps=1e-5):
        return self.jnn.standardize(a, axis=-1, epsilon=eps) * weight + bias

    def rms_norm(self, a, weight, eps=1e-6):
        return a * self.jax.lax.rsqrt(self.jnp.mean(a * a, axis=-1, keepdims=True) + eps) * weight

    def batch_norm(self, a, weight, bias, eps=1e-5):
        axes = (0,) + tuple(range(2, a.ndim))
        return (self.jnn.standardize(a, axis=axes, epsilon=eps) * self._channel(weight, a.ndim)
                + self._channel(bias, a.ndim))

    def group_norm(self, a, weight, bias, num_groups, eps=1e-5):
        n, c = a.shape[:2]
        g = self.jnp.reshape(a, (n, num_groups, c // num_groups) + a.shape[2:])
        y = self.jnp.reshape(self.jnn.standardize(g, axis=tuple(range(2, g.ndim)), epsilon=eps), a.shape)
        return y * self._channel(weight, a.ndim) + self._channel(bias, a.ndim)

    def dropout(self, a, mask, p=0.5): return a * (mask / (1 - p))

    def _conv(self, a, weight, bias, stride, padding, dilation, groups, lhs_dilation=None, pads=None):
        s = a.ndim - 2
        spec = ("NCH", "OIH", "NCH") if s == 1 else ("NCHW", "OIHW", "NCHW")
        y = self.jax.lax.conv_general_dilated(
            a, weight, window_strides=(stride,) * s, padding=pads or [(padding, padding)] * s,
            lhs_dilation=lhs_dilation, rhs_dilation=(dilation,) * s, dimension_numbers=spec,
            feature_group_count=groups)
        return y + self._channel(bias, y.ndim)

    def conv1d(self, a, weight, bias, stride=1, padding=0, dilation=1, groups=1):
        return self._conv(a, weight, bias, stride, padding, dilation, groups)

    def conv2d(self, a, weight, bias, stride=1, padding=0, dilation=1, groups=1):
        return self._conv(a, weight, bias, stride, padding, dilation, groups)

    def conv_transpose2d(self, a, weight, bias, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        # the fractionally strided conv: the input dilated by the stride, padded by d(k - 1) - p (plus the
        # output padding at the end), convolved with the kernel flipped and its channel axes exchanged per group
        cin, cout_g, kh, kw = weight.shape
        w = self.jnp.reshape(weight, (groups, cin // groups, cout_g, kh, kw))
        w = self.jnp.reshape(self.jnp.transpose(w, (0, 2, 1, 3, 4)), (groups * cout_g, cin // groups, kh, kw))
        w = w[:, :, ::-1, ::-1]
        pads = [(dilation * (k - 1) - padding, dilation * (k - 1) - padding + output_padding) for k in (kh, kw)]
        return self._conv(a, w, bias, 1, 0, dilation, groups, lhs_dilation=(stride, stride), pads=pads)

    def max_pool2d(self, a, kernel_size, stride=None):
        stride = kernel_size if stride is None else stride
        return self.jax.lax.reduce_window(a, -self.jnp.inf, self.jax.lax.max, (1, 1, kernel_size, kernel_size),
                                          (1, 1, stride, stride), "VALID")

    def avg_pool2d(self, a, kernel_size, stride=None):
        stride = kernel_size if stride is None else stride
        total = self.jax.lax.reduce_window(a, 0.0, self.jax.lax.add, (1, 1, kernel_size, kernel_size),
                                           (1, 1, stride, stride), "VALID")
        return total / (kernel_size * kernel_size)

    def embedding(self, indices, weight): return self.jnp.take(weight, indices.astype(self.jnp.int32), axis=0)
    # --- end of layers (issue 11)

class JaxBackend(Backend):
    """Gradients by ``jax.value_and_grad`` with respect to a dict of the differentiated inputs (CPU)."""

    name = "jax"
    vocabulary = JaxVocabulary  # a subclass may rebind ops (the tests bind one wrongly on purpose)

    def unavailable(self):
        return import_framework("jax")[1]

    def _compiled(self, case, params, data, dtype):
        """(jitted value_and_grad, its vocabulary, the output's shape) for this case, shapes and dtype:
        traced and compiled once, then reused. The cotangent is an argument, not a traced-in constant,
        so every draw of the case's inputs (and so of its cotangent) shares the compilation."""
        shapes = tuple((k, np.shape(v)) for k, v in {**params, **data}.items())
        key = (self.vocabulary, case.name, case.fn, shapes, dtype)

        def build():
            jax = _jax()
            nn = self.vocabulary(dtype)
            out_shape = jax.eval_shape(lambda p, d: case.fn(nn, **p, **d), params, data).shape

            def loss(params, data, cotangent):
                return objective(case, nn, {**params, **data}, dtype, cotangent)[0]

            return jax.jit(jax.value_and_grad(loss)), nn, tuple(out_shape)

        return _COMPILED.get(case, key, build)

    def evaluate(self, case, point, dtype):
        # numpy arrays go straight into the jitted function: jit converts them on its fast path, where a
        # jnp.asarray per input and call costs more than a small case's whole computation (training runs)
        arrays = {k: np.asarray(v, dtype=dtype) for k, v in point.items()}
        wrt = set(case.wrt)
        params = {k: v for k, v in arrays.items() if k in wrt}
        data = {k: v for k, v in arrays.items() if k not in wrt}
        fn, nn, shape = self._compiled(case, params, data, dtype)
        cotangent = case.cotangent_for(shape, dtype) if int(np.prod(shape)) != 1 else np.zeros((), dtype)
        value, grads = fn(params, data, cotangent)
        # nn.used was filled while the case was traced (its first call); later calls run compiled code only
        return Evaluation(float(value), {k: np.asarray(grads[k]) for k in case.wrt}, nn.notes())

    # --- forward mode and second order (issue 13) ---------------------------------------------------------------
    # J·v by jax.jvp (each primitive's JVP rule); H·v by jax.jvp of jax.grad (forward over reverse: the JVP rules
    # of the primitives the gradient is made of). Both jitted per case, shapes, dtype (and, for J·v, the input
    # differentiated), as evaluate is, and kept in the persistent cache; ``JaxBackend.eager = True`` runs them
    # without jit (see the class's ``eager``).
    modes = ("rev", "fwd", "hvp")
    #: run jvp/hvp without jit. Measured (op_erf, stack_sigmoid_20, transformer_block, lstm, xor_mlp): a first call
    #: costs 0.1-0.6 s jitted with the persistent cache warm (0.05-5.5 s cold), 0.25-6 s eager (jax compiles each
    #: op eagerly too); a later call 0.1-4 ms jitted, 4-130 ms eager. So jit, as evaluate does
    eager = False

    def _split(self, case, point, dtype):
        arrays = {k: np.asarray(v, dtype=dtype) for k, v in point.items()}
        wrt = set(case.wrt)
        return ({k: v for k, v in arrays.items() if k in wrt}, {k: v for k, v in arrays.items() if k not in wrt})

    def _second_order(self, kind, case, params, data, dtype, extra, make):
        """The function ``make(nn)`` builds for this case (jitted unless ``eager``), cached like _compiled."""
        shapes = tuple((k, np.shape(v)) for k, v in {**params, **data}.items())
        key = (self.vocabulary, case.name, case.fn, shapes, dtype, kind, extra, self.eager)

        def build():
            jax = _jax()
            nn = self.vocabulary(dtype)
            fn = make(jax, nn)
            return (fn if self.eager else jax.jit(fn)), nn

        return _COMPILED.get(case, key, build)

    def jvp(self, case, point, dtype, param, tangent):
        params, data = self._split(case, point, dtype)

        def make(jax, nn):
            def jv(x, rest, t):
                def output(x):
                    out = case.fn(nn, **{**rest, param: x})
                    output_shape(out, nn)
                    return out

                return jax.jvp(output, (x,), (t,))[1]

            return jv

        fn, _ = self._second_order("jvp", case, params, data, dtype, param, make)
        rest = {k: v for k, v in {**params, **data}.items() if k != param}
        with _no_rule("forward mode (jax.jvp)"):
            return np.asarray(fn(params[param], rest, np.asarray(tangent, dtype=dtype)))

    def hvp(self, case, point, dtype, tangents):
        params, data = self._split(case, point, dtype)
        shape = self._output_shape(case, params, data, dtype)
        cotangent = case.cotangent_for(shape, dtype) if int(np.prod(shape)) != 1 else np.zeros((), dtype)

        def make(jax, nn):
            def hv(params, data, cotangent, v):
                def loss(params):
                    return objective(case, nn, {**params, **data}, dtype, cotangent)[0]

                return jax.jvp(jax.grad(loss), (params,), (v,))[1]

            return hv

        fn, _ = self._second_order("hvp", case, params, data, dtype, None, make)
        v = {k: np.asarray(tangents[k], dtype=dtype) for k in params}
        with _no_rule("forward over reverse (jax.jvp of jax.grad)"):
            out = fn(params, data, cotangent, v)
        return {k: np.asarray(out[k]) for k in case.wrt}


    def _output_shape(self, case, params, data, dtype):
        """The case's output shape: from evaluate's compilation when there is one, else traced abstractly."""
        shapes = tuple((k, np.shape(v)) for k, v in {**params, **data}.items())
        key = (self.vocabulary, case.name, case.fn, shapes, dtype)
        compiled = _COMPILED.peek(case, key)
        if compiled is not None:
            return compiled[2]
        jax, nn = _jax(), self.vocabulary(dtype)
        return tuple(jax.eval_shape(lambda p, d: case.fn(nn, **p, **d), params, data).shape)


class _no_rule:
    """jax's NotImplementedError / error naming a primitive without a JVP rule (or a differentiation rule)
    becomes NotImplementedError with jax's words: the row is ``skipped``, naming the primitive."""

    def __init__(self, what):
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is None:
            return False
        words = (str(exc).strip().splitlines() or [kind.__name__])[0]
        if issubclass(kind, NotImplementedError) or (issubclass(kind, (TypeError, ValueError))
                                                      and "differentiation rule" in str(exc)):
            raise NotImplementedError(f"jax has no rule for {self.what} of a primitive in this case: {words}") \
                from exc
        return False
