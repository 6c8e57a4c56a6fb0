"""minitape: a tiny reverse-mode autodiff engine over numpy arrays, written as a crosscheck example.

A Wengert list: every operation appends one entry (the output, its inputs and a
closure mapping the output's gradient to each input's) to the tape it runs on;
``grad`` walks the list once backwards, accumulating with ``+=``. There is no
graph search: the order of recording is already a topological order.

It is deliberately young: no sin, cos, maximum, or losses yet. crosscheck's
conformance matrix shows which ops it has, which pass, and which are missing.
"""

import numpy as np


class Tape:
    def __init__(self):
        self.entries = []  # (output Var, input Vars, backward(g) -> gradient per input)

    def var(self, value, dtype):
        return Var(np.asarray(value, dtype=dtype), self)

    def record(self, value, inputs, backward):
        out = Var(value, self)
        self.entries.append((out, inputs, backward))
        return out

    def grad(self, loss, wrt):
        """d loss / d v for every v in ``wrt``: one backward pass over the recorded entries."""
        grads = {id(loss): np.ones_like(loss.value)}
        for out, inputs, backward in reversed(self.entries):
            g = grads.get(id(out))
            if g is None:
                continue
            for x, gx in zip(inputs, backward(g)):
                if isinstance(x, Var):
                    gx = unbroadcast(gx, x.value.shape)
                    grads[id(x)] = grads[id(x)] + gx if id(x) in grads else gx
        return [grads.get(id(v), np.zeros_like(v.value)) for v in wrt]


def unbroadcast(g, shape):
    """Sum a gradient over the axes numpy broadcasting added or stretched, back to ``shape``."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def _value(x):
    return x.value if isinstance(x, Var) else x


class Var:
    """An array on a tape. Operators record themselves."""

    __array_ufunc__ = None  # ndarray + Var -> Var.__radd__

    def __init__(self, value, tape):
        self.value, self.tape = value, tape

    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)

    def _op(self, value, inputs, backward):
        return self.tape.record(value, inputs, backward)

    def __add__(self, o): return self._op(self.value + _value(o), (self, o), lambda g: (g, g))
    def __radd__(self, o): return self + o
    def __sub__(self, o): return self._op(self.value - _value(o), (self, o), lambda g: (g, -g))
    def __rsub__(self, o): return (-self) + o
    def __neg__(self): return self._op(-self.value, (self,), lambda g: (-g,))

    def __mul__(self, o):
        a, b = self.value, _value(o)
        return self._op(a * b, (self, o), lambda g: (g * b, g * a))

    def __rmul__(self, o): return self * o

    def __truediv__(self, o):
        a, b = self.value, _value(o)
        return self._op(a / b, (self, o), lambda g: (g / b, -g * a / (b * b)))  # d(a/b)/db = -a/b²

    def __rtruediv__(self, o):
        a, b = _value(o), self.value
        return self._op(a / b, (self,), lambda g: (-g * a / (b * b),))

    def __pow__(self, c):
        a = self.value
        if c == 0:  # a^0 = 1 is constant: its derivative is 0, also at a = 0 (c·a^(c-1) would be 0·inf)
            return self._op(np.ones_like(a), (self,), lambda g: (np.zeros_like(g),))
        return self._op(a ** c, (self,), lambda g: (g * c * a ** (c - 1),))  # d a^c = c a^(c-1)

    def __getitem__(self, index):
        a = self.value

        def vjp(g):  # d a[i] scatters back: an element picked twice gets both contributions
            out = np.zeros_like(a)
            np.add.at(out, index, g)
            return (out,)

        return self._op(a[index], (self,), vjp)

    # the array methods a case may call, as the module's functions
    T = property(lambda self: transpose(self))
    def sum(self, axis=None, keepdims=False): return sum(self, axis=axis, keepdims=keepdims)  # noqa: A003
    def mean(self, axis=None, keepdims=False): return mean(self, axis=axis, keepdims=keepdims)
    def reshape(self, *shape): return reshape(self, shape[0] if len(shape) == 1 else shape)

    # comparisons give plain boolean arrays (masks and conditions: no gradient flows through them)
    def __gt__(self, o): return self.value > _value(o)
    def __lt__(self, o): return self.value < _value(o)
    def __ge__(self, o): return self.value >= _value(o)
    def __le__(self, o): return self.value <= _value(o)

    def __matmul__(self, o):
        a, b = self.value, _value(o)
        # a vector is a 1-row (left) or 1-column (right) matrix for the rule, reshaped back after
        a2, b2 = (a[None] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)

        def back(g):
            g = np.reshape(g, np.shape(a2 @ b2))
            # d(AB)/dA = G Bᵀ, d(AB)/dB = Aᵀ G (batch axes broadcast, summed away by unbroadcast)
            ga, gb = g @ np.swapaxes(b2, -1, -2), np.swapaxes(a2, -1, -2) @ g
            return (ga[..., 0, :] if a.ndim == 1 else ga), (gb[..., 0] if b.ndim == 1 else gb)

        return self._op(a @ b, (self, o), back)

    def __rmatmul__(self, o): return self.tape.var(o, self.value.dtype) @ self


def exp(x):
    y = np.exp(x.value)
    return x._op(y, (x,), lambda g: (g * y,))  # d eˣ = eˣ


def log(x):
    return x._op(np.log(x.value), (x,), lambda g: (g / x.value,))


def tanh(x):
    y = np.tanh(x.value)
    return x._op(y, (x,), lambda g: (g * (1 - y * y),))  # d tanh = 1 - y²


def sigmoid(x):
    y = 0.5 * (np.tanh(0.5 * x.value) + 1)
    return x._op(y, (x,), lambda g: (g * y * (1 - y),))  # d σ = σ(1 - σ)


def relu(x):
    return x._op(np.maximum(x.value, 0), (x,), lambda g: (g * (x.value > 0),))  # relu'(0) = 0


def sum(x, axis=None, keepdims=False):
    shape = x.value.shape

    def back(g):
        if axis is not None and not keepdims:
            g = np.expand_dims(g, axis)
        return (np.broadcast_to(g, shape),)

    return x._op(np.sum(x.value, axis=axis, keepdims=keepdims), (x,), back)


def mean(x, axis=None, keepdims=False):
    n = x.value.size if axis is None else np.prod([x.value.shape[a] for a in np.atleast_1d(axis)])
    return sum(x, axis, keepdims) * (1.0 / n)


def reshape(x, shape):
    return x._op(np.reshape(x.value, shape), (x,), lambda g: (np.reshape(g, x.value.shape),))


def transpose(x, axes=None):
    inverse = None if axes is None else np.argsort(axes)
    return x._op(np.transpose(x.value, axes), (x,), lambda g: (np.transpose(g, inverse),))
