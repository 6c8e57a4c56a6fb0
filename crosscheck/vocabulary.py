"""The op vocabulary ``nn``: the only functions a case may call.

A case is written once against this vocabulary; each backend binds every op
to its own native function (the core's tape ops, numpy in float64 for finite
differences, ``torch.*``, ``jax.nn.*`` / ``jax.numpy.*``). So a comparison
tests each framework's own kernels and backward rules, not one shared
re-implementation. Arithmetic operators (``+ - * / @ **`` and unary ``-``)
work on every backend's arrays as well.

A backend that lacks an op inherits the method below, which raises
:class:`MissingOp` naming the op and the backend; its rows then say so.
"""

from __future__ import annotations

# name -> signature, as documentation and as the list every backend is checked against.
OPS = {
    "add": "add(a, b)",
    "subtract": "subtract(a, b)",
    "multiply": "multiply(a, b)",
    "divide": "divide(a, b)",
    "negative": "negative(a)",
    "power": "power(a, exponent)  # exponent a python number",
    "exp": "exp(a)",
    "log": "log(a)",
    "sin": "sin(a)",
    "cos": "cos(a)",
    "tanh": "tanh(a)",
    "sigmoid": "sigmoid(a)",
    "relu": "relu(a)",
    "maximum": "maximum(a, b)",
    "matmul": "matmul(a, b)",
    "sum": "sum(a, axis=None, keepdims=False)",
    "mean": "mean(a, axis=None, keepdims=False)",
    "reshape": "reshape(a, shape)",
    "transpose": "transpose(a, axes=None)",
    "mean_squared_error": "mean_squared_error(pred, target)  # mean over all elements",
    "binary_cross_entropy": "binary_cross_entropy(p, y)  # p probabilities, mean over all elements",
    "softmax_cross_entropy": "softmax_cross_entropy(logits, target)  # target probabilities on the last axis, mean over rows",
}


class MissingOp(NotImplementedError):
    """A case called an op that this backend does not bind."""

    def __init__(self, op, backend):
        super().__init__(f"backend {backend!r} has no binding for op {op!r}")
        self.op = op
        self.backend = backend


def _missing(name):
    def method(self, *args, **kwargs):
        raise MissingOp(name, self.backend)

    method.__name__ = name
    method.__doc__ = OPS[name]
    return method


class Vocabulary:
    """Base of every backend's ``nn``. Subclasses override the ops they bind.

    ``constant(array)`` turns a numpy array into this backend's array type in
    its dtype, without gradient; the engine uses it for cotangents.
    """

    backend = "?"
    #: op name -> a short note on how a backend binds it, where it is not the framework's native op
    bindings: dict = {}

    def constant(self, array):
        raise MissingOp("constant", self.backend)

    def is_native(self, x):
        """Whether ``x`` is this backend's array (a case must build its output from nn's ops and its inputs)."""
        return True

    #: how this backend's arrays are called in messages
    array_name = "array"

    def binding(self, op):
        return self.bindings.get(op, "native")

    def __getattr__(self, name):
        # only reached for a name that is no op: say which ops there are, and the likely one
        import difflib

        if name.startswith("__"):
            raise AttributeError(name)
        close = difflib.get_close_matches(name, OPS, n=1, cutoff=0.75)  # a typo, not any op sharing letters
        if close:
            raise AttributeError(f"nn has no op {name!r}; did you mean nn.{close[0]}?")
        raise AttributeError(f"nn has no op {name!r}: it is not in crosscheck's op vocabulary "
                             f"({len(OPS)} ops, listed in crosscheck/vocabulary.py and the README)")


for _name in OPS:
    setattr(Vocabulary, _name, _missing(_name))
del _name
