"""The reference: float64 central differences of the case evaluated in plain numpy.

The case is evaluated on a *stack* of input points at once: every array
carries a leading batch axis (length B, or 1 for inputs not being perturbed)
and the vocabulary below maps each op onto the trailing, logical axes. One
call then gives f at all the perturbed points of a chunk of elements, which
is what makes full element-wise differences cheap.
"""

from __future__ import annotations

import numpy as np

from ..core.elementwise import erf_value
from ..core.losses import log_softmax
from ..core.ops import sigmoid_value
from ..numerical import Perturbation, base_steps, central_difference, estimate_derivatives, min_steps
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
            return _binary(np.power, self, exponent)  # a tensor exponent: the pow op
        return Batched(self.data**exponent)

    def __rpow__(self, base): return _binary(np.power, base, self)

    # Comparisons (on the real part: the complex-step oracle perturbs the imaginary part only) give boolean
    # stacks, data for where and masks.
    def __gt__(self, o): return _binary(lambda x, y: np.real(x) > np.real(y), self, o)
    def __ge__(self, o): return _binary(lambda x, y: np.real(x) >= np.real(y), self, o)
    def __lt__(self, o): return _binary(lambda x, y: np.real(x) < np.real(y), self, o)
    def __le__(self, o): return _binary(lambda x, y: np.real(x) <= np.real(y), self, o)

    # Indexing acts on the logical axes: the batch axis in front is kept whole.
    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        return Batched(self.data[(slice(None),) + tuple(_plain_index(i) for i in index)])

    # The array methods cases write.
    T = property(lambda self: BatchedNumpy().transpose(self))
    def sum(self, axis=None, keepdims=False): return BatchedNumpy().sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return BatchedNumpy().mean(self, axis, keepdims)

    def reshape(self, *shape):
        return BatchedNumpy().reshape(self, shape[0] if len(shape) == 1 else shape)

    def __getattr__(self, name):
        if name.startswith("__") or name in ("data", "perturbation", "_stack", "base", "cols", "values"):
            raise AttributeError(name)
        from ..vocabulary import unknown_op_message

        raise AttributeError(f"a reference array has no method {name!r} (its methods: .T, .sum(), .mean(), "
                             f".reshape(), indexing); as an op: {unknown_op_message(name)}")


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


class AlongDirection(Batched):
    """The points x + o_k·v for one direction v (±1 entries, int8) and several offsets o_k (the stencil of a
    directional derivative), kept lazy: ``data`` builds the stack as the dense evaluator did (v·o_k + x), but a
    matmul with a single point first takes (x + o_k·v) @ B = x @ B + o_k·(v @ B): two products instead of one
    per offset."""

    __slots__ = ("x", "direction", "offsets", "_stack")

    def __init__(self, x, direction, offsets):
        self.x, self.direction, self.offsets, self._stack = x, direction, offsets, None

    @property
    def data(self):
        if self._stack is None:
            stack = np.empty((len(self.offsets),) + self.x.shape)
            for j, o in enumerate(self.offsets):
                np.multiply(self.direction, o, out=stack[j])
                stack[j] += self.x
            self._stack = stack
        return self._stack

    shape = property(lambda self: self.x.shape)
    ndim = property(lambda self: self.x.ndim)
    dtype = property(lambda self: self.x.dtype)


def _directional_matmul(a, b):
    """a @ b when one operand is a lazy AlongDirection and the other a single point (logical matrices)."""
    left = isinstance(a, AlongDirection)
    lazy, other = (a, b) if left else (b, a)
    if other.data.shape[0] != 1 or lazy.x.ndim != 2 or other.ndim != 2:
        return None
    o = other.data[0]
    v = lazy.direction.astype(np.float64)
    base, change = (lazy.x @ o, v @ o) if left else (o @ lazy.x, o @ v)
    return Batched(base[None] + lazy.offsets[:, None, None] * change[None])


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
    if (isinstance(a, AlongDirection) and a._stack is None) or (isinstance(b, AlongDirection) and b._stack is None):
        out = _directional_matmul(a, b)
        if out is not None:
            return out
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


def _plain_index(i):
    """An index part as numpy: a boolean mask or integer array from a stack is taken from its first point
    (the same at every perturbed copy, away from the mask's threshold); float indices become integers."""
    if isinstance(i, Batched):
        i = i.data[0]
    if isinstance(i, (list, np.ndarray)):
        i = np.asarray(i)
        if i.dtype.kind == "f":
            i = i.astype(np.intp)
    return i


def _data_point(x):
    """Data input (labels, indices) as one plain integer array."""
    x = x.data[0] if isinstance(x, Batched) else np.asarray(x)
    return np.asarray(np.real(x)).astype(np.intp)


def _stacks(*xs):
    """Raw data of several operands, logical axes right-aligned and batch axes broadcast to one length."""
    xs = [_lift(x) for x in xs]
    batched = [x for x in xs if isinstance(x, Batched)]
    n = max(x.data.ndim for x in batched)
    b = max(x.data.shape[0] for x in batched)
    out = []
    for x in xs:
        if not isinstance(x, Batched):
            out.append(x)
            continue
        d = x.data
        d = d.reshape(d.shape[:1] + (1,) * (n - d.ndim) + d.shape[1:])
        out.append(np.broadcast_to(d, (b,) + d.shape[1:]))
    return out


def _re(x):
    return np.real(x)


def _cabs(x):
    """|x| decided on the real part: analytic on each side, so the complex step differentiates it."""
    return np.where(_re(x) >= 0, x, -x)


def _logaddexp(a, b):
    if not (np.iscomplexobj(a) or np.iscomplexobj(b)):
        return np.logaddexp(a, b)
    m = np.maximum(_re(a), _re(b))  # a real shift: the identity log(e^a + e^b) = m + log(e^(a-m) + e^(b-m))
    m = np.where(np.isfinite(m), m, 0)
    return m + np.log(np.exp(a - m) + np.exp(b - m))


def _pick(data, axes, keepdims, arg):
    """max/min over data axes, chosen on the real part (np.max orders complex numbers lexicographically)."""
    if not np.iscomplexobj(data):
        return (np.max if arg is np.argmax else np.min)(data, axis=axes, keepdims=keepdims)
    moved = np.moveaxis(data, axes, tuple(range(-len(axes), 0)))
    flat = moved.reshape(moved.shape[:moved.ndim - len(axes)] + (-1,))
    idx = arg(_re(flat), axis=-1)[..., None]
    out = np.take_along_axis(flat, idx, -1)[..., 0]
    if keepdims:
        out = np.expand_dims(out, axes)
    return out


def _shift(data, axis):
    """A real constant per slice to subtract before exp (the max of the real part; 0 where not finite)."""
    m = np.max(_re(data), axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


def _softmax(data, axis):
    e = np.exp(data - _shift(data, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(data, axis):
    z = data - _shift(data, axis)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _hard_sigmoid(v):
    return np.where(_re(v) <= -3, np.zeros_like(v), np.where(_re(v) >= 3, 1 + np.zeros_like(v), (v + 3) / 6))


def _xlogy(x, y):
    zero = _re(x) == 0
    return np.where(zero, 0, x * np.log(np.where(zero, 1, y)))


def _axis(x, axis):
    """One logical axis -> its data axis."""
    return axis % x.ndim + 1


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


#: ops whose reference cannot be taken by the complex step (BatchedNumpy on complex128 stacks): numpy's
#: routine treats a complex matrix as Hermitian (conjugates), so the result is not the analytic continuation —
#: finite differences only. Every other op is exact on complex input (tests/test_ops.py checks it against the
#: core at each op's random point): branches decide on the real part, erf is a series valid for complex z.
COMPLEX_UNSAFE = frozenset({"cholesky", "eigh", "eigh_vectors", "svdvals"})


def _ew(fn):
    """An element-wise unary op over a stack (kept lazy for a ColumnDelta, like the first ops)."""
    return lambda self, a: _unary(fn, a)


def _ew2(fn):
    return lambda self, a, b: _binary(fn, a, b)


_NEW = {
    # ------------------------------------------------ element-wise: complex-capable numpy, branches on Re
    "abs": _ew(_cabs),
    "sign": _ew(lambda v: np.sign(_re(v)) + np.zeros_like(v)),
    "floor": _ew(lambda v: np.floor(_re(v)) + np.zeros_like(v)),
    "round": _ew(lambda v: np.round(_re(v)) + np.zeros_like(v)),
    "sqrt": _ew(np.sqrt),
    "rsqrt": _ew(lambda v: 1 / np.sqrt(v)),
    "square": _ew(lambda v: v * v),
    "reciprocal": _ew(lambda v: 1 / v),
    "expm1": _ew(np.expm1),
    "log1p": _ew(np.log1p),
    "tan": _ew(np.tan),
    "arcsin": _ew(np.arcsin),
    "arccos": _ew(np.arccos),
    "arctan": _ew(np.arctan),
    "sinh": _ew(np.sinh),
    "cosh": _ew(np.cosh),
    "erf": _ew(erf_value),
    "minimum": _ew2(lambda x, y: np.where(_re(x) <= _re(y), x, y) if np.iscomplexobj(x) or np.iscomplexobj(y)
                    else np.minimum(x, y)),
    "atan2": _ew2(lambda y, x: np.arctan2(y, x) if not (np.iscomplexobj(x) or np.iscomplexobj(y)) else
                  np.where(_re(x) == 0, np.sign(_re(y)) * np.pi / 2 + np.zeros_like(x),
                           np.arctan(y / np.where(_re(x) == 0, 1, x))
                           + np.where(_re(x) < 0, np.where(_re(y) >= 0, np.pi, -np.pi), 0))),
    "logaddexp": _ew2(_logaddexp),
    "fmod": _ew2(lambda a, b: np.fmod(a, b) if not np.iscomplexobj(a) and not np.iscomplexobj(b)
                 else a - b * np.trunc(_re(a / b))),
    "remainder": _ew2(lambda a, b: np.remainder(a, b) if not np.iscomplexobj(a) and not np.iscomplexobj(b)
                      else a - b * np.floor(_re(a / b))),
    "xlogy": _ew2(_xlogy),
    "pow": _ew2(np.power),
    # ------------------------------------------------ activations (exact mathematics: no framework thresholds)
    "log_sigmoid": _ew(lambda v: -_logaddexp(np.zeros_like(v), -v)),
    "relu6": _ew(lambda v: np.where(_re(v) <= 0, np.zeros_like(v), np.where(_re(v) >= 6, 6 + np.zeros_like(v), v))),
    "selu": _ew(lambda v: 1.0507009873554804934193349852946 * np.where(
        _re(v) > 0, v, 1.6732632423543772848170429916717 * np.expm1(np.where(_re(v) > 0, np.zeros_like(v), v)))),
    "gelu": _ew(lambda v: v * 0.5 * (1 + erf_value(v / np.sqrt(2)))),
    "gelu_tanh": _ew(lambda v: 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v * v * v)))),
    "silu": _ew(lambda v: v * sigmoid_value(v)),
    "mish": _ew(lambda v: v * np.tanh(_logaddexp(np.zeros_like(v), v))),
    "hard_sigmoid": _ew(lambda v: _hard_sigmoid(v)),
    "hard_swish": _ew(lambda v: v * _hard_sigmoid(v)),
    "softsign": _ew(lambda v: v / (1 + _cabs(v))),
}
for _name, _fn in _NEW.items():
    setattr(BatchedNumpy, _name, _fn)
del _name, _fn


def _more_ops():
    """The remaining ops of BatchedNumpy (with arguments beyond arrays), added to the class below."""

    def clip(self, a, lo, hi):
        a, lo, hi = _stacks(a, lo, hi)
        zero = np.zeros_like(a)
        return Batched(np.where(_re(a) < _re(lo), lo + zero, np.where(_re(a) > _re(hi), hi + zero, a)))

    def where(self, cond, a, b):
        c = cond.data if isinstance(cond, Batched) else np.asarray(cond)[None]
        c = c if c.dtype == bool else _re(c) != 0
        c, a, b = _stacks(Batched(c), a, b)
        return Batched(np.where(c, a, b))

    def softplus(self, a, beta=1.0, threshold=20.0):
        return _unary(lambda v: _logaddexp(np.zeros_like(v), beta * v) / beta, a)

    def leaky_relu(self, a, negative_slope=0.01):
        return _unary(lambda v: np.where(_re(v) > 0, v, negative_slope * v), a)

    def elu(self, a, alpha=1.0):
        return _unary(lambda v: np.where(_re(v) > 0, v, alpha * np.expm1(np.where(_re(v) > 0, np.zeros_like(v), v))), a)

    def celu(self, a, alpha=1.0):
        return _unary(lambda v: np.where(_re(v) > 0, v,
                                         alpha * np.expm1(np.where(_re(v) > 0, np.zeros_like(v), v) / alpha)), a)

    def hardtanh(self, a, min_val=-1.0, max_val=1.0):
        return _unary(lambda v: np.where(_re(v) < min_val, min_val + np.zeros_like(v),
                                         np.where(_re(v) > max_val, max_val + np.zeros_like(v), v)), a)

    # ------------------------------------------------ reductions and scans
    def max(self, a, axis=None, keepdims=False):  # noqa: A003
        a = _lift(a)
        return Batched(_pick(a.data, _axes(a, axis), keepdims, np.argmax))

    def min(self, a, axis=None, keepdims=False):  # noqa: A003
        a = _lift(a)
        return Batched(_pick(a.data, _axes(a, axis), keepdims, np.argmin))

    def prod(self, a, axis=None, keepdims=False):
        a = _lift(a)
        return Batched(np.prod(a.data, axis=_axes(a, axis), keepdims=keepdims))

    def logsumexp(self, a, axis=None, keepdims=False):
        a = _lift(a)
        axes = _axes(a, axis)
        m = _shift(a.data, axes)
        out = m + np.log(np.sum(np.exp(a.data - m), axis=axes, keepdims=True))
        return Batched(out if keepdims else np.squeeze(out, axes))

    def var(self, a, axis=None, ddof=0, keepdims=False):
        a = _lift(a)
        axes = _axes(a, axis)
        n = int(np.prod([a.data.shape[i] for i in axes]))
        c = a.data - np.mean(a.data, axis=axes, keepdims=True)
        return Batched(np.sum(c * c, axis=axes, keepdims=keepdims) / (n - ddof))

    def std(self, a, axis=None, ddof=0, keepdims=False):
        return Batched(np.sqrt(self.var(a, axis, ddof, keepdims).data))

    def norm(self, a, ord=2):  # noqa: A002
        a = _lift(a)
        axes = _axes(a, None)
        if ord == 1:
            return Batched(np.sum(_cabs(a.data), axis=axes))
        if ord in (2, "fro"):
            return Batched(np.sqrt(np.sum(a.data * a.data, axis=axes)))
        if ord in (np.inf, "inf"):
            return Batched(_pick(_cabs(a.data), axes, False, np.argmax))
        raise ValueError(f"norm: ord must be 1, 2, inf or 'fro', got {ord!r}")

    def cumsum(self, a, axis):
        a = _lift(a)
        return Batched(np.cumsum(a.data, axis=_axis(a, axis)))

    def cumprod(self, a, axis):
        a = _lift(a)
        return Batched(np.cumprod(a.data, axis=_axis(a, axis)))

    def cummax(self, a, axis):
        a = _lift(a)
        m = np.moveaxis(a.data, _axis(a, axis), -1)
        out = m.copy()
        for j in range(1, m.shape[-1]):
            out[..., j] = np.where(_re(m[..., j]) >= _re(out[..., j - 1]), m[..., j], out[..., j - 1])
        return Batched(np.moveaxis(out, -1, _axis(a, axis)))

    def sort(self, a, axis=-1):
        a = _lift(a)
        ax = _axis(a, axis)
        order = np.argsort(_re(a.data), axis=ax, kind="stable")
        return Batched(np.take_along_axis(a.data, order, ax))

    def median(self, a, axis=None):
        a = _lift(a)
        data = a.data.reshape(a.data.shape[0], -1) if axis is None else np.moveaxis(a.data, _axis(a, axis), -1)
        if data.shape[-1] % 2 == 0:
            raise ValueError("median: the op takes an odd count of elements")
        order = np.argsort(_re(data), axis=-1, kind="stable")
        return Batched(np.take_along_axis(data, order[..., data.shape[-1] // 2:][..., :1], -1)[..., 0])

    def softmax(self, a, axis=-1):
        a = _lift(a)
        return Batched(_softmax(a.data, _axis(a, axis)))

    def log_softmax(self, a, axis=-1):
        a = _lift(a)
        return Batched(_log_softmax(a.data, _axis(a, axis)))

    # ------------------------------------------------ shape and indexing
    def take_along_axis(self, a, indices, axis):
        a = _lift(a)
        idx = _data_point(indices)
        idx = np.broadcast_to(idx[None], (a.data.shape[0],) + idx.shape)
        return Batched(np.take_along_axis(a.data, idx, _axis(a, axis)))

    def concatenate(self, arrays, axis=0):
        data = _stacks(*arrays)
        return Batched(np.concatenate(data, axis=axis % (data[0].ndim - 1) + 1))

    def stack(self, arrays, axis=0):
        data = _stacks(*arrays)
        return Batched(np.stack(data, axis=axis % data[0].ndim + 1))

    def pad(self, a, pad_width, value=0.0):
        a = _lift(a)
        width = np.broadcast_to(np.asarray(pad_width, dtype=int), (a.ndim, 2))
        return Batched(np.pad(a.data, ((0, 0),) + tuple(map(tuple, width)), constant_values=value))

    def squeeze(self, a, axis):
        a = _lift(a)
        return Batched(np.squeeze(a.data, _axis(a, axis)))

    def expand_dims(self, a, axis):
        a = _lift(a)
        return Batched(np.expand_dims(a.data, axis % (a.ndim + 1) + 1))

    def broadcast_to(self, a, shape):
        a = _lift(a)
        shape = (shape,) if np.isscalar(shape) else tuple(shape)
        d = a.data.reshape(a.data.shape[:1] + (1,) * (len(shape) - a.ndim) + a.data.shape[1:])
        return Batched(np.broadcast_to(d, d.shape[:1] + shape))

    def flip(self, a, axis):
        a = _lift(a)
        return Batched(np.flip(a.data, _axis(a, axis)))

    def tile(self, a, reps):
        a = _lift(a)
        reps = (reps,) if np.isscalar(reps) else tuple(reps)
        d = a.data.reshape(a.data.shape[:1] + (1,) * (len(reps) - a.ndim) + a.data.shape[1:])
        reps = (1,) * (d.ndim - 1 - len(reps)) + reps
        return Batched(np.tile(d, (1,) + reps))

    def repeat(self, a, repeats, axis):
        a = _lift(a)
        return Batched(np.repeat(a.data, repeats, axis=_axis(a, axis)))

    def index_add(self, a, index, source):
        a, source = _stacks(a, source)
        out = np.array(a, dtype=np.result_type(a, source))
        np.add.at(out, (slice(None), np.asarray(index, dtype=np.intp)), source)
        return Batched(out)

    def einsum(self, subscripts, *operands):
        inputs, output = subscripts.replace(" ", "").split("->")
        data = _stacks(*operands)
        # the batch axis gets a label of its own, unused by the case
        label = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in subscripts)
        data = [d.reshape(d.shape[:1] + d.shape[d.ndim - len(t):]) for d, t in zip(data, inputs.split(","))]
        spec = ",".join(label + t for t in inputs.split(",")) + "->" + label + output
        return Batched(np.einsum(spec, *data))

    # ------------------------------------------------ linear algebra (numpy's routines batch over leading axes)
    def det(self, a): return Batched(np.linalg.det(_lift(a).data))

    def slogdet(self, a):
        d = _lift(a).data
        if np.iscomplexobj(d):
            det = np.linalg.det(d)
            return Batched(np.log(_cabs(det)))  # log|det| as the analytic log(±det)
        return Batched(np.linalg.slogdet(d)[1])

    def inv(self, a): return Batched(np.linalg.inv(_lift(a).data))

    def solve(self, a, b):
        a, b = _lift(a), _lift(b)
        vector = b.ndim == a.ndim - 1
        da, db = _stacks(a, Batched(b.data[..., None]) if vector else b)
        x = np.linalg.solve(da, db)
        return Batched(x[..., 0] if vector else x)

    def cholesky(self, a): return Batched(np.linalg.cholesky(_lift(a).data))
    def eigh(self, a): return Batched(np.linalg.eigvalsh(_lift(a).data))

    def eigh_vectors(self, a):
        return Batched(np.linalg.eigh(_lift(a).data)[1])

    def svdvals(self, a): return Batched(np.linalg.svd(_lift(a).data, compute_uv=False))
    def trace(self, a): return Batched(np.trace(_lift(a).data, axis1=-2, axis2=-1))
    def diagonal(self, a): return Batched(np.diagonal(_lift(a).data, axis1=-2, axis2=-1))

    # ------------------------------------------------ losses
    def binary_cross_entropy_with_logits(self, z, y):
        return self.mean(self.softplus(z) - y * z)

    def cross_entropy(self, logits, labels):
        return self.nll(self.log_softmax(logits), labels)

    def nll(self, logp, labels):
        logp = _lift(logp)
        lab = _data_point(labels)
        idx = np.broadcast_to(lab[None, ..., None], (logp.data.shape[0],) + lab.shape + (1,))
        return -self.mean(Batched(np.take_along_axis(logp.data, idx, -1)))

    def l1(self, pred, target):
        return self.mean(self.abs(pred - target))

    def huber(self, pred, target, delta=1.0):
        d = _binary(np.subtract, pred, target).data
        a = _cabs(d)
        return self.mean(Batched(np.where(_re(a) <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))))

    def smooth_l1(self, pred, target, beta=1.0):
        d = _binary(np.subtract, pred, target).data
        a = _cabs(d)
        return self.mean(Batched(np.where(_re(a) < beta, 0.5 * d * d / beta, a - 0.5 * beta)))

    def kl_div(self, log_q, p):
        log_q = _lift(log_q)
        rows = log_q.shape[0] if log_q.ndim > 1 else 1
        lq, pp = _stacks(log_q, p)
        return Batched(np.sum(_xlogy(pp, pp) - pp * lq, axis=tuple(range(1, lq.ndim))) / rows)

    def cosine_similarity(self, a, b, axis=-1, eps=1e-8):
        a, b = _lift(a), _lift(b)
        da, db = _stacks(a, b)
        ax = axis % (da.ndim - 1) + 1
        na = np.sqrt(np.sum(da * da, axis=ax))
        nb = np.sqrt(np.sum(db * db, axis=ax))
        na, nb = np.where(_re(na) > eps, na, eps), np.where(_re(nb) > eps, nb, eps)
        return Batched(np.sum(da * db, axis=ax) / (na * nb))

    return {k: v for k, v in locals().items() if callable(v)}


for _name, _fn in _more_ops().items():
    setattr(BatchedNumpy, _name, _fn)
del _name, _fn


# --- layers: normalisation, dropout, convolution, pooling, embedding (issue 11) ---------------------------------
def _layer_ops():
    """The layers over stacks (a leading batch of points): plain numpy, analytic for the complex step (the
    variance as mean((x - μ)²), not np.var, which conjugates; max decided on the real part)."""
    from ..core import layers

    def norm(d, axes, eps):  # d: (B, *logical); axes: logical axes, shifted past the batch axis
        axes = tuple(k + 1 for k in axes)
        dev = d - d.mean(axis=axes, keepdims=True)
        return dev / np.sqrt((dev * dev).mean(axis=axes, keepdims=True) + eps)

    def channel(v, ndim):  # a stack of (C,) vectors shaped to broadcast against (B, N, C, *spatial)
        d = _lift(v).data
        return d.reshape((d.shape[0], 1, -1) + (1,) * (ndim - 3))

    def layer_norm(self, a, weight, bias, eps=1e-5):
        a = _lift(a)
        return Batched(norm(a.data, (a.ndim - 1,), eps)) * weight + bias

    def rms_norm(self, a, weight, eps=1e-6):
        d = _lift(a).data
        return Batched(d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + eps)) * weight

    def batch_norm(self, a, weight, bias, eps=1e-5):
        a = _lift(a)
        y = norm(a.data, (0,) + tuple(range(2, a.ndim)), eps)
        return Batched(y * channel(weight, y.ndim) + channel(bias, y.ndim))

    def group_norm(self, a, weight, bias, num_groups, eps=1e-5):
        d = _lift(a).data
        b, n, c = d.shape[:3]
        g = d.reshape((b, n, num_groups, c // num_groups) + d.shape[3:])
        y = norm(g, tuple(range(2, g.ndim - 1)), eps).reshape(d.shape)
        return Batched(y * channel(weight, y.ndim) + channel(bias, y.ndim))

    def dropout(self, a, mask, p=0.5):
        return _lift(a) * (_lift(mask) / (1 - p))

    def conv(a, weight, bias, transposed, stride, padding, dilation, groups, output_padding=0):
        x, w = _stacks(a, weight)
        s = w.ndim - 3
        t = layers.tap_tensors(x.shape[3:], w.shape[3:], stride, padding, dilation, transposed, output_padding)
        # each point of the stack has its own weight: the batch axis joins the group axis of the einsum
        bsz, n, c = x.shape[:3]
        xg = np.moveaxis(x.reshape((bsz, n, groups, c // groups) + x.shape[3:]), 0, 1)  # (N, B, G, C/G, ...)
        wg = w.reshape((bsz * w.shape[1],) + w.shape[2:])  # the points' weights stacked along axis 0
        y = layers.grouped_conv(xg.reshape((n, bsz * groups * (c // groups)) + x.shape[3:]), wg, t, bsz * groups,
                                transposed=transposed)
        y = np.moveaxis(y.reshape((n, bsz) + (y.shape[1] // bsz,) + y.shape[2:]), 1, 0)
        return Batched(y + channel(bias, y.ndim))

    def conv1d(self, a, weight, bias, stride=1, padding=0, dilation=1, groups=1):
        return conv(a, weight, bias, False, stride, padding, dilation, groups)

    def conv2d(self, a, weight, bias, stride=1, padding=0, dilation=1, groups=1):
        return conv(a, weight, bias, False, stride, padding, dilation, groups)

    def conv_transpose2d(self, a, weight, bias, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        return conv(a, weight, bias, True, stride, padding, dilation, groups, output_padding)

    def max_pool2d(self, a, kernel_size, stride=None):
        d = _lift(a).data
        rows, cols = layers.windows(d.shape[-2], d.shape[-1], kernel_size, stride)
        win = np.moveaxis(d[..., rows, cols], -3, -2)
        win = win.reshape(win.shape[:-2] + (-1,))
        first = np.argmax(np.real(win), axis=-1)[..., None]  # the branch the real point lies on
        return Batched(np.take_along_axis(win, first, axis=-1)[..., 0])

    def avg_pool2d(self, a, kernel_size, stride=None):
        d = _lift(a).data
        rows, cols = layers.windows(d.shape[-2], d.shape[-1], kernel_size, stride)
        return Batched(d[..., rows, cols].mean(axis=(-3, -1)))

    def embedding(self, indices, weight):
        return Batched(_lift(weight).data[:, _data_point(indices)])

    return {k: v for k, v in locals().items() if k not in ("norm", "channel", "conv", "layers")}


for _name, _fn in _layer_ops().items():
    setattr(BatchedNumpy, _name, _fn)
del _name, _fn
# --- end of layers (issue 11) ------------------------------------------------------------------------------------
# --- layers: attention and recurrent (issue 11)
def _scaled_dot_product_attention(self, q, k, v, causal=False):
    """softmax(q kᵀ/√E + mask) v on the stacks (complex-safe: the softmax shifts by the real part's max)."""
    dq, dk, dv = _stacks(q, k, v)
    s = dq @ np.swapaxes(dk, -1, -2) / np.sqrt(dq.shape[-1])
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], dtype=bool)), s, -np.inf)
    return Batched(_softmax(s, -1) @ dv)


BatchedNumpy.scaled_dot_product_attention = _scaled_dot_product_attention
# --- end of layers: attention and recurrent (issue 11)


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
    """``evaluate(k, offsets)``: f at x + offsets[j]·e_{k[j]} for each j (a lazy Perturbation per chunk), in
    float64 or, for the complex step, complex128."""
    from ..numerical import _evaluate

    x = x.astype(dtype, copy=False)

    def evaluate(k, offsets):
        return _evaluate(f, x, np.asarray(offsets, dtype=dtype), np.asarray(k), True)

    return evaluate


def _directional_evaluator(f, x, direction):
    """``evaluate(k, offsets)``: f at x + offsets[j]·direction(k[j]), in stacks of bounded size; the
    directions are made one at a time from their seeds (int8), never all at once. For a matrix the points along
    one direction go to ``f`` as one lazy :class:`AlongDirection` (a matmul takes them in two products)."""
    from ..numerical import CHUNK_ELEMENTS

    def evaluate(k, offsets):
        k, offsets = np.asarray(k), np.asarray(offsets, dtype=np.float64)
        out = np.empty(len(k))
        # a perturbed copy costs x's bytes and each op on it as much again: for a large x one copy a call
        per_call = max(1, min(len(k), (CHUNK_ELEMENTS // 4) // max(x.size, 1)))
        if x.ndim == 2:  # a matrix: the points along each direction lazily (a matmul takes them in two products)
            for d in np.unique(k):
                along = np.flatnonzero(k == d)
                for start in range(0, len(along), per_call):
                    rows = along[start:start + per_call]
                    values = f(AlongDirection(x, direction(int(d)), offsets[rows]))
                    out[rows] = np.broadcast_to(np.asarray(values, dtype=np.float64).reshape(-1), (len(rows),))
            return out
        for start in range(0, len(k), per_call):
            stop = min(len(k), start + per_call)
            points = np.empty((stop - start,) + x.shape)
            for j in range(start, stop):
                np.multiply(direction(int(k[j])), offsets[j], out=points[j - start])
                points[j - start] += x
            out[start:stop] = np.broadcast_to(np.asarray(f(points), dtype=np.float64).reshape(-1), (stop - start,))
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
            x = (Perturbed(stack) if isinstance(stack, Perturbation) else
                 stack if isinstance(stack, AlongDirection) else Batched(stack))
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

    def evaluate(self, case, point, dtype="float64"):
        grads = {k: self.central(case, point, k) for k in case.wrt}
        return Evaluation(self.value(case, point), grads)

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

    def piece_gradients(self, case, point, kinks, patterns):
        """The gradient over the kink elements ``kinks`` ((param, flat index) pairs) of the smooth pieces that
        meet there: at x + ε·p for each sign pattern p (a point just off every kink, on one piece), by central
        differences with a step far below ε. ε is 2^-20 of each element's scale, jittered per element so that
        no two perturbed elements tie again. Returns an array (len(patterns), len(kinks))."""
        point = {k: np.asarray(v, dtype=np.float64) for k, v in point.items()}
        nn = BatchedNumpy()
        m = len(kinks)
        scale = np.array([max(abs(float(point[p].reshape(-1)[i])), 1.0) for p, i in kinks])
        jitter = 1 + 0.25 * np.random.default_rng(len(kinks)).random(m)
        eps = np.exp2(np.floor(np.log2(scale))) * 2.0**-20 * jitter
        h = eps / 256
        shifts = []  # one row per evaluation: the offset of every kink element
        for pattern in patterns:
            base = np.asarray(pattern, dtype=np.float64) * eps
            for j in range(m):
                for sign in (1.0, -1.0):
                    row = base.copy()
                    row[j] += sign * h[j]
                    shifts.append(row)
        shifts = np.array(shifts)
        args = {}
        for name, x in point.items():
            stack = np.repeat(x[None], len(shifts), axis=0).reshape(len(shifts), -1)
            for j, (p, i) in enumerate(kinks):
                if p == name:
                    stack[:, i] += shifts[:, j]
            args[name] = Batched(stack.reshape((len(shifts),) + x.shape))
        loss, _ = objective(case, nn, args, "float64")
        values = np.broadcast_to(np.asarray(loss.data, dtype=np.float64).reshape(-1), (len(shifts),))
        values = values.reshape(len(patterns), m, 2)
        return (values[:, :, 0] - values[:, :, 1]) / (2 * h)

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

    # Forward mode's reference: the case's output along one direction (every output element a function of t).

    def outputs(self, case, point, param, direction, offsets, complex_=False):
        """The case's output, flattened, at the points x + o·v of ``param`` for each offset o: an array
        (len(offsets), output size). ``complex_`` evaluates on complex inputs (the complex step)."""
        nn = ComplexBatchedNumpy() if complex_ else BatchedNumpy()
        kind = np.complex128 if complex_ else np.float64
        point = {k: np.asarray(v, dtype=np.float64) for k, v in point.items()}
        offsets = np.asarray(offsets, dtype=kind)
        x = point[param].astype(kind)
        v = np.asarray(direction, dtype=np.float64)
        stack = x[None] + offsets.reshape((-1,) + (1,) * x.ndim) * v[None]
        args = {k: Batched(p[None].astype(kind) if complex_ else p[None]) for k, p in point.items() if k != param}
        args[param] = Batched(stack)
        out = case.fn(nn, **args)
        data = np.asarray(out.data)
        return np.broadcast_to(data, (len(offsets),) + data.shape[1:]).reshape(len(offsets), -1)

    def estimate_jvp(self, case, point, param, direction, top=None):
        """An Estimate per element of the case's output of its derivative along ``direction`` in ``param``
        (the reference for J·v), and the output at the point (flat). The step is set by ``top``, the scale of
        the elements moved (default: the largest |x| of ``param``)."""
        point = {k: np.asarray(v, dtype=np.float64) for k, v in point.items()}
        x = point[param]
        if top is None:
            finite = np.abs(x[np.isfinite(x)])
            top = float(np.max(finite)) if finite.size else 0.0
        f0 = self.outputs(case, point, param, direction, [0.0])[0]
        m = f0.size
        h = float(base_steps(np.array(top)))
        floor = float(4 * np.spacing(top)) if top else 0.0

        def evaluate(k, offsets):
            uniq, where = np.unique(np.asarray(offsets, dtype=np.float64), return_inverse=True)
            values = self.outputs(case, point, param, direction, uniq)
            return values[where.reshape(-1), np.asarray(k)]

        finite = np.abs(f0[np.isfinite(f0)])
        est = estimate_derivatives(evaluate, f0, np.full(m, h), min_step=np.full(m, floor),
                                   fscale=float(np.max(finite)) if finite.size else 0.0)
        return est, f0

    def complex_step_jvp(self, case, point, param, direction, shrink=1.0):
        """Im out(x + ih·v) / h, flat: J·v to ~1e-15 relative where the case is analytic along v."""
        x = np.asarray(point[param], dtype=np.float64)
        finite = np.abs(x[np.isfinite(x)])
        top = float(np.max(finite)) if finite.size else 0.0
        h = shrink * COMPLEX_STEP * float(np.exp2(np.floor(np.log2(np.clip(top, 2.0**-500, 1.0)))))
        values = self.outputs(case, point, param, direction, [1j * h], complex_=True)[0]
        return values.imag / h

