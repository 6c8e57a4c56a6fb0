"""The core: numpy only, every op's backward against finite differences, the tape's bookkeeping."""

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import crosscheck.core
from crosscheck.core import losses, ops, tape
from crosscheck.core.tape import Tensor, gradients, unbroadcast
from crosscheck.numerical import central_difference

CORE = Path(crosscheck.core.__file__).parent


def test_core_sources_import_only_numpy():
    for path in sorted(CORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [] if node.level else [node.module.split(".")[0]]
            else:
                continue
            assert set(names) <= {"numpy", "__future__"}, f"{path.name} imports {names}"


def test_importing_the_core_loads_no_third_party_module_but_numpy():
    code = ("import sys; before = set(sys.modules); import crosscheck.core; "
            "print('\\n'.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    third_party = {m.split(".")[0] for m in out} - set(sys.stdlib_module_names) - {"numpy", "crosscheck"}
    # numpy's own private helpers (e.g. _distutils_hack is setuptools'): allow modules numpy itself pulls in
    assert not {m for m in third_party if not m.startswith("_")}, third_party


# ------------------------------------------------------------------ every op against finite differences

rng = np.random.default_rng(20261130)


def _check_op(op, *arrays, **attrs):
    """Contract the op's output with a random cotangent; compare each input's gradient with central differences."""
    y, _ = op(*arrays, **attrs)
    c = rng.standard_normal(np.shape(y))
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    out = tape.apply(op, *leaves, **attrs)
    grads = gradients(out, leaves, c)
    for i, a in enumerate(arrays):
        def f(v, i=i):
            args = list(arrays)
            args[i] = v
            return float(np.sum(c * op(*args, **attrs)[0]))

        num = central_difference(f, a)
        np.testing.assert_allclose(grads[i], num, rtol=1e-6, atol=1e-8, err_msg=f"{op.__name__} input {i}")
        assert grads[i].shape == np.shape(a)


SHAPES_BINARY = [((3, 4), (3, 4)), ((5, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((), (2, 3))]


@pytest.mark.parametrize("op", [ops.add, ops.subtract, ops.multiply, ops.maximum])
@pytest.mark.parametrize("shapes", SHAPES_BINARY, ids=str)
def test_binary_ops_with_broadcasting(op, shapes):
    _check_op(op, *(rng.standard_normal(s) for s in shapes))


@pytest.mark.parametrize("shapes", SHAPES_BINARY, ids=str)
def test_divide_with_broadcasting(shapes):
    _check_op(ops.divide, rng.standard_normal(shapes[0]), rng.uniform(0.5, 2.0, shapes[1]))


@pytest.mark.parametrize("op", [ops.negative, ops.exp, ops.sin, ops.cos, ops.tanh, ops.sigmoid])
def test_unary_ops(op):
    _check_op(op, rng.standard_normal((3, 4)))


def test_log_power_relu():
    _check_op(ops.log, rng.uniform(0.5, 3.0, (3, 4)))
    _check_op(ops.power, rng.uniform(0.5, 2.0, (3, 4)), exponent=2.5)
    _check_op(ops.power, rng.standard_normal((3, 4)), exponent=3)
    x = rng.choice([-1, 1], (3, 4)) * rng.uniform(0.1, 2, (3, 4))  # away from the kink at 0
    _check_op(ops.relu, x)


@pytest.mark.parametrize("shapes", [((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((3, 4), (4,)), ((4,), (4, 2)),
                                    ((4,), (4,)), ((2, 1, 3, 4), (5, 4, 2))], ids=str)
def test_matmul(shapes):
    _check_op(ops.matmul, *(rng.standard_normal(s) for s in shapes))


@pytest.mark.parametrize("axis,keepdims", [(None, False), (None, True), (0, False), (1, True), ((0, 2), False),
                                           (-1, False)])
@pytest.mark.parametrize("op", [ops.sum, ops.mean])
def test_reductions(op, axis, keepdims):
    _check_op(op, rng.standard_normal((2, 3, 4)), axis=axis, keepdims=keepdims)


def test_reshape_and_transpose():
    _check_op(ops.reshape, rng.standard_normal((2, 3, 4)), shape=(4, 6))
    _check_op(ops.transpose, rng.standard_normal((2, 3, 4)), axes=(2, 0, 1))
    _check_op(ops.transpose, rng.standard_normal((2, 3, 4)), axes=None)


def test_losses():
    _check_op(losses.mean_squared_error, rng.standard_normal((4, 3)), rng.standard_normal((4, 3)))
    _check_op(losses.binary_cross_entropy, rng.uniform(0.05, 0.95, (6, 1)), rng.uniform(0, 1, (6, 1)))
    _check_op(losses.softmax_cross_entropy, rng.standard_normal((4, 5)), rng.dirichlet(np.ones(5), 4))
    _check_op(losses.softmax_cross_entropy, rng.standard_normal(3), np.array([1.0, 0.0, 0.0]))


def test_softmax_cross_entropy_gradient_is_p_minus_y_over_m():
    z, y = rng.standard_normal((4, 5)), np.eye(5)[[1, 0, 4, 2]]
    _, vjp = losses.softmax_cross_entropy(z, y)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(vjp(1.0)[0], (p - y) / 4, rtol=1e-12)


# ------------------------------------------------------------------ the tape


def test_value_used_twice_receives_both_contributions():
    x = Tensor(np.array([0.3, -1.2]), requires_grad=True)
    y = x * x + x  # x feeds three places
    (g,) = gradients(y, [x], np.ones(2))
    np.testing.assert_allclose(g, 2 * x.value + 1)


def test_broadcasting_is_undone_in_the_sweep():
    assert unbroadcast(np.ones((5, 3, 4)), (4,)).tolist() == [5 * 3.0] * 4
    assert unbroadcast(np.ones((3, 4)), (3, 1)).tolist() == [[4.0]] * 3
    assert unbroadcast(np.ones((3, 4)), ()).item() == 12.0


def test_deep_graph_does_not_recurse():
    x = Tensor(np.array(0.5), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0 + 0.0
    (g,) = gradients(y, [x])
    assert g == 1.0


def test_unused_leaf_gets_zero_and_constants_get_nothing():
    a, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    out = tape.apply(ops.sum, a * 2.0)
    ga, gb = gradients(out, [a, b])
    assert ga.tolist() == [2.0] * 3 and gb.tolist() == [0.0] * 3


def test_float32_stays_float32():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    out = tape.apply(ops.sum, tape.apply(ops.sigmoid, x * 2.0 + 1))
    assert out.dtype == np.float32
    assert gradients(out, [x])[0].dtype == np.float32


def test_non_scalar_output_needs_a_cotangent():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="cotangent"):
        gradients(x * 2.0, [x])


def test_returned_gradients_never_alias_each_other():
    a, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    ga, gb = gradients(a + b, [a, b], np.full(3, 2.0))  # add hands the same upstream array to both
    ga[0] = 99.0
    assert gb.tolist() == [2.0, 2.0, 2.0]


def test_matmul_skips_the_product_a_constant_operand_does_not_need():
    x, w = np.ones((4, 3)), np.ones((3, 2))
    _, vjp = ops.matmul(x, w)
    dx, dw = vjp(np.ones((4, 2)), needs=(False, True))
    assert dx is None and dw.tolist() == [[4.0, 4.0]] * 3
