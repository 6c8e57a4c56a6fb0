"""``crosscheck report``: run the catalogue and write everything a person reads into ``results/``.

Everything is computed and rendered first, in memory, and written in full
beside its target; only then are the files renamed into place, together,
with Ctrl-C held back (:func:`crosscheck.tables.write_files`). A report that
is interrupted (Ctrl-C, a killed process) therefore leaves the previous
``results/`` as it was.

Files: the tables (``rows``, ``summary``, ``pairwise``, ``pairwise_worst``,
``discrepancies``, ``trajectories``, ``gradient_flow`` and the article's
``seed_*`` tables, each as .csv, .md and .json), ``versions.md``, the plots
(``*.png``), ``report.md`` (linking them) and a self-contained
``report.html`` (images embedded).
"""

from __future__ import annotations

import base64
import html
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import backends as backend_registry
from . import flow, plots, seed, tables, trajectories
from . import runner


# ------------------------------------------------------------------ progress on the terminal


class Progress:
    """A one-line bar on stderr (cases × backends), redrawn in place on a terminal, silent elsewhere."""

    def __init__(self, total, stream=sys.stderr, width=30):
        self.total, self.done, self.stream, self.width = max(total, 1), 0, stream, width
        self.live = hasattr(stream, "isatty") and stream.isatty()

    def advance(self, n, label):
        self.done += n
        if self.live:
            filled = int(self.width * self.done / self.total)
            self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {label[:40]:<40}")
            self.stream.flush()

    def close(self):
        if self.live:
            self.stream.write("\n")


# ------------------------------------------------------------------ the document: blocks rendered twice


@dataclass
class Document:
    """The report as blocks, rendered once as Markdown and once as HTML."""

    blocks: list = field(default_factory=list)
    images: dict = field(default_factory=dict)  # file name -> PNG bytes

    def heading(self, text, level=2):
        self.blocks.append(("heading", level, text))

    def text(self, text):
        self.blocks.append(("text", text))

    def table(self, df, link=None):
        self.blocks.append(("table", df, link))

    def image(self, name, png, caption):
        self.images[name] = png
        self.blocks.append(("image", name, caption))

    def markdown(self):
        out = []
        for block in self.blocks:
            kind = block[0]
            if kind == "heading":
                out.append("#" * block[1] + " " + block[2])
            elif kind == "text":
                out.append(block[1])
            elif kind == "table":
                out.append(tables.markdown_table(block[1]).rstrip())
                if block[2]:
                    out.append(f"Full table: [{block[2]}.csv]({block[2]}.csv) · [.md]({block[2]}.md) · "
                               f"[.json]({block[2]}.json)")
            elif kind == "image":
                out.append(f"![{block[2]}]({block[1]})")
            out.append("")
        return "\n".join(out)

    def html(self):
        parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8"><title>crosscheck report</title>',
                 "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
                 "table{border-collapse:collapse;font-size:12px;margin:0.5em 0}"
                 "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}th{background:#eee}"
                 "img{max-width:100%}code{background:#f4f4f4}</style></head><body>"]
        for block in self.blocks:
            kind = block[0]
            if kind == "heading":
                parts.append(f"<h{block[1]}>{html.escape(block[2])}</h{block[1]}>")
            elif kind == "text":
                parts.append(f"<p>{html.escape(block[1])}</p>")
            elif kind == "table":
                parts.append(block[1].to_html(index=False, escape=True, border=0))
            elif kind == "image":
                data = base64.b64encode(self.images[block[1]]).decode()
                parts.append(f'<figure><img alt="{html.escape(block[2])}" src="data:image/png;base64,{data}">'
                             f"<figcaption>{html.escape(block[2])}</figcaption></figure>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"


# ------------------------------------------------------------------ computing


@dataclass
class Results:
    rows: list
    pairs: list
    trajectories: list
    divergences: list
    flow_cells: list
    seed_tables: dict
    conventions: object = None  # the conventions table (crosscheck.conventions), a DataFrame


def compute(cases, backend_names, dtypes, probe="all", progress=None, **reference_options) -> Results:
    """Everything the report shows, computed in memory (nothing is written here)."""
    numeric = backend_registry.get("numeric")
    instances = [backend_registry.get(n) for n in backend_names]

    def applying(case):
        return sum(1 for b in instances if b.applies(case))

    bar = progress or Progress(sum(applying(c) * sum(1 for d in c.dtypes if d in dtypes) for c in cases))
    pairs = []
    rows = runner.run(cases, instances, dtypes, probe=probe, pairs=pairs, **reference_options,
                      progress=lambda case, dtype: bar.advance(applying(case), f"{case.name} {dtype}"))
    bar.close()
    runnable = [b for b in instances if not b.unavailable()]
    trajs, divs = [], []
    for case in cases:
        if case.training is not None:
            t, d = trajectories.compare_trajectories(case, runnable, dtypes, checkpoints=tuple(seed.XOR_EPOCHS))
            trajs.extend(t)
            divs.extend(d)
    catalogue = {c.name: c for c in cases}
    cells = [c for dtype in dtypes for c in flow.gradient_flow(catalogue, runnable, dtype)]
    f64 = [c for c in cells if c.dtype == "float64"]
    seed_tables = {
        "seed_chain_rule": seed.chain_rule(catalogue, runnable, numeric),
        "seed_local_gradients": seed.local_gradients(catalogue, runnable, numeric),
        "seed_xor_gradient_check": seed.xor_gradient_check(catalogue, runnable, numeric),
        "seed_xor_training": seed.xor_training(divs, trajs),
        "seed_gradient_flow": seed.gradient_flow(f64),
    }
    return Results(rows, pairs, trajs, divs, cells, seed_tables, _conventions(cases, runnable))


def _conventions(cases, runnable):
    """The conventions table over the special-point cases in the run (float64)."""
    from . import conventions

    return conventions.table(cases, runnable)


def trajectory_table(divergences):
    import pandas as pd

    return pd.DataFrame([{
        "case": d.case, "backend": d.backend, "dtype": d.dtype, "baseline": d.baseline, "steps": d.steps,
        "final loss": f"{d.final_loss:.6g}", "max loss rel divergence": f"{d.max_loss_rel:.2e}",
        "at step": d.worst_step, "max param abs divergence": f"{d.max_param_abs:.2e}",
        "predictions agree": "" if d.predictions_agree is None else d.predictions_agree,
        "error": d.error} for d in divergences])


def flow_table(cells):
    import pandas as pd

    return pd.DataFrame([{
        "layers": c.depth, "stack": c.kind, "backend": c.backend, "dtype": c.dtype,
        "mean |dL/dx|": f"{c.mean_abs_input_grad:.3e}", "rel diff from hand-written": f"{c.rel_diff:.1e}",
        "max layer-norm rel diff": f"{c.max_layer_rel_diff:.1e}",
        "‖dL/dW_i‖ per layer": " ".join(f"{n:.2e}" for n in c.layer_norms), "error": c.error} for c in cells])


# ------------------------------------------------------------------ writing


def build(results: Results):
    """(tables by name, Document) from the results."""
    long = tables.frame(results.rows)
    named = {
        "rows": long,
        "summary": tables.summary_pivot(long) if len(long) else long,
        "pairwise": tables.pairwise_table(results.pairs),
        "pairwise_worst": tables.pairwise_worst(results.pairs),
        "discrepancies": tables.discrepancies(long),
        "trajectories": trajectory_table(results.divergences),
        "gradient_flow": flow_table(results.flow_cells),
        **results.seed_tables,
    }
    named = {k: v for k, v in named.items() if len(v.columns)}
    doc = Document()
    doc.heading("crosscheck report", 1)
    counts = tables.summary_line(results.rows)
    doc.text(f"{len({r.case for r in results.rows})} cases, {len(results.rows)} rows: {counts}. Each row is one "
             f"gradient (case, parameter, backend, dtype) against the float64 central-difference reference.")
    doc.table(tables.versions())
    _conventions_section(doc, results.conventions)
    doc.heading("Verdicts")
    doc.table(named["summary"], "summary")
    doc.heading("Rows that are not a pass")
    doc.table(named["discrepancies"], "discrepancies")
    doc.heading("Errors at a glance")
    if len(long):
        doc.image("error_heatmap.png", plots.error_heatmap(long), "worst error ÷ tolerance per case and backend")
    if "pairwise_worst" in named:
        doc.heading("Backends against each other")
        doc.text("Worst relative difference between two backends' gradients, over the catalogue "
                 "(|a - b| / max(|a|, |b|), element-wise); per case in pairwise.csv.")
        doc.table(named["pairwise_worst"], "pairwise")
    doc.heading("The article's figures, reproduced")
    for name, title in (("seed_chain_rule", "Chain rule"), ("seed_local_gradients", "Local gradients"),
                        ("seed_xor_gradient_check", "XOR: gradient check of W1"),
                        ("seed_xor_training", "XOR: training, lr = 1.0, 2000 epochs"),
                        ("seed_gradient_flow", "Gradient flow: mean |dL/dx| at the input")):
        if name in named and len(named[name]):
            doc.heading(title, 3)
            doc.table(named[name], name)
    if results.flow_cells:
        doc.image("gradient_flow.png", plots.gradient_flow(results.flow_cells, seed.GRADIENT_FLOW),
                  "gradient flow against depth, every backend (stars: the article)")
        deepest = max(c.depth for c in results.flow_cells)
        doc.image("layer_norms.png",
                  plots.layer_norms([c for c in results.flow_cells if c.dtype == "float64"], deepest),
                  f"per-layer weight-gradient norms, {deepest} layers, float64")
    if results.divergences:
        doc.heading("Training trajectories")
        doc.text("Each backend trains from the same point; divergence is measured against the hand-written "
                 "backward (else the core's tape) at every step.")
        doc.table(named["trajectories"], "trajectories")
        if any(t.case == "xor_mlp" for t in results.trajectories):
            doc.image("xor_loss.png", plots.xor_losses(results.trajectories), "XOR loss curves per backend")
    return named, doc


def _conventions_section(doc, df):
    from . import conventions

    conventions.add_section(doc, df)


def write(results: Results, folder) -> list[Path]:
    """Write every table, plot and the report into ``folder``: all rendered first, then replaced together."""
    named, doc = build(results)
    files = {}
    for name, df in named.items():
        files.update(tables.render_table(name, df, header=tables.versions() if name == "rows" else None))
    files.update(doc.images)
    files.update(_conventions_files(results.conventions))
    files["versions.md"] = tables.markdown_table(tables.versions())
    files["report.md"] = doc.markdown()
    files["report.html"] = doc.html()
    return tables.write_files(folder, files)


def _conventions_files(df):
    from . import conventions

    return conventions.render(df)
