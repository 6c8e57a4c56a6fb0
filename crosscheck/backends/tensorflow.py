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
"""

from __future__ import annotations

import logging
import os

import numpy as np

from ..vocabulary import Vocabulary
from .base import Backend, Evaluation, objective
from .framework import Recording, import_framework

#: (vocabulary class, case name, case function, input shapes, dtype) -> (tf.function, its vocabulary, output shape)
_COMPILED = {}


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


class TensorFlowVocabulary(Recording, Vocabulary):
    """``nn`` bound to ``tf.math``, ``tf.nn`` and ``tf.linalg``; TF has losses only in Keras, so two are composed."""

    backend = "tensorflow"
    bindings = {
        "matmul": "tf.linalg.matmul; a 1-D operand: tf.linalg.matvec (numpy's vector rules)",
        "mean_squared_error": "tf.reduce_mean(tf.math.squared_difference(pred, target))",
        "binary_cross_entropy": "-tf.reduce_mean(y*tf.math.log(p) + (1 - y)*tf.math.log1p(-p))",
        "softmax_cross_entropy": "tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(target, logits))",
    }

    def __init__(self, dtype):
        self.used = set()  # ops looked up so far (see Recording)
        tf = _tf()
        self.tf = tf
        self.dtype = getattr(tf, np.dtype(dtype).name)

    array_name = "tf.Tensor"

    def is_native(self, x):
        return isinstance(x, self.tf.Tensor)

    def constant(self, array):
        return self.tf.constant(np.asarray(array), dtype=self.dtype)

    def add(self, a, b): return self.tf.math.add(a, b)
    def subtract(self, a, b): return self.tf.math.subtract(a, b)
    def multiply(self, a, b): return self.tf.math.multiply(a, b)
    def divide(self, a, b): return self.tf.math.divide(a, b)
    def negative(self, a): return self.tf.math.negative(a)
    def power(self, a, exponent): return self.tf.math.pow(a, exponent)
    def exp(self, a): return self.tf.math.exp(a)
    def log(self, a): return self.tf.math.log(a)
    def sin(self, a): return self.tf.math.sin(a)
    def cos(self, a): return self.tf.math.cos(a)
    def tanh(self, a): return self.tf.math.tanh(a)
    def sigmoid(self, a): return self.tf.math.sigmoid(a)
    def relu(self, a): return self.tf.nn.relu(a)
    def maximum(self, a, b): return self.tf.math.maximum(a, b)

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
        with tf.GradientTape() as tape:
            for k in wrt:
                tape.watch(arrays[k])
            loss, shape = objective(case, nn, arrays, dtype, cotangent)
        grads = tape.gradient(loss, [arrays[k] for k in wrt], unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return loss, dict(zip(wrt, grads)), shape

    def _function(self, case, arrays, dtype):
        """(tf.function of (inputs, cotangent), its vocabulary, the output's shape): traced once, then reused."""
        shapes = tuple((k, np.shape(v)) for k, v in arrays.items())
        key = (self.vocabulary, case.name, case.fn, shapes, dtype)
        if key not in _COMPILED:
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
            _COMPILED[key] = fn, nn, out_shape
        return _COMPILED[key]

    def evaluate(self, case, point, dtype):
        arrays = {k: np.asarray(v, dtype=dtype) for k, v in point.items()}
        if not self.compiled:
            nn = self.vocabulary(dtype)
            loss, grads, _ = self._gradients(case, nn, {k: nn.constant(v) for k, v in arrays.items()}, dtype)
        else:
            fn, nn, shape = self._function(case, arrays, dtype)
            scalar = int(np.prod(shape)) == 1
            cotangent = np.zeros(shape, dtype) if scalar else case.cotangent_for(shape, dtype)
            loss, grads = fn({k: nn.constant(v) for k, v in arrays.items()}, nn.constant(cotangent))
        return Evaluation(float(loss), {k: np.asarray(grads[k].numpy()) for k in case.wrt}, nn.notes())
