"""Reverse-mode tape: each op records a node; one reverse sweep composes their backward rules.

A :class:`Tensor` holds a numpy value. Applying an op to tensors records a
node (its parents and the op's vjp).

Forward mode rides on the same tensors: a tensor may carry a ``tangent`` (another tensor, its derivative
along the direction being pushed forward). When an op is applied to tensors of which one has a tangent, the
op's forward-mode rule (``op.jvp``, written beside the op's backward in the core's modules) gives the output's
tangent, computed *with the tape's ops* on tensors: so the tangent is itself on the tape, and a reverse sweep of
it differentiates the forward-mode computation. That is how the core gets Hessian-vector products
(:func:`hvp`, reverse over forward): with leaves x that require a gradient and constant tangents v, the
objective's tangent is ∇L(x)·v, a function of x recorded on the tape, and its gradient is H v. :func:`gradients` orders the nodes
topologically and sweeps them once in reverse, accumulating with ``+=`` so a
value used twice receives both contributions. Numpy broadcasting is undone
here, once, by :func:`unbroadcast`, not by each op's rule.
"""

from __future__ import annotations

import numpy as np

from . import losses, ops, shape


class Tensor:
    """A value on the tape. ``requires_grad`` marks the leaves to differentiate."""

    __slots__ = ("value", "parents", "vjp", "requires_grad", "op", "tangent")
    __array_ufunc__ = None  # let numpy defer to our operators (ndarray * Tensor -> Tensor)

    def __init__(self, value, *, requires_grad=False, parents=(), vjp=None, op="leaf"):
        self.value = np.asarray(value)
        self.parents = parents
        self.vjp = vjp
        self.requires_grad = requires_grad
        self.op = op
        self.tangent = None  # forward mode: a Tensor shaped like value, the derivative along the pushed direction

    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)
    dtype = property(lambda self: self.value.dtype)

    def __repr__(self):
        return f"Tensor({self.value!r}, op={self.op})"

    # Arithmetic operators are the same ops as the vocabulary's.
    def __add__(self, other):
        return apply(ops.add, self, other)

    def __radd__(self, other):
        return apply(ops.add, other, self)

    def __sub__(self, other):
        return apply(ops.subtract, self, other)

    def __rsub__(self, other):
        return apply(ops.subtract, other, self)

    def __mul__(self, other):
        return apply(ops.multiply, self, other)

    def __rmul__(self, other):
        return apply(ops.multiply, other, self)

    def __truediv__(self, other):
        return apply(ops.divide, self, other)

    def __rtruediv__(self, other):
        return apply(ops.divide, other, self)

    def __matmul__(self, other):
        return apply(ops.matmul, self, other)

    def __rmatmul__(self, other):
        return apply(ops.matmul, other, self)

    def __neg__(self):
        return apply(ops.negative, self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            from . import elementwise

            return apply(elementwise.pow, self, exponent)  # a tensor exponent: the pow op
        return apply(ops.power, self, exponent=exponent)

    # Indexing: a[...] picks elements; its backward scatters the gradient back (np.add.at: repeats add).
    def __getitem__(self, index):
        return apply(shape.getitem, self, index=index)

    # Comparisons give constant boolean tensors (data for where and masks: no gradient flows through them).
    def __gt__(self, other): return Tensor(self.value > _plain(other))
    def __ge__(self, other): return Tensor(self.value >= _plain(other))
    def __lt__(self, other): return Tensor(self.value < _plain(other))
    def __le__(self, other): return Tensor(self.value <= _plain(other))

    # The array methods cases write, as the vocabulary's ops.
    T = property(lambda self: apply(ops.transpose, self))

    def sum(self, axis=None, keepdims=False):
        return apply(ops.sum, self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return apply(ops.mean, self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 else shape
        return apply(ops.reshape, self, shape=shape)

    def __getattr__(self, name):
        # reached only for a name that is neither an attribute nor one of the methods above
        if name.startswith("__") or name in Tensor.__slots__:
            raise AttributeError(name)
        from ..vocabulary import unknown_op_message

        raise AttributeError(f"a crosscheck Tensor has no method {name!r} (its methods: .T, .sum(), .mean(), "
                             f".reshape(), indexing); as an op: {unknown_op_message(name)}")


def _plain(x):
    return x.value if isinstance(x, Tensor) else x


def as_tensor(x, like=None):
    """Lift a python number or numpy array to a constant tensor (in ``like``'s dtype for numbers)."""
    if isinstance(x, Tensor):
        return x
    if like is not None and not isinstance(x, np.ndarray):
        return Tensor(np.asarray(x, dtype=like.dtype))
    return Tensor(x)


def apply(op, *args, **attrs):
    """Run ``op`` forward on the values of ``args`` and record a node for the sweep; when an argument carries
    a tangent, the output gets its tangent by the op's forward-mode rule (see :func:`tangent_of`)."""
    like = next((a.value for a in args if isinstance(a, Tensor)), None)
    tensors = tuple(as_tensor(a, like) for a in args)
    value, vjp = op(*(t.value for t in tensors), **attrs)
    needs = any(t.requires_grad for t in tensors)
    out = Tensor(value, requires_grad=needs, parents=tensors if needs else (), vjp=vjp if needs else None,
                 op=op.__name__)
    if any(t.tangent is not None for t in tensors):
        out.tangent = tangent_of(op, out, tensors, attrs)
    return out


class NoForwardRule(NotImplementedError):
    """An op of the core without a forward-mode rule was reached with a tangent."""


class _TapeOps:
    """The core's ops as functions of tensors, each call recorded on the tape: what forward-mode rules are
    written with (``T.cos(a)``; the function names of the core's modules, looked up in a fixed order)."""

    def __getattr__(self, name):
        from . import elementwise, layers, linalg, reductions, sequence

        for module in (ops, elementwise, reductions, shape, linalg, losses, layers, sequence):
            fn = getattr(module, name, None)
            if callable(fn) and not isinstance(fn, type):
                def call(*args, _fn=fn, **attrs):
                    return apply(_fn, *args, **attrs)

                call.__name__ = name
                return call
        raise AttributeError(f"no core op named {name!r}")

    @staticmethod
    def constant(array):
        """A constant tensor (no gradient, no tangent): masks, index arrays, numbers in a rule."""
        return Tensor(array)


T = _TapeOps()


def _zero_tangent(t, like):
    dtype = t.dtype if t.dtype.kind in "fc" else like.dtype
    return Tensor(np.zeros(t.shape, dtype=dtype))


def _primal(t):
    """``t`` without its tangent, still on the tape (an identity node: a reverse sweep reaches ``t`` through
    it), so that ops a rule applies to ``t`` do not carry tangents of their own."""
    if t.tangent is None:
        return t
    if not t.requires_grad:
        return Tensor(t.value)
    return Tensor(t.value, requires_grad=True, parents=(t,), vjp=lambda g: (g,), op="primal")


def tangent_of(op, out, tensors, attrs):
    """The output's tangent: ``op.jvp(T, y, *primals, *tangents, **attrs)`` with a zero tangent for every
    argument that has none. Ops marked ``linear`` take the op itself applied to the tangents (d op(a) =
    op(da)); ops marked ``multilinear`` the sum over arguments of the op with that argument replaced by its
    tangent (d(ab) = da b + a db, for products, matmul, einsum and convolutions). The tangent is brought to the
    output's shape (an op whose rule leaves a broadcast dimension out) by adding zeros."""
    tangents = tuple(t.tangent if t.tangent is not None else _zero_tangent(t, out) for t in tensors)
    moving = tuple(t.tangent is not None for t in tensors)
    tensors = tuple(_primal(t) for t in tensors)  # the rule's own ops on a primal must not push tangents again
    if getattr(op, "linear", False):
        dy = apply(op, *tangents, **attrs)
    elif getattr(op, "multilinear", False):
        dy = None
        for i in range(len(tensors)):
            if not moving[i]:
                continue  # a zero tangent contributes a zero term
            term = apply(op, *tensors[:i], tangents[i], *tensors[i + 1:], **attrs)
            dy = term if dy is None else dy + term
    else:
        rule = getattr(op, "jvp", None)
        if rule is None:
            raise NoForwardRule(f"the core's op {op.__name__!r} has no forward-mode rule (op.jvp)")
        dy = rule(T, out, *tensors, *tangents, **attrs)
    dy = as_tensor(dy, out.value)
    if dy.shape != out.shape:
        dy = dy + Tensor(np.zeros(out.shape, dtype=out.dtype))
    return dy


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes numpy broadcasting added or stretched, back to ``shape``."""
    grad = np.asarray(grad)
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def _topological_order(root):
    """Nodes that need a gradient, parents before children (iterative: deep graphs must not recurse)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen or not node.requires_grad:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in node.parents)
    return order


class Step:
    """One step of the reverse sweep, as :func:`gradients` hands it to an ``observe`` hook (copies only: a hook
    reads, it cannot change the sweep). ``node`` is the tape's node being swept; per parent, in order:
    ``local`` (the node's rule applied to an upstream of ones: the op's derivative, for an elementwise op),
    ``contributions`` (the rule applied to ``upstream``, summed back to the parent's shape; None for a parent
    that needs no gradient), ``arrived_before`` (what the parent had collected before this step, None when
    nothing) and ``accumulated`` (what it holds after it)."""

    __slots__ = ("node", "upstream", "local", "contributions", "arrived_before", "accumulated")

    def __init__(self, **fields):
        for k, v in fields.items():
            setattr(self, k, v)


def _copy(a):
    return None if a is None else np.array(a, copy=True)


def gradients(output, wrt, cotangent=None, release=False, observe=None):
    """d(⟨cotangent, output⟩)/d(each tensor in ``wrt``), by one reverse sweep.

    ``cotangent`` defaults to 1 for a scalar output. Leaves in ``wrt`` that the
    output does not depend on get zeros. ``release=True`` lets go of each inner
    node's value and rule as soon as the sweep is past it (every consumer of a node
    comes before it in the sweep), so a large graph's memory shrinks as the sweep
    goes: the graph cannot be swept twice then. ``observe``, optional, is called with a :class:`Step` after
    each node is swept (nodes in the order of the sweep; see :func:`backward_steps`).
    """
    if cotangent is None:
        if output.value.size != 1:
            raise ValueError(f"output has shape {output.shape}: give a cotangent for a non-scalar output")
        cotangent = np.ones_like(output.value)
    grads = {id(output): np.asarray(cotangent, dtype=output.dtype)}
    owned = set()  # gradients the sweep allocated itself, safe to add into in place
    for node in reversed(_topological_order(output)):
        g = grads.pop(id(node), None) if node.parents else grads.get(id(node))
        if g is None or not node.parents:
            continue
        needs = tuple(p.requires_grad for p in node.parents)
        # a rule that can skip the gradients nobody needs (matmul: a product each) is told which
        contributions = node.vjp(g, needs=needs) if getattr(node.vjp, "takes_needs", False) else node.vjp(g)
        if observe is not None:  # a read-only hook: copies of what the sweep holds, before and after this step
            ones = np.ones_like(node.value)
            local = node.vjp(ones, needs=needs) if getattr(node.vjp, "takes_needs", False) else node.vjp(ones)
            before = [_copy(grads.get(id(p))) if n else None for p, n in zip(node.parents, needs)]
        if release and node is not output:
            node.vjp, node.value = None, None
        for parent, need, dparent in zip(node.parents, needs, contributions):
            if not need:
                continue
            dparent = unbroadcast(dparent, parent.shape)
            key = id(parent)
            if key not in grads:
                grads[key] = dparent  # borrowed, not copied: it may be another node's array (add hands g to both)
            elif key in owned:
                grads[key] += dparent  # a value used twice receives both contributions
            else:
                grads[key] = grads[key] + dparent  # the first sum is a new array, ours to += into from now on
                owned.add(key)
        if observe is not None:
            observe(Step(node=node, upstream=_copy(g),
                         local=tuple(_copy(unbroadcast(l, p.shape)) if n else None
                                     for p, n, l in zip(node.parents, needs, local)),
                         contributions=tuple(_copy(unbroadcast(c, p.shape)) if n else None
                                             for p, n, c in zip(node.parents, needs, contributions)),
                         arrived_before=tuple(before),
                         accumulated=tuple(_copy(grads.get(id(p))) if n else None
                                           for p, n in zip(node.parents, needs))))
    out = []
    for t in wrt:
        g = grads.get(id(t))
        # the caller gets arrays of its own, never one aliased with another leaf's gradient
        out.append(np.zeros_like(t.value) if g is None else np.array(g, dtype=t.dtype))
    return out


def jvp(fn, primals, tangents):
    """(output, its tangent) of ``fn(*tensors)`` at ``primals`` along ``tangents`` (numpy arrays; a tangent
    of None leaves that input constant): forward mode, one pass. Returns numpy arrays."""
    leaves = []
    for x, v in zip(primals, tangents):
        leaf = Tensor(np.asarray(x))
        if v is not None:
            leaf.tangent = Tensor(np.asarray(v, dtype=leaf.dtype))
        leaves.append(leaf)
    out = fn(*leaves)
    dy = out.tangent.value if out.tangent is not None else np.zeros_like(out.value)
    return out.value, dy


def hvp(fn, primals, tangents):
    """H·v of the scalar ``fn(*tensors)`` at ``primals`` along ``tangents`` (one per primal, arrays), reverse
    over forward: the forward pass carries the tangents, so the objective's tangent is ∇f(x)·v as a function
    of x on the tape; one reverse sweep of it gives ∇(∇f·v) = H v (H is symmetric). Returns (value, [Hv per
    primal])."""
    leaves = []
    for x, v in zip(primals, tangents):
        leaf = Tensor(np.asarray(x), requires_grad=True)
        leaf.tangent = Tensor(np.asarray(v, dtype=leaf.dtype))
        leaves.append(leaf)
    out = fn(*leaves)
    if out.value.size != 1:
        raise ValueError(f"hvp needs a scalar objective, got shape {out.shape}")
    if out.tangent is None:  # the objective does not depend on the inputs
        return out.value, [np.zeros_like(x.value) for x in leaves]
    return out.value, gradients(out.tangent, leaves)


def backward_steps(output, wrt, cotangent=None):
    """(gradients, steps): :func:`gradients` with every :class:`Step` of its sweep recorded, in sweep order."""
    steps = []
    return gradients(output, wrt, cotangent, observe=steps.append), steps


# The losses record on the tape like any op.
def mean_squared_error(pred, target):
    return apply(losses.mean_squared_error, pred, target)


def binary_cross_entropy(p, y):
    return apply(losses.binary_cross_entropy, p, y)


def softmax_cross_entropy(logits, target):
    return apply(losses.softmax_cross_entropy, logits, target)
