"""Layers (issue 11): the textbook backwards agree with the core's tape rules, planted slips in them are caught
with the parameter and worst element named, max-pool ties take any valid subgradient, and the small CNN trains
identically on every backend."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from crosscheck import runner
from crosscheck.backends import get
from crosscheck.catalogue import discover
from crosscheck.core import layers
from crosscheck.trajectories import compare_trajectories

ROOT = Path(__file__).resolve().parent.parent
PLANTED = ROOT / "tests" / "judge" / "planted" / "layers.py"


@pytest.fixture(scope="module")
def layer_cases():
    return {c.name: c for c in discover([ROOT / "cases" / "layers_conv.py"])}


def test_every_textbook_backward_agrees_with_the_cores_tape_rule(layer_cases):
    assert len(layer_cases) >= 12
    for case in layer_cases.values():
        point = case.point("float64")
        hand = get("handwritten").evaluate(case, point, "float64").grads
        tape = get("core").evaluate(case, point, "float64").grads
        for param in case.wrt:
            np.testing.assert_allclose(hand[param], tape[param], rtol=1e-10, atol=1e-12, err_msg=f"{case.name} {param}")


@pytest.fixture(scope="module")
def planted_rows():
    cases = discover([PLANTED])
    return {(r.case, r.param, r.dtype): r for r in runner.run(cases, backends=["handwritten"])}


@pytest.mark.parametrize("case, param", [("batch_norm_without_mean_term", "x"),
                                         ("conv2d_kernel_not_flipped", "x"),
                                         ("conv2d_kernel_channels_transposed", "x"),
                                         ("embedding_scatter_by_assignment", "weight")])
def test_a_planted_layer_bug_is_caught_naming_the_parameter_and_worst_element(planted_rows, case, param):
    for dtype in ("float64", "float32"):
        row = planted_rows[(case, param, dtype)]
        assert row.verdict == "fail"
        assert f"parameter {param!r}" in row.message and f"worst at {param}[" in row.message
        assert "reference" in row.message and "allowed atol=" in row.message


@pytest.mark.parametrize("case, right", [("batch_norm_without_mean_term", ("weight", "bias")),
                                         ("conv2d_kernel_not_flipped", ("weight", "bias"))])
def test_only_the_planted_parameter_fails(planted_rows, case, right):
    # the slip is in x̄ alone: w̄ and b̄ of the same backward still pass, so the row points at the bug
    for param in right:
        assert planted_rows[(case, param, "float64")].verdict == "pass"


def test_a_tie_given_to_every_maximum_is_no_subgradient(planted_rows):
    row = planted_rows[("max_pool2d_tie_to_every_maximum", "x", "float64")]
    assert row.verdict == "fail" and "not a subgradient" in row.message


def test_the_cores_max_pool_sends_a_tie_to_the_first_maximum():
    x = np.array([[[[1.0, 2.0], [2.0, 0.0]]]])
    y, vjp = layers.max_pool2d(x, kernel_size=2)
    assert y.item() == 2.0
    np.testing.assert_array_equal(vjp(np.ones((1, 1, 1, 1)))[0], [[[[0.0, 1.0], [0.0, 0.0]]]])


def _split_evenly(g, x):
    dx = np.zeros_like(x)
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            window = x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
            is_max = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2] += is_max * (g[:, :, i, j] / is_max.sum(axis=(2, 3)))[
                ..., None, None]
    return {"x": dx}


def test_any_valid_subgradient_at_a_max_pool_tie_is_accepted(layer_cases):
    # the first maximum (the case's own backward, torch, jax, TF) and an even split (autograd's rule) are both
    # subgradients: both are judged kink, neither fails
    case = layer_cases["max_pool2d_ties"]
    split = dataclasses.replace(case, backward=_split_evenly)
    for c in (case, split):
        rows = runner.run([c], backends=["handwritten", "core"], dtypes=("float64",), modes=("rev",))
        assert {r.verdict for r in rows} == {"kink"}, [r.message for r in rows]


def test_the_small_cnn_trains_identically_in_float64():
    (case,) = discover([ROOT / "cases" / "cnn.py"])
    names = ["handwritten", "core"] + [n for n in ("torch", "jax") if get(n).unavailable() is None]
    trajectories, divergences = compare_trajectories(case, [get(n) for n in names], dtypes=("float64",))
    assert {d.backend for d in divergences} == set(names)
    base = trajectories[0].losses
    assert base[-1] < 0.2 * base[0]  # it learns
    for d in divergences:
        assert not d.error and d.max_loss_rel < 1e-10 and d.predictions_agree, d
