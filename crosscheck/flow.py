"""Gradient flow through the deep stacks, measured on every backend from the catalogue's stack cases.

For each depth and kind (sigmoid, ReLU, sigmoid + residual), each backend's
gradient of the ``stack_<kind>_<depth>`` case gives the article's measure,
mean |dL/dx| at the input, and the Frobenius norm of dL/dW_i for every layer
i; each is set beside the core's (the hand-written backward) with its
relative difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("sigmoid", "relu", "sigmoid_residual")
BASELINE = "handwritten"


@dataclass
class FlowCell:
    depth: int
    kind: str
    backend: str
    dtype: str
    mean_abs_input_grad: float
    rel_diff: float  # |value - baseline| / |baseline|
    layer_norms: tuple  # ‖dL/dW_i‖_F, i = 0 .. depth-1
    max_layer_rel_diff: float
    error: str = ""


def stack_cases(catalogue):
    """{(depth, kind): case} for every ``stack_<kind>_<depth>`` case in the catalogue."""
    out = {}
    for name, case in catalogue.items():
        for kind in KINDS:
            prefix = f"stack_{kind}_"
            if name.startswith(prefix) and name[len(prefix):].isdigit():
                out[(int(name[len(prefix):]), kind)] = case
    return out


def gradients_by_backend(case, backends, dtype):
    """{backend name: the case's gradients at its point, or the exception the backend raised}, for every
    backend that runs the case (the studies' loop: a backend that cannot run a case gets a cell saying why)."""
    point = case.point(dtype)
    out = {}
    for b in backends:
        if b.reference or not b.applies(case) or b.unavailable():
            continue
        try:
            out[b.name] = b.evaluate(case, point, dtype).grads
        except Exception as exc:
            out[b.name] = exc
    return out


def _why(exc):
    return f"{type(exc).__name__}: {exc}"


def gradient_flow(catalogue, backends, dtype="float64"):
    """One cell per (depth, kind, backend) available; the baseline's cells carry zero difference."""
    cells = []
    for (depth, kind), case in sorted(stack_cases(catalogue).items(), key=lambda kv: (kv[0][0], KINDS.index(kv[0][1]))):
        layers = [f"W{i}" for i in range(depth)]
        results = {}
        for name, grads in gradients_by_backend(case, backends, dtype).items():
            if isinstance(grads, Exception):
                results[name] = (np.nan, (np.nan,) * depth, _why(grads))
                continue
            norms = tuple(float(np.linalg.norm(grads[w])) for w in layers)
            results[name] = (float(np.mean(np.abs(grads["x"]))), norms, "")
        base = results.get(BASELINE)
        for name, (mean, norms, error) in results.items():
            rel = abs(mean - base[0]) / abs(base[0]) if base else np.nan
            layer_rel = (max(abs(n - m) / abs(m) if m else abs(n) for n, m in zip(norms, base[1])) if base else np.nan)
            cells.append(FlowCell(depth, kind, name, dtype, mean, rel, norms, layer_rel, error))
    return cells
