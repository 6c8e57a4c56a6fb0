"""The backend interface: what an engine implements to be checked by crosscheck.

A backend only computes: given a case and its input point in a dtype, it
returns the objective's value and its gradient for every differentiated
input, as numpy arrays. It knows nothing of references, tolerances or files.

To bind an engine (the whole contract; ``examples/minitape/`` does it in ~40 lines):

1. **The ops.** Subclass :class:`crosscheck.vocabulary.Vocabulary` and bind each op you have
   (``def tanh(self, a): return engine.tanh(a)``; the names and signatures are
   :data:`crosscheck.vocabulary.OPS`). ``constant(numpy_array)`` makes a non-differentiated array of your
   engine in the run's dtype (cotangents); ``is_native(x)`` says whether ``x`` is your engine's array.
   Your arrays must support ``+ - * / @ **`` and unary ``-`` (cases use them); ``multiply``, ``sum`` and
   ``reshape`` come first (the objective contracts an output with its cotangent with them). An op you do not bind
   raises :class:`crosscheck.vocabulary.MissingOp` when a case calls it, and that case's rows are
   ``skipped`` naming the op (never ``error``), so the matrix shows how far the engine has come.
2. **The gradients.** Subclass :class:`Backend`, set ``name`` (the tables' column) and implement
   ``evaluate(case, point, dtype) -> Evaluation``:

   - ``point``: {input name: numpy float64 array}, already rounded to ``dtype``; make each one your
     engine's array in ``dtype`` (differentiated when ``case.inputs[name].grad``);
   - ``objective(case, nn, arrays, dtype)`` runs the case on your vocabulary ``nn`` and returns
     ``(scalar, output shape)``: the output contracted with the case's seeded cotangent;
   - differentiate that scalar with respect to every input in ``case.wrt`` and return
     ``Evaluation(value=float(scalar), grads={name: numpy array shaped like the input})``; ``notes``
     optionally says how an op is bound where it is a composition ({op: "how"}).

   Optional: ``unavailable()`` returns the reason the engine cannot run here (rows become ``skipped``
   with it), ``applies(case)`` returns False for cases it has nothing to say about.
3. **Forward mode and second order (optional).** List the modes you compute in ``modes`` (``"rev"`` always;
   ``"fwd"``, ``"hvp"``) and implement

   - ``jvp(case, point, dtype, param, tangent) -> array``: the derivative of the case's *output* (not the
     contracted objective) along ``tangent`` in the input ``param``, the other inputs held: J·v, shaped like the
     output, in ``dtype``;
   - ``hvp(case, point, dtype, tangents) -> {param: array}``: H·v of the scalar objective above, ``tangents``
     giving v's block in every differentiated input; one array per input of ``case.wrt``, shaped like it.

   A mode you do not list gives ``skipped`` rows saying so.
4. **The name.** ``crosscheck run --backend package.module:Class`` (pytest: ``--crosscheck-backend``)
   runs it without installing anything; an installed package declares it in the entry-point group
   ``crosscheck.backends`` and is then found by name, and joins the default backends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Evaluation:
    value: float
    grads: dict  # param -> numpy array, shaped like the input
    notes: dict = field(default_factory=dict)  # op -> how this backend binds it, where not native


class InPlaceWrite(ValueError):
    """A backend (or a case's hand-written backward) wrote into an input it was given."""


def in_place_write(backend, case, arrays, call, exc):
    """The InPlaceWrite for a call that raised on read-only inputs: ``call`` is run once more on writable
    copies, and the inputs it changed are named."""
    scratch = {k: np.array(v, copy=True) for k, v in arrays.items()}
    try:
        call(scratch)
    except Exception:
        pass
    written = [k for k in arrays if not np.array_equal(scratch[k], arrays[k], equal_nan=True)]
    names = ", ".join(repr(k) for k in written) or "an input"
    return InPlaceWrite(f"backend {backend} wrote into {names} of case {case.name!r} (inputs are read-only, "
                        f"shared with the other backends: copy before writing in place, e.g. np.cos(x) instead of "
                        f"np.cos(x, out=x)); numpy said: {exc}")


class GradientProblem(ValueError):
    """One parameter's gradient cannot be used (missing, wrong shape or dtype); the others still can."""


class Grads(dict):
    """param -> gradient. A parameter whose gradient is unusable is absent, and looking it up raises
    :class:`GradientProblem` with the reason: its row is an ``error``, the other parameters are judged."""

    def __init__(self, grads, problems=None):
        super().__init__(grads)
        self.problems = dict(problems or {})

    def __missing__(self, param):
        if param in self.problems:
            raise GradientProblem(self.problems[param])
        raise KeyError(param)


class CaseOutputError(TypeError):
    """A case returned something that is not an array of this backend."""


def output_shape(out, nn):
    """The shape of a case's output, after checking it is an array of ``nn``'s backend."""
    shape = getattr(out, "shape", None)
    if shape is None or isinstance(out, (bool, str)):
        raise CaseOutputError(f"the case returned a {type(out).__name__}, not an array: return a single array "
                              f"(one output) built from nn's ops and the inputs")
    if not nn.is_native(out):
        raise CaseOutputError(f"the case returned a {type(out).__module__}.{type(out).__name__}, not a "
                              f"{nn.array_name}: on backend {nn.backend!r} it must be built from nn's ops and the "
                              f"inputs only (an array of another framework or of plain numpy has no gradient here)")
    return tuple(shape)


def objective(case, nn, args, dtype, cotangent=None):
    """The scalar a backend differentiates: the case's output, contracted with the
    case's seeded cotangent when it is not a scalar. Returns (scalar, output shape).

    ``cotangent``, a backend array, replaces the case's own (a compiled function takes
    it as an argument, so one compilation serves every draw of the case's inputs).
    """
    out = case.fn(nn, **args)
    shape = output_shape(out, nn)
    if int(np.prod(shape)) == 1:
        return nn.reshape(out, ()), shape
    c = cotangent if cotangent is not None else nn.constant(case.cotangent_for(shape, dtype))
    return nn.sum(nn.multiply(out, c)), shape


class Backend:
    """Base class. ``name`` is what tables show; ``reference`` marks the finite-difference reference."""

    name = "?"
    reference = False
    #: whether the backend binds the op vocabulary (a column of the conformance matrix); the hand-written
    #: backward, a whole-case rule, does not
    binds_vocabulary = True

    def unavailable(self):
        """None when the backend can run, else the reason it cannot (shown in ``skipped`` rows)."""
        return None

    def applies(self, case):
        """Whether this backend has anything to compute for ``case``."""
        return True

    #: the modes the backend computes: "rev" (evaluate), "fwd" (jvp), "hvp" (hvp)
    modes = ("rev",)

    def evaluate(self, case, point, dtype) -> Evaluation:
        raise NotImplementedError(f"backend {self.name!r} does not implement evaluate(case, point, dtype)")

    def jvp(self, case, point, dtype, param, tangent):
        """J·v: the derivative of the case's output along ``tangent`` in ``param`` (output-shaped)."""
        raise NotImplementedError(f"backend {self.name!r} has no forward mode (jvp)")

    def hvp(self, case, point, dtype, tangents):
        """H·v of the scalar objective: {param: array shaped like the input} for every param of case.wrt."""
        raise NotImplementedError(f"backend {self.name!r} has no Hessian-vector product (hvp)")

    def missing_ops(self):
        """The vocabulary's ops this backend does not bind, from its ``vocabulary`` class (a set), or None
        when it has none (the hand-written backward binds no op)."""
        vocabulary = getattr(self, "vocabulary", None)
        if not isinstance(vocabulary, type):
            return None
        from ..vocabulary import OPS, Vocabulary

        return {op for op in OPS if getattr(vocabulary, op, None) is getattr(Vocabulary, op)}
