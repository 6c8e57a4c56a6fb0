"""HIPS autograd: every op bound to ``autograd.numpy``, gradients by ``autograd.value_and_grad``.

autograd traces numpy code by boxing arrays; its ``autograd.numpy`` wraps each numpy function with a
hand-written VJP (``autograd/numpy/numpy_vjps.py``). It has no neural-network layer, so ``sigmoid``,
``relu`` and the losses are compositions of its numpy functions (named in the rows' notes). Imported on
first use (``import autograd`` below is absolute: it finds the package, never this module).
"""

from __future__ import annotations

import numpy as np

from ..vocabulary import Vocabulary
from .base import Backend, Evaluation, objective
from .framework import Recording, import_framework


class AutogradVocabulary(Recording, Vocabulary):
    """``nn`` bound to ``autograd.numpy`` (and ``autograd.scipy.special.logsumexp``)."""

    backend = "autograd"
    bindings = {
        "sigmoid": "0.5*(anp.tanh(a/2) + 1)",
        "relu": "anp.maximum(a, 0.0)",
        "mean_squared_error": "anp.mean((pred - target)**2)",
        "binary_cross_entropy": "-anp.mean(y*anp.log(p) + (1 - y)*anp.log1p(-p))",
        "softmax_cross_entropy": "-anp.mean(anp.sum(target*(logits - logsumexp(logits, axis=-1, keepdims=True)), -1))",
    }

    def __init__(self, dtype):
        self.used = set()  # ops looked up so far (see Recording)
        import autograd.numpy as anp
        from autograd.numpy.numpy_boxes import ArrayBox
        from autograd.scipy.special import logsumexp

        self.anp, self.ArrayBox, self.logsumexp = anp, ArrayBox, logsumexp
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
        logp = logits - self.logsumexp(logits, axis=-1, keepdims=True)
        return -self.anp.mean(self.anp.sum(target * logp, axis=-1))


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

        value, grads = value_and_grad(loss)({k: v for k, v in arrays.items() if k in wrt})
        # a gradient that does not depend on the input comes back as a python 0.0: make it an array
        out = {k: np.asarray(grads[k]) if np.shape(grads[k]) == arrays[k].shape else
               np.broadcast_to(np.asarray(grads[k], dtype=dtype), arrays[k].shape).copy() for k in case.wrt}
        return Evaluation(float(value), out, nn.notes())
