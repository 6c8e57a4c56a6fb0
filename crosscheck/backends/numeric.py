"""The reference: float64 central differences of the case evaluated in plain numpy.

The case is evaluated on a *stack* of input points at once: every array
carries a leading batch axis (length B, or 1 for inputs not being perturbed)
and the vocabulary below maps each op onto the trailing, logical axes. One
call then gives f at all the perturbed points of a chunk of elements, which
is what makes full element-wise differences cheap.
"""

from __future__ import annotations

import numpy as np

from ..core.losses import log_softmax
from ..core.ops import sigmoid_value
from ..numerical import (Perturbation, base_steps, central_difference, directional_difference,
                         estimate_derivatives, min_steps, one_sided_differences)
from ..vocabulary import Vocabulary
from .base import Backend, Evaluation, objective


class Batched:
    """A stack of arrays: ``data`` has shape (B, *shape), B ≥ 1 (B = 1 broadcasts)."""

    __slots__ = ("data",)
    __array_ufunc__ = None  # ndarray ∘ Batched defers to our operators

    def __init__(self, data):
        self.data = data

    shape = property(lambda self: self.data.shape[1:])
    ndim = property(lambda self: self.data.ndim - 1)
    dtype = property(lambda self: self.data.dtype)

    def __add__(self, o): return _binary(np.add, self, o)
    def __radd__(self, o): return _binary(np.add, o, self)
    def __sub__(self, o): return _binary(np.subtract, self, o)
    def __rsub__(self, o): return _binary(np.subtract, o, self)
    def __mul__(self, o): return _binary(np.multiply, self, o)
    def __rmul__(self, o): return _binary(np.multiply, o, self)
    def __truediv__(self, o): return _binary(np.divide, self, o)
    def __rtruediv__(self, o): return _binary(np.divide, o, self)
    def __matmul__(self, o): return _matmul(self, o)
    def __rmatmul__(self, o): return _matmul(o, self)
    def __neg__(self): return Batched(-self.data)

    def __pow__(self, exponent):
        if isinstance(exponent, Batched):
            raise TypeError("power takes a constant exponent (x ** c)")
        return Batched(self.data**exponent)


class Perturbed(Batched):
    """A stack that differs from one point in one element per copy (a numerical.Perturbation), kept lazy:
    ``data`` builds the full stack on first use, but matmul first tries a rank-one shortcut."""

    __slots__ = ("perturbation", "_stack")

    def __init__(self, perturbation):
        self.perturbation, self._stack = perturbation, None

    @property
    def data(self):
        if self._stack is None:
            self._stack = self.perturbation.stack()
        return self._stack

    shape = property(lambda self: self.perturbation.x.shape)
    ndim = property(lambda self: self.perturbation.x.ndim)
    dtype = property(lambda self: self.perturbation.x.dtype)


class ColumnDelta(Batched):
    """B copies of one logical matrix (m, n) that differ from ``base`` in one column each: copy k is
    ``base`` with column ``cols[k]`` replaced by ``values[k]``. Elementwise ops and bias adds keep it so,
    at O(m) per copy instead of O(m·n); a matmul on the right turns it into a rank-one update."""

    __slots__ = ("base", "cols", "values", "_stack")

    def __init__(self, base, cols, values):
        self.base, self.cols, self.values, self._stack = base, cols, values, None

    @property
    def data(self):
        if self._stack is None:
            out = np.repeat(self.base[None], len(self.cols), axis=0)
            out[np.arange(len(self.cols)), :, self.cols] = self.values
            self._stack = out
        return self._stack

    shape = property(lambda self: self.base.shape)
    ndim = property(lambda self: 2)
    dtype = property(lambda self: self.values.dtype)

    def map(self, fn):
        return ColumnDelta(fn(self.base), self.cols, fn(self.values))


def _single(x):
    """x as one plain point (its batch axis of 1 dropped), or None if it is a stack of several."""
    if not isinstance(x, Batched):
        return x
    if isinstance(x, (Perturbed, ColumnDelta)) or x.data.shape[0] != 1:
        return None
    return x.data[0]


def _column_binary(ufunc, a, b):
    """ufunc(a, b) kept as a ColumnDelta where one side is one (a ColumnDelta, or a lazily perturbed
    vector broadcast along rows) and the other a single point; None where that does not apply."""
    for delta, other, flipped in ((a, b, False), (b, a, True)):
        o = _single(other)
        if o is None:
            continue
        f = (lambda x, y: ufunc(y, x)) if flipped else ufunc
        if isinstance(delta, ColumnDelta):
            m, n = delta.base.shape
            if np.ndim(o) > 2:
                return None
            ob = np.broadcast_to(o, (m, n))
            return ColumnDelta(f(delta.base, ob), delta.cols, f(delta.values, ob[:, delta.cols].T))
        if isinstance(delta, Perturbed) and delta._stack is None and delta.perturbation.x.ndim == 1 \
                and np.ndim(o) == 2 and o.shape[1] == delta.perturbation.x.shape[0]:
            p = delta.perturbation
            cols = p.flat_indices
            new = p.x[cols] + p.deltas  # the perturbed element of the row vector, per copy
            return ColumnDelta(f(p.x, o), cols, f(new[:, None], o[:, cols].T))
    return None


def _column_matmul(a, b):
    """ColumnDelta @ point → rank-one update of the product (dense); point @ ColumnDelta → ColumnDelta."""
    if isinstance(a, ColumnDelta):
        o = _single(b)
        if o is None or np.ndim(o) != 2:
            return None
        base = a.base @ o
        change = a.values - a.base[:, a.cols].T  # (B, m)
        out = np.repeat(base[None], len(a.cols), axis=0)
        out += change[:, :, None] * o[a.cols][:, None, :]
        return Batched(out)
    if isinstance(b, ColumnDelta):
        o = _single(a)
        if o is None or np.ndim(o) != 2:
            return None
        return ColumnDelta(o @ b.base, b.cols, b.values @ o.T)
    return None


def _rank_one_matmul(a, b):
    """a @ b for logical matrices when one operand is a lazy Perturbed and the other a single point:
    copy k's product is the base product plus δ_k times a row or column, never a full matmul per copy."""
    left = isinstance(a, Perturbed) and a._stack is None
    p = (a if left else b).perturbation
    other = (b if left else a).data[0]
    if p.x.ndim != 2 or other.ndim != 2:
        return None
    base = p.x @ other if left else other @ p.x  # (m, n)
    rows, cols = np.unravel_index(p.flat_indices, p.x.shape)
    ks = np.arange(len(p))
    if left:
        out = np.repeat(base[None], len(p), axis=0)  # A[i, j] += δ changes row i of A @ B by δ·B[j, :]
        out[ks, rows, :] += p.deltas[:, None] * other[cols, :]
    else:  # B[i, j] += δ changes column j of A @ B by δ·A[:, i]: kept as a ColumnDelta
        return ColumnDelta(base, cols, base[:, cols].T + p.deltas[:, None] * other[:, rows].T)
    return Batched(out)


def _lift(x):
    """Numbers stay numbers; a plain array is one unperturbed point (batch axis of 1)."""
    if isinstance(x, Batched):
        return x
    if np.ndim(x) == 0 and not isinstance(x, np.ndarray):
        return x
    return Batched(np.asarray(x)[None])


def _aligned(a, b):
    """Raw data of a and b with equal rank: logical axes right-aligned, batch axis first."""
    da, db = a.data, b.data
    n = max(da.ndim, db.ndim)
    da = da.reshape(da.shape[:1] + (1,) * (n - da.ndim) + da.shape[1:])
    db = db.reshape(db.shape[:1] + (1,) * (n - db.ndim) + db.shape[1:])
    return da, db


def _binary(ufunc, a, b):
    a, b = _lift(a), _lift(b)
    if isinstance(a, (ColumnDelta, Perturbed)) or isinstance(b, (ColumnDelta, Perturbed)):
        out = _column_binary(ufunc, a, b)
        if out is not None:
            return out
    if not isinstance(a, Batched):
        return Batched(ufunc(a, b.data))
    if not isinstance(b, Batched):
        return Batched(ufunc(a.data, b))
    return Batched(ufunc(*_aligned(a, b)))


def _matmul(a, b):
    a, b = _lift(a), _lift(b)
    if isinstance(a, ColumnDelta) or isinstance(b, ColumnDelta):
        out = _column_matmul(a, b)
        if out is not None:
            return out
    lazy = [o for o in (a, b) if isinstance(o, Perturbed) and o._stack is None]
    if len(lazy) == 1 and (b if lazy[0] is a else a).data.shape[0] == 1:
        out = _rank_one_matmul(a, b)
        if out is not None:
            return out
    da = a.data[..., None, :] if a.ndim == 1 else a.data  # a logical vector is a row
    db = b.data[..., None] if b.ndim == 1 else b.data  # b logical vector is a column
    # right-align the logical batch dims of the two operands
    n = max(da.ndim, db.ndim)
    da = da.reshape(da.shape[:1] + (1,) * (n - da.ndim) + da.shape[1:])
    db = db.reshape(db.shape[:1] + (1,) * (n - db.ndim) + db.shape[1:])
    out = da @ db
    if b.ndim == 1:
        out = out[..., 0]
    if a.ndim == 1:
        out = out[..., 0, :] if b.ndim != 1 else out[..., 0]
    return Batched(out)


def _unary(fn, a):
    a = _lift(a)
    if isinstance(a, ColumnDelta):
        return a.map(fn)
    return Batched(fn(a.data))


def _axes(x, axis):
    """Logical reduction axes -> data axes (the batch axis is never reduced)."""
    if axis is None:
        return tuple(range(1, x.data.ndim))
    axes = (axis,) if np.isscalar(axis) else tuple(axis)
    return tuple(ax % x.ndim + 1 for ax in axes)


class BatchedNumpy(Vocabulary):
    """``nn`` as plain float64 numpy over stacks of points."""

    backend = "numeric"
    array_name = "reference array (a stack of plain-numpy points)"

    def is_native(self, x):
        return isinstance(x, Batched)

    def constant(self, array):
        return Batched(np.asarray(array, dtype=np.float64)[None])

    def add(self, a, b): return _binary(np.add, a, b)
    def subtract(self, a, b): return _binary(np.subtract, a, b)
    def multiply(self, a, b): return _binary(np.multiply, a, b)
    def divide(self, a, b): return _binary(np.divide, a, b)
    def maximum(self, a, b): return _binary(np.maximum, a, b)
    def negative(self, a): return Batched(-_lift(a).data)
    def power(self, a, exponent): return _lift(a) ** exponent
    def exp(self, a): return _unary(np.exp, a)
    def log(self, a): return _unary(np.log, a)
    def sin(self, a): return _unary(np.sin, a)
    def cos(self, a): return _unary(np.cos, a)
    def tanh(self, a): return _unary(np.tanh, a)
    def sigmoid(self, a): return _unary(sigmoid_value, a)
    def relu(self, a): return _unary(lambda v: np.maximum(v, 0), a)
    def matmul(self, a, b): return _matmul(a, b)

    def sum(self, a, axis=None, keepdims=False):
        a = _lift(a)
        return Batched(np.sum(a.data, axis=_axes(a, axis), keepdims=keepdims))

    def mean(self, a, axis=None, keepdims=False):
        a = _lift(a)
        return Batched(np.mean(a.data, axis=_axes(a, axis), keepdims=keepdims))

    def reshape(self, a, shape):
        a = _lift(a)
        shape = (shape,) if np.isscalar(shape) else tuple(shape)
        return Batched(a.data.reshape(a.data.shape[:1] + shape))

    def transpose(self, a, axes=None):
        a = _lift(a)
        perm = reversed(range(a.ndim)) if axes is None else (ax % a.ndim for ax in axes)
        return Batched(np.transpose(a.data, (0,) + tuple(p + 1 for p in perm)))

    def mean_squared_error(self, pred, target):
        d = _binary(np.subtract, pred, target)
        return self.mean(d * d)

    def binary_cross_entropy(self, p, y):
        p, y = _lift(p), _lift(y)
        logs = y * Batched(np.log(p.data)) + (1 - y) * Batched(np.log1p(-p.data))
        return -self.mean(logs)

    def softmax_cross_entropy(self, logits, target):
        z = _lift(logits)
        logp = Batched(log_softmax(z.data, axis=-1))
        per_row = -self.sum(target * logp, axis=-1)
        return self.mean(per_row)


#: ops that have no analytic continuation to evaluate on complex inputs: a case that calls one gets no
#: complex-step oracle (its reference stays the finite differences' estimate)
COMPLEX_UNSAFE = frozenset()


class NotAnalytic(Exception):
    """The case called an op that cannot be evaluated on complex inputs (see :data:`COMPLEX_UNSAFE`)."""


def _real_max(a, b):
    return np.where(np.real(a) >= np.real(b), a, b)


def _complex_sigmoid(z):
    """σ(z) for complex z, the branch chosen on the real part so that neither exponential overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        neg = np.exp(np.where(np.real(z) >= 0, -z, z))
        return np.where(np.real(z) >= 0, 1 / (1 + neg), neg / (1 + neg))


class ComplexBatchedNumpy(BatchedNumpy):
    """``nn`` over complex stacks, for complex-step differentiation: f(x + ih) = f(x) + ih·f'(x) + O(h²), so
    Im f(x + ih) / h is f'(x) to the last bits, with no subtraction. Every branch (max, relu, the sigmoid's
    two forms) is decided on the real part, so the imaginary part carries the derivative of the branch the
    real point lies on. Ops in :data:`COMPLEX_UNSAFE` raise :class:`NotAnalytic`."""

    def __getattribute__(self, name):
        if name in COMPLEX_UNSAFE:
            raise NotAnalytic(name)
        return super().__getattribute__(name)

    def constant(self, array):
        return Batched(np.asarray(array)[None])

    def maximum(self, a, b): return _binary(_real_max, a, b)
    def relu(self, a): return _unary(lambda v: np.where(np.real(v) > 0, v, 0), a)
    def sigmoid(self, a): return _unary(_complex_sigmoid, a)

    def binary_cross_entropy(self, p, y):
        p, y = _lift(p), _lift(y)
        logs = y * Batched(np.log(p.data)) + (1 - y) * Batched(np.log(1 - p.data))
        return -self.mean(logs)


#: the complex step: h = 2^-50 times the power of two at or below min(|x|, 1) (2^-550 at x = 0): far below any
#: distance to a singularity that float64 can resolve, far above the smallest normal number, and absolute for
#: |x| >= 1 (the imaginary part need not be representable beside x: sin at 1e15 gets h = 2^-50, not 0.5)
COMPLEX_STEP = 2.0**-50
#: a directional estimate's error is this many times the finite differences' own estimate (see estimate_directional)
DIRECTIONAL_ERROR_FACTOR = 4.0


def _evaluator(f, x, dtype=np.float64):
    """``evaluate(k, offsets)``: f at x + offsets[j]·e_{k[j]} for each j (a lazy Perturbation per chunk)."""
    from ..numerical import _evaluate

    def evaluate(k, offsets):
        if dtype is np.float64:
            return _evaluate(f, x, np.asarray(offsets, dtype=np.float64), np.asarray(k), True)
        return _evaluate_complex(f, x.astype(np.complex128), np.asarray(offsets), np.asarray(k))

    return evaluate


def _evaluate_complex(f, x, deltas, flat_indices):
    from ..numerical import CHUNK_ELEMENTS, LAZY_CHUNK

    n = len(flat_indices)
    out = np.empty(n, dtype=np.complex128)
    chunk = min(n, max(LAZY_CHUNK[0], min(CHUNK_ELEMENTS // max(x.size, 1), LAZY_CHUNK[1])))
    for start in range(0, n, max(chunk, 1)):
        stop = min(n, start + chunk)
        values = f(Perturbation(x, flat_indices[start:stop], deltas[start:stop]))
        out[start:stop] = np.broadcast_to(np.asarray(values).reshape(-1), (stop - start,))
    return out


def _directional_evaluator(f, x, direction):
    """``evaluate(k, offsets)``: f at x + offsets[j]·direction(k[j]), in stacks of bounded size; the
    directions are made one at a time from their seeds (int8), never all at once."""
    from ..numerical import CHUNK_ELEMENTS

    def evaluate(k, offsets):
        k, offsets = np.asarray(k), np.asarray(offsets, dtype=np.float64)
        out = np.empty(len(k))
        # a perturbed copy costs x's bytes and each op on it as much again: for a large x one copy a call
        per_call = max(1, min(len(k), (CHUNK_ELEMENTS // 4) // max(x.size, 1)))
        for start in range(0, len(k), per_call):
            stop = min(len(k), start + per_call)
            stack = np.empty((stop - start,) + x.shape)
            for j in range(start, stop):
                np.multiply(direction(int(k[j])), offsets[j], out=stack[j - start])
                stack[j - start] += x
            out[start:stop] = np.broadcast_to(np.asarray(f(stack), dtype=np.float64).reshape(-1), (stop - start,))
        return out

    return evaluate


def _merge(est, where, other):
    """Fold ``other`` (an Estimate of the elements ``where`` of ``est``) into ``est``: the more precise where they
    agree within their errors; where they do not, ``est``'s value with their difference as its error."""
    from ..numerical import SPLIT_FACTOR

    a, ea = est.value[where], est.error[where]
    b, eb = other.value, other.error
    smooth = ~other.kink & np.isfinite(b)
    agree = smooth & np.isfinite(eb) & (np.abs(a - b) <= SPLIT_FACTOR * (ea + eb))
    better = agree & (eb < ea)
    for name in ("value", "error", "source", "step", "right", "left", "right_error", "left_error"):
        getattr(est, name)[where[better]] = getattr(other, name)[better]
    # they disagree (or the second has no bound): the first's value, with their difference as its error
    conflict = smooth & ~agree
    spread = np.abs(a - b) + np.where(np.isfinite(eb), eb, 0.0)
    est.error[where[conflict]] = np.maximum(ea, spread)[conflict]


class NumericBackend(Backend):
    """float64 central differences over every element of every differentiated input."""

    name = "numeric"
    reference = True

    def _objective_of(self, case, point, param, nn=None):
        """f(stack of param values) -> values, with every other input held at the point."""
        nn = nn or BatchedNumpy()
        fixed = {k: Batched(np.asarray(v, dtype=np.float64)[None]) for k, v in point.items() if k != param}

        def f(stack):
            x = Perturbed(stack) if isinstance(stack, Perturbation) else Batched(stack)
            loss, _ = objective(case, nn, {**fixed, param: x}, "float64")
            return loss.data

        f.accepts_perturbation = True
        return f

    def value(self, case, point):
        """The objective at the point, in float64."""
        point = {k: np.asarray(v, dtype=np.float64) for k, v in point.items()}
        loss, _ = objective(case, BatchedNumpy(), {k: Batched(v[None]) for k, v in point.items()}, "float64")
        return float(loss.data[0])

    def central(self, case, point, param):
        """Central differences over every element of ``param``."""
        point = {k: np.asarray(v, dtype=np.float64) for k, v in point.items()}
        return central_difference(self._objective_of(case, point, param), point[param], batched=True)

    def directional(self, case, point, param, directions):
        """Derivatives of the objective along each of ``directions`` (shaped (k, *param's shape))."""
        point = {k: np.asarray(v, dtype=np.float64) for k, v in point.items()}
        return directional_difference(self._objective_of(case, point, param), point[param], directions, batched=True)

    def evaluate(self, case, point, dtype="float64"):
        grads = {k: self.central(case, point, k) for k in case.wrt}
        return Evaluation(self.value(case, point), grads)

    def one_sided(self, case, point, param, flat_indices):
        """(right, left, noise): one-sided derivatives of the objective at the flat indices of ``param``
        (all elements when ``flat_indices`` is None) and a bound on their round-off."""
        point = {k: np.asarray(v, dtype=np.float64) for k, v in point.items()}
        f = self._objective_of(case, point, param)
        return one_sided_differences(f, point[param], indices=flat_indices, batched=True)

    # The reference's estimator (see numerical.estimate_derivatives): derivatives with error estimates.

    def estimate(self, case, point, param, f0, indices=None):
        """An :class:`~crosscheck.numerical.Estimate` per element of ``param`` (or of the flat ``indices``).

        The ladder's first step scales with |x| (a function of scale |x|, like log). For |x| >= 2 a second ladder
        starts at an absolute step (2^-17, or 4 ulps of x if larger): a function whose own scale is 1 at a huge x
        (sin at 1e15) fools the first — every difference over a step of 2^32 is ~0, and so is their spread. Where
        the two agree, the more precise is kept; where they do not, the estimate carries their difference as its
        error (and the complex-step oracle, if it applies, decides).
        """
        point = {k: np.asarray(v, dtype=np.float64) for k, v in point.items()}
        x = point[param]
        idx = np.arange(x.size) if indices is None else np.asarray(indices, dtype=int)
        evaluate = _evaluator(self._objective_of(case, point, param), x)
        xi = x.reshape(-1)[idx]
        est = estimate_derivatives(lambda k, off: evaluate(idx[k], off), f0, base_steps(xi), min_step=min_steps(xi))
        big = np.flatnonzero(np.isfinite(xi) & (np.abs(xi) >= 2) & ~est.kink)
        if big.size:
            h = np.maximum(base_steps(np.zeros(big.size)), 4 * np.spacing(np.abs(xi[big])))
            h = np.exp2(np.ceil(np.log2(h)))
            other = estimate_derivatives(lambda k, off: evaluate(idx[big[k]], off), f0, h, min_step=min_steps(xi[big]))
            _merge(est, big, other)
        return est
    def estimate_directional(self, case, point, param, f0, direction, count):
        """An Estimate of the derivative along each of ``count`` directions, ``direction(k)`` making the k-th."""
        point = {k: np.asarray(v, dtype=np.float64) for k, v in point.items()}
        x = point[param]
        finite = x[np.isfinite(x)]
        h = float(base_steps(np.array(np.max(np.abs(finite)) if finite.size else 0.0)))
        f = self._objective_of(case, point, param)
        floor = float(4 * np.spacing(np.max(np.abs(finite)))) if finite.size else 0.0
        est = estimate_derivatives(_directional_evaluator(f, x, direction), f0, np.full(count, h),
                                   min_step=np.full(count, floor))
        # every element moves at once along a direction: the value's round-off is that of a sum over all of
        # them, which |f| (the estimate's round-off scale) understates where the terms cancel; calibration
        # (scripts/calibrate.py --method directional) found errors up to twice the estimate on matmuls
        est.error *= DIRECTIONAL_ERROR_FACTOR
        return est

    def estimate_joint(self, case, point, f0, directions, step=None):
        """An Estimate along each of ``directions``: each a dict {param: (flat indices, weights)} touching
        several elements, possibly of several inputs at once (the joint kinks of the judge)."""
        point = {k: np.asarray(v, dtype=np.float64) for k, v in point.items()}
        nn = BatchedNumpy()

        def evaluate(k, offsets):
            args = {}
            for name, x in point.items():
                stack = np.repeat(x[None], len(k), axis=0)
                for j, (d, off) in enumerate(zip(k, offsets)):
                    where = directions[int(d)].get(name)
                    if where is not None:
                        stack[j].reshape(-1)[where[0]] += off * np.asarray(where[1])
                args[name] = Batched(stack)
            loss, _ = objective(case, nn, args, "float64")
            return np.broadcast_to(np.asarray(loss.data, dtype=np.float64).reshape(-1), (len(k),)).copy()

        if step is None:
            scale = max((float(np.max(np.abs(point[n].reshape(-1)[w[0]]), initial=0.0))
                         for d in directions for n, w in d.items()), default=0.0)
            step = float(base_steps(np.array(scale if np.isfinite(scale) else 0.0)))
        return estimate_derivatives(evaluate, f0, np.full(len(directions), step))

    def complex_step(self, case, point, param, indices, shrink=1.0):
        """Im f(x + ih·e_i) / h at the flat ``indices`` of ``param``: the derivative to ~1e-15 relative where
        the case is analytic along the way. Raises NotAnalytic for a case calling an op without a complex form."""
        point = {k: np.asarray(v, dtype=np.float64) for k, v in point.items()}
        x = point[param]
        idx = np.asarray(indices, dtype=int)
        xi = np.abs(x.reshape(-1)[idx])
        h = shrink * COMPLEX_STEP * np.exp2(np.floor(np.log2(np.clip(xi, 2.0**-500, 1.0))))
        f = self._objective_of(case, point, param, ComplexBatchedNumpy())
        values = _evaluator(f, x, np.complex128)(idx, 1j * h)
        return values.imag / h
