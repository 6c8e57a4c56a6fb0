"""The conformance matrix: ops (rows) × backends (columns), the one table an engine author reads.

Which ops a case uses is recorded by running it once in plain float64 numpy
(the numeric backend's vocabulary) behind a recorder that notes every op the
case calls, and whether an op met one of its kinks there (relu at exactly 0,
a tie of maximum). The case's own calls are recorded, not the ops a binding
composes internally, nor the contraction with the cotangent.

A cell aggregates, for one backend, the cases that use the op:

- ``missing``: the backend does not bind the op (its vocabulary lacks it, or a
  case's row says so);
- ``fail``: a case using the op fails (fail, nan or error) and the op is to
  blame: it is not *cleared* by another case that uses it and passes on this
  backend (when every op of a failing case is cleared, all of them are blamed);
- ``expected``: the same, for a declared expected discrepancy;
- ``kink convention``: every case using it passes, and at least one met the
  op's kink and got a valid subgradient (``kink`` rows);
- ``pass``: every case using it passes;
- ``untested``: every case using it calls another op the backend lacks;
- ``skipped``: the backend could not run here (not installed); empty: no case
  of the catalogue uses the op on this backend.
"""

from __future__ import annotations

import numpy as np

from .compare import FAILING
from .vocabulary import OPS

def _tie(a, b, **_):
    return bool(np.any(np.asarray(a) == np.asarray(b)))


def _at(*points):
    """A kink where any element equals one of ``points``."""
    return lambda a, *_, **__: bool(np.any(np.isin(np.asarray(a), points)))


def _extreme_tie(pick):
    """A reduction's kink: the extreme along the axis held by two elements or more."""
    def kink(a, axis=None, keepdims=False, **_):
        a = np.asarray(a)
        return bool(np.any(np.sum(a == pick(a, axis=axis, keepdims=True), axis=axis) > 1))
    return kink


def _repeated(a, axis=-1, **_):
    """Two equal elements along the axis (sort and median swap them on either side)."""
    s = np.sort(np.asarray(a), axis=axis if axis is not None else None)
    return bool(np.any(np.diff(s, axis=axis if axis is not None else -1) == 0))


def _running_tie(a, axis, **_):
    """cummax: an element equal to the running maximum before it."""
    a = np.moveaxis(np.asarray(a), axis, -1)
    before = np.maximum.accumulate(a, axis=-1)[..., :-1]
    return bool(np.any(a[..., 1:] == before))


def _norm_kink(a, ord=2, **_):  # noqa: A002
    a = np.abs(np.asarray(a)).ravel()
    if ord == 1:
        return bool(np.any(a == 0))
    if ord in (np.inf, "inf"):
        return bool(np.sum(a == a.max()) > 1)
    return bool(np.all(a == 0))


def _spectrum_kink(values):
    """A repeated eigen/singular value, or a zero singular value (|·|-like)."""
    def kink(a, **_):
        v = np.sort(values(np.asarray(a)))
        return bool(np.any(np.isclose(np.diff(v), 0, atol=1e-12)) or (values is _svdvals and np.any(v == 0)))
    return kink


def _svdvals(a):
    return np.linalg.svd(a, compute_uv=False)


#: an op's kinks: a predicate on its (numpy) arguments and attributes, true where the op has no derivative
#: (the points where frameworks may pick different subgradients: the matrix's "kink convention")
KINKS = {
    "relu": _at(0.0),
    "maximum": _tie,
    "minimum": _tie,
    "abs": _at(0.0),
    "clip": lambda a, lo, hi, **_: bool(np.any((np.asarray(a) == lo) | (np.asarray(a) == hi))),
    "relu6": _at(0.0, 6.0),
    "leaky_relu": _at(0.0),
    "elu": lambda a, alpha=1.0, **_: alpha != 1.0 and bool(np.any(np.asarray(a) == 0)),
    "selu": _at(0.0),
    "hardtanh": lambda a, min_val=-1.0, max_val=1.0, **_: bool(np.any(np.isin(np.asarray(a), (min_val, max_val)))),
    "hard_sigmoid": _at(-3.0, 3.0),
    "hard_swish": _at(-3.0, 3.0),
    "max": _extreme_tie(np.max),
    "min": _extreme_tie(np.min),
    "std": lambda a, axis=None, **_: bool(np.any(np.ptp(np.asarray(a), axis=axis) == 0)),
    "norm": _norm_kink,
    "cummax": _running_tie,
    "sort": _repeated,
    "median": _repeated,
    "l1": _tie,
    "eigh": _spectrum_kink(np.linalg.eigvalsh),
    "svdvals": _spectrum_kink(_svdvals),
}

CELLS = ("pass", "kink convention", "expected", "fail", "missing", "untested", "skipped")


class _Traced:
    """A value on the recorder: its operators (``+ - * / @ **``, unary ``-``) are the vocabulary's ops."""

    __slots__ = ("value", "rec")
    __array_ufunc__ = None

    def __init__(self, value, rec):
        self.value, self.rec = value, rec

    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)
    dtype = property(lambda self: self.value.dtype)

    def __add__(self, o): return self.rec.call("add", self, o)
    def __radd__(self, o): return self.rec.call("add", o, self)
    def __sub__(self, o): return self.rec.call("subtract", self, o)
    def __rsub__(self, o): return self.rec.call("subtract", o, self)
    def __mul__(self, o): return self.rec.call("multiply", self, o)
    def __rmul__(self, o): return self.rec.call("multiply", o, self)
    def __truediv__(self, o): return self.rec.call("divide", self, o)
    def __rtruediv__(self, o): return self.rec.call("divide", o, self)
    def __matmul__(self, o): return self.rec.call("matmul", self, o)
    def __rmatmul__(self, o): return self.rec.call("matmul", o, self)
    def __neg__(self): return self.rec.call("negative", self)
    def __pow__(self, c): return self.rec.call("power", self, c)


class _Recorder:
    """Stands in for a vocabulary: passes every call through, noting each op called and each kink met."""

    def __init__(self, inner):
        self._inner, self.used, self.at_kink = inner, set(), set()

    def _wrap(self, v):
        return _Traced(v, self) if hasattr(v, "data") else v

    def call(self, name, *args, **kwargs):
        self.used.add(name)
        plain = [a.value if isinstance(a, _Traced) else a for a in args]
        if name in KINKS:
            try:
                if KINKS[name](*(a.data[0] if hasattr(a, "data") else a for a in plain), **kwargs):
                    self.at_kink.add(name)
            except Exception:  # an argument the predicate cannot read: no kink noted
                pass
        return self._wrap(getattr(self._inner, name)(*plain, **kwargs))

    def constant(self, array):
        return self._wrap(self._inner.constant(array))

    def is_native(self, x):
        return isinstance(x, _Traced)

    def __getattr__(self, name):
        if name in OPS:
            return lambda *args, **kwargs: self.call(name, *args, **kwargs)
        return getattr(self._inner, name)


#: seconds to record which ops a case calls (one plain-numpy evaluation)
RECORD_TIMEOUT = 10.0


def ops_of(case):
    """(ops the case calls, ops it calls at one of their kinks), at its float64 input point."""
    from .backends.numeric import Batched, BatchedNumpy

    from .guard import CaseTimeout, time_limit

    rec = _Recorder(BatchedNumpy())
    try:  # a case that raises, exits or hangs: the ops called until then (its rows already say what went wrong)
        with time_limit(RECORD_TIMEOUT, f"recording the ops of case {case.name!r}"):
            case.fn(rec, **{k: rec._wrap(Batched(np.asarray(v, dtype=np.float64)[None]))
                            for k, v in case.point("float64").items()})
    except (Exception, SystemExit, CaseTimeout):
        pass
    return frozenset(rec.used), frozenset(rec.at_kink)


def binding_every_op(backends, case):
    """The backends that apply to ``case`` and bind every op it calls (the studies leave out a young engine's
    gaps: its rows already name the missing op)."""
    used = ops_of(case)[0]
    return [b for b in backends if b.applies(case) and not (b.missing_ops() or set()) & used]


def _case_verdicts(rows):
    """{(case, backend): set of verdicts} over parameters and dtypes."""
    out = {}
    for r in rows:
        out.setdefault((r.case, r.backend), set()).add(r.verdict)
    return out


def _missing_named(rows, backend):
    """Ops named missing by this backend's skipped rows."""
    found = set()
    for r in rows:
        if r.backend == backend and r.verdict == "skipped" and "has no binding for op" in r.message:
            found.add(r.message.rsplit("op ", 1)[-1].strip("'"))
    return found


def conformance(cases, rows, backends):
    """(matrix, counts) as DataFrames: one row per op of the vocabulary, one column per backend that binds ops."""
    import pandas as pd

    uses = {c.name: ops_of(c) for c in cases}
    verdicts = _case_verdicts(rows)
    columns = [b for b in backends if not b.reference and b.binds_vocabulary]
    table = {op: {"op": op, "cases": sum(1 for u, _ in uses.values() if op in u)} for op in OPS}
    counts = []
    for b in columns:
        missing = (b.missing_ops() or set()) | _missing_named(rows, b.name)
        ran = {name: v for (name, backend), v in verdicts.items() if backend == b.name}
        failing = {name for name, v in ran.items() if v & FAILING}
        expected = {name for name, v in ran.items() if "expected-discrepancy" in v and name not in failing}
        good = {name for name, v in ran.items() if v <= {"pass", "kink", "unjudged"}}
        cleared = {op for name in good for op in uses.get(name, ((), ()))[0]}

        def blamed(names):
            """The ops a failing case implicates: those no passing case clears; else those it met at a
            kink; else all of its ops."""
            out = set()
            for name in names:
                ops, at_kink = uses.get(name, ((), ()))
                out |= (set(ops) - cleared) or set(at_kink) or set(ops)
            return out

        blamed_fail, blamed_expected = blamed(failing), blamed(expected)
        for op in OPS:
            using = [name for name, (u, _) in uses.items() if op in u and name in ran]
            if op in missing:
                cell = "missing"
            elif not using:
                cell = ""
            elif all(ran[n] == {"skipped"} for n in using):
                # every case using it was skipped: for a missing op among the case's others, or not installed
                cell = "untested" if all(uses[n][0] & missing for n in using) else "skipped"
            elif op in blamed_fail:
                cell = "fail"
            elif op in blamed_expected:
                cell = "expected"
            elif any("kink" in ran[n] and op in uses[n][1] for n in using):
                cell = "kink convention"
            else:
                cell = "pass"
            table[op][b.name] = cell
        tally = {cell: sum(1 for op in OPS if table[op][b.name] == cell) for cell in CELLS}
        counts.append({"backend": b.name, **tally, "ops": len(OPS)})
    return pd.DataFrame(list(table.values())), pd.DataFrame(counts)


def markdown(matrix, counts):
    """conformance.md: the matrix, then the counts per backend."""
    from .tables import markdown_table

    return ("# Conformance matrix\n\nOne row per op of the vocabulary, one column per backend; `cases`: how many "
            "cases of the catalogue call the op. A cell sums up the cases that use the op on that backend "
            "(see crosscheck/matrix.py): pass, kink convention (a valid subgradient where the op has no "
            "derivative), expected (a declared discrepancy), fail, missing (the backend does not bind the op), "
            "untested (every case using it needs an op the backend lacks), skipped (not installed here).\n\n" + markdown_table(matrix) + "\n## Ops per backend\n\n"
            + markdown_table(counts))
