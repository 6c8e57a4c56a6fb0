"""Training trajectories: the same SGD run on every backend, compared step by step.

A case that carries ``Training(steps, lr)`` is trained from its own input
point: at every step each backend evaluates the loss and its gradients
(exactly as in a run) and every differentiated input moves by ``-lr·grad``,
in the dtype under test. The loss before every step and the parameters after
it are kept, so the divergence of any backend from the baseline can be read
at every step, not only at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: the backend every other trajectory is measured against: the case's hand-written backward when it
#: has one (the article's manual MLP), else the core's tape
BASELINES = ("handwritten", "core")


@dataclass
class Trajectory:
    case: str
    backend: str
    dtype: str
    losses: np.ndarray  # loss before each step
    params: np.ndarray  # (steps + 1, P): the flattened parameters at the start and after each step
    predictions: np.ndarray | None = None  # the trained model's predictions, if the case can make them
    error: str = ""


def train(case, backend, dtype) -> Trajectory:
    """Run the case's training on one backend in one dtype."""
    spec = case.training
    point = case.point(dtype)
    wrt = case.wrt
    losses = np.full(spec.steps, np.nan)
    params = np.full((spec.steps + 1, sum(point[k].size for k in wrt)), np.nan)
    params[0] = np.concatenate([point[k].ravel() for k in wrt])
    lr = np.asarray(spec.lr, dtype=dtype)
    try:
        for step in range(spec.steps):
            ev = backend.evaluate(case, point, dtype)
            losses[step] = ev.value
            for k in wrt:
                point[k] = (point[k] - lr * np.asarray(ev.grads[k], dtype=dtype)).astype(dtype)
            params[step + 1] = np.concatenate([point[k].ravel() for k in wrt])
    except Exception as exc:  # a backend that breaks mid-run: keep the steps so far and say why
        return Trajectory(case.name, backend.name, dtype, losses, params,
                          error=f"step {step}: {type(exc).__name__}: {exc}")
    predictions = None
    if spec.predict is not None:
        predictions = np.asarray(spec.predict(**{k: v.astype(np.float64) for k, v in point.items()}))
    return Trajectory(case.name, backend.name, dtype, losses, params, predictions)


@dataclass
class Divergence:
    """How far one trajectory strays from the baseline's, over the whole run."""

    case: str
    backend: str
    baseline: str
    dtype: str
    steps: int
    final_loss: float
    max_loss_rel: float  # max over steps of |loss - baseline loss| / |baseline loss|
    worst_step: int
    max_param_abs: float  # max over steps and parameters of |θ - baseline θ|
    predictions_agree: bool | None  # predictions equal to the printed precision (4 decimals)
    max_prediction_abs: float
    error: str = ""
    checkpoints: dict = field(default_factory=dict)  # step -> loss, at the printed epochs


def divergence(traj: Trajectory, base: Trajectory, checkpoints=()) -> Divergence:
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(traj.losses - base.losses) / np.abs(base.losses)
    rel = np.where(np.isnan(rel) & ~np.isnan(traj.losses + base.losses), 0.0, rel)
    worst = int(np.nanargmax(rel)) if np.any(~np.isnan(rel)) else 0
    agree, max_pred = None, float("nan")
    if traj.predictions is not None and base.predictions is not None:
        max_pred = float(np.max(np.abs(traj.predictions - base.predictions)))
        agree = bool(np.array_equal(np.round(traj.predictions, 4), np.round(base.predictions, 4)))
    return Divergence(
        case=traj.case, backend=traj.backend, baseline=base.backend, dtype=traj.dtype, steps=len(traj.losses),
        final_loss=float(traj.losses[-1]), max_loss_rel=float(np.max(rel)) if rel.size else float("nan"),
        worst_step=worst, max_param_abs=float(np.nanmax(np.abs(traj.params - base.params))),
        predictions_agree=agree, max_prediction_abs=max_pred, error=traj.error,
        checkpoints={s: float(traj.losses[s]) for s in checkpoints if s < len(traj.losses)},
    )


def compare_trajectories(case, backends, dtypes=("float64", "float32"), checkpoints=()):
    """Train ``case`` on each available backend (that applies) and measure each against the baseline.

    Returns ``(trajectories, divergences)``; the baseline appears in both, with zero divergence.
    """
    runnable = [b for b in backends if not b.reference and b.applies(case) and not b.unavailable()]
    names = [b.name for b in runnable]
    baseline = next((n for n in BASELINES if n in names), None)
    if baseline is None:
        raise ValueError(f"case {case.name!r}: no baseline backend ({' or '.join(BASELINES)}) among {names}")
    trajectories, divergences = [], []
    for dtype in (d for d in case.dtypes if d in dtypes):
        runs = {b.name: train(case, b, dtype) for b in runnable}
        trajectories.extend(runs.values())
        divergences.extend(divergence(t, runs[baseline], checkpoints) for t in runs.values())
    return trajectories, divergences
