"""The report's figures, as PNG bytes (matplotlib, Agg; imported only here).

No timestamps or version strings are written into the files, so the same
data and matplotlib version give the same bytes.
"""

from __future__ import annotations

import io

import numpy as np

from .flow import KINDS

STYLE = {  # backend -> (marker, linestyle); the backends often coincide, so markers keep them apart
    "core": ("o", "-"), "handwritten": ("s", "--"), "torch": ("^", "-."), "jax": ("x", ":"),
    "tensorflow": ("D", (0, (5, 2))), "autograd": ("v", (0, (1, 1))),
}
TITLES = {"sigmoid": "sigmoid", "relu": "ReLU", "sigmoid_residual": "sigmoid + residual"}

#: one colour per verdict: report.html's verdict cells, and the heatmap's cells that carry no error figure
VERDICT_COLOURS = {
    "pass": "#c6efce", "kink": "#cfe2ff", "expected-discrepancy": "#fff2b3", "fail": "#f4a6a6",
    "nan": "#f08cc0", "error": "#9a6fd6", "skipped": "#d9d9d9", "unjudged": "#a9bcd6",
}
#: heatmap cells labelled instead of coloured by their error (worst verdict of the cell)
_LABELLED = ("error", "nan", "skipped", "unjudged")
_SEVERITY = ("error", "nan", "fail", "unjudged", "expected-discrepancy", "kink", "skipped", "pass")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def _style(backend):
    return STYLE.get(backend, (".", "-"))


def gradient_flow(cells, article) -> bytes:
    """Mean |dL/dx| at the input against depth, log scale, one panel per stack kind, a line per backend."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(KINDS), figsize=(12, 3.8), sharey=True)
    for ax, kind in zip(axes, KINDS):
        for backend in sorted({c.backend for c in cells}, key=lambda b: (list(STYLE).index(b) if b in STYLE else len(STYLE), b)):
            pts = sorted((c.depth, c.mean_abs_input_grad) for c in cells if c.kind == kind and c.backend == backend)
            marker, ls = _style(backend)
            ax.plot(*zip(*pts), marker=marker, linestyle=ls, label=backend, markerfacecolor="none")
        depths = sorted(article)
        ax.plot(depths, [float(article[d][KINDS.index(kind)]) for d in depths], "k*", markersize=11,
                label="article", zorder=0, alpha=0.4)
        ax.set_yscale("log")
        ax.set_title(TITLES[kind])
        ax.set_xlabel("layers")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("mean |dL/dx| at the input")
    axes[-1].legend(fontsize=8)
    return _png(fig)


def xor_losses(trajectories) -> bytes:
    """XOR loss per epoch for every backend and dtype, and each one's relative distance from the baseline."""
    plt = _pyplot()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 3.8))
    runs = [t for t in trajectories if t.case == "xor_mlp"]
    base = {t.dtype: t for t in runs if t.backend == "handwritten"}
    for t in runs:
        marker, ls = _style(t.backend)
        label = f"{t.backend} {t.dtype}"
        ax.plot(t.losses, linestyle=ls if t.dtype == "float64" else (0, (1, 3)), label=label, linewidth=1)
        if t.dtype in base and t.backend != "handwritten":
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.abs(t.losses - base[t.dtype].losses) / np.abs(base[t.dtype].losses)
            # the largest divergence so far: step-to-step noise (often exactly 0) would hide the trend
            ax2.plot(np.fmax.accumulate(np.nan_to_num(rel, nan=0.0)), linestyle=ls, label=label, linewidth=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("BCE loss")
    ax.set_title("XOR training, lr = 1.0")
    ax.legend(fontsize=7, ncol=2)
    ax2.set_yscale("log")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("max so far of |loss - hand-written| / loss")
    ax2.set_title("divergence from the hand-written backward")
    ax2.legend(fontsize=7, ncol=2)
    return _png(fig)


def layer_norms(cells, depth) -> bytes:
    """‖dL/dW_i‖ per layer of the deepest stacks, one panel per kind, a line per backend."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(KINDS), figsize=(12, 3.8), sharey=True)
    for ax, kind in zip(axes, KINDS):
        for c in cells:
            if c.kind == kind and c.depth == depth:
                marker, ls = _style(c.backend)
                ax.plot(range(1, depth + 1), c.layer_norms, marker=marker, linestyle=ls, label=c.backend,
                        markerfacecolor="none", markersize=4)
        ax.set_yscale("log")
        ax.set_title(f"{TITLES[kind]}, {depth} layers")
        ax.set_xlabel("layer")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("‖dL/dW‖ (Frobenius)")
    axes[-1].legend(fontsize=8)
    return _png(fig)


def error_colours():
    """The heatmap's colour scale over log10(error ÷ allowed) in [-8, 2]: greens up to 0 (a pass, however close
    to the tolerance: 10 % of it is still plainly green), reds beyond (a failure)."""
    from matplotlib.colors import LinearSegmentedColormap, TwoSlopeNorm

    cmap = LinearSegmentedColormap.from_list("crosscheck_errors", [
        (0.0, "#0b5d1e"), (0.35, "#3fa34d"), (0.5, "#d9f2d0"), (0.5001, "#fcbba1"), (0.75, "#ef3b2c"),
        (1.0, "#67000d")])
    return cmap, TwoSlopeNorm(vmin=-8, vcenter=0, vmax=2)


def error_heatmap(long) -> bytes:
    """log10(error ÷ allowance) of the worst parameter, case × (backend, dtype): below 0 passes.

    A cell whose worst verdict is error, nan, skipped (or unjudged) has no error figure: it is painted in that
    verdict's colour and labelled, so it cannot be mistaken for a blank cell (a backend that does not apply).
    """
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    df = long.copy()
    df["ratio"] = df["ratio"].replace("", "nan").astype(float)
    df["column"] = df["backend"] + " " + df["dtype"]
    kinked = df["verdict"] == "kink"
    df.loc[kinked, "ratio"] = np.nan  # a kink's central-difference error is no error: shown as a label instead
    grid = df.pivot_table(index="case", columns="column", values="ratio", aggfunc="max", sort=False, dropna=False)
    kinks = df[kinked].groupby(["case", "column"]).size()
    worst = df.groupby(["case", "column"])["verdict"].agg(lambda v: min(v, key=_rank))
    backends = list(STYLE) + sorted(set(df["backend"]) - set(STYLE) - {"-"})  # a plugin's column after the built-ins
    order = [f"{b} {d}" for d in ("float64", "float32") for b in backends if f"{b} {d}" in grid.columns]
    grid = grid[order]
    with np.errstate(divide="ignore"):
        values = np.log10(np.maximum(grid.to_numpy(dtype=float), 1e-12))
    fig, ax = plt.subplots(figsize=(7, 0.2 * len(grid) + 1.8))
    cmap, norm = error_colours()
    im = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap=cmap.with_extremes(bad="white"), norm=norm,
                   interpolation="nearest")
    rows = list(grid.index)
    for (case, column), verdict in worst.items():
        if verdict in _LABELLED and column in order and case in rows:
            x, y = order.index(column), rows.index(case)
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, color=VERDICT_COLOURS[verdict]))
            ax.text(x, y, verdict, ha="center", va="center", fontsize=5)
    for (case, column) in kinks.index:
        if column in order and worst.get((case, column)) not in _LABELLED:
            ax.text(order.index(column), rows.index(case), "kink", ha="center", va="center", fontsize=5)
    ax.set_yticks(range(len(grid)), grid.index, fontsize=6)
    ax.set_xticks(range(len(order)), order, rotation=45, ha="right", fontsize=7)
    fig.colorbar(im, ax=ax, label="log10(error ÷ allowed); > 0 fails", ticks=[-8, -6, -4, -2, 0, 1, 2])
    ax.set_title("worst error ÷ tolerance per case (blank: backend does not apply; error / nan / skipped: no\n"
                 "figure, labelled; kink: a parameter at a point without derivative, judged as a subgradient)",
                 fontsize=8)
    return _png(fig)


def _rank(verdict):
    return _SEVERITY.index(verdict) if verdict in _SEVERITY else len(_SEVERITY)
