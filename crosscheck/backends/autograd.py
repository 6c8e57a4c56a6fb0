"""HIPS autograd: every op bound to ``autograd.numpy``, gradients by ``autograd.value_and_grad``.

autograd traces numpy code by boxing arrays; its ``autograd.numpy`` wraps each numpy function with a
hand-written VJP (``autograd/numpy/numpy_vjps.py``, ``linalg.py``) and ``autograd.scipy.special`` a few special
functions (erf, expit, logsumexp). It has no neural-network layer, so the activations and the losses are
compositions of its numpy functions; so are the ops numpy has but autograd gives no gradient (cumprod, flip,
median, n-D sort, take_along_axis, add.at): each named in ``bindings`` and in the rows' notes. Where autograd's
own rule raises (det's gradient inverts the matrix: LinAlgError at a singular one), the forward value is kept and
the gradient is NaN, autograd's words in the row's note. Imported on first use (``import autograd`` below is
absolute: it finds the package, never this module).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..vocabulary import Vocabulary
from .base import Backend, Evaluation, objective, output_shape
from .framework import Recording, import_framework


class AutogradVocabulary(Recording, Vocabulary):
    """``nn`` bound to ``autograd.numpy`` and ``autograd.scipy.special`` (erf, expit, logsumexp); autograd has no
    neural-network layer, so activations and losses are compositions of its functions, named in ``bindings``."""

    backend = "autograd"
    bindings = {
        "sigmoid": "0.5*(anp.tanh(a/2) + 1)",
        "relu": "anp.maximum(a, 0.0)",
        "mean_squared_error": "anp.mean((pred - target)**2)",
        "binary_cross_entropy": "-anp.mean(y*anp.log(p) + (1 - y)*anp.log1p(-p))",
        "softmax_cross_entropy": "-anp.mean(anp.sum(target*(logits - logsumexp(logits, axis=-1, keepdims=True)), -1))",
        "rsqrt": "anp.reciprocal(anp.sqrt(a)) (numpy has no rsqrt)",
        "clip": "anp.clip with number bounds; array bounds: anp.minimum(anp.maximum(a, lo), hi) (anp.clip has no "
                "gradient for its bounds)",
        "fmod": "a - b·anp.trunc(a/b) (autograd gives anp.fmod no gradient)",
        "xlogy": "x·anp.log(anp.where(x = y = 0, 1, y)) (autograd has no xlogy)",
        "softplus": "anp.logaddexp(0, β a)/β",
        "log_sigmoid": "-anp.logaddexp(0, -a)",
        "relu6": "anp.clip(a, 0, 6)",
        "leaky_relu": "anp.where(a > 0, a, slope·a)",
        "elu": "anp.where(a > 0, a, α·anp.expm1(anp.where(a > 0, 0, a)))",
        "selu": "λ·elu(a, α) with λ, α of the SELU paper",
        "celu": "anp.where(a > 0, a, α·anp.expm1(anp.where(a > 0, 0, a)/α))",
        "gelu": "a/2·(1 + autograd.scipy.special.erf(a/√2))",
        "gelu_tanh": "a/2·(1 + anp.tanh(√(2/π)(a + 0.044715a³)))",
        "silu": "a·autograd.scipy.special.expit(a)",
        "mish": "a·anp.tanh(anp.logaddexp(0, a))",
        "hardtanh": "anp.clip(a, min_val, max_val)",
        "hard_sigmoid": "anp.clip(a + 3, 0, 6)/6",
        "hard_swish": "a·anp.clip(a + 3, 0, 6)/6",
        "softsign": "a/(1 + anp.abs(a))",
        "norm": "anp.linalg.norm (2, 'fro'); ord 1: Σ|a|, inf: max|a| (anp.linalg.norm's gradient takes ord > 1 only)",
        "cumprod": "a running product over the axis, anp.stack-ed (autograd gives anp.cumprod no gradient)",
        "cummax": "a running anp.maximum over the axis, anp.stack-ed (numpy has no cummax)",
        "median": "the middle of anp.sort (an odd count; autograd gives anp.median no gradient)",
        "softmax": "anp.exp(a - logsumexp(a))",
        "log_softmax": "a - logsumexp(a)",
        "take_along_axis": "integer-array indexing a[idx, ...] (autograd wraps no take_along_axis)",
        "flip": "a[..., ::-1] (autograd gives anp.flip no gradient)",
        "index_add": "a + tensordot(onehot(index), source) (numpy's add.at has no gradient)",
        "eigh": "anp.linalg.eigh(a)[0]",
        "sort": "anp.sort (1-D); more axes: a taken along the stable np.argsort (anp.sort's gradient is 1-D only)",
        "trace": "anp.trace (2-D); more axes: the sum of diagonal (anp.trace's gradient is 2-D only)",
        "diagonal": "anp.diagonal(a, axis1=-1, axis2=-2) (its gradient takes that order only; the same diagonal)",
        "where": "anp.where on inputs broadcast first (its gradient is not reduced to a broadcast input's shape)",
        "svdvals": "anp.linalg.svd(a, compute_uv=False)",
        "binary_cross_entropy_with_logits": "anp.mean(anp.logaddexp(0, z) - y·z)",
        "cross_entropy": "-mean(log_softmax(logits)[labels])",
        "nll": "-mean(logp[labels]) by integer-array indexing",
        "l1": "anp.mean(anp.abs(pred - target))",
        "huber": "anp.mean(anp.where(|d| <= δ, d²/2, δ(|d| - δ/2)))",
        "smooth_l1": "anp.mean(anp.where(|d| < β, d²/(2β), |d| - β/2))",
        "kl_div": "Σ (xlogy(p, p) - p·log_q)/rows",
        "cosine_similarity": "Σab / (max(‖a‖, ε)·max(‖b‖, ε)), ‖·‖ = anp.sqrt(Σ x²)",
        # --- layers (issue 11): autograd has no layers; each is a composition of its numpy functions
        "layer_norm": "(a - mean)/anp.sqrt(mean((a - mean)²) + eps)·weight + bias over the last axis",
        "rms_norm": "a/anp.sqrt(mean(a²) + eps)·weight",
        "batch_norm": "(a - mean)/anp.sqrt(var + eps) over (0, 2, ...)·weight + bias",
        "group_norm": "(a - mean)/anp.sqrt(var + eps) over each group of (N, G, C/G, ...)·weight + bias",
        "dropout": "a·(mask/(1 - p))",
        "conv1d": "anp.einsum of a with 0/1 tap tensors and the weight (the conv as a linear map; "
                  "crosscheck.core.layers.grouped_conv)",
        "conv2d": "anp.einsum of a with 0/1 tap tensors and the weight (the conv as a linear map; "
                  "crosscheck.core.layers.grouped_conv)",
        "conv_transpose2d": "anp.einsum with the conv's tap tensors read the other way (its adjoint)",
        "max_pool2d": "anp.max over the windows gathered by integer-array indexing (a tie splits evenly)",
        "avg_pool2d": "anp.mean over the windows gathered by integer-array indexing",
        "embedding": "weight[indices] (integer-array indexing; its gradient adds repeats)",
    }

    def __init__(self, dtype):
        self.used = set()  # ops looked up so far (see Recording)
        import autograd.numpy as anp
        import autograd.scipy.special as special
        from autograd.numpy.numpy_boxes import ArrayBox

        # logsumexp_ (the op is logsumexp): autograd.scipy.special.logsumexp, also inside softmax and the losses
        self.anp, self.ArrayBox, self.special, self.logsumexp_ = anp, ArrayBox, special, special.logsumexp
        self.dtype = np.dtype(dtype)

    array_name = "autograd ArrayBox (or numpy array)"

    def is_native(self, x):
        return isinstance(x, (self.ArrayBox, np.ndarray))

    def constant(self, array):
        return np.array(array, dtype=self.dtype)

    def add(self, a, b): return self.anp.add(a, b)
    def subtract(self, a, b): return self.anp.subtract(a, b)
    def multiply(self, a, b): return self.anp.multiply(a, b)
    def divide(self, a, b): return self.anp.divide(a, b)
    def negative(self, a): return self.anp.negative(a)
    def power(self, a, exponent): return self.anp.power(a, exponent)
    def exp(self, a): return self.anp.exp(a)
    def log(self, a): return self.anp.log(a)
    def sin(self, a): return self.anp.sin(a)
    def cos(self, a): return self.anp.cos(a)
    def tanh(self, a): return self.anp.tanh(a)
    def sigmoid(self, a): return 0.5 * (self.anp.tanh(a / 2) + 1)  # σ(a) = (tanh(a/2) + 1)/2, no overflow
    def relu(self, a): return self.anp.maximum(a, 0.0)
    def maximum(self, a, b): return self.anp.maximum(a, b)
    def matmul(self, a, b): return self.anp.matmul(a, b)
    def sum(self, a, axis=None, keepdims=False): return self.anp.sum(a, axis=axis, keepdims=keepdims)
    def mean(self, a, axis=None, keepdims=False): return self.anp.mean(a, axis=axis, keepdims=keepdims)
    def reshape(self, a, shape): return self.anp.reshape(a, shape)
    def transpose(self, a, axes=None): return self.anp.transpose(a, axes)

    def mean_squared_error(self, pred, target):
        return self.anp.mean((pred - target) ** 2)

    def binary_cross_entropy(self, p, y):
        return -self.anp.mean(y * self.anp.log(p) + (1 - y) * self.anp.log1p(-p))

    def softmax_cross_entropy(self, logits, target):
        logp = logits - self.logsumexp_(logits, axis=-1, keepdims=True)
        return -self.anp.mean(self.anp.sum(target * logp, axis=-1))

    # ------------------------------------------------ element-wise
    def abs(self, a): return self.anp.abs(a)
    def sign(self, a): return self.anp.sign(a)
    def floor(self, a): return self.anp.floor(a)
    def round(self, a): return self.anp.round(a)
    def sqrt(self, a): return self.anp.sqrt(a)
    def rsqrt(self, a): return self.anp.reciprocal(self.anp.sqrt(a))
    def square(self, a): return self.anp.square(a)
    def reciprocal(self, a): return self.anp.reciprocal(a)
    def expm1(self, a): return self.anp.expm1(a)
    def log1p(self, a): return self.anp.log1p(a)
    def tan(self, a): return self.anp.tan(a)
    def arcsin(self, a): return self.anp.arcsin(a)
    def arccos(self, a): return self.anp.arccos(a)
    def arctan(self, a): return self.anp.arctan(a)
    def sinh(self, a): return self.anp.sinh(a)
    def cosh(self, a): return self.anp.cosh(a)
    def erf(self, a): return self.special.erf(a)

    def clip(self, a, lo, hi):
        if np.isscalar(lo) and np.isscalar(hi):
            return self.anp.clip(a, lo, hi)
        # anp.clip has no gradient for its bounds: array bounds are minimum(maximum(a, lo), hi) (see the op's note)
        return self.anp.minimum(self.anp.maximum(a, lo), hi)

    def _broadcast(self, *xs):
        """Arrays broadcast to one shape: autograd's where sends back gradients of the output's shape, unreduced."""
        shape = np.broadcast_shapes(*(np.shape(x) for x in xs))
        # + zeros, not anp.broadcast_to: add's gradient sums over the broadcast axes (broadcast_to's cannot)
        return [x if np.shape(x) == shape else x + np.zeros(shape, self.dtype) for x in xs]

    def where(self, cond, a, b):
        a, b = self._broadcast(a, b, np.zeros(np.shape(cond), self.dtype))[:2]
        cond = np.broadcast_to(np.asarray(getattr(cond, "_value", cond)), np.shape(a))
        return self.anp.where(cond, a, b)
    def minimum(self, a, b): return self.anp.minimum(a, b)
    def atan2(self, y, x): return self.anp.arctan2(y, x)
    def logaddexp(self, a, b): return self.anp.logaddexp(a, b)
    def fmod(self, a, b): return a - b * self.anp.trunc(a / b)
    def remainder(self, a, b): return self.anp.remainder(a, b)

    def xlogy(self, x, y):
        anp = self.anp
        x, y = self._broadcast(x, y)
        both_zero = anp.logical_and(anp.equal(x, 0), anp.equal(y, 0))
        return x * anp.log(anp.where(both_zero, 1.0, y))

    def pow(self, a, b): return self.anp.power(a, b)

    # ------------------------------------------------ activations (autograd has none: compositions, named)
    def softplus(self, a, beta=1.0, threshold=20.0):
        return self.anp.logaddexp(0.0, a) if beta == 1 else self.anp.logaddexp(0.0, beta * a) / beta

    def log_sigmoid(self, a): return -self.anp.logaddexp(0.0, -a)
    def relu6(self, a): return self.anp.clip(a, 0.0, 6.0)
    def leaky_relu(self, a, negative_slope=0.01): return self.anp.where(a > 0, a, negative_slope * a)

    def elu(self, a, alpha=1.0):
        anp = self.anp  # the inner where keeps expm1 off large a (its inf would meet where's zero: 0·inf)
        return anp.where(a > 0, a, alpha * anp.expm1(anp.where(a > 0, 0.0, a)))

    _SELU = (1.6732632423543772848170429916717, 1.0507009873554804934193349852946)

    def selu(self, a):
        alpha, scale = self._SELU
        return scale * self.elu(a, alpha)

    def celu(self, a, alpha=1.0):
        anp = self.anp
        return anp.where(a > 0, a, alpha * anp.expm1(anp.where(a > 0, 0.0, a) / alpha))

    # python floats, not numpy scalars: a np.float64 would promote a float32 run's arrays (NEP 50)
    def gelu(self, a): return 0.5 * a * (1.0 + self.special.erf(a / float(np.sqrt(2.0))))

    def gelu_tanh(self, a):
        return 0.5 * a * (1.0 + self.anp.tanh(float(np.sqrt(2.0 / np.pi)) * (a + 0.044715 * a ** 3)))

    def silu(self, a): return a * self.special.expit(a)
    def mish(self, a): return a * self.anp.tanh(self.anp.logaddexp(0.0, a))
    def hardtanh(self, a, min_val=-1.0, max_val=1.0): return self.anp.clip(a, min_val, max_val)
    def hard_sigmoid(self, a): return self.anp.clip(a + 3.0, 0.0, 6.0) / 6.0
    def hard_swish(self, a): return a * self.anp.clip(a + 3.0, 0.0, 6.0) / 6.0
    def softsign(self, a): return a / (1.0 + self.anp.abs(a))

    # ------------------------------------------------ reductions and scans
    def max(self, a, axis=None, keepdims=False): return self.anp.max(a, axis=axis, keepdims=keepdims)
    def min(self, a, axis=None, keepdims=False): return self.anp.min(a, axis=axis, keepdims=keepdims)
    def prod(self, a, axis=None, keepdims=False): return self.anp.prod(a, axis=axis, keepdims=keepdims)

    def logsumexp(self, a, axis=None, keepdims=False):
        return self.logsumexp_(a, axis=axis, keepdims=keepdims)

    def var(self, a, axis=None, ddof=0, keepdims=False): return self.anp.var(a, axis=axis, ddof=ddof, keepdims=keepdims)
    def std(self, a, axis=None, ddof=0, keepdims=False): return self.anp.std(a, axis=axis, ddof=ddof, keepdims=keepdims)

    def norm(self, a, ord=2):  # noqa: A002
        anp = self.anp
        if ord == "fro" or ord == 2:
            return anp.linalg.norm(anp.ravel(a))
        if ord == 1:  # anp.linalg.norm's gradient takes ord None, 2 or > 1 only
            return anp.sum(anp.abs(a))
        return anp.max(anp.abs(a))  # ord inf: its p-norm gradient formula is inf/inf there

    def cumsum(self, a, axis): return self.anp.cumsum(a, axis=axis)

    def _running(self, a, axis, step):
        """The running ``step`` along ``axis``, one slice at a time, stacked back."""
        anp = self.anp
        axis %= a.ndim
        out, acc = [], None
        for k in range(a.shape[axis]):
            x = a[(slice(None),) * axis + (k,)]
            acc = x if acc is None else step(acc, x)
            out.append(acc)
        return anp.stack(out, axis=axis)

    def cumprod(self, a, axis): return self._running(a, axis, lambda acc, x: acc * x)
    def cummax(self, a, axis): return self._running(a, axis, self.anp.maximum)
    def sort(self, a, axis=-1):
        if a.ndim == 1:
            return self.anp.sort(a, kind="stable")
        # anp.sort's gradient takes 1-D arrays only: the stable argsort's order, by integer-array indexing
        order = np.argsort(np.asarray(getattr(a, "_value", a)), axis=axis, kind="stable")
        return self.take_along_axis(a, order, axis)

    def median(self, a, axis=None):
        anp = self.anp
        if axis is None:
            a, axis = anp.ravel(a), 0
        axis %= a.ndim
        return self.sort(a, axis=axis)[(slice(None),) * axis + (a.shape[axis] // 2,)]

    def softmax(self, a, axis=-1): return self.anp.exp(a - self.logsumexp_(a, axis=axis, keepdims=True))
    def log_softmax(self, a, axis=-1): return a - self.logsumexp_(a, axis=axis, keepdims=True)

    # ------------------------------------------------ shape and indexing
    def take_along_axis(self, a, indices, axis):
        # autograd wraps no take_along_axis: numpy's integer-array indexing (its getitem has a gradient) does it
        axis %= a.ndim
        idx = np.asarray(getattr(indices, "_value", indices)).astype(np.intp)
        grid = np.indices(idx.shape, sparse=True)
        index = tuple(idx if k == axis else np.broadcast_to(grid[k], idx.shape) % a.shape[k] for k in range(a.ndim))
        return a[index]

    def concatenate(self, arrays, axis=0): return self.anp.concatenate(list(arrays), axis=axis)
    def stack(self, arrays, axis=0): return self.anp.stack(list(arrays), axis=axis)

    def pad(self, a, pad_width, value=0.0):
        return self.anp.pad(a, np.asarray(pad_width, dtype=int).tolist(), mode="constant", constant_values=value)

    def squeeze(self, a, axis): return self.anp.squeeze(a, axis)
    def expand_dims(self, a, axis): return self.anp.expand_dims(a, axis)
    def broadcast_to(self, a, shape): return self.anp.broadcast_to(a, tuple(np.atleast_1d(shape).tolist()))
    def flip(self, a, axis): return a[(slice(None),) * (axis % a.ndim) + (slice(None, None, -1),)]
    def tile(self, a, reps): return self.anp.tile(a, reps)
    def repeat(self, a, repeats, axis): return self.anp.repeat(a, repeats, axis=axis)

    def index_add(self, a, index, source):
        index = np.asarray(index, dtype=np.intp)
        onehot = (np.arange(a.shape[0])[:, None] == index[None, :]).astype(self.dtype)  # rows × sources
        return a + self.anp.tensordot(onehot, source, axes=1)

    def einsum(self, subscripts, *operands): return self.anp.einsum(subscripts, *operands)

    # ------------------------------------------------ linear algebra
    def det(self, a): return self.anp.linalg.det(a)
    def slogdet(self, a): return self.anp.linalg.slogdet(a)[1]
    def inv(self, a): return self.anp.linalg.inv(a)
    def solve(self, a, b): return self.anp.linalg.solve(a, b)
    def cholesky(self, a): return self.anp.linalg.cholesky(a)
    def eigh(self, a): return self.anp.linalg.eigh(a)[0]
    def eigh_vectors(self, a): return self.anp.linalg.eigh(a)[1]
    def svdvals(self, a): return self.anp.linalg.svd(a, compute_uv=False)
    def trace(self, a): return self.anp.trace(a) if a.ndim == 2 else self.anp.sum(self.diagonal(a), axis=-1)
    def diagonal(self, a): return self.anp.diagonal(a, axis1=-1, axis2=-2)  # the main diagonal either way

    # ------------------------------------------------ losses (autograd has none: compositions, named)
    def binary_cross_entropy_with_logits(self, z, y): return self.anp.mean(self.anp.logaddexp(0.0, z) - y * z)

    def cross_entropy(self, logits, labels): return self.nll(self.log_softmax(logits, axis=-1), labels)

    def nll(self, logp, labels):
        idx = np.asarray(getattr(labels, "_value", labels)).astype(np.intp)[..., None]
        return -self.anp.mean(self.take_along_axis(logp, idx, axis=-1))

    def l1(self, pred, target): return self.anp.mean(self.anp.abs(pred - target))

    def huber(self, pred, target, delta=1.0):
        d = pred - target
        a = self.anp.abs(d)
        return self.anp.mean(self.anp.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta)))

    def smooth_l1(self, pred, target, beta=1.0):
        d = pred - target
        a = self.anp.abs(d)
        return self.anp.mean(self.anp.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta))

    def kl_div(self, log_q, p):
        rows = log_q.shape[0] if log_q.ndim > 1 else 1
        return self.anp.sum(self.xlogy(p, p) - p * log_q) / rows

    def cosine_similarity(self, a, b, axis=-1, eps=1e-8):
        anp = self.anp
        na = anp.maximum(anp.sqrt(anp.sum(a * a, axis=axis)), eps)
        nb = anp.maximum(anp.sqrt(anp.sum(b * b, axis=axis)), eps)
        return anp.sum(a * b, axis=axis) / (na * nb)

    # --- layers: attention and recurrent (issue 11)
    bindings = {**bindings, "scaled_dot_product_attention":
                "softmax(anp.matmul(q, anp.swapaxes(k, -1, -2))/√E, masked by anp.where) @ v"}

    def scaled_dot_product_attention(self, q, k, v, causal=False):
        anp = self.anp
        s = anp.matmul(q, anp.swapaxes(k, -1, -2)) / float(np.sqrt(q.shape[-1]))
        if causal:
            s = anp.where(np.tril(np.ones(s.shape[-2:], dtype=bool)), s, -np.inf)
        return anp.matmul(self.softmax(s, axis=-1), v)
    # --- end of layers: attention and recurrent (issue 11)


    # --- layers: normalisation, dropout, convolution, pooling, embedding (issue 11) -----------------------------
    def _norm(self, a, axes, eps):
        d = a - self.anp.mean(a, axis=axes, keepdims=True)
        return d / self.anp.sqrt(self.anp.mean(d * d, axis=axes, keepdims=True) + eps)

    def _channel(self, v, ndim): return self.anp.reshape(v, (1, -1) + (1,) * (ndim - 2))

    def layer_norm(self, a, weight, bias, eps=1e-5): return self._norm(a, -1, eps) * weight + bias

    def rms_norm(self, a, weight, eps=1e-6):
        return a / self.anp.sqrt(self.anp.mean(a * a, axis=-1, keepdims=True) + eps) * weight

    def batch_norm(self, a, weight, bias, eps=1e-5):
        y = self._norm(a, (0,) + tuple(range(2, a.ndim)), eps)
        return y * self._channel(weight, a.ndim) + self._channel(bias, a.ndim)

    def group_norm(self, a, weight, bias, num_groups, eps=1e-5):
        n, c = a.shape[:2]
        g = self.anp.reshape(a, (n, num_groups, c // num_groups) + a.shape[2:])
        y = self.anp.reshape(self._norm(g, tuple(range(2, g.ndim)), eps), a.shape)
        return y * self._channel(weight, a.ndim) + self._channel(bias, a.ndim)

    def dropout(self, a, mask, p=0.5): return a * (mask / (1 - p))

    def _conv(self, a, weight, bias, transposed, stride, padding, dilation, groups, output_padding=0):
        from ..core import layers

        t = [np.asarray(x, self.dtype) for x in layers.tap_tensors(a.shape[2:], weight.shape[2:], stride, padding,
                                                                     dilation, transposed, output_padding)]
        y = layers.grouped_conv(a, weight, t, groups, xp=self.anp, transposed=transposed)
        return y + self._channel(bias, y.ndim)

    def conv1d(self, a, weight, bias, stride=1, padding=0, dilation=1, groups=1):
        return self._conv(a, weight, bias, False, stride, padding, dilation, groups)

    def conv2d(self, a, weight, bias, stride=1, padding=0, dilation=1, groups=1):
        return self._conv(a, weight, bias, False, stride, padding, dilation, groups)

    def conv_transpose2d(self, a, weight, bias, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        return self._conv(a, weight, bias, True, stride, padding, dilation, groups, output_padding)

    def _windows(self, a, kernel_size, stride):
        from ..core import layers

        rows, cols = layers.windows(a.shape[-2], a.shape[-1], kernel_size, stride)
        return a[..., rows, cols]  # (N, C, OH, KH, OW, KW)

    def max_pool2d(self, a, kernel_size, stride=None):
        w = self._windows(a, kernel_size, stride)
        # the window axes counted from the front: autograd's forward-mode rule of max (numpy_jvps.fwd_grad_chooser)
        # re-expands the reduced axes one at a time in sorted order, so negative axes (-3, -1) land one place off
        # and its J·v raises (or broadcasts wrongly); its reverse rule takes either (issue 13)
        return self.anp.max(w, axis=(w.ndim - 3, w.ndim - 1))

    def avg_pool2d(self, a, kernel_size, stride=None):
        return self.anp.mean(self._windows(a, kernel_size, stride), axis=(-3, -1))

    def embedding(self, indices, weight): return weight[np.asarray(indices).astype(np.intp)]
    # --- end of layers (issue 11)

class AutogradBackend(Backend):
    """Gradients by ``autograd.value_and_grad`` with respect to a dict of the differentiated inputs."""

    name = "autograd"
    vocabulary = AutogradVocabulary  # a subclass may rebind ops

    def unavailable(self):
        return import_framework("autograd")[1]

    def evaluate(self, case, point, dtype):
        from autograd import value_and_grad

        nn = self.vocabulary(dtype)
        arrays = {k: np.asarray(v, dtype=dtype) for k, v in point.items()}
        wrt = set(case.wrt)
        data = {k: v for k, v in arrays.items() if k not in wrt}

        def loss(params):
            return objective(case, nn, {**params, **data}, dtype)[0]

        try:
            with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                # floor, round, sign: autograd traces no gradient through them and says so; the zeros are the
                # answer. Its rules' 0/0 and x**-1 at special points are the NaN and inf the rows judge
                warnings.filterwarnings("ignore", "Output seems independent of input", UserWarning)
                value, grads = value_and_grad(loss)({k: v for k, v in arrays.items() if k in wrt})
        except np.linalg.LinAlgError as exc:
            # autograd refuses a gradient at some points (det's rule inverts a singular matrix): the forward value
            # exists, so the rows say NaN with autograd's words in the note, and a declared Expected names the rule
            from autograd import make_vjp

            value = make_vjp(loss)({k: v for k, v in arrays.items() if k in wrt})[1]  # the forward pass only
            notes = {**nn.notes(), "gradient": f"autograd raised LinAlgError ({exc}): no gradient, reported as NaN"}
            return Evaluation(float(value), {k: np.full(arrays[k].shape, np.nan, dtype) for k in case.wrt}, notes)
        # a gradient that does not depend on the input comes back as a python 0.0: make it an array
        out = {k: np.asarray(grads[k]) if np.shape(grads[k]) == arrays[k].shape else
               np.broadcast_to(np.asarray(grads[k], dtype=dtype), arrays[k].shape).copy() for k in case.wrt}
        return Evaluation(float(value), out, nn.notes())

    # --- forward mode and second order (issue 13) ---------------------------------------------------------------
    # Both are autograd's own operators: J·v by autograd.make_jvp, its native forward mode (each primitive's JVP
    # rule, autograd/numpy/numpy_jvps.py); H·v by autograd.make_hvp, its native Hessian-vector product, which is
    # reverse over reverse (make_vjp of grad: the VJP rules differentiated by themselves).
    modes = ("rev", "fwd", "hvp")

    def jvp(self, case, point, dtype, param, tangent):
        from autograd import make_jvp

        nn = self.vocabulary(dtype)
        arrays = {k: np.asarray(v, dtype=dtype) for k, v in point.items()}

        def output(x):
            out = case.fn(nn, **{**arrays, param: x})
            output_shape(out, nn)
            return out

        with _quiet(), _no_rule("forward mode (autograd.make_jvp)"):
            try:
                value, jv = make_jvp(output)(arrays[param])(np.asarray(tangent, dtype=dtype))
            except np.linalg.LinAlgError:  # as in evaluate: autograd's rule refuses this point (det's inverts a
                value = output(arrays[param])  # singular matrix): J·v is NaN, shaped like the output
                return np.full(np.shape(value), np.nan, dtype)
        # an output that does not depend on param comes back as a zero of its space (a python 0.0 for a scalar)
        return np.broadcast_to(np.asarray(jv, dtype=dtype), np.shape(value)).copy()

    def hvp(self, case, point, dtype, tangents):
        from autograd import make_hvp

        nn = self.vocabulary(dtype)
        arrays = {k: np.asarray(v, dtype=dtype) for k, v in point.items()}
        wrt = case.wrt
        data = {k: v for k, v in arrays.items() if k not in wrt}

        def loss(params):
            return objective(case, nn, {**params, **data}, dtype)[0]

        params = {k: arrays[k] for k in wrt}
        with _quiet(), _no_rule("reverse over reverse (autograd.make_hvp)"):
            try:
                hvp, _ = make_hvp(loss)(params)
                hv = hvp({k: np.asarray(tangents[k], dtype=dtype) for k in wrt})
            except np.linalg.LinAlgError:  # as in evaluate and jvp: autograd refuses a rule here, H·v is NaN
                return {k: np.full(arrays[k].shape, np.nan, dtype) for k in wrt}
        return {k: np.broadcast_to(np.asarray(hv[k], dtype=dtype), arrays[k].shape).copy() for k in wrt}


def _quiet():
    """As in evaluate: autograd's notice that an output does not depend on the input (floor, round, sign) and
    numpy's warnings at its rules' special points are not the rows' business (the values are judged)."""
    import contextlib

    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    stack.enter_context(np.errstate(divide="ignore", invalid="ignore", over="ignore"))
    warnings.filterwarnings("ignore", "Output seems independent of input", UserWarning)
    return stack


class _no_rule:
    """autograd's NotImplementedError for a primitive without a JVP (or VJP) rule, reworded to say which mode
    lacked it, autograd's words kept: the row is ``skipped``, naming the primitive."""

    def __init__(self, what):
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is not None and issubclass(kind, NotImplementedError):
            raise NotImplementedError(f"autograd has no rule for {self.what} of a primitive in this case: {exc}") \
                from exc
        return False
