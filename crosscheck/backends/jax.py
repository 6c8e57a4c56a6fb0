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
from .base import Backend, Evaluation, objective
from .framework import Recording, import_framework

#: (vocabulary class, case name, case function, input shapes, dtype) -> (jitted value_and_grad, its vocabulary)
_COMPILED = {}


def _jax():
    import jax

    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    return jax


class JaxVocabulary(Recording, Vocabulary):
    """``nn`` bound to ``jax.nn`` and ``jax.numpy``; jax itself has no losses, so those are composed."""

    backend = "jax"
    bindings = {
        "mean_squared_error": "jnp.mean(jnp.square(pred - target))",
        "binary_cross_entropy": "-jnp.mean(y*jnp.log(p) + (1 - y)*jnp.log1p(-p))",
        "softmax_cross_entropy": "-jnp.mean(jnp.sum(target * jax.nn.log_softmax(logits), axis=-1))",
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
        if key not in _COMPILED:
            jax = _jax()
            nn = self.vocabulary(dtype)
            out_shape = jax.eval_shape(lambda p, d: case.fn(nn, **p, **d), params, data).shape

            def loss(params, data, cotangent):
                return objective(case, nn, {**params, **data}, dtype, cotangent)[0]

            _COMPILED[key] = jax.jit(jax.value_and_grad(loss)), nn, tuple(out_shape)
        return _COMPILED[key]

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
