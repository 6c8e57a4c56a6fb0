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

# name -> signature, as documentation and as the list every backend is checked against. Defined, with each op's
# bindings and special points, in crosscheck/ops_spec.py (the one place an op is described).
from .ops_spec import VOCABULARY as OPS  # noqa: E402

#: how alike a mistyped name must be to an op's for the message to suggest it (difflib's ratio)
SUGGEST_CUTOFF = 0.75


def nearest_op(name):
    """The op whose name is closest to ``name`` (None when none is close: no far-fetched suggestion)."""
    import difflib

    close = difflib.get_close_matches(name, OPS, n=1, cutoff=SUGGEST_CUTOFF)
    return close[0] if close else None


def unknown_op_message(name, what="op"):
    """"nn has no op 'x'; did you mean nn.y?", or where the ops are listed when nothing is close (not the list
    itself: it would be repeated on every row of the case)."""
    close = nearest_op(name)
    hint = (f"; did you mean nn.{close}?" if close else
            f": it is not in crosscheck's op vocabulary ({len(OPS)} ops, listed in crosscheck/vocabulary.py and "
            f"the README's op table)")
    return f"nn has no {what} {name!r}{hint}"


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
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(unknown_op_message(name))


for _name in OPS:
    setattr(Vocabulary, _name, _missing(_name))
del _name
