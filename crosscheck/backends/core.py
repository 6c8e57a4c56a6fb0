"""The numpy core on its tape (``core``), and a case's hand-written whole-model backward (``handwritten``)."""

from __future__ import annotations

import numpy as np

import inspect

from ..core import elementwise, layers, linalg, losses, ops, reductions, sequence, shape, tape
from ..core.tape import Tensor, apply
from ..ops_spec import OPS as SPECS
from ..vocabulary import OPS, Vocabulary

_MODULES = {"ops": ops, "elementwise": elementwise, "reductions": reductions, "shape": shape, "linalg": linalg,
            "losses": losses, "layers": layers, "sequence": sequence}


def core_function(op):
    """The core's forward/backward function of ``op`` (named in its definition in ops_spec)."""
    module, _, name = SPECS[op].core.partition(".")
    return getattr(_MODULES[module], name)


def _bound(op):
    """A vocabulary method for ``op``: positional arguments are the core function's arrays (its positional
    parameters), then its keyword-only attributes in order; keywords pass through."""
    fn = core_function(op)
    params = inspect.signature(fn).parameters.values()
    arrays = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    attrs = [p.name for p in params if p.kind is p.KEYWORD_ONLY]

    def method(self, *args, **kwargs):
        given = dict(zip(arrays + attrs, args))
        given.update(kwargs)
        return apply(fn, *(given[a] for a in arrays if a in given),
                     **{k: v for k, v in given.items() if k not in arrays})

    method.__name__ = op
    return method
from .base import Backend, Evaluation, Grads, in_place_write, objective, output_shape


class CoreVocabulary(Vocabulary):
    """``nn`` bound to the core's ops: every call records a node on the tape."""

    backend = "core"

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    array_name = "crosscheck Tensor"

    def constant(self, array):
        return Tensor(np.asarray(array, dtype=self.dtype))

    def is_native(self, x):
        return isinstance(x, Tensor)

    def add(self, a, b): return apply(ops.add, a, b)
    def subtract(self, a, b): return apply(ops.subtract, a, b)
    def multiply(self, a, b): return apply(ops.multiply, a, b)
    def divide(self, a, b): return apply(ops.divide, a, b)
    def negative(self, a): return apply(ops.negative, a)
    def power(self, a, exponent): return apply(ops.power, a, exponent=exponent)
    def exp(self, a): return apply(ops.exp, a)
    def log(self, a): return apply(ops.log, a)
    def sin(self, a): return apply(ops.sin, a)
    def cos(self, a): return apply(ops.cos, a)
    def tanh(self, a): return apply(ops.tanh, a)
    def sigmoid(self, a): return apply(ops.sigmoid, a)
    def relu(self, a): return apply(ops.relu, a)
    def maximum(self, a, b): return apply(ops.maximum, a, b)
    def matmul(self, a, b): return apply(ops.matmul, a, b)
    def sum(self, a, axis=None, keepdims=False): return apply(ops.sum, a, axis=axis, keepdims=keepdims)
    def mean(self, a, axis=None, keepdims=False): return apply(ops.mean, a, axis=axis, keepdims=keepdims)
    def reshape(self, a, shape): return apply(ops.reshape, a, shape=shape)
    def transpose(self, a, axes=None): return apply(ops.transpose, a, axes=axes)
    def mean_squared_error(self, pred, target): return apply(losses.mean_squared_error, pred, target)
    def binary_cross_entropy(self, p, y): return apply(losses.binary_cross_entropy, p, y)
    def softmax_cross_entropy(self, logits, target): return apply(losses.softmax_cross_entropy, logits, target)

    # ops whose arguments do not map one to one onto the core function's
    def concatenate(self, arrays, axis=0): return apply(shape.concatenate, *arrays, axis=axis)
    def stack(self, arrays, axis=0): return apply(shape.stack, *arrays, axis=axis)
    def einsum(self, subscripts, *operands): return apply(shape.einsum, *operands, subscripts=subscripts)
    def index_add(self, a, index, source): return apply(shape.index_add, a, source, index=index)

    def where(self, cond, a, b):
        cond = cond.value if isinstance(cond, Tensor) else cond  # a condition is data: it has no gradient
        return apply(elementwise.where, Tensor(cond), a, b)


# every other op binds generically to the core function its definition names
for _op in OPS:
    if _op not in CoreVocabulary.__dict__:
        setattr(CoreVocabulary, _op, _bound(_op))
del _op


class CoreBackend(Backend):
    """Gradients by the core's reverse-mode tape; J·v by its forward-mode rules (tangents carried through the
    same ops); H·v by a reverse sweep of the forward-mode computation (reverse over forward, see core.tape)."""

    name = "core"
    vocabulary = CoreVocabulary  # a subclass may rebind ops (tests unbind one on purpose)
    modes = ("rev", "fwd", "hvp")

    def jvp(self, case, point, dtype, param, tangent):
        leaves = {k: Tensor(np.asarray(v, dtype=dtype)) for k, v in point.items()}
        leaves[param].tangent = Tensor(np.asarray(tangent, dtype=dtype))
        nn = self.vocabulary(dtype)
        out = case.fn(nn, **leaves)
        shape = output_shape(out, nn)
        if out.tangent is None:  # the output does not depend on param
            return np.zeros(shape, dtype=dtype)
        return np.array(out.tangent.value, dtype=out.tangent.dtype).reshape(shape)

    def hvp(self, case, point, dtype, tangents):
        leaves = {k: Tensor(np.asarray(v, dtype=dtype), requires_grad=case.inputs[k].grad) for k, v in point.items()}
        for k, v in tangents.items():
            leaves[k].tangent = Tensor(np.asarray(v, dtype=dtype))
        loss, _ = objective(case, self.vocabulary(dtype), leaves, dtype)
        wrt = case.wrt
        if loss.tangent is None:
            return {k: np.zeros_like(leaves[k].value) for k in wrt}
        return dict(zip(wrt, tape.gradients(loss.tangent, [leaves[k] for k in wrt], release=True)))

    def evaluate(self, case, point, dtype):
        leaves = {k: Tensor(np.asarray(v, dtype=dtype), requires_grad=case.inputs[k].grad) for k, v in point.items()}
        loss, _ = objective(case, self.vocabulary(dtype), leaves, dtype)
        wrt = case.wrt
        grads = tape.gradients(loss, [leaves[k] for k in wrt], release=True)
        return Evaluation(float(loss.value), dict(zip(wrt, grads)))


def _read_only(a):
    """The backward's inputs are read-only in every dtype: writing into one raises (the judge names it)."""
    a.setflags(write=False)
    return a


class HandwrittenBackend(Backend):
    """Gradients by the case's own hand-written backward (the manual MLP, the deep stacks)."""

    name = "handwritten"
    binds_vocabulary = False

    def applies(self, case):
        return case.backward is not None

    def evaluate(self, case, point, dtype):
        arrays = {k: _read_only(np.asarray(v, dtype=dtype).view()) for k, v in point.items()}
        loss, shape = objective(case, CoreVocabulary(dtype), {k: Tensor(v) for k, v in arrays.items()}, dtype)
        g = np.ones(shape, dtype) if int(np.prod(shape)) == 1 else case.cotangent_for(shape, dtype).copy()
        try:
            grads = case.backward(g, **arrays)
        except ValueError as exc:
            if "read-only" not in str(exc):
                raise
            raise in_place_write(self.name, case, arrays, lambda a: case.backward(g.copy(), **a), exc) from exc
        if not isinstance(grads, dict):
            raise TypeError(f"hand-written backward of {case.name!r} returned {type(grads).__name__}, "
                            f"expected a dict {{param: gradient}}")
        out, problems = {}, {}
        for k in case.wrt:
            if k not in grads:
                problems[k] = f"hand-written backward of {case.name!r} gave no gradient for {k!r}"
                continue
            grad = np.asarray(grads[k])
            if grad.shape != arrays[k].shape:
                problems[k] = (f"hand-written backward of {case.name!r}: gradient of {k!r} has shape "
                               f"{grad.shape}, the input has {arrays[k].shape}")
            elif grad.dtype != np.dtype(dtype):
                # An error, not a silent cast: a backward that computes in float64 does not test float32
                # arithmetic, so its float32 rows would judge a float64 computation.
                problems[k] = (f"hand-written backward of {case.name!r}: gradient of {k!r} is {grad.dtype}, the "
                               f"run is {dtype}: compute in the dtype of the arrays you are given (a float64 "
                               f"constant such as np.float64(2) or np.array([...]) promotes float32 to float64)")
            else:
                out[k] = grad
        return Evaluation(float(loss.value), Grads(out, problems))
