"""Shape and indexing ops: each forward beside its hand-derived backward (same form as ``ops``).

They move, copy or pick values without changing them, so each backward sends every upstream gradient
back to the element it came from, adding where one element was used several times (a scatter-add).
"""

from __future__ import annotations

import numpy as np


def _plain_index(index):
    """An index with any tape tensors (integer or boolean arrays used as indices) unwrapped to numpy."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    value = getattr(index, "value", index)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        value = value.astype(np.intp)  # integer indices handed in as float data
    return value


def getitem(a, *, index):
    # y = a[index] picks elements: da = g scattered back with np.add.at (an element picked twice gets both)
    index = _plain_index(index)

    def vjp(g):
        out = np.zeros_like(a, dtype=np.result_type(a, g))
        np.add.at(out, index, g)
        return (out,)

    return a[index], vjp


def take_along_axis(a, indices, *, axis):
    # y = a[..., idx, ...] along axis: da = g scattered back to the picked positions (repeats add)
    idx = np.asarray(indices).astype(np.intp)

    def vjp(g):
        out = np.zeros_like(a, dtype=np.result_type(a, g))
        pos = list(np.indices(idx.shape, sparse=True))
        pos[axis % a.ndim] = idx
        np.add.at(out, tuple(pos), g)
        return (out, None)

    return np.take_along_axis(a, idx, axis), vjp


def concatenate(*arrays, axis=0):
    # the gradient is cut back into the pieces at the same offsets
    y = np.concatenate(arrays, axis=axis)
    cuts = np.cumsum([x.shape[axis] for x in arrays])[:-1]
    return y, lambda g: tuple(np.split(g, cuts, axis=axis))


def stack(*arrays, axis=0):
    # stacking adds an axis: piece k's gradient is the slice k along it
    y = np.stack(arrays, axis=axis)
    return y, lambda g: tuple(np.moveaxis(g, axis, 0))


def pad(a, *, pad_width, value=0.0):
    # constant padding: the gradient of the original block is the middle slice (the padding is constant)
    width = np.broadcast_to(np.asarray(pad_width, dtype=int), (a.ndim, 2))
    y = np.pad(a, width, constant_values=value)
    middle = tuple(slice(lo, lo + n) for (lo, _), n in zip(width, a.shape))
    return y, lambda g: (g[middle],)


def squeeze(a, *, axis):
    return np.squeeze(a, axis), lambda g: (np.reshape(g, a.shape),)  # no values move: reshape back


def expand_dims(a, *, axis):
    return np.expand_dims(a, axis), lambda g: (np.reshape(g, a.shape),)  # no values move: reshape back


def broadcast_to(a, *, shape):
    # every copy receives the gradient; the tape's unbroadcast sums the copies back to a's shape
    return np.broadcast_to(a, shape), lambda g: (g,)


def flip(a, *, axis):
    return np.flip(a, axis), lambda g: (np.flip(g, axis),)  # a permutation that is its own inverse


def tile(a, *, reps):
    # y = a repeated reps times per axis: da = Σ over the copies (reshape into (copies, size) pairs and sum)
    reps = (reps,) if np.isscalar(reps) else tuple(reps)
    y = np.tile(a, reps)

    def vjp(g):
        shape = (1,) * (len(reps) - a.ndim) + a.shape
        full = (1,) * (a.ndim - len(reps)) + reps
        split = [n for pair in zip(full, shape) for n in pair]
        summed = np.reshape(g, split).sum(axis=tuple(range(0, len(split), 2)))
        return (np.reshape(summed, a.shape),)

    return y, vjp


def repeat(a, *, repeats, axis):
    # each element repeated `repeats` times along axis: da = the sum of its copies
    y = np.repeat(a, repeats, axis=axis)
    ax = axis % a.ndim

    def vjp(g):
        shape = a.shape[:ax] + (a.shape[ax], repeats) + a.shape[ax + 1:]
        return (np.reshape(g, shape).sum(axis=ax + 1),)

    return y, vjp


def index_add(a, source, *, index):
    # y = a, then y[index[k]] += source[k] along axis 0 (repeated indices add up):
    # da = g,  dsource[k] = g[index[k]]
    idx = np.asarray(index).astype(np.intp)
    y = np.array(a, dtype=np.result_type(a, source))
    np.add.at(y, idx, source)
    return y, lambda g: (g, g[idx])


def einsum(*operands, subscripts):
    # y = einsum(s, A, B, ...) is linear in each operand: dA = einsum(out, B, ..., ones_like(A) -> A's labels),
    # the ones operand only brings A's index sizes (for indices that appear in A alone)
    inputs, output = subscripts.replace(" ", "").split("->")
    terms = inputs.split(",")
    for t in terms:
        if len(set(t)) != len(t) or "." in t:
            raise ValueError(f"einsum {subscripts!r}: the core takes no repeated index within one operand or '...'")
    y = np.einsum(subscripts, *operands)

    def vjp(g):
        out = []
        for k, term in enumerate(terms):
            others = [t for j, t in enumerate(terms) if j != k]
            ops = [g] + [x for j, x in enumerate(operands) if j != k] + [np.ones_like(operands[k])]
            spec = ",".join([output] + others + [term]) + "->" + term
            out.append(np.einsum(spec, *ops))
        return tuple(out)

    return y, vjp
