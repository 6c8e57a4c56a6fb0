"""Across backends: pairwise agreement, training trajectories, gradient flow."""

import numpy as np
import pytest

from crosscheck import backends, run
from crosscheck.flow import KINDS, gradient_flow
from crosscheck.trajectories import compare_trajectories, train

from .test_seed_figures import GRADIENT_FLOW

ARTICLE_EPOCHS = {0: "0.6974", 500: "0.0027", 1000: "0.0012", 1500: "0.0008"}
ARTICLE_PREDICTIONS = ["0.0000", "0.9978", "1.0000", "0.0000"]


def available(*names):
    out = []
    for n in names:
        b = backends.get(n)
        if not b.unavailable():
            out.append(b)
    return out


ALL = ("core", "handwritten", "torch", "jax")


@pytest.fixture(scope="module")
def xor_trajectories(catalogue):
    return compare_trajectories(catalogue["xor_mlp"], available(*ALL), checkpoints=tuple(ARTICLE_EPOCHS))


def test_pairwise_agreement_covers_every_pair(catalogue):
    pairs = []
    run([catalogue["matmul"]], backends=["core", "handwritten"], dtypes=("float64",), pairs=pairs)
    assert pairs == []  # one backend applies (matmul has no hand-written backward): no pair
    run([catalogue["xor_mlp"]], backends=["core", "handwritten"], pairs=pairs)
    assert {(p.a, p.b, p.dtype) for p in pairs} == {("core", "handwritten", "float64"),
                                                    ("core", "handwritten", "float32")}
    f64 = next(p for p in pairs if p.dtype == "float64")
    assert f64.max_rel < 1e-10 and f64.worst_param


def test_xor_trajectory_prints_the_articles_epochs_on_every_backend(xor_trajectories):
    trajectories, divergences = xor_trajectories
    assert {d.backend for d in divergences} >= {"core", "handwritten"}
    for d in divergences:
        assert not d.error
        assert {s: f"{v:.4f}" for s, v in d.checkpoints.items()} == ARTICLE_EPOCHS, (d.backend, d.dtype)
        assert d.predictions_agree, (d.backend, d.dtype)
    for t in trajectories:
        assert [f"{p:.4f}" for p in t.predictions.ravel()] == ARTICLE_PREDICTIONS, (t.backend, t.dtype)


def test_xor_float64_losses_agree_to_1e_10_at_every_epoch(xor_trajectories):
    _, divergences = xor_trajectories
    for d in divergences:
        if d.dtype == "float64":
            assert d.max_loss_rel < 1e-10, (d.backend, d.max_loss_rel, d.worst_step)
            assert d.max_param_abs < 1e-10


def test_a_wrong_gradient_shows_up_as_divergence(catalogue, monkeypatch):
    """A backend whose gradient is slightly off trains to a different place: the divergence says so."""
    from crosscheck.core import ops

    case = catalogue["xor_mlp"]
    base = train(case, backends.get("handwritten"), "float64")
    real_relu = ops.relu
    monkeypatch.setattr(ops, "relu", lambda a: (real_relu(a)[0], lambda g: (g * (a > 0) * 1.01,)))
    broken = train(case, backends.get("core"), "float64")
    from crosscheck.trajectories import divergence

    d = divergence(broken, base)
    assert d.max_loss_rel > 1e-4


def test_training_a_backend_that_raises_keeps_the_steps_so_far(catalogue):
    class Flaky:
        name, reference = "flaky", False
        calls = 0

        def evaluate(self, case, point, dtype):
            Flaky.calls += 1
            if Flaky.calls > 3:
                raise RuntimeError("out of luck")
            return backends.get("core").evaluate(case, point, dtype)

    t = train(catalogue["xor_mlp"], Flaky(), "float64")
    assert "step 3: RuntimeError: out of luck" in t.error
    assert np.isfinite(t.losses[:3]).all() and np.isnan(t.losses[3:]).all()


def test_stack_regression_trajectory(catalogue):
    _, divergences = compare_trajectories(catalogue["stack_regression_sigmoid_residual_10"], available(*ALL))
    for d in divergences:
        assert not d.error
        assert d.final_loss < 0.2 * 31.8  # it learns: the loss falls from 31.8
        if d.dtype == "float64":
            assert d.max_loss_rel < 1e-10
        else:
            assert d.max_loss_rel < 1e-4


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradient_flow_reproduces_the_article_on_every_backend(catalogue, dtype):
    cells = gradient_flow(catalogue, available(*ALL), dtype)
    seen = {c.backend for c in cells}
    assert {"core", "handwritten"} <= seen
    for c in cells:
        assert not c.error
        assert f"{c.mean_abs_input_grad:.2e}" == GRADIENT_FLOW[c.depth][KINDS.index(c.kind)], (c.backend, c.depth, c.kind)
        assert len(c.layer_norms) == c.depth and all(n > 0 for n in c.layer_norms)
        limit = 1e-12 if dtype == "float64" else 1e-4
        assert c.rel_diff < limit and c.max_layer_rel_diff < limit, (c.backend, c.depth, c.kind)
