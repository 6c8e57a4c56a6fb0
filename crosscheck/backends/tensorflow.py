"""TensorFlow: every op bound to TensorFlow's own function, gradients by ``tf.GradientTape``.

tensorflow is imported on first use (``import tensorflow`` below is absolute:
it finds the framework, never this module), with its C++ log level raised to
warnings unless the caller set ``TF_CPP_MIN_LOG_LEVEL``. No global setting is
changed: every tensor is created in the dtype under test explicitly, and
python numbers take the dtype of the tensor they meet.

Eager TensorFlow pays a dispatch per op, so each case is traced once per
input shapes and dtype into a ``tf.function`` (the tape inside it; the
cotangent is an argument, so every draw of the inputs reuses the trace), as
the jax backend compiles once. ``TensorFlowBackend(compiled=False)`` runs
eagerly; both give the same gradients (a test compares them).

Cases see :class:`TensorArray` s: a tf.Tensor with TF's own operators, plus the array methods and the
integer-array and mask indexing the vocabulary promises, which tf.Tensor lacks unless TF's global numpy mode is
switched on. Every op is bound to TF's own function (``tf.math``, ``tf.nn``, ``tf.linalg``;
``tf.experimental.numpy`` only for logaddexp, which tf.math lacks); where TF has no such op, the composition of
TF functions is named in ``bindings``. Where TF refuses a gradient (InvalidArgumentError: det's rule inverts a
singular matrix), the forward value is kept and the gradient is NaN, with TF's words in the row's note.
"""

from __future__ import annotations

import functools
import logging
import os
import re

import numpy as np

from ..vocabulary import OPS, Vocabulary
from .base import Backend, Evaluation, objective, output_shape
from .framework import CaseCache, Recording, import_framework

#: per case: (vocabulary class, case name, case function, input shapes, dtype[, mode]) -> (tf.function, its
#: vocabulary[, output shape]), for the last few cases run (see CaseCache: a traced graph per case and mode adds up)
_COMPILED = CaseCache()


# TF's C++ start-up and float64 notices (oneDNN, "Not handling type DT_DOUBLE") kept off a report's terminal,
# unless the caller chose a level; read when TF loads, so set before any import of it (unavailable() too).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _NoRetracingNotice(logging.Filter):
    """Each case gets its own tf.function, traced once per shapes and dtype (as intended): TF's notice that
    many functions were traced is no advice here."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


def _tf():
    import tensorflow

    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _NoRetracingNotice) for f in logger.filters):
        logger.addFilter(_NoRetracingNotice())
    return tensorflow


class TensorArray:
    """A TensorFlow tensor as cases see it: TF's own operators, plus what the vocabulary promises on every
    backend's arrays and ``tf.Tensor`` lacks without TF's global numpy mode (which this backend never switches
    on): ``.T``, ``.sum()``, ``.mean()``, ``.reshape()``, and indexing by an integer array (``tf.gather``) or a
    boolean mask (``tf.boolean_mask``) besides TF's own slicing. The vocabulary's ops take and return these;
    inside them every computation is TensorFlow's."""

    __slots__ = ("t",)
    __array_ufunc__ = None  # numpy defers to the reflected operators below (np.eye(3) * x stays a tf op)

    def __init__(self, t):
        self.t = t

    shape = property(lambda self: tuple(self.t.shape))
    ndim = property(lambda self: self.t.shape.rank)
    dtype = property(lambda self: self.t.dtype)

    def __add__(self, o): return TensorArray(self.t + _raw(o))
    def __radd__(self, o): return TensorArray(_raw(o) + self.t)
    def __sub__(self, o): return TensorArray(self.t - _raw(o))
    def __rsub__(self, o): return TensorArray(_raw(o) - self.t)
    def __mul__(self, o): return TensorArray(self.t * _raw(o))
    def __rmul__(self, o): return TensorArray(_raw(o) * self.t)
    def __truediv__(self, o): return TensorArray(self.t / _raw(o))
    def __rtruediv__(self, o): return TensorArray(_raw(o) / self.t)
    def __matmul__(self, o): return TensorArray(self.t @ _raw(o))
    def __rmatmul__(self, o): return TensorArray(_raw(o) @ self.t)
    def __pow__(self, o): return TensorArray(self.t ** _raw(o))
    def __rpow__(self, o): return TensorArray(_raw(o) ** self.t)
    def __neg__(self): return TensorArray(-self.t)
    def __gt__(self, o): return TensorArray(self.t > _raw(o))
    def __ge__(self, o): return TensorArray(self.t >= _raw(o))
    def __lt__(self, o): return TensorArray(self.t < _raw(o))
    def __le__(self, o): return TensorArray(self.t <= _raw(o))

    def __getitem__(self, index):
        import tensorflow as tf

        index = _raw(index)
        if isinstance(index, list):
            index = np.asarray(index)
        if (isinstance(index, np.ndarray) and index.dtype == np.bool_) or (isinstance(index, tf.Tensor)
                                                                         and index.dtype == tf.bool):
            return TensorArray(tf.boolean_mask(self.t, index))
        if isinstance(index, (np.ndarray, tf.Tensor)):
            return TensorArray(tf.gather(self.t, index, axis=0))
        if isinstance(index, tuple) and any(isinstance(i, (np.ndarray, list, tf.Tensor)) for i in index):
            arrays = [k for k, i in enumerate(index) if isinstance(i, (np.ndarray, list, tf.Tensor))]
            if len(arrays) == 1 and all(i == slice(None) for k, i in enumerate(index) if k != arrays[0]):
                return TensorArray(tf.gather(self.t, index[arrays[0]], axis=arrays[0]))
            raise IndexError("a TensorFlow array takes one integer array alone, or on one axis with ':' on the "
                             f"others (tf.gather), or one boolean mask (tf.boolean_mask); got {index!r}")
        return TensorArray(self.t[index])

    T = property(lambda self: TensorArray(_tf().transpose(self.t)))
    def sum(self, axis=None, keepdims=False): return TensorArray(_tf().math.reduce_sum(self.t, axis, keepdims))
    def mean(self, axis=None, keepdims=False): return TensorArray(_tf().math.reduce_mean(self.t, axis, keepdims))

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 else shape
        return TensorArray(_tf().reshape(self.t, (shape,) if np.isscalar(shape) else tuple(shape)))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        from ..vocabulary import unknown_op_message

        raise AttributeError(f"a TensorFlow array has no method {name!r} (its methods: .T, .sum(), .mean(), "
                             f".reshape(), indexing); as an op: {unknown_op_message(name)}")

    def __repr__(self):
        return f"TensorArray({self.t!r})"


def _raw(x):
    """The tf.Tensor inside a TensorArray (in lists and tuples too); anything else unchanged."""
    if isinstance(x, TensorArray):
        return x.t
    if isinstance(x, (list, tuple)) and any(isinstance(v, TensorArray) for v in x):
        return type(x)(_raw(v) for v in x)
    return x


def _wrapped(x):
    import tensorflow as tf

    return TensorArray(x) if isinstance(x, tf.Tensor) else x


def _lift(fn):
    """An op written on tf.Tensors, taking and returning TensorArrays."""

    @functools.wraps(fn)
    def op(self, *args, **kwargs):
        return _wrapped(fn(self, *(_raw(a) for a in args), **{k: _raw(v) for k, v in kwargs.items()}))

    op.lifted = True
    return op


class TensorFlowVocabulary(Recording, Vocabulary):
    """``nn`` bound to ``tf.math``, ``tf.nn`` and ``tf.linalg``; where TF has no such op (its losses live in
    Keras), the composition of TF functions is named in ``bindings``.

    Each op is written on ``tf.Tensor`` s (a subclass that rebinds one writes it the same way): the class lifts
    it to take and return :class:`TensorArray` s, the arrays cases see."""

    backend = "tensorflow"
    bindings = {
        "matmul": "tf.linalg.matmul; a 1-D operand: tf.linalg.matvec (numpy's vector rules)",
        "mean_squared_error": "tf.reduce_mean(tf.math.squared_difference(pred, target))",
        "binary_cross_entropy": "-tf.reduce_mean(y*tf.math.log(p) + (1 - y)*tf.math.log1p(-p))",
        "softmax_cross_entropy": "tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(target, logits))",
        "logaddexp": "tf.experimental.numpy.logaddexp (tf.math has none)",
        "fmod": "a - b·sign(a/b)·floor(|a/b|) (tf.truncatemod, C's fmod, has no gradient in TF)",
        "remainder": "tf.math.floormod (the sign of b, numpy's remainder)",
        "softplus": "tf.math.softplus (no β, no threshold); β ≠ 1 composed as tf.math.softplus(β a)/β",
        "elu": "tf.nn.elu (α = 1); other α: tf.where(a > 0, a, α·tf.nn.elu(a))",
        "celu": "tf.where(a > 0, a, α·tf.nn.elu(a/α)) (TF has no celu)",
        "mish": "a·tf.math.tanh(tf.math.softplus(a)) (TF has no mish)",
        "hardtanh": "tf.clip_by_value(a, min_val, max_val) (TF has no hardtanh)",
        "hard_sigmoid": "tf.nn.relu6(a + 3)/6 (TF has no hard sigmoid outside Keras)",
        "hard_swish": "a·tf.nn.relu6(a + 3)/6 (TF has no hard swish outside Keras)",
        "var": "tf.math.reduce_variance·n/(n - ddof) (no ddof in TF)",
        "std": "tf.math.reduce_std·√(n/(n - ddof)) (no ddof in TF)",
        "norm": "tf.norm over all elements ('fro' and 2: 'euclidean')",
        "cummax": "a running tf.math.maximum over tf.unstack(a, axis), tf.stack-ed (TF has no cummax)",
        "median": "the middle of tf.sort (an odd count; TF has no median outside tensorflow_probability)",
        "take_along_axis": "tf.gather(a, indices, batch_dims=axis) on the axis moved last",
        "pad": "tf.pad(mode='CONSTANT')",
        "flip": "tf.reverse(a, [axis])",
        "index_add": "tf.tensor_scatter_nd_add(a, index[:, None], source)",
        "solve": "tf.linalg.solve; a vector b as one column",
        "eigh": "tf.linalg.eigvalsh",
        "svdvals": "tf.linalg.svd(a, compute_uv=False)",
        "diagonal": "tf.linalg.diag_part",
        "binary_cross_entropy_with_logits": "tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(y, z))",
        "cross_entropy": "tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))",
        "nll": "-tf.reduce_mean(tf.gather(logp, labels, batch_dims=rank - 1)) (TF has no NLL loss)",
        "l1": "tf.reduce_mean(tf.math.abs(pred - target)) (TF's losses are Keras)",
        "huber": "tf.reduce_mean(tf.where(|d| <= δ, d²/2, δ(|d| - δ/2))) (TF's losses are Keras)",
        "smooth_l1": "tf.reduce_mean(tf.where(|d| < β, d²/(2β), |d| - β/2)) (TF has none)",
        "kl_div": "tf.reduce_sum(tf.math.xlogy(p, p) - p·log_q)/rows (TF's losses are Keras)",
        "cosine_similarity": "Σ tf.math.l2_normalize(a, ε²)·tf.math.l2_normalize(b, ε²) (norms clamped to ε)",
        # --- layers (issue 11): TF's layers are Keras; channels moved last for its CPU kernels
        "layer_norm": "tf.nn.moments + tf.nn.batch_normalization over the last axis",
        "rms_norm": "a·tf.math.rsqrt(reduce_mean(a²) + eps)·weight",
        "batch_norm": "tf.nn.moments + tf.nn.batch_normalization over (0, 2, ...) (batch statistics)",
        "group_norm": "tf.nn.moments + tf.nn.batch_normalization over each group of (N, G, C/G, ...)",
        "dropout": "a·(mask/(1 - p)) (tf.nn.dropout draws its own mask)",
        "conv1d": "tf.nn.convolution per group, tf.concat, channels last, tf.pad then VALID; stride with dilation: "
                  "stride 1, then every stride-th output (TF's CPU kernels take neither groups nor both > 1)",
        "conv2d": "tf.nn.convolution per group, tf.concat, channels last, tf.pad then VALID; stride with dilation: "
                  "stride 1, then every stride-th output (TF's CPU kernels take neither groups nor both > 1)",
        "conv_transpose2d": "tf.nn.conv2d_transpose per group (VALID), tf.concat, then cropped by the padding; "
                            "dilation by a zero-dilated kernel (TF's CPU kernel takes none)",
        "max_pool2d": "tf.nn.max_pool2d, channels last",
        "avg_pool2d": "tf.nn.avg_pool2d, channels last",
    }

    def __init__(self, dtype):
        self.used = set()  # ops looked up so far (see Recording)
        tf = _tf()
        self.tf = tf
        self.dtype = getattr(tf, np.dtype(dtype).name)

    array_name = "TensorFlow array (crosscheck.backends.tensorflow.TensorArray)"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _lift_ops(cls)

    def is_native(self, x):
        return isinstance(x, TensorArray)

    def constant(self, array):
        return TensorArray(self.tf.constant(np.asarray(array), dtype=self.dtype))

    def _n(self, a, axis):
        """The number of elements a reduction over ``axis`` takes."""
        shape = a.shape.as_list()
        if axis is None:
            return int(np.prod(shape))
        return int(np.prod([shape[k] for k in np.atleast_1d(axis)]))

    def _t(self, x):
        """A python number or numpy array as a tensor of the run's dtype: TF's binary ops infer the type from
        their first argument, so nn.add(2.0, x) would make 2.0 a float32 that a float64 x cannot meet."""
        return x if isinstance(x, self.tf.Tensor) else self.tf.convert_to_tensor(x, self.dtype)

    def add(self, a, b): return self.tf.math.add(self._t(a), b)
    def subtract(self, a, b): return self.tf.math.subtract(self._t(a), b)
    def multiply(self, a, b): return self.tf.math.multiply(self._t(a), b)
    def divide(self, a, b): return self.tf.math.divide(self._t(a), b)
    def negative(self, a): return self.tf.math.negative(a)
    def power(self, a, exponent): return self.tf.math.pow(a, exponent)
    def exp(self, a): return self.tf.math.exp(a)
    def log(self, a): return self.tf.math.log(a)
    def sin(self, a): return self.tf.math.sin(a)
    def cos(self, a): return self.tf.math.cos(a)
    def tanh(self, a): return self.tf.math.tanh(a)
    def sigmoid(self, a): return self.tf.math.sigmoid(a)
    def relu(self, a): return self.tf.nn.relu(a)
    def maximum(self, a, b): return self.tf.math.maximum(self._t(a), b)

    def matmul(self, a, b):
        tf, ra, rb = self.tf, len(a.shape), len(b.shape)
        if ra == 1 and rb == 1:
            return tf.tensordot(a, b, 1)
        if rb == 1:
            return tf.linalg.matvec(a, b)
        if ra == 1:
            return tf.linalg.matvec(b, a, transpose_a=True)
        return tf.linalg.matmul(a, b)  # leading (batch) dimensions broadcast

    def sum(self, a, axis=None, keepdims=False): return self.tf.math.reduce_sum(a, axis=axis, keepdims=keepdims)
    def mean(self, a, axis=None, keepdims=False): return self.tf.math.reduce_mean(a, axis=axis, keepdims=keepdims)
    def reshape(self, a, shape): return self.tf.reshape(a, (shape,) if np.isscalar(shape) else tuple(shape))
    def transpose(self, a, axes=None): return self.tf.transpose(a, perm=None if axes is None else list(axes))

    def mean_squared_error(self, pred, target):
        return self.tf.math.reduce_mean(self.tf.math.squared_difference(pred, target))

    def binary_cross_entropy(self, p, y):
        tf = self.tf
        return -tf.math.reduce_mean(y * tf.math.log(p) + (1 - y) * tf.math.log1p(-p))

    def softmax_cross_entropy(self, logits, target):
        return self.tf.math.reduce_mean(self.tf.nn.softmax_cross_entropy_with_logits(labels=target, logits=logits))

    # ------------------------------------------------ element-wise
    def abs(self, a): return self.tf.math.abs(a)
    def sign(self, a): return self.tf.math.sign(a)
    def floor(self, a): return self.tf.math.floor(a)
    def round(self, a): return self.tf.math.round(a)  # half to even, as numpy
    def sqrt(self, a): return self.tf.math.sqrt(a)
    def rsqrt(self, a): return self.tf.math.rsqrt(a)
    def square(self, a): return self.tf.math.square(a)
    def reciprocal(self, a): return self.tf.math.reciprocal(a)
    def expm1(self, a): return self.tf.math.expm1(a)
    def log1p(self, a): return self.tf.math.log1p(a)
    def tan(self, a): return self.tf.math.tan(a)
    def arcsin(self, a): return self.tf.math.asin(a)
    def arccos(self, a): return self.tf.math.acos(a)
    def arctan(self, a): return self.tf.math.atan(a)
    def sinh(self, a): return self.tf.math.sinh(a)
    def cosh(self, a): return self.tf.math.cosh(a)
    def erf(self, a): return self.tf.math.erf(a)

    def clip(self, a, lo, hi):
        tf = self.tf
        # tf.clip_by_value's output takes a's shape: bounds that broadcast a to a larger shape broadcast it first
        shape = tf.broadcast_static_shape(a.shape, tf.broadcast_static_shape(tf.TensorShape(np.shape(lo)),
                                                                             tf.TensorShape(np.shape(hi))))
        a = a if a.shape == shape else tf.broadcast_to(a, shape)
        return tf.clip_by_value(a, tf.cast(lo, a.dtype), tf.cast(hi, a.dtype))

    def where(self, cond, a, b):
        tf = self.tf
        cond = tf.convert_to_tensor(cond)
        cond = cond if cond.dtype == tf.bool else tf.math.not_equal(cond, 0)
        a, b = tf.convert_to_tensor(a, self.dtype), tf.convert_to_tensor(b, self.dtype)
        return tf.where(cond, a, b)

    def minimum(self, a, b): return self.tf.math.minimum(self._t(a), b)
    def atan2(self, y, x): return self.tf.math.atan2(*self._same(y, x))
    def logaddexp(self, a, b): return self.tf.experimental.numpy.logaddexp(*self._same(a, b))
    def fmod(self, a, b):
        # tf.truncatemod has no gradient registered: a - b·trunc(a/b), trunc from tf.math.sign and tf.math.floor
        a = self._t(a)
        q = a / b
        return a - b * (self.tf.math.sign(q) * self.tf.math.floor(self.tf.math.abs(q)))
    def remainder(self, a, b): return self.tf.math.floormod(self._t(a), b)
    def xlogy(self, x, y): return self.tf.math.xlogy(*self._same(x, y))
    def pow(self, a, b): return self.tf.math.pow(self._t(a), b)

    def _same(self, *xs):
        """Arguments as tensors of the run's dtype (a python number among them too), broadcast together where an
        op (atan2, xlogy) takes same-shaped inputs only."""
        tf = self.tf
        xs = [tf.convert_to_tensor(x, self.dtype) for x in xs]
        shape = xs[0].shape
        for x in xs[1:]:
            shape = tf.broadcast_static_shape(shape, x.shape)
        return [x if x.shape == shape else tf.broadcast_to(x, shape) for x in xs]

    # ------------------------------------------------ activations
    def softplus(self, a, beta=1.0, threshold=20.0):
        # tf.math.softplus has neither β nor a threshold: β ≠ 1 is composed (see the op's note)
        return self.tf.math.softplus(a) if beta == 1 else self.tf.math.softplus(beta * a) / beta

    def log_sigmoid(self, a): return self.tf.math.log_sigmoid(a)
    def relu6(self, a): return self.tf.nn.relu6(a)
    def leaky_relu(self, a, negative_slope=0.01): return self.tf.nn.leaky_relu(a, alpha=negative_slope)

    def elu(self, a, alpha=1.0):
        return self.tf.nn.elu(a) if alpha == 1 else self.tf.where(a > 0, a, alpha * self.tf.nn.elu(a))

    def selu(self, a): return self.tf.nn.selu(a)
    def celu(self, a, alpha=1.0): return self.tf.where(a > 0, a, alpha * self.tf.nn.elu(a / alpha))
    def gelu(self, a): return self.tf.nn.gelu(a, approximate=False)
    def gelu_tanh(self, a): return self.tf.nn.gelu(a, approximate=True)
    def silu(self, a): return self.tf.nn.silu(a)
    def mish(self, a): return a * self.tf.math.tanh(self.tf.math.softplus(a))
    def hardtanh(self, a, min_val=-1.0, max_val=1.0): return self.tf.clip_by_value(a, min_val, max_val)
    def hard_sigmoid(self, a): return self.tf.nn.relu6(a + 3) / 6
    def hard_swish(self, a): return a * self.tf.nn.relu6(a + 3) / 6
    def softsign(self, a): return self.tf.nn.softsign(a)

    # ------------------------------------------------ reductions and scans
    def max(self, a, axis=None, keepdims=False): return self.tf.math.reduce_max(a, axis=axis, keepdims=keepdims)
    def min(self, a, axis=None, keepdims=False): return self.tf.math.reduce_min(a, axis=axis, keepdims=keepdims)
    def prod(self, a, axis=None, keepdims=False): return self.tf.math.reduce_prod(a, axis=axis, keepdims=keepdims)

    def logsumexp(self, a, axis=None, keepdims=False):
        return self.tf.math.reduce_logsumexp(a, axis=axis, keepdims=keepdims)

    def var(self, a, axis=None, ddof=0, keepdims=False):
        n = self._n(a, axis)
        return self.tf.math.reduce_variance(a, axis=axis, keepdims=keepdims) * (n / (n - ddof))

    def std(self, a, axis=None, ddof=0, keepdims=False):
        n = self._n(a, axis)
        return self.tf.math.reduce_std(a, axis=axis, keepdims=keepdims) * float(np.sqrt(n / (n - ddof)))

    def norm(self, a, ord=2):  # noqa: A002
        flat = self.tf.reshape(a, (-1,))
        if ord in ("fro", 2):
            return self.tf.norm(flat, ord="euclidean")
        return self.tf.norm(flat, ord=np.inf if ord in ("inf", np.inf) else ord)

    def cumsum(self, a, axis): return self.tf.math.cumsum(a, axis=axis)
    def cumprod(self, a, axis): return self.tf.math.cumprod(a, axis=axis)

    def cummax(self, a, axis):
        tf = self.tf
        out, running = [], None
        for x in tf.unstack(a, axis=axis):
            running = x if running is None else tf.math.maximum(running, x)
            out.append(running)
        return tf.stack(out, axis=axis)

    def sort(self, a, axis=-1): return self.tf.sort(a, axis=axis)

    def median(self, a, axis=None):
        tf = self.tf
        if axis is None:
            a, axis = tf.reshape(a, (-1,)), 0
        n = a.shape[axis]
        return tf.gather(tf.sort(a, axis=axis), n // 2, axis=axis)

    def softmax(self, a, axis=-1): return self.tf.nn.softmax(a, axis=axis)
    def log_softmax(self, a, axis=-1): return self.tf.nn.log_softmax(a, axis=axis)

    # ------------------------------------------------ shape and indexing
    def take_along_axis(self, a, indices, axis):
        tf = self.tf
        rank = a.shape.rank
        axis %= rank
        perm = [k for k in range(rank) if k != axis] + [axis]
        back = np.argsort(perm).tolist()
        a_t = tf.transpose(a, perm)
        idx = tf.transpose(tf.cast(indices, tf.int32), perm)
        idx = tf.broadcast_to(idx, a_t.shape[:-1].as_list() + [idx.shape[-1]])
        return tf.transpose(tf.gather(a_t, idx, axis=rank - 1, batch_dims=rank - 1), back)

    def concatenate(self, arrays, axis=0): return self.tf.concat(list(arrays), axis=axis)
    def stack(self, arrays, axis=0): return self.tf.stack(list(arrays), axis=axis)

    def pad(self, a, pad_width, value=0.0):
        width = np.broadcast_to(np.asarray(pad_width, dtype=int), (a.shape.rank, 2)).tolist()
        return self.tf.pad(a, width, mode="CONSTANT", constant_values=value)

    def squeeze(self, a, axis): return self.tf.squeeze(a, axis=axis)
    def expand_dims(self, a, axis): return self.tf.expand_dims(a, axis)
    def broadcast_to(self, a, shape): return self.tf.broadcast_to(a, tuple(np.atleast_1d(shape).tolist()))
    def flip(self, a, axis): return self.tf.reverse(a, [axis])

    def tile(self, a, reps):
        reps = list(np.atleast_1d(reps).tolist())
        rank = a.shape.rank
        if len(reps) > rank:  # numpy's rule: a gains leading axes of length 1
            a = self.tf.reshape(a, [1] * (len(reps) - rank) + a.shape.as_list())
        reps = [1] * (a.shape.rank - len(reps)) + reps
        return self.tf.tile(a, reps)

    def repeat(self, a, repeats, axis): return self.tf.repeat(a, repeats, axis=axis)

    def index_add(self, a, index, source):
        index = np.asarray(index, dtype=np.int32).reshape(-1, 1)
        return self.tf.tensor_scatter_nd_add(a, index, source)

    def einsum(self, subscripts, *operands): return self.tf.einsum(subscripts, *operands)

    # ------------------------------------------------ linear algebra
    def det(self, a): return self.tf.linalg.det(a)
    def slogdet(self, a): return self.tf.linalg.slogdet(a)[1]
    def inv(self, a): return self.tf.linalg.inv(a)

    def solve(self, a, b):
        if b.shape.rank == 1:
            return self.tf.linalg.solve(a, b[:, None])[:, 0]
        return self.tf.linalg.solve(a, b)

    def cholesky(self, a): return self.tf.linalg.cholesky(a)
    def eigh(self, a): return self.tf.linalg.eigvalsh(a)
    def eigh_vectors(self, a): return self.tf.linalg.eigh(a)[1]
    def svdvals(self, a): return self.tf.linalg.svd(a, compute_uv=False)
    def trace(self, a): return self.tf.linalg.trace(a)
    def diagonal(self, a): return self.tf.linalg.diag_part(a)

    # ------------------------------------------------ losses (TF's are in Keras: compositions, named in bindings)
    def binary_cross_entropy_with_logits(self, z, y):
        return self.tf.math.reduce_mean(self.tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z))

    def cross_entropy(self, logits, labels):
        tf = self.tf
        return tf.math.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.cast(labels, tf.int32), logits=logits))

    def nll(self, logp, labels):
        tf = self.tf
        labels = tf.cast(labels, tf.int32)
        return -tf.math.reduce_mean(tf.gather(logp, labels, axis=-1, batch_dims=labels.shape.rank))

    def l1(self, pred, target): return self.tf.math.reduce_mean(self.tf.math.abs(pred - target))

    def huber(self, pred, target, delta=1.0):
        tf = self.tf
        d = pred - target
        a = tf.math.abs(d)
        return tf.math.reduce_mean(tf.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta)))

    def smooth_l1(self, pred, target, beta=1.0):
        tf = self.tf
        d = pred - target
        a = tf.math.abs(d)
        return tf.math.reduce_mean(tf.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta))

    def kl_div(self, log_q, p):
        rows = log_q.shape[0] if log_q.shape.rank > 1 else 1
        return self.tf.math.reduce_sum(self.tf.math.xlogy(p, p) - p * log_q) / rows

    def cosine_similarity(self, a, b, axis=-1, eps=1e-8):
        tf = self.tf
        # l2_normalize divides by sqrt(max(Σx², ε²)) = max(‖x‖, ε)
        na = tf.math.l2_normalize(a, axis=axis, epsilon=eps * eps)
        nb = tf.math.l2_normalize(b, axis=axis, epsilon=eps * eps)
        return tf.math.reduce_sum(na * nb, axis=axis)

    # --- layers: attention and recurrent (issue 11)
    bindings = {**bindings, "scaled_dot_product_attention":
                "tf.nn.softmax(tf.linalg.matmul(q, k, transpose_b=True)/√E, masked by tf.where) @ v (TF has no "
                "attention kernel; keras' MultiHeadAttention is a layer with its own weights)"}

    def scaled_dot_product_attention(self, q, k, v, causal=False):
        tf = self.tf
        s = tf.linalg.matmul(q, k, transpose_b=True) * float(1 / np.sqrt(q.shape[-1]))
        if causal:
            s = tf.where(np.tril(np.ones(s.shape[-2:], dtype=bool)), s, tf.constant(-np.inf, s.dtype))
        return tf.linalg.matmul(tf.nn.softmax(s, axis=-1), v)
    # --- end of layers: attention and recurrent (issue 11)


    # --- layers: normalisation, dropout, convolution, pooling, embedding (issue 11) -----------------------------
    # TF's conv and pool kernels take channels last on the CPU: (N, C, ...) is moved to (N, ..., C) and back
    def _norm(self, a, axes, eps, weight=None, bias=None):
        mean, var = self.tf.nn.moments(a, axes=list(axes), keepdims=True)
        return self.tf.nn.batch_normalization(a, mean, var, bias, weight, eps)

    def _channel(self, v, ndim): return self.tf.reshape(v, [1, -1] + [1] * (ndim - 2))

    def layer_norm(self, a, weight, bias, eps=1e-5): return self._norm(a, [a.shape.rank - 1], eps, weight, bias)

    def rms_norm(self, a, weight, eps=1e-6):
        tf = self.tf
        return a * tf.math.rsqrt(tf.math.reduce_mean(a * a, axis=-1, keepdims=True) + eps) * weight

    def batch_norm(self, a, weight, bias, eps=1e-5):
        rank = a.shape.rank
        return self._norm(a, [0] + list(range(2, rank)), eps, self._channel(weight, rank), self._channel(bias, rank))

    def group_norm(self, a, weight, bias, num_groups, eps=1e-5):
        tf = self.tf
        shape = a.shape.as_list()
        g = tf.reshape(a, [shape[0], num_groups, shape[1] // num_groups] + shape[2:])
        y = tf.reshape(self._norm(g, range(2, len(shape) + 1), eps), shape)
        return y * self._channel(weight, len(shape)) + self._channel(bias, len(shape))

    def dropout(self, a, mask, p=0.5): return a * (mask / (1 - p))

    def _last(self, a): return self.tf.transpose(a, [0] + list(range(2, a.shape.rank)) + [1])
    def _first(self, a): return self.tf.transpose(a, [0, a.shape.rank - 1] + list(range(1, a.shape.rank - 1)))

    def _conv(self, a, weight, bias, stride, padding, dilation, groups):
        tf = self.tf
        s = a.shape.rank - 2
        x = self._last(a)
        w = tf.transpose(weight, list(range(2, 2 + s)) + [1, 0])  # (k..., C_in/groups, C_out)
        x = tf.pad(x, [[0, 0]] + [[padding, padding]] * s + [[0, 0]])
        # TF refuses stride > 1 with dilation > 1: convolve at stride 1 and keep every stride-th output
        step = 1 if dilation > 1 else stride
        # TF's CPU kernels take no groups: one conv per group, concatenated; tf.nn.convolution (not conv1d/conv2d,
        # whose CPU backward takes no dilation) dilates through space_to_batch
        y = tf.concat([tf.nn.convolution(xg, wg, step, "VALID", dilations=dilation) for xg, wg in
                       zip(tf.split(x, groups, axis=-1), tf.split(w, groups, axis=-1))], axis=-1)
        if step != stride:
            y = y[(slice(None),) + (slice(None, None, stride),) * s]
        return self._first(y) + self._channel(bias, s + 2)

    def conv1d(self, a, weight, bias, stride=1, padding=0, dilation=1, groups=1):
        return self._conv(a, weight, bias, stride, padding, dilation, groups)

    def conv2d(self, a, weight, bias, stride=1, padding=0, dilation=1, groups=1):
        return self._conv(a, weight, bias, stride, padding, dilation, groups)

    def conv_transpose2d(self, a, weight, bias, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        tf = self.tf
        n, cin, h, w_ = a.shape.as_list()
        _, cout_g, kh, kw = weight.shape.as_list()
        if dilation > 1:  # TF's CPU kernel takes no dilation: the kernel dilated by zeros between its taps
            dil = [np.eye(dilation * (k - 1) + 1)[:, ::dilation] for k in (kh, kw)]
            weight = tf.einsum("ioab,ca,db->iocd", weight, tf.constant(dil[0], weight.dtype),
                               tf.constant(dil[1], weight.dtype))
            kh, kw = weight.shape.as_list()[2:]
        full = [(m - 1) * stride + k for m, k in ((h, kh), (w_, kw))]
        x = self._last(a)
        parts = []
        for g, (xg, wg) in enumerate(zip(tf.split(x, groups, axis=-1), tf.split(weight, groups, axis=0))):
            wg = tf.transpose(wg, [2, 3, 1, 0])  # (kh, kw, C_out/groups, C_in/groups)
            parts.append(tf.nn.conv2d_transpose(xg, wg, [n] + full + [cout_g], stride, "VALID"))
        y = tf.concat(parts, axis=-1)
        y = tf.pad(y, [[0, 0], [0, output_padding], [0, output_padding], [0, 0]])  # output_padding < stride
        out = [(m - 1) * stride - 2 * padding + k + output_padding for m, k in ((h, kh), (w_, kw))]
        y = y[:, padding:padding + out[0], padding:padding + out[1], :]
        return self._first(y) + self._channel(bias, 4)

    def max_pool2d(self, a, kernel_size, stride=None):
        return self._first(self.tf.nn.max_pool2d(self._last(a), kernel_size, stride or kernel_size, "VALID"))

    def avg_pool2d(self, a, kernel_size, stride=None):
        return self._first(self.tf.nn.avg_pool2d(self._last(a), kernel_size, stride or kernel_size, "VALID"))

    def embedding(self, indices, weight): return self.tf.nn.embedding_lookup(weight, self.tf.cast(indices, self.tf.int32))
    # --- end of layers (issue 11)

def _lift_ops(cls):
    """Lift ``cls``'s own op methods (written on tf.Tensors) to TensorArrays."""
    for name in OPS:
        fn = cls.__dict__.get(name)
        if callable(fn) and not getattr(fn, "lifted", False):
            setattr(cls, name, _lift(fn))


_lift_ops(TensorFlowVocabulary)


class TensorFlowBackend(Backend):
    """Gradients by ``tf.GradientTape`` (CPU), inside a ``tf.function`` traced once per case, shapes and dtype."""

    name = "tensorflow"
    vocabulary = TensorFlowVocabulary  # a subclass may rebind ops (the tests bind one wrongly on purpose)

    def __init__(self, compiled=True):
        self.compiled = compiled

    def unavailable(self):
        return import_framework("tensorflow")[1]

    @staticmethod
    def _gradients(case, nn, arrays, dtype, cotangent=None):
        """(loss, {param: gradient}, output shape) of the case at ``arrays`` (tf tensors), on a tape."""
        tf = nn.tf
        wrt = case.wrt
        arrays = {k: _raw(v) for k, v in arrays.items()}
        with tf.GradientTape() as tape:
            for k in wrt:
                tape.watch(arrays[k])
            loss, shape = objective(case, nn, {k: TensorArray(v) for k, v in arrays.items()}, dtype, cotangent)
            loss = _raw(loss)
        grads = tape.gradient(loss, [arrays[k] for k in wrt], unconnected_gradients=tf.UnconnectedGradients.ZERO)
        grads = [tf.convert_to_tensor(g) for g in grads]  # a gather's gradient comes as IndexedSlices
        return loss, dict(zip(wrt, grads)), shape

    def _function(self, case, arrays, dtype):
        """(tf.function of (inputs, cotangent), its vocabulary, the output's shape): traced once, then reused."""
        shapes = tuple((k, np.shape(v)) for k, v in arrays.items())
        key = (self.vocabulary, case.name, case.fn, shapes, dtype)

        def build():
            nn = self.vocabulary(dtype)
            tf = nn.tf
            probe = self.vocabulary(dtype)  # the output's shape, from one eager run (its op record is dropped)
            out = case.fn(probe, **{k: probe.constant(v) for k, v in arrays.items()})
            out_shape = tuple(getattr(out, "shape", ()))
            specs = {k: tf.TensorSpec(np.shape(v), nn.dtype) for k, v in arrays.items()}

            def loss_and_grads(inputs, cotangent):
                loss, grads, _ = self._gradients(case, nn, dict(inputs), dtype, cotangent)
                return loss, grads

            fn = tf.function(loss_and_grads, input_signature=[specs, tf.TensorSpec(out_shape, nn.dtype)],
                             autograph=False)
            # the concrete function of that one signature: the same graph, called without tf.function's argument
            # matching (measured on the XOR MLP, whose training runs call it per step: 0.40 ms a call against
            # 0.64-0.76 ms through the tf.function; evaluate as a whole 0.96 -> 0.87 ms)
            return fn.get_concrete_function(), nn, out_shape

        return _COMPILED.get(case, key, build)

    def evaluate(self, case, point, dtype):
        arrays = {k: np.asarray(v, dtype=dtype) for k, v in point.items()}
        tf = _tf()
        try:
            return self._evaluate(case, arrays, dtype)
        except tf.errors.InvalidArgumentError as exc:
            # TF refuses a gradient at some points (det's rule inverts a singular matrix): the forward value still
            # exists, so the rows say NaN, with TF's own words in the note, and a declared Expected names the rule
            nn = self.vocabulary(dtype)
            value, _ = objective(case, nn, {k: nn.constant(v) for k, v in arrays.items()}, dtype)
            words = re.sub(r"\{\{.*?\}\}|\[\[.*?\]\]|\[Op:.*?\]", "", str(exc.message))  # TF's node names
            first = ([line.strip() for line in words.splitlines() if line.strip()] or ["no message"])[-1]
            first = re.sub(r"\s+name:.*$", "", first)
            notes = {**nn.notes(), "gradient": f"TensorFlow raised InvalidArgumentError ({first}): no gradient, "
                                              f"reported as NaN"}
            return Evaluation(float(value.t), {k: np.full(arrays[k].shape, np.nan, dtype) for k in case.wrt}, notes)

    def _evaluate(self, case, arrays, dtype):
        if not self.compiled:
            nn = self.vocabulary(dtype)
            loss, grads, _ = self._gradients(case, nn, {k: nn.constant(v) for k, v in arrays.items()}, dtype)
        else:
            fn, nn, shape = self._function(case, arrays, dtype)
            scalar = int(np.prod(shape)) == 1
            cotangent = np.zeros(shape, dtype) if scalar else case.cotangent_for(shape, dtype)
            loss, grads = fn({k: nn.constant(v).t for k, v in arrays.items()}, nn.constant(cotangent).t)
        return Evaluation(float(loss), {k: np.asarray(grads[k].numpy()) for k in case.wrt}, nn.notes())

    # --- forward mode and second order (issue 13) ---------------------------------------------------------------
    # J·v by tf.autodiff.ForwardAccumulator (TF's forward mode: an op's registered JVP where it has one, else the
    # transpose of its gradient function applied twice); H·v by nested tf.GradientTape s (the gradient's own graph
    # differentiated: each op's gradient function differentiated). Like evaluate, traced into a tf.function per
    # case, shapes and dtype (one for J·v, every differentiated input's own accumulator in it, one for H·v);
    # compiled=False runs them eagerly. Traced, not eager, even for a one-off row: TF's eager and graph second order
    # differ (eager, the double backward of a convolution raises in nn_grad._Conv2DBackpropFilterGrad: its recorded
    # op has no data_format), and the rows check what evaluate's rows check, TF's graph mode.
    modes = ("rev", "fwd", "hvp")

    def _second_order(self, kind, case, arrays, dtype, body, signature):
        """``body`` bound to a vocabulary, as a tf.function traced once per case, shapes and dtype (eager when
        not compiled)."""
        nn = self.vocabulary(dtype)
        if not self.compiled:
            return functools.partial(body, nn), nn
        shapes = tuple((k, np.shape(v)) for k, v in arrays.items())
        key = (self.vocabulary, case.name, case.fn, shapes, dtype, kind)
        return _COMPILED.get(case, key, lambda: (nn.tf.function(functools.partial(body, nn),
                                                                 input_signature=signature(nn), autograph=False), nn))

    def jvp(self, case, point, dtype, param, tangent):
        arrays = {k: np.asarray(v, dtype=dtype) for k, v in point.items()}
        tf = _tf()
        wrt = case.wrt

        def body(nn, inputs, t):
            # one forward pass per differentiated input, each under its own accumulator (the others held): one
            # trace serves every input's rows
            inputs, jvs = dict(inputs), {}
            for p in wrt:
                with tf.autodiff.ForwardAccumulator(primals=inputs[p], tangents=t[p]) as acc:
                    out = case.fn(nn, **{k: TensorArray(v) for k, v in inputs.items()})
                    output_shape(out, nn)
                    out = _raw(out)
                jvs[p] = acc.jvp(out, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return jvs

        def signature(nn):
            return [{k: tf.TensorSpec(np.shape(v), nn.dtype) for k, v in arrays.items()},
                    {k: tf.TensorSpec(np.shape(arrays[k]), nn.dtype) for k in wrt}]

        fn, nn = self._second_order("jvp", case, arrays, dtype, body, signature)
        t = {k: np.asarray(tangent, dtype) if k == param else np.zeros(arrays[k].shape, dtype) for k in wrt}
        with _no_rule("forward mode (tf.autodiff.ForwardAccumulator)"):
            try:
                jv = fn({k: nn.constant(v).t for k, v in arrays.items()}, {k: nn.constant(v).t for k, v in t.items()})
            except tf.errors.InvalidArgumentError:
                # as in evaluate: TF refuses the rule at this point (det's gradient inverts a singular matrix);
                # the J·v is NaN, shaped like the output
                return np.full(self._output_shape(case, arrays, dtype), np.nan, dtype)
        return np.asarray(jv[param].numpy())

    def hvp(self, case, point, dtype, tangents):
        arrays = {k: np.asarray(v, dtype=dtype) for k, v in point.items()}
        tf = _tf()
        wrt = case.wrt
        shape = self._output_shape(case, arrays, dtype)
        cotangent = np.zeros(shape, dtype) if int(np.prod(shape)) == 1 else case.cotangent_for(shape, dtype)

        def body(nn, inputs, cotangent, v):
            inputs = dict(inputs)
            zero = tf.UnconnectedGradients.ZERO
            with tf.GradientTape() as outer:
                for k in wrt:
                    outer.watch(inputs[k])
                loss, grads, _ = self._gradients(case, nn, inputs, dtype, cotangent)
                dot = tf.math.add_n([tf.math.reduce_sum(grads[k] * v[k]) for k in wrt])
            hv = outer.gradient(dot, [inputs[k] for k in wrt], unconnected_gradients=zero)
            return {k: tf.convert_to_tensor(h) for k, h in zip(wrt, hv)}

        def signature(nn):
            return [{k: tf.TensorSpec(np.shape(v), nn.dtype) for k, v in arrays.items()},
                    tf.TensorSpec(shape, nn.dtype), {k: tf.TensorSpec(np.shape(arrays[k]), nn.dtype) for k in wrt}]

        fn, nn = self._second_order("hvp", case, arrays, dtype, body, signature)
        with _no_rule("double backward (nested tf.GradientTape)"):
            try:
                hv = fn({k: nn.constant(v).t for k, v in arrays.items()}, nn.constant(cotangent).t,
                        {k: nn.constant(np.asarray(tangents[k], dtype)).t for k in wrt})
            except tf.errors.InvalidArgumentError:  # as in evaluate and jvp: TF refuses a rule here, H·v is NaN
                return {k: np.full(arrays[k].shape, np.nan, dtype) for k in wrt}
        return {k: np.asarray(hv[k].numpy()) for k in wrt}

    def _output_shape(self, case, arrays, dtype):
        """The case's output shape: from evaluate's trace when there is one, else from an eager run."""
        key = (self.vocabulary, case.name, case.fn, tuple((k, np.shape(v)) for k, v in arrays.items()), dtype)
        compiled = _COMPILED.peek(case, key)
        if compiled is not None:
            return compiled[2]
        probe = self.vocabulary(dtype)
        return tuple(getattr(case.fn(probe, **{k: probe.constant(v) for k, v in arrays.items()}), "shape", ()))


class _no_rule:
    """TF's LookupError (no gradient registered for an op, so neither its double backward nor the forward
    accumulator's transposed gradient exists) becomes NotImplementedError with TF's words: the row is
    ``skipped``, naming the op."""

    def __init__(self, what):
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is not None and issubclass(kind, LookupError) and not issubclass(kind, (KeyError, IndexError)):
            words = (str(exc).strip().splitlines() or [kind.__name__])[0]
            raise NotImplementedError(f"TensorFlow has no rule for {self.what} of an op in this case: {words}") \
                from exc
        return False
