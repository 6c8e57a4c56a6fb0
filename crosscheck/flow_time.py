"""Gradient flow through time: the vanishing-gradient story of the deep stacks (:mod:`crosscheck.flow`), in time.

For each recurrent model (the tanh RNN, the LSTM, the GRU) and each length T, the catalogue's
``flow_time_<model>_<T>`` case outputs the last hidden state h_T (cotangent of ones); each backend's gradient
gives mean |dL/dx_1|, the mean absolute gradient at the first input step, set beside the hand-written BPTT's
with its relative difference. The models share their weights across T (``cases/layers_sequence.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODELS = ("rnn", "lstm", "gru")
TITLES = {"rnn": "RNN (tanh)", "lstm": "LSTM", "gru": "GRU"}
LENGTHS = (5, 10, 20, 50)
BASELINE = "handwritten"


@dataclass
class TimeFlowCell:
    model: str
    steps: int
    backend: str
    dtype: str
    mean_abs_first_step: float  # mean |dL/dx[:, 0, :]|
    rel_diff: float  # |value - baseline| / |baseline|
    error: str = ""


def time_cases(catalogue):
    """{(model, T): case} for every ``flow_time_<model>_<T>`` case in the catalogue."""
    out = {}
    for name, case in catalogue.items():
        model, _, steps = name.removeprefix("flow_time_").rpartition("_")
        if name.startswith("flow_time_") and model in MODELS and steps.isdigit():
            out[(model, int(steps))] = case
    return out


def gradient_flow_through_time(catalogue, backends, dtype="float64"):
    """One cell per (model, T, backend) available, in the dtypes the cases declare (float64)."""
    cells = []
    for (model, steps), case in sorted(time_cases(catalogue).items(), key=lambda kv: (MODELS.index(kv[0][0]),
                                                                                      kv[0][1])):
        if dtype not in case.dtypes:
            continue
        point = case.point(dtype)
        results = {}
        for b in backends:
            if b.reference or not b.applies(case) or b.unavailable():
                continue
            try:
                results[b.name] = (float(np.mean(np.abs(b.evaluate(case, point, dtype).grads["x"][:, 0]))), "")
            except Exception as exc:  # a backend that cannot run the model: its cell says why
                results[b.name] = (np.nan, f"{type(exc).__name__}: {exc}")
        base = results.get(BASELINE, (np.nan, ""))[0]
        for name, (value, error) in results.items():
            cells.append(TimeFlowCell(model, steps, name, dtype, value, abs(value - base) / abs(base), error))
    return cells


def table(cells):
    """One row per (model, T): mean |dL/dx_1| per backend, and the largest relative difference from the
    hand-written BPTT."""
    import pandas as pd

    rows = []
    for model in MODELS:
        for steps in LENGTHS:
            mine = [c for c in cells if c.model == model and c.steps == steps]
            if not mine:
                continue
            row = {"model": TITLES[model], "T": steps}
            row.update({c.backend: f"{c.mean_abs_first_step:.3e}" for c in mine})
            row["max rel diff from hand-written"] = f"{max(c.rel_diff for c in mine):.1e}"
            row["error"] = "; ".join(f"{c.backend}: {c.error}" for c in mine if c.error)
            rows.append(row)
    return pd.DataFrame(rows)


def plot(cells) -> bytes:
    """mean |dL/dx_1| against T, log scale, one panel per model, a line per backend."""
    from .plots import STYLE, _png, _pyplot, _style

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(MODELS), figsize=(12, 3.8), sharey=True)
    order = lambda b: (list(STYLE).index(b) if b in STYLE else len(STYLE), b)  # noqa: E731
    for ax, model in zip(axes, MODELS):
        for backend in sorted({c.backend for c in cells}, key=order):
            pts = sorted((c.steps, c.mean_abs_first_step) for c in cells if c.model == model and c.backend == backend)
            if pts:
                marker, ls = _style(backend)
                ax.plot(*zip(*pts), marker=marker, linestyle=ls, label=backend, markerfacecolor="none")
        ax.set_yscale("log")
        ax.set_title(TITLES[model])
        ax.set_xlabel("T (steps)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("mean |dL/dx₁|")
    axes[-1].legend(fontsize=8)
    return _png(fig)
