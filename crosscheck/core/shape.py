"""Shape and indexing ops: each forward beside its hand-derived backward (same form as ``ops``).

They move, copy or pick values without changing them, so each backward sends every upstream gradient
back to the element it came from, adding where one element was used several times (a scatter-add).

Forward mode: moving values is linear, so most of these are marked ``op.linear = True`` (the tangent is the op
applied to the tangents); an op with integer data among its arrays (take_along_axis) or a constant it adds (pad)
has its own ``op.jvp``, and einsum is ``op.multilinear`` (see ``ops`` and ``tape.tangent_of``).
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


getitem.linear = True  # d a[index] = da[index]: picking elements is linear


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


# d take(a, idx) = take(da, idx): linear in a; the indices are integer data (their tangent is ignored)
take_along_axis.jvp = lambda T, y, a, indices, da, dindices, *, axis: T.take_along_axis(da, indices, axis=axis)


def concatenate(*arrays, axis=0):
    # the gradient is cut back into the pieces at the same offsets
    y = np.concatenate(arrays, axis=axis)
    cuts = np.cumsum([x.shape[axis] for x in arrays])[:-1]
    return y, lambda g: tuple(np.split(g, cuts, axis=axis))


concatenate.linear = True  # d concat(a, b, ...) = concat(da, db, ...)


def stack(*arrays, axis=0):
    # stacking adds an axis: piece k's gradient is the slice k along it
    y = np.stack(arrays, axis=axis)
    return y, lambda g: tuple(np.moveaxis(g, axis, 0))


stack.linear = True  # d stack(a, b, ...) = stack(da, db, ...)


def pad(a, *, pad_width, value=0.0):
    # constant padding: the gradient of the original block is the middle slice (the padding is constant)
    width = np.broadcast_to(np.asarray(pad_width, dtype=int), (a.ndim, 2))
    y = np.pad(a, width, constant_values=value)
    middle = tuple(slice(lo, lo + n) for (lo, _), n in zip(width, a.shape))
    return y, lambda g: (g[middle],)


# d pad(a, value) = pad(da, 0): the padding is a constant (affine, so not `linear` unless value = 0)
pad.jvp = lambda T, y, a, da, *, pad_width, value=0.0: T.pad(da, pad_width=pad_width, value=0.0)


def squeeze(a, *, axis):
    return np.squeeze(a, axis), lambda g: (np.reshape(g, a.shape),)  # no values move: reshape back


squeeze.linear = True  # d squeeze(a) = squeeze(da)


def expand_dims(a, *, axis):
    return np.expand_dims(a, axis), lambda g: (np.reshape(g, a.shape),)  # no values move: reshape back


expand_dims.linear = True  # d expand_dims(a) = expand_dims(da)


def broadcast_to(a, *, shape):
    # every copy receives the gradient; the tape's unbroadcast sums the copies back to a's shape
    return np.broadcast_to(a, shape), lambda g: (g,)


broadcast_to.linear = True  # d broadcast(a) = broadcast(da): every copy moves with its original


def flip(a, *, axis):
    return np.flip(a, axis), lambda g: (np.flip(g, axis),)  # a permutation that is its own inverse


flip.linear = True  # d flip(a) = flip(da)


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


tile.linear = True  # d tile(a) = tile(da)


def repeat(a, *, repeats, axis):
    # each element repeated `repeats` times along axis: da = the sum of its copies
    y = np.repeat(a, repeats, axis=axis)
    ax = axis % a.ndim

    def vjp(g):
        shape = a.shape[:ax] + (a.shape[ax], repeats) + a.shape[ax + 1:]
        return (np.reshape(g, shape).sum(axis=ax + 1),)

    return y, vjp


repeat.linear = True  # d repeat(a) = repeat(da)


def index_add(a, source, *, index):
    # y = a, then y[index[k]] += source[k] along axis 0 (repeated indices add up):
    # da = g,  dsource[k] = g[index[k]]
    idx = np.asarray(index).astype(np.intp)
    y = np.array(a, dtype=np.result_type(a, source))
    np.add.at(y, idx, source)
    return y, lambda g: (g, g[idx])


index_add.linear = True  # y = a + scatter(source) is linear in (a, source) together: dy = index_add(da, dsource)


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


einsum.multilinear = True  # linear in each operand: d einsum(A, B) = einsum(dA, B) + einsum(A, dB)
