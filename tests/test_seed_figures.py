"""The article's printed figures (../shared/seed/), reproduced at the printed precision.

Each test recomputes a figure with crosscheck's own code (the core, the
finite differences, the catalogue) and asserts it against the number the
article prints.
"""

import numpy as np
import pytest

from crosscheck.backends import get
from crosscheck.core import mlp, ops, stacks
from crosscheck.core.losses import softmax_cross_entropy
from crosscheck.numerical import central_difference


def fmt(x, spec):
    return format(x, spec)


# ------------------------------------------------------------------ the chain rule


def test_chain_rule_sin_of_quadratic(catalogue):
    # The article's finite difference: step 1e-7, quotient (f(x+h) - f(x-h)) / 2h.
    num = central_difference(lambda x: np.sin(x**2 + 3 * x), np.array(2.0), step=1e-7)
    assert fmt(float(num), ".10f") == "-5.8735006980"
    # The analytic value, by the core's tape on the catalogue case.
    grads = get("core").evaluate(catalogue["sin_of_quadratic"], catalogue["sin_of_quadratic"].point(), "float64").grads
    assert fmt(float(grads["x"]), ".10f") == "-5.8735007035"
    assert fmt(abs(float(num) - float(grads["x"])), ".2e") == "5.51e-09"


def test_chain_rule_sigmoid_neuron(catalogue):
    def loss(w):
        y = ops.sigmoid_value(w * 1.5 + -0.2)
        return (y - 1.0) ** 2

    num = central_difference(loss, np.array(0.8), step=1e-7)
    assert fmt(float(num), ".10f") == "-0.1586312778"
    case = catalogue["sigmoid_neuron"]
    grads = get("core").evaluate(case, case.point(), "float64").grads
    assert fmt(float(grads["w"]), ".10f") == "-0.1586312784"
    assert fmt(abs(float(num) - float(grads["w"])), ".2e") == "5.17e-10"


# ------------------------------------------------------------------ local gradients


def test_sigmoid_gradients(catalogue):
    case = catalogue["sigmoid_article_points"]
    grads = get("core").evaluate(case, case.point(), "float64").grads["x"]
    assert np.round(grads, 4).tolist() == [0.25, 0.1966, 0.1966, 0.0066]
    assert fmt(grads.max(), ".4f") == "0.2500"


def test_relu_gate(catalogue):
    case = catalogue["relu_article_points"]
    grads = get("core").evaluate(case, case.point(), "float64").grads["x"]
    assert grads.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_softmax_cross_entropy_gradient(catalogue):
    case = catalogue["softmax_cross_entropy_article"]
    grads = get("core").evaluate(case, case.point(), "float64").grads["logits"]
    assert np.round(grads, 4).tolist() == [-0.341, 0.2424, 0.0986]
    # and straight from the loss's own backward: p - y
    _, vjp = softmax_cross_entropy(np.array([2.0, 1.0, 0.1]), np.array([1.0, 0.0, 0.0]))
    assert np.round(vjp(1.0)[0], 4).tolist() == [-0.341, 0.2424, 0.0986]


def test_matmul_dW_check():
    # The article's data: legacy seed 42, X 3×4, W 4×2, upstream dC 3×2, step 1e-5.
    rng = np.random.RandomState(42)
    X, W, dC = rng.randn(3, 4), rng.randn(4, 2), rng.randn(3, 2)
    _, vjp = ops.matmul(X, W)
    dX, dW = vjp(dC)
    dW_num = central_difference(lambda W_: np.sum(dC * (X @ W_)), W, step=1e-5)
    assert np.max(np.abs(dW - dW_num)) < 1e-9  # article: 1.89e-11
    assert np.allclose(dX, dC @ W.T)


# ------------------------------------------------------------------ the XOR network


def test_xor_W1_gradient_check():
    params = mlp.initial_parameters(seed=3)
    out, cache = mlp.forward(params, mlp.XOR_INPUTS)
    dW1 = mlp.backward(params, cache, mlp.XOR_TARGETS)["W1"]

    def loss(W1):
        return mlp.bce_loss(mlp.forward({**params, "W1": W1}, mlp.XOR_INPUTS)[0], mlp.XOR_TARGETS)

    dW1_num = central_difference(loss, params["W1"], step=1e-5)
    assert np.max(np.abs(dW1 - dW1_num)) < 1e-10  # article: 3.24e-12


def test_xor_training():
    params = mlp.initial_parameters(seed=3)
    final, losses = mlp.train(params, mlp.XOR_INPUTS, mlp.XOR_TARGETS, lr=1.0, epochs=2000)
    assert [fmt(losses[e], ".4f") for e in (0, 500, 1000, 1500)] == ["0.6974", "0.0027", "0.0012", "0.0008"]
    pred = mlp.forward(final, mlp.XOR_INPUTS)[0].ravel()
    assert [fmt(p, ".4f") for p in pred] == ["0.0000", "0.9978", "1.0000", "0.0000"]


def test_xor_catalogue_case_matches_manual_mlp(catalogue):
    """The catalogue's XOR case (tape) and the manual MLP's backward agree to round-off."""
    case = catalogue["xor_mlp"]
    point = case.point()
    tape = get("core").evaluate(case, point, "float64")
    manual = get("handwritten").evaluate(case, point, "float64")
    for k in mlp.PARAMETERS:
        np.testing.assert_allclose(tape.grads[k], manual.grads[k], rtol=1e-12, atol=1e-15)
    assert fmt(tape.value, ".4f") == "0.6974"


# ------------------------------------------------------------------ gradient flow


GRADIENT_FLOW = {  # depth -> (sigmoid, relu, sigmoid + residual), mean |dL/dx|
    2: ("6.22e-02", "1.44e+00", "2.06e-01"),
    5: ("5.00e-04", "2.43e+00", "1.99e-01"),
    10: ("7.59e-06", "5.16e+00", "1.97e-01"),
    15: ("7.03e-09", "1.32e+00", "1.61e-01"),
    20: ("1.99e-11", "1.24e+00", "1.57e-01"),
}
KINDS = (("sigmoid", False, "sigmoid"), ("relu", False, "relu"), ("sigmoid", True, "sigmoid_residual"))


@pytest.mark.parametrize("depth", sorted(GRADIENT_FLOW))
def test_gradient_flow_table(depth):
    got = tuple(fmt(stacks.gradient_flow(depth, act, res), ".2e") for act, res, _ in KINDS)
    assert got == GRADIENT_FLOW[depth]


@pytest.mark.parametrize("depth", sorted(GRADIENT_FLOW))
@pytest.mark.parametrize("backend", ["core", "handwritten"])
def test_gradient_flow_from_catalogue(catalogue, depth, backend):
    """The same 15 cells from the catalogue's stack cases, on the tape and on the hand-written backward."""
    got = []
    for _, _, kind in KINDS:
        case = catalogue[f"stack_{kind}_{depth}"]
        grads = get(backend).evaluate(case, case.point(), "float64").grads
        got.append(fmt(float(np.mean(np.abs(grads["x"]))), ".2e"))
    assert tuple(got) == GRADIENT_FLOW[depth]
