"""Gradient flow through time: the vanishing-gradient story of the deep stacks (:mod:`crosscheck.flow`), in time.

The recurrent models (the tanh RNN, the LSTM, the GRU) are written here once against the op vocabulary ``nn``;
the catalogue's cases (``cases/layers_sequence.py``) check them at T = 5 on every backend. The study unrolls
them over T = 5, 10, 20, 50 with the last hidden state h_T as the output (cotangent of ones) and reads, on every
backend, mean |dL/dx₁|, the mean absolute gradient at the first input step, beside the hand-written BPTT's
(``core/sequence.py``) with its relative difference. The weights are the same for every T, and each x is the
first T steps of one 50-step sequence. Its cases stay outside the catalogue: a T = 50 unroll costs jax and
tensorflow a long compilation, which the study pays once and the conformance suite need not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .flow import _why, gradients_by_backend

MODELS = ("rnn", "lstm", "gru")
TITLES = {"rnn": "RNN (tanh)", "lstm": "LSTM", "gru": "GRU"}
LENGTHS = (5, 10, 20, 50)
BASELINE = "handwritten"
I, H = 3, 4  # input and hidden widths
SEED = 7


# ---------------------------------------------------------------- the models, against nn


def rnn(nn, x, h0, Wx, Wh, b, steps):
    """h_t = tanh(x_t Wx + h_{t-1} Wh + b); every h_t."""
    h, hs = h0, []
    for t in range(steps):
        h = nn.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    return hs


def lstm(nn, x, h0, c0, Wx, Wh, b, steps):
    """Gates i, f, g, o (torch's order) from x_t Wx + h Wh + b; c_t = f c + i g, h_t = o tanh(c_t)."""
    h, c, hs = h0, c0, []
    for t in range(steps):
        a = x[:, t] @ Wx + h @ Wh + b
        i, f, o = nn.sigmoid(a[:, :H]), nn.sigmoid(a[:, H:2 * H]), nn.sigmoid(a[:, 3 * H:])
        c = f * c + i * nn.tanh(a[:, 2 * H:3 * H])
        h = o * nn.tanh(c)
        hs.append(h)
    return hs


def gru(nn, x, h0, Wx, Wh, bx, bh, steps):
    """torch's GRU: r, z = σ(·), n = tanh(x Wxn + bxn + r ⊙ (h Whn + bhn)), h_t = (1 - z) n + z h."""
    h, hs = h0, []
    for t in range(steps):
        ax, ah = x[:, t] @ Wx + bx, h @ Wh + bh
        r = nn.sigmoid(ax[:, :H] + ah[:, :H])
        z = nn.sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
        n = nn.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
        h = (1 - z) * n + z * h
        hs.append(h)
    return hs


RECURRENT = {"rnn": rnn, "lstm": lstm, "gru": gru}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def recurrent_inputs(model, steps, batch):
    """{input name: shape} in the model's argument order."""
    g = GATES[model] * H
    shapes = {"x": (batch, steps, I), "h0": (batch, H)} | ({"c0": (batch, H)} if model == "lstm" else {})
    return shapes | {"Wx": (I, g), "Wh": (H, g)} | ({"bx": (g,), "bh": (g,)} if model == "gru" else {"b": (g,)})


# ---------------------------------------------------------------- the study's cases


def study_case(model, steps):
    """``flow_time_<model>_<T>``: h_T of the model unrolled over T steps, float64, with its hand-written BPTT."""
    from . import inputs
    from .catalogue import Case
    from .core import sequence

    rng = np.random.default_rng(SEED)
    values = {}
    for k, shape in recurrent_inputs(model, max(LENGTHS), 1).items():
        v = rng.standard_normal(shape) * (1 / np.sqrt(shape[0]) if k[0] == "W" else 0.5 if k != "x" else 1.0)
        values[k] = v[:, :steps] if k == "x" else v
    names = list(values)

    def fn(nn, **a):
        return RECURRENT[model](nn, *(a[k] for k in names), steps)[-1]

    def backward(g, **a):
        dhs = np.zeros(a["x"].shape[:2] + (H,), dtype=a["x"].dtype)
        dhs[:, -1] = g  # only h_T is read
        return sequence.bptt(model, **a, dhs=dhs)

    return Case(name=f"flow_time_{model}_{steps}", fn=fn, inputs={k: inputs.fixed(v) for k, v in values.items()},
                tags=frozenset({"flow_time"}), dtypes=("float64",), backward=backward, cotangent="ones",
                doc=f"{TITLES[model]} over T = {steps}: h_T")


@dataclass
class TimeFlowCell:
    model: str
    steps: int
    backend: str
    dtype: str
    mean_abs_first_step: float  # mean |dL/dx[:, 0, :]|
    rel_diff: float  # |value - baseline| / |baseline|
    error: str = ""


def gradient_flow_through_time(backends, dtype="float64"):
    """One cell per (model, T, backend) available."""
    cells = []
    for model in MODELS:
        for steps in LENGTHS:
            case = study_case(model, steps)
            results = {}
            for name, grads in gradients_by_backend(case, backends, dtype).items():
                if isinstance(grads, Exception):  # a backend that cannot run the model: its cell says why
                    results[name] = (np.nan, _why(grads))
                else:
                    results[name] = (float(np.mean(np.abs(grads["x"][:, 0]))), "")
            base = results.get(BASELINE, (np.nan, ""))[0]
            for name, (value, error) in results.items():
                cells.append(TimeFlowCell(model, steps, name, dtype, value, abs(value - base) / abs(base), error))
    return cells


def table(cells):
    """One row per (model, T): mean |dL/dx₁| per backend, and the largest relative difference from the
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
    """mean |dL/dx₁| against T, log scale, one panel per model, a line per backend."""
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
