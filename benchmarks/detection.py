"""Item 6: the directional check against gradcheck(fast_mode=True) at equal detection power.

Detection power is the smallest error in one element of a gradient that a check catches. A wrong element is
planted in the gradient of W2 (the largest input of the tanh MLP, P = 10⁵) at three seeded positions, by a
backend that adds δ there (crosscheck: the core's tape with δ added to its result; gradcheck: an identity
``torch.autograd.Function`` on W2 whose backward adds δ, scaled with the upstream gradient). For each check the smallest δ it flags is found by
bisection on log δ (relative to max |dL/dW2|; 12 steps between 10⁻¹² and 10²), and the largest of the three
positions is kept: the error the check is sure to catch there. crosscheck's directional check is then timed
with the fewest directions whose threshold is at most gradcheck's, side by side with gradcheck's fast mode.
Both use fixed seeds, so the thresholds are the same on every run.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .mlp_case import hidden_for, numpy_point, tanh_mlp_case
from .timing import round_robin

DIRECTIONS = (1, 16)  # the fewest, and the default
POSITIONS = 3
LOW, HIGH, STEPS = -12.0, 2.0, 12


def positions(shape, seed=15):
    rng = np.random.default_rng(seed)
    return [tuple(int(rng.integers(n)) for n in shape) for _ in range(POSITIONS)]


def planted_core(index, delta):
    """The core backend with ``delta`` added to dL/dW2 at ``index``."""
    from crosscheck.backends.core import CoreBackend

    class Planted(CoreBackend):
        name = "core"

        def evaluate(self, case, point, dtype):
            ev = super().evaluate(case, point, dtype)
            grads = dict(ev.grads)
            g = np.array(grads["W2"], copy=True)
            g[index] += delta
            grads["W2"] = g
            return dataclasses.replace(ev, grads=grads)

    return Planted()


def crosscheck_catches(case, index, delta, directions):
    from crosscheck import runner

    rows = runner.run([case], backends=[planted_core(index, delta)], dtypes=("float64",), method="directional",
                      probe="failing", directions=directions, modes=("rev",))  # a gradient check, as gradcheck
    return any(r.param == "W2" and r.verdict == "fail" for r in rows)


def torch_planted(point, cotangent, index, delta, scale):
    """(f, params) for gradcheck: the MLP with an identity on W2 whose backward adds ``delta`` at ``index``
    (times max|g| / ``scale``, i.e. exactly ``delta`` at the true upstream gradient, where max |dL/dW2| is
    ``scale``: gradcheck also checks that a zero upstream gradient gives zero, which a constant would fail)."""
    import torch

    from .gradient_checks import torch_function

    f, params = torch_function(point, cotangent)

    class Plant(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w):
            return w.view_as(w)

        @staticmethod
        def backward(ctx, g):
            g = g.clone()
            g[index] += delta * g.abs().max() / scale
            return g

    def planted(W1, b1, W2, b2, W3, b3):
        return f(W1, b1, Plant.apply(W2), b2, W3, b3)

    return planted, params


def gradcheck_catches(point, cotangent, index, delta, scale):
    """Whether gradcheck's fast mode flags the planted error. On a failure gradcheck recomputes the whole
    Jacobian in slow mode to print it (seconds at P = 10⁴); only the verdict is wanted here, so that message is
    skipped (the verdict is decided before it)."""
    import importlib
    from unittest import mock

    import torch

    module = importlib.import_module("torch.autograd.gradcheck")
    f, params = torch_planted(point, cotangent, index, delta, scale)
    torch.manual_seed(0)  # gradcheck's fast mode draws its random vectors from torch's generator
    with mock.patch.object(module, "_run_slow_mode_and_get_error", lambda *a, **k: ""):
        return not torch.autograd.gradcheck(f, params, fast_mode=True, raise_exception=False)


def threshold(catches, scale):
    """The smallest δ (in units of ``scale``) that ``catches(δ)`` flags, by bisection on log δ; inf when even
    10^HIGH is not caught, 10^LOW when everything is."""
    lo, hi = LOW, HIGH
    if not catches(10.0**hi * scale):
        return math.inf
    if catches(10.0**lo * scale):
        return 10.0**lo
    for _ in range(STEPS):
        mid = (lo + hi) / 2
        if catches(10.0**mid * scale):
            hi = mid
        else:
            lo = mid
    return 10.0**hi


@dataclasses.dataclass
class Detection:
    count: int
    thresholds: dict  # check -> smallest δ / max|dL/dW2| it catches at every planted position
    chosen: int | None  # directions at equal (or better) detection power than gradcheck's fast mode
    timings: dict  # label -> Timing


def measure(target=10**5, *, repeats, budget, log=print):
    import torch

    from .gradient_checks import torch_function

    hidden = hidden_for(target)
    case = tanh_mlp_case(hidden)
    point, cot = numpy_point(case)
    from crosscheck.backends.core import CoreBackend

    scale = float(np.max(np.abs(CoreBackend().evaluate(case, point, "float64").grads["W2"])))
    where = positions(point["W2"].shape)
    thresholds = {}
    log(f"  P = {target}: gradcheck(fast_mode=True)'s smallest caught error")
    thresholds["gradcheck fast"] = max(threshold(lambda d, i=i: gradcheck_catches(point, cot, i, d, scale), scale)
                                       for i in where)
    for k in DIRECTIONS:
        log(f"  P = {target}: crosscheck directional, {k} direction(s)")
        thresholds[f"crosscheck ×{k}"] = max(threshold(lambda d, i=i: crosscheck_catches(case, i, d, k), scale)
                                             for i in where)
    chosen = next((k for k in DIRECTIONS if thresholds[f"crosscheck ×{k}"] <= thresholds["gradcheck fast"]), None)
    timings = {}
    if chosen is not None:
        from crosscheck import runner

        f, params = torch_function(point, cot)

        def ours():
            return runner.run([case], backends=["core"], dtypes=("float64",), method="directional",
                              probe="failing", directions=chosen, modes=("rev",))

        timings = round_robin({f"crosscheck ×{chosen}": ours,
                               "gradcheck fast": lambda: torch.autograd.gradcheck(f, params, fast_mode=True)},
                              repeats=repeats, budget=budget, min_repeats=min(3, repeats))
    return Detection(case_count(case), thresholds, chosen, timings)


def case_count(case):
    return sum(int(np.prod(case.inputs[k].shape)) for k in case.wrt) if all(
        hasattr(case.inputs[k], "shape") for k in case.wrt) else -1
