"""Item 2: crosscheck's check of the tanh MLP against torch.autograd.gradcheck and jax.test_util.check_grads.

Every tool checks the same scalar, ⟨c, f(x)⟩ with the case's seeded cotangent c, at the same float64
parameters. crosscheck is timed as ``runner.run([case], backends=[b], dtypes=("float64",), method=…,
probe="failing")``: the float64 reference plus one backend's gradient and the judgement, with kink
probing only where the central difference disagrees (gradcheck probes no kinks at all).

gradcheck(fast_mode=False) at large P can run for many minutes, so it runs in a child process
(``python -m benchmarks.gradient_checks gradcheck H FAST``) that is stopped after ``cap`` seconds; a
stopped measurement is then extrapolated from gradcheck of the inputs other than W2 alone (its cost is
one forward per element, so it scales with the element count).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .mlp_case import PARAMETERS, forward_numpy, hidden_for, numpy_point, parameter_count, tanh_mlp_case
from .timing import Timing, once, round_robin, run_process

BACKENDS = ("core", "torch", "jax")


def torch_function(point, cotangent, only=None):
    """(f, params) for torch.autograd.gradcheck: f(*params) = ⟨c, MLP(x)⟩ in float64. With ``only``, the
    other parameters are held as constants (used to extrapolate a gradcheck that ran past its cap)."""
    import torch

    only = only or PARAMETERS
    x, c = torch.tensor(point["x"]), torch.tensor(cotangent)
    fixed = {k: torch.tensor(point[k]) for k in PARAMETERS if k not in only}
    params = tuple(torch.tensor(point[k], requires_grad=True) for k in only)

    def f(*args):
        p = {**fixed, **dict(zip(only, args))}
        a1 = torch.tanh(x @ p["W1"] + p["b1"])
        a2 = torch.tanh(a1 @ p["W2"] + p["b2"])
        return ((a2 @ p["W3"] + p["b3"]) * c).sum()

    return f, params


def jax_function(point, cotangent):
    """(f, args) for jax.test_util.check_grads: the same function in jax, float64."""
    import jax

    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    x, c = jnp.asarray(point["x"]), jnp.asarray(cotangent)

    def f(W1, b1, W2, b2, W3, b3):
        a1 = jnp.tanh(x @ W1 + b1)
        a2 = jnp.tanh(a1 @ W2 + b2)
        return jnp.sum((a2 @ W3 + b3) * c)

    return f, tuple(jnp.asarray(point[k]) for k in PARAMETERS)


def numpy_loop(point, cotangent):
    """Plain numpy central differences one element at a time (no batching): what batching buys."""
    from crosscheck.numerical import central_difference

    def check():
        for k in PARAMETERS:
            def f(v, k=k):
                return float(np.sum(forward_numpy(**{**point, k: v}) * cotangent))
            central_difference(f, point[k])

    return check


@dataclass
class Size:
    """Every timing at one parameter count."""

    target: int
    hidden: int
    count: int
    timings: dict = field(default_factory=dict)  # label -> Timing
    passed: dict = field(default_factory=dict)  # label -> whether that check accepted the gradient


def _crosscheck(case, backend, method, directions=16):
    from crosscheck import runner

    def check():
        rows = runner.run([case], backends=[backend], dtypes=("float64",), method=method, probe="failing",
                          directions=directions, modes=("rev",))  # a gradient check, as gradcheck
        return all(r.verdict == "pass" for r in rows)

    return check


def gradcheck_in_child(hidden, fast_mode, cap, only=None):
    """One timed gradcheck in a fresh child (after an untimed warm-up on a tiny input): a Timing, capped
    when the child ran past ``cap`` seconds plus its start-up allowance."""
    argv = [sys.executable, "-m", "benchmarks.gradient_checks", "gradcheck", str(hidden), str(int(fast_mode))]
    argv += [",".join(only)] if only else []
    proc = run_process(argv, cwd=Path(__file__).resolve().parent.parent, timeout=cap + 30)
    if proc is None:
        return Timing(cap=cap, capped=True), None
    if proc.returncode:
        raise RuntimeError(f"gradcheck child failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["seconds"] > cap:
        return Timing(cap=cap, capped=True), result["passed"]
    return Timing([result["seconds"]]), result["passed"]


def _gradcheck_child(hidden, fast_mode, only):
    import torch

    torch.autograd.gradcheck(lambda a: (a * a).sum(), (torch.ones(2, dtype=torch.float64, requires_grad=True),))
    case = tanh_mlp_case(hidden)
    f, params = torch_function(*numpy_point(case), only=only)
    t = time.perf_counter()
    passed = torch.autograd.gradcheck(f, params, fast_mode=fast_mode)
    print(json.dumps({"seconds": time.perf_counter() - t, "passed": bool(passed)}))


def measure(targets, *, repeats, budget, cap, full_gradcheck_max, numpy_loop_max, log=print):
    """Every timing of item 2 for each target parameter count."""
    import torch
    from jax.test_util import check_grads

    sizes = []
    for target in targets:
        hidden = hidden_for(target)
        case = tanh_mlp_case(hidden)
        size = Size(target, hidden, parameter_count(hidden))
        point, cot = numpy_point(case)
        tf, tparams = torch_function(point, cot)
        jf, jargs = jax_function(point, cot)
        t = size.timings
        log(f"  P = {size.count} (H = {hidden}): cold calls")
        # first calls: for jax this compiles value_and_grad (shared by every later call of this case)
        for b in BACKENDS:
            t[f"cold {b}"] = once(_crosscheck(case, b, "directional"))
        t["cold check_grads"] = once(lambda: check_grads(jf, jargs, order=1, modes=("rev",)) or True)
        log(f"  P = {size.count}: directional checks, gradcheck(fast_mode=True), check_grads")
        fast = {f"dir16 {b}": _crosscheck(case, b, "directional") for b in BACKENDS}
        fast.update({f"dir1 {b}": _crosscheck(case, b, "directional", directions=1) for b in BACKENDS})
        fast["gradcheck fast"] = lambda: torch.autograd.gradcheck(tf, tparams, fast_mode=True)
        fast["check_grads"] = lambda: check_grads(jf, jargs, order=1, modes=("rev",)) or True  # raises when it fails
        t.update(round_robin(fast, repeats=repeats, budget=budget, min_repeats=min(5, repeats)))
        log(f"  P = {size.count}: full element-wise checks")
        full = {f"central {b}": _crosscheck(case, b, "central") for b in BACKENDS}
        if target <= numpy_loop_max:
            full["numpy loop"] = numpy_loop(point, cot)
        t.update(round_robin(full, repeats=repeats, budget=budget, min_repeats=1))
        size.passed.update({label: bool(t[label].result) for label in (*fast, *full) if label != "numpy loop"})
        if target <= full_gradcheck_max:
            log(f"  P = {size.count}: gradcheck(fast_mode=False), in a child process, capped at {cap:.0f} s")
            t["gradcheck full"] = _gradcheck_full(hidden, size.count, repeats, budget, cap, size)
        sizes.append(size)
    return sizes


def _gradcheck_full(hidden, count, repeats, budget, cap, size):
    timing, passed = gradcheck_in_child(hidden, False, cap)
    size.passed["gradcheck full"] = passed
    if timing.capped:
        others = tuple(k for k in PARAMETERS if k != "W2")
        part, _ = gradcheck_in_child(hidden, False, cap, only=others)
        n = count - hidden * hidden
        if not part.capped:
            timing.estimate = part.median * count / n
        return timing
    while len(timing.times) < repeats and sum(timing.times) < budget:
        more, _ = gradcheck_in_child(hidden, False, cap)
        if more.capped:
            break
        timing.times.extend(more.times)
    return timing


if __name__ == "__main__":
    if sys.argv[1] == "gradcheck":
        only = tuple(sys.argv[4].split(",")) if len(sys.argv) > 4 else None
        _gradcheck_child(int(sys.argv[2]), bool(int(sys.argv[3])), only)
