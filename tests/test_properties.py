"""Property tests of the core: every op's backward, run through the tape, against central differences.

Hypothesis generates the shapes (broadcast-compatible pairs with size-1 axes,
missing leading axes and scalars; batched and vector matmul operands; axis
subsets; permutations; reshapes) and the values, kept inside each op's smooth
domain: away from the kinks of relu and maximum, away from overflow of exp,
and from the poles of log, divide and power. Each check contracts the op's
output with a seeded random cotangent (a scalar output takes the tape's
default of 1), sweeps the tape once, and compares every input's gradient
with the float64 central difference of the op's own forward.

Tolerance (one for every property): an element passes when
``|tape - fd| <= ATOL_PER_UNIT · max(1, S) + RTOL · |fd|``, with S = Σ|c ∘ y|
the size of the contracted objective. The central difference at step
h = 2⁻¹⁷·2^⌊log2 max(|x|, 1)⌋ ≈ 7.6e-6 carries

- round-off: each f evaluation is a sum of terms of total size S, off by a
  few eps·S, and the quotient divides by 2h: ≈ 1.5e-11·S per rounding, so
  ATOL_PER_UNIT = 1e-8 leaves a margin of ~100 for up to a few dozen roundings;
- truncation: h²·f'''/6 relative to f' is at most ~1e-8 on the domains below
  (the steepest is power with exponent -3 at base 0.5, f'''/f' = 80, and BCE at
  p = 0.05, 800), so RTOL = 1e-6 leaves a margin of ~100.

A wrong rule is off by O(1) relative (a missing factor, a transposed
operand), so these tolerances separate right from wrong by ~six orders of
magnitude; ``test_a_wrong_backward_rule_is_caught`` shows it.

Profiles: ``ci`` (when the CI environment variable is set) is derandomized,
database-free and without deadline, so CI runs the same examples every time;
``dev`` explores fresh examples each run. ``HYPOTHESIS_PROFILE`` overrides.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from crosscheck.core import elementwise, losses, ops, reductions, tape
from crosscheck.core.tape import Tensor
from crosscheck.numerical import central_difference

settings.register_profile("ci", database=None, derandomize=True, deadline=None, max_examples=50,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", database=None, deadline=None, max_examples=100,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

RTOL = 1e-6
ATOL_PER_UNIT = 1e-8
#: distance kept from a kink (relu at 0, maximum at a tie): ~1000 central-difference steps
KINK_MARGIN = 1e-2
MAX_SIDE = 4


# ------------------------------------------------------------------ the check every property runs


def check_gradients(op_name, arrays, *, seed, module=ops, **attrs):
    """Tape gradients of ⟨c, op(*arrays)⟩ against central differences of the op's forward, for every input.

    The op is looked up by name at call time (so a monkeypatched rule is the one checked). Raises
    AssertionError naming the op, input, shapes, attributes and seed, with numpy's mismatch report.
    """
    op = getattr(module, op_name)
    check_tape(lambda *t: tape.apply(op, *t, **attrs), lambda *a: op(*a, **attrs)[0], arrays, seed=seed,
               name=f"{op_name}{attrs or ''}")


def check_tape(build, forward, arrays, *, seed, name):
    """``build(*tensors) -> Tensor`` records a computation on the tape; ``forward(*arrays) -> array`` is the
    same computation in numpy. Each input's tape gradient of ⟨c, output⟩ must match the central difference."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    out = build(*leaves)
    if out.ndim == 0:
        c, weights = None, np.float64(1.0)  # a scalar output: the tape's default cotangent of 1
    else:
        c = weights = np.random.default_rng(seed).standard_normal(out.shape)
    grads = tape.gradients(out, leaves, c)
    scale = max(1.0, float(np.sum(np.abs(weights * out.value))))
    for i, (a, grad) in enumerate(zip(arrays, grads)):
        def objective(v, i=i):
            args = list(arrays)
            args[i] = v
            return float(np.sum(weights * forward(*args)))

        context = (f"{name}: input {i} of shapes {[x.shape for x in arrays]}, output {out.shape}, "
                   f"cotangent seed {seed}")
        assert grad.shape == a.shape, f"{context}: gradient has shape {grad.shape}, the input {a.shape}"
        assert grad.dtype == a.dtype, f"{context}: gradient is {grad.dtype}, the input {a.dtype}"
        np.testing.assert_allclose(grad, central_difference(objective, a), rtol=RTOL, atol=ATOL_PER_UNIT * scale,
                                   err_msg=context)


# ------------------------------------------------------------------ strategies


seeds = st.integers(0, 2**32 - 1)


def floats(low, high):
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def arrays(shape, low=-3.0, high=3.0):
    return hnp.arrays(np.float64, shape, elements=floats(low, high))


def shapes(min_dims=0, max_dims=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=MAX_SIDE)


#: two shapes numpy broadcasts together: size-1 axes, missing leading axes and scalars () among them
broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1,
                                                    max_side=MAX_SIDE).map(lambda s: s.input_shapes)


@st.composite
def away_from_zero(draw, shape, margin, high=3.0):
    """Values with |x| in [margin, margin + high]: a sign and a magnitude, shrinking towards ±margin."""
    u = draw(arrays(shape, -high, high))
    return np.where(u >= 0, u + margin, u - margin)


@st.composite
def untied_pair(draw, shape_a, shape_b):
    """(a, b) whose broadcast elements never tie: one operand on the lattice 0.1·k, the other on 0.1·(k + ½),
    so |a - b| ≥ 0.05 ≫ the step, whatever the broadcasting pairs up. Either may be the one on the half lattice."""
    half_a = draw(st.booleans())

    def lattice(shape, half):
        return hnp.arrays(np.int64, shape, elements=st.integers(-30, 30)).map(lambda k: 0.1 * (k + 0.5 * half))

    return draw(lattice(shape_a, half_a)), draw(lattice(shape_b, not half_a))


# ------------------------------------------------------------------ elementwise, binary, with broadcasting


@given(st.sampled_from(["add", "subtract", "multiply"]), broadcast_pairs.flatmap(
    lambda s: st.tuples(arrays(s[0]), arrays(s[1]))), seeds)
@example("multiply", (np.ones(()), np.arange(6.0).reshape(2, 3)), 0)  # a scalar against a matrix
@example("add", (np.ones((3, 1)), np.ones((1, 4))), 1)  # both operands stretched
@example("subtract", (np.ones(4), np.ones((2, 3, 4))), 2)  # missing leading axes
def test_add_subtract_multiply(op, pair, seed):
    check_gradients(op, pair, seed=seed)


@given(broadcast_pairs.flatmap(lambda s: st.tuples(arrays(s[0]), away_from_zero(s[1], 0.5))), seeds)
@example((np.arange(6.0).reshape(2, 3), np.array(-0.5)), 0)  # a scalar divisor
@example((np.ones(()), np.array([[0.5], [2.0]])), 1)  # a scalar divided by a column
def test_divide(pair, seed):
    """The divisor stays in ±[0.5, 3.5]: away from the pole at 0."""
    check_gradients("divide", pair, seed=seed)


@given(broadcast_pairs.flatmap(lambda s: untied_pair(s[0], s[1])), seeds)
@example((np.array([[-0.05], [0.05]]), np.array([0.0, 0.1, -0.1])), 0)  # a column against a row
def test_maximum(pair, seed):
    check_gradients("maximum", pair, seed=seed)


@given(st.sampled_from(["add", "subtract", "multiply", "maximum"]), shapes().flatmap(arrays), seeds)
def test_a_value_used_twice_receives_both_contributions(op, x, seed):
    """op(x, x): the tape must add the two paths' gradients (``+=``), not keep one. (maximum's tie is
    everywhere here, and its half-and-half split adds up to the true derivative 1.)"""
    check_gradients(op, [x, x], seed=seed)


# ------------------------------------------------------------------ elementwise, unary

UNARY_DOMAINS = {
    "negative": (-3.0, 3.0),
    "exp": (-5.0, 5.0),  # e^5 ≈ 148: no overflow, and an f'''/f' of 1
    "log": (0.1, 10.0),  # away from the pole at 0
    "sin": (-7.0, 7.0),
    "cos": (-7.0, 7.0),
    "tanh": (-5.0, 5.0),
    "sigmoid": (-10.0, 10.0),
}


@given(st.sampled_from(sorted(UNARY_DOMAINS)).flatmap(
    lambda op: st.tuples(st.just(op), shapes().flatmap(lambda s: arrays(s, *UNARY_DOMAINS[op])))), seeds)
def test_smooth_unary_ops(op_and_x, seed):
    op, x = op_and_x
    check_gradients(op, [x], seed=seed)


#: the element-wise ops of core/elementwise.py on a smooth domain: (low, high), or "lattice" for the piecewise
#: ones (values 0.1·(k + ½), never an integer, so 0.05 or more from every kink at 0, ±1, ±3, 6)
ELEMENTWISE_DOMAINS = {
    "square": (-3.0, 3.0), "expm1": (-3.0, 3.0), "log1p": (-0.5, 3.0), "tan": (-1.2, 1.2),
    "arcsin": (-0.9, 0.9), "arccos": (-0.9, 0.9), "arctan": (-5.0, 5.0), "sinh": (-3.0, 3.0), "cosh": (-3.0, 3.0),
    "erf": (-3.0, 3.0), "sqrt": (0.2, 5.0), "rsqrt": (0.2, 5.0), "softplus": (-10.0, 10.0),
    "log_sigmoid": (-10.0, 10.0), "gelu": (-5.0, 5.0), "gelu_tanh": (-5.0, 5.0), "silu": (-8.0, 8.0),
    "mish": (-5.0, 5.0), "abs": "lattice", "softsign": "lattice", "relu6": "lattice", "leaky_relu": "lattice",
    "elu": "lattice", "selu": "lattice", "celu": "lattice", "hardtanh": "lattice", "hard_sigmoid": "lattice",
    "hard_swish": "lattice", "reciprocal": "lattice",
}


def _elementwise_values(op):
    def lattice(shape):
        return hnp.arrays(np.int64, shape, elements=st.integers(-70, 70)).map(lambda k: 0.1 * (k + 0.5))

    domain = ELEMENTWISE_DOMAINS[op]
    return shapes().flatmap(lambda s: lattice(s) if domain == "lattice" else arrays(s, *domain))


@given(st.sampled_from(sorted(ELEMENTWISE_DOMAINS)).flatmap(
    lambda op: st.tuples(st.just(op), _elementwise_values(op))), seeds)
def test_the_elementwise_ops_and_activations(op_and_x, seed):
    op, x = op_and_x
    check_gradients(op, [x], seed=seed, module=elementwise)


#: binary element-wise ops: (a's domain, b's domain), values drawn over a broadcast pair of shapes
BINARY_DOMAINS = {
    "atan2": ((-3.0, 3.0), (0.5, 3.0)), "logaddexp": ((-5.0, 5.0), (-5.0, 5.0)), "xlogy": ((-3.0, 3.0), (0.3, 3.0)),
    "pow": ((0.5, 2.0), (-2.0, 2.0)), "fmod": ((0.05, 0.45), (1.0, 2.0)), "remainder": ((0.05, 0.45), (1.0, 2.0)),
}


@given(st.sampled_from(sorted(BINARY_DOMAINS)), broadcast_pairs, st.data(), seeds)
def test_the_binary_elementwise_ops(op, pair, data, seed):
    (da, db), (sa, sb) = BINARY_DOMAINS[op], pair
    check_gradients(op, [data.draw(arrays(sa, *da)), data.draw(arrays(sb, *db))], seed=seed, module=elementwise)


@given(broadcast_pairs.flatmap(lambda p: untied_pair(*p)), seeds)
def test_minimum_away_from_ties(pair, seed):
    check_gradients("minimum", list(pair), seed=seed, module=elementwise)


#: reductions and scans along one axis (or all, where the op takes None), values on a smooth domain
AXIS_OPS = {"prod": (-2.0, 2.0), "logsumexp": (-5.0, 5.0), "var": (-3.0, 3.0), "std": (-3.0, 3.0),
            "cumsum": (-3.0, 3.0), "cumprod": (-2.0, 2.0), "softmax": (-5.0, 5.0), "log_softmax": (-5.0, 5.0)}


@given(st.sampled_from(sorted(AXIS_OPS)), shapes(min_dims=1), st.data(), seeds)
def test_reductions_and_scans(op, shape, data, seed):
    x = data.draw(arrays(shape, *AXIS_OPS[op]))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1) if op in ("cumsum", "cumprod", "softmax",
                                                                         "log_softmax")
                     else st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    if op == "std" and np.ptp(x) < 0.1:  # the kink of a constant input, and its neighbourhood
        x = x + np.arange(x.size).reshape(x.shape)
    check_gradients(op, [x], seed=seed, module=reductions, axis=axis)


@given(shapes().flatmap(lambda s: away_from_zero(s, KINK_MARGIN)), seeds)
def test_relu_away_from_its_kink(x, seed):
    check_gradients("relu", [x], seed=seed)


def integer_power_bases(exponent):
    """Any real base for p ≥ 0 (zero included: a⁰ and a¹ are smooth there); |base| in [0.5, 2] for p < 0, off
    the pole at 0."""
    if exponent >= 0:
        return shapes().flatmap(lambda s: arrays(s, -2.0, 2.0))
    return shapes().flatmap(lambda s: away_from_zero(s, 0.5, high=1.5))


@given(st.integers(-3, 4).flatmap(lambda p: st.tuples(st.just(p), integer_power_bases(p))), seeds)
@example((0, np.array([0.0, 1.5])), 0)  # p = 0 at a = 0: the derivative is 0, not 0·0⁻¹
@example((1, np.array([0.0, -1.5])), 1)
def test_power_with_an_integer_exponent(exponent_and_x, seed):
    exponent, x = exponent_and_x
    check_gradients("power", [x], seed=seed, exponent=exponent)


@given(floats(-2.5, 3.5).filter(lambda p: p != int(p)), shapes().flatmap(lambda s: arrays(s, 0.5, 3.0)), seeds)
def test_power_with_a_fractional_exponent_on_positive_bases(exponent, x, seed):
    check_gradients("power", [x], seed=seed, exponent=exponent)


@given(shapes(max_dims=3).flatmap(arrays), seeds)
def test_a_chain_of_unary_ops_times_its_input(x, seed):
    """sigmoid(tanh(sin(x)))·x, through the tape: three rules composed, and x used on two paths."""
    def build(t):
        return tape.apply(ops.multiply, tape.apply(ops.sigmoid, tape.apply(ops.tanh, tape.apply(ops.sin, t))), t)

    def forward(v):
        return ops.sigmoid(ops.tanh(ops.sin(v)[0])[0])[0] * v

    check_tape(build, forward, [x], seed=seed, name="sigmoid(tanh(sin(x)))·x")


# ------------------------------------------------------------------ matmul


@st.composite
def matmul_operands(draw):
    """2-D, batched (batch axes broadcast against each other) and vector operands, in every combination."""
    m, k, n = (draw(st.integers(1, MAX_SIDE)) for _ in range(3))
    a_kind, b_kind = draw(st.sampled_from(["vector", "matrix", "batched"])), draw(
        st.sampled_from(["vector", "matrix", "batched"]))
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2, min_side=1,
                                                              max_side=3)).input_shapes
    shape_a = {"vector": (k,), "matrix": (m, k), "batched": batch_a + (m, k)}[a_kind]
    shape_b = {"vector": (k,), "matrix": (k, n), "batched": batch_b + (k, n)}[b_kind]
    return draw(arrays(shape_a)), draw(arrays(shape_b))


@given(matmul_operands(), seeds)
@example((np.ones(3), np.ones(3)), 0)  # vector · vector: a scalar output
@example((np.ones((2, 1, 3, 4)), np.ones((5, 4, 2))), 1)  # batch axes broadcast both ways
def test_matmul(operands, seed):
    check_gradients("matmul", operands, seed=seed)


# ------------------------------------------------------------------ reductions and shape


@st.composite
def reduction(draw):
    """An array and an axis argument: None, one axis, or a subset of axes (possibly empty), each axis
    given as a positive or negative index at random, with keepdims either way."""
    x = draw(shapes().flatmap(arrays))
    kind = draw(st.sampled_from(["none", "int", "tuple"]) if x.ndim else st.just("none"))
    keepdims = draw(st.booleans())
    if kind == "none":
        return x, None, keepdims
    subset = draw(st.lists(st.integers(0, x.ndim - 1), unique=True, min_size=kind == "int",
                           max_size=1 if kind == "int" else x.ndim))
    subset = [ax - x.ndim if draw(st.booleans()) else ax for ax in subset]
    return x, (subset[0] if kind == "int" else tuple(subset)), keepdims


@given(st.sampled_from(["sum", "mean"]), reduction(), seeds)
def test_sum_and_mean(op, reduced, seed):
    x, axis, keepdims = reduced
    check_gradients(op, [x], seed=seed, axis=axis, keepdims=keepdims)


@st.composite
def reshaped(draw):
    """An array and a new shape of the same size: its prime factors (and some 1s) regrouped at random,
    with one axis sometimes given as -1."""
    x = draw(shapes().flatmap(arrays))
    factors, n = [], x.size
    for p in (2, 3, 5, 7):
        while n % p == 0:
            factors.append(p)
            n //= p
    factors += [1] * draw(st.integers(0, 2))
    factors = draw(st.permutations(factors))
    cuts = sorted(draw(st.sets(st.integers(1, max(len(factors) - 1, 1)), max_size=max(len(factors) - 1, 0))))
    groups = [factors[i:j] for i, j in zip([0, *cuts], [*cuts, len(factors)]) if factors[i:j]]
    shape = [math.prod(g) for g in groups]
    if shape and draw(st.booleans()):
        shape[draw(st.integers(0, len(shape) - 1))] = -1
    return x, tuple(shape)


@given(reshaped(), seeds)
def test_reshape(x_and_shape, seed):
    x, shape = x_and_shape
    check_gradients("reshape", [x], seed=seed, shape=shape)


@st.composite
def transposed(draw):
    x = draw(shapes().flatmap(arrays))
    kind = draw(st.sampled_from(["permutation", "negative", "none"]))
    if kind == "none":
        return x, None
    perm = draw(st.permutations(range(x.ndim)))
    return x, tuple(ax - x.ndim for ax in perm) if kind == "negative" else tuple(perm)


@given(transposed(), seeds)
def test_transpose(x_and_axes, seed):
    x, axes = x_and_axes
    check_gradients("transpose", [x], seed=seed, axes=axes)


# ------------------------------------------------------------------ losses


@given(broadcast_pairs.flatmap(lambda s: st.tuples(arrays(s[0]), arrays(s[1]))))
def test_mean_squared_error(pair):
    check_gradients("mean_squared_error", pair, seed=0, module=losses)


@given(broadcast_pairs.flatmap(lambda s: st.tuples(arrays(s[0], 0.05, 0.95), arrays(s[1], 0.0, 1.0))))
@example((np.full((2, 3), 0.3), np.array([0.0, 1.0, 1.0])))  # one row of labels for every row of p
@example((np.array([0.3, 0.6, 0.5]), np.array([[0.0, 1, 1], [1, 0, 0]])))  # p broadcast over rows of labels
def test_binary_cross_entropy(pair):
    """Probabilities p in [0.05, 0.95] (log p and log(1 - p) stay finite and tame); soft labels y in [0, 1];
    either may broadcast against the other."""
    check_gradients("binary_cross_entropy", pair, seed=0, module=losses)


@st.composite
def logits_and_targets(draw):
    """Logits (..., K) and targets of any non-negative mass (not only one-hot), whose rows broadcast against
    each other either way; the target's class axis may be 1 (one weight for every class)."""
    k = draw(st.integers(1, 5))
    rows_z, rows_y = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, min_side=1,
                                                            max_side=3)).input_shapes
    k_y = draw(st.sampled_from([k, 1]))
    return draw(arrays(rows_z + (k,), -10.0, 10.0)), draw(arrays(rows_y + (k_y,), 0.0, 1.0))


@given(logits_and_targets())
@example((np.array([2.0, 1.0, 0.1]), np.array([1.0, 0.0, 0.0])))  # the article's point
@example((np.array([0.3, 0.6, 0.5]), np.array([[0.0, 1, 0], [1, 0, 0]])))  # logits broadcast over target rows
@example((np.array([[0.3, -1.2, 2.0], [0.1, 0.4, -0.5]]), np.array([[0.7], [0.2]])))  # target over the classes
def test_softmax_cross_entropy(pair):
    check_gradients("softmax_cross_entropy", pair, seed=0, module=losses)


def test_softmax_cross_entropy_with_logits_broadcast_over_the_classes():
    # one logit broadcast over K classes is K equal logits: log softmax is -log K, whatever z: dL/dz = 0
    check_gradients("softmax_cross_entropy", [np.array([[0.3], [1.2]]), np.array([[0.2, 0.5, 0.3], [1.0, 0, 0]])],
                    seed=0, module=losses)


# ------------------------------------------------------------------ the properties can fail


# each wrong rule wraps the right one, held here: under the monkeypatch the module's name is the wrong one
RIGHT = {"matmul": ops.matmul, "mean": ops.mean, "softmax_cross_entropy": losses.softmax_cross_entropy}


def _wrong_multiply(a, b):
    return a * b, lambda g: (g * a, g * b)  # the swap rule swapped back: d(ab)/da taken as a


def _wrong_sigmoid(a):
    y = ops.sigmoid_value(a)
    return y, lambda g: (g * y,)  # forgot the (1 - y)


def _wrong_matmul(a, b):
    y, vjp = RIGHT["matmul"](a, b)
    return y, lambda g: (vjp(g)[0], np.zeros_like(b))  # B receives nothing


def _wrong_mean(a, *, axis=None, keepdims=False):
    y, vjp = RIGHT["mean"](a, axis=axis, keepdims=keepdims)
    return y, lambda g: (vjp(g)[0] * a.size / max(y.size, 1),)  # the sum's rule: 1/n forgotten


def _wrong_softmax_cross_entropy(logits, target):
    value, vjp = RIGHT["softmax_cross_entropy"](logits, target)
    return value, lambda g: (vjp(g)[0] + g * target, vjp(g)[1])  # dz = p instead of p - y


WRONG = [
    (ops, "multiply", _wrong_multiply, lambda: check_gradients("multiply", [np.ones(3), np.arange(3.0)], seed=0)),
    (ops, "sigmoid", _wrong_sigmoid, lambda: check_gradients("sigmoid", [np.array([0.5, -1.0])], seed=0)),
    (ops, "matmul", _wrong_matmul, lambda: check_gradients("matmul", [np.ones((2, 3)), np.ones(3)], seed=0)),
    (ops, "mean", _wrong_mean, lambda: check_gradients("mean", [np.ones((2, 3))], seed=0, axis=1, keepdims=False)),
    (losses, "softmax_cross_entropy", _wrong_softmax_cross_entropy,
     lambda: check_gradients("softmax_cross_entropy", [np.zeros(3), np.array([0.0, 1.0, 0.0])], seed=0,
                             module=losses)),
]


@pytest.mark.parametrize("module, name, wrong, check", WRONG, ids=[w[1] for w in WRONG])
def test_a_wrong_backward_rule_is_caught(monkeypatch, module, name, wrong, check):
    check()  # the right rule passes this very check
    monkeypatch.setattr(module, name, wrong)
    with pytest.raises(AssertionError, match=name):
        check()


def test_a_wrong_rule_is_caught_by_the_generated_examples_themselves(monkeypatch):
    """Not only by a hand-picked point: the property, run as Hypothesis runs it, finds a counterexample."""
    monkeypatch.setattr(ops, "multiply", _wrong_multiply)
    with pytest.raises(AssertionError, match="multiply"):
        test_add_subtract_multiply()


def test_a_wrong_broadcast_undo_is_caught(monkeypatch):
    """The tape's unbroadcast is part of what the properties check: take the first row of a broadcast
    operand's gradient instead of summing the rows, and a broadcast add fails."""
    right = tape.unbroadcast

    def first_row(grad, shape):
        grad = np.asarray(grad)
        while grad.ndim > len(shape):
            grad = grad[0]
        return right(grad, shape)

    monkeypatch.setattr(tape, "unbroadcast", first_row)
    with pytest.raises(AssertionError, match="add"):
        check_gradients("add", [np.ones((2, 3)), np.ones(3)], seed=0)
