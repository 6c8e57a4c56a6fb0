"""``crosscheck report``: run the catalogue and write everything a person reads into ``results/``.

Everything is computed and rendered first, in memory; the new folder is then
built in full beside the old one and swapped in (:mod:`crosscheck.folder`).
A report that is interrupted (Ctrl-C, a killed process) at any moment
therefore leaves the previous ``results/`` or the new one, never a mix.

Files: the tables (``rows``, ``summary``, ``pairwise``, ``pairwise_worst``,
``discrepancies``, ``trajectories``, ``gradient_flow`` and the article's
``seed_*`` tables, each as .csv, .md and .json), ``versions.md``, the plots
(``*.png``), ``report.md`` (linking them) and a self-contained
``report.html`` (images embedded).
"""

from __future__ import annotations

import base64
import html
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import backends as backend_registry
from . import flow, guard, matrix, plots, seed, tables, trajectories
from . import flow_time  # issue 11: gradient flow through time
from . import runner
from .compare import VERDICTS


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
                if block[2]:  # a blank line first: a line right below a table would render as one more row
                    out.append("")
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
                 "img{max-width:100%}code{background:#f4f4f4}p.links{font-size:13px;margin-top:0}"
                 + "".join(f".v-{v}{{background:{c}}}" for v, c in plots.VERDICT_COLOURS.items())
                 + "</style></head><body>"]
        for block in self.blocks:
            kind = block[0]
            if kind == "heading":
                parts.append(f"<h{block[1]}>{html.escape(block[2])}</h{block[1]}>")
            elif kind == "text":
                parts.append(f"<p>{html.escape(block[1])}</p>")
            elif kind == "table":
                parts.append(_verdict_classes(block[1].to_html(index=False, escape=True, border=0)))
                if block[2]:
                    name = html.escape(block[2])
                    parts.append(f'<p class="links">Full table: <a href="{name}.csv">{name}.csv</a> · '
                                 f'<a href="{name}.md">.md</a> · <a href="{name}.json">.json</a></p>')
            elif kind == "image":
                data = base64.b64encode(self.images[block[1]]).decode()
                parts.append(f'<figure><img alt="{html.escape(block[2])}" src="data:image/png;base64,{data}">'
                             f"<figcaption>{html.escape(block[2])}</figcaption></figure>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"


def _verdict_classes(table_html):
    """Each cell that holds just a verdict gets the verdict's class (its colour)."""
    return re.sub(r"<td>([a-z-]+)</td>",
                  lambda m: f'<td class="v-{m.group(1)}">{m.group(1)}</td>'
                  if m.group(1) in plots.VERDICT_COLOURS else m.group(0), table_html)


#: what each verdict means, for the report's legend (the README's table, shortened)
VERDICT_MEANINGS = {
    "pass": "every element within atol + rtol·|reference|",
    "fail": "some element outside the tolerance; the row's cause names the worst element",
    "kink": "no derivative at the point (left and right derivatives differ); the backend gave a subgradient",
    "expected-discrepancy": "a disagreement the case declares, with its reason",
    "nan": "the gradient or the forward value is NaN or inf where it should not be",
    "error": "something raised (or the case ran past its time limit); the cause keeps the case's file:line",
    "skipped": "the backend cannot run here (framework not installed)",
    "unjudged": "the reference cannot tell: its own error is larger than the tolerance there, or it is not finite "
                "(a domain edge, an infinite derivative); the message says where and why",
}


def verdict_legend(verdicts):
    import pandas as pd

    return pd.DataFrame([{"verdict": v, "meaning": VERDICT_MEANINGS.get(v, ""),
                          "fails the run": "yes" if v in runner.FAILING else "no"} for v in verdicts])


def binding_table(backend_names):
    """op × backend: how each framework computes the ops it has no single native function for."""
    import pandas as pd

    notes = {}
    for name in backend_names:
        try:
            vocabulary = getattr(backend_registry.get(name), "vocabulary", None)
        except ValueError:
            continue
        for op, how in sorted(getattr(vocabulary, "bindings", {}).items()):
            notes.setdefault(op, {})[name] = how
    columns = [n for n in backend_names if any(n in v for v in notes.values())]
    return pd.DataFrame([{"op": op, **{n: how.get(n, "native") for n in columns}} for op, how in sorted(notes.items())])


# ------------------------------------------------------------------ computing


@dataclass
class Results:
    rows: list
    pairs: list
    trajectories: list
    divergences: list
    flow_cells: list
    seed_tables: dict
    conventions: list = field(default_factory=list)  # kink conventions: compare.Convention records
    conformance: tuple = None  # (matrix, counts) DataFrames: ops × backends (crosscheck.matrix)
    conventions_table: object = None  # the special points' conventions table (crosscheck.conventions)
    time_flow: list = field(default_factory=list)  # gradient flow through time (crosscheck.flow_time), issue 11


def compute(cases, backend_names, dtypes, probe="all", progress=None, timeout=guard.DEFAULT_TIMEOUT,
            **reference_options) -> Results:
    """Everything the report shows, computed in memory (nothing is written here). ``timeout`` limits each
    case per dtype, and each training run (see :mod:`crosscheck.guard`)."""
    numeric = backend_registry.get("numeric")
    instances = [backend_registry.get(n) if isinstance(n, str) else n for n in backend_names]

    def applying(case):
        return sum(1 for b in instances if b.applies(case))

    bar = progress or Progress(sum(applying(c) * sum(1 for d in c.dtypes if d in dtypes) for c in cases))
    pairs, conventions = [], []
    rows = runner.run(cases, instances, dtypes, probe=probe, pairs=pairs, conventions=conventions, timeout=timeout,
                      **reference_options,
                      progress=lambda case, dtype: bar.advance(applying(case), f"{case.name} {dtype}"))
    bar.close()
    runnable = [b for b in instances if not b.unavailable()]
    trajs, divs = [], []
    for case in cases:
        if case.training is not None:
            try:  # a case that hangs or exits already has its error rows from the run above
                with guard.time_limit(timeout, f"training run of case {case.name!r}"):
                    t, d = trajectories.compare_trajectories(case, matrix.binding_every_op(runnable, case), dtypes,
                                                             checkpoints=tuple(seed.XOR_EPOCHS))
            except (guard.CaseTimeout, SystemExit):
                continue
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
    # the study runs when the run holds the recurrent layer cases (not for a user's own case folder)
    time_flow = (flow_time.gradient_flow_through_time(runnable) if "float64" in dtypes
                 and any("recurrent" in c.tags for c in cases) else [])
    return Results(rows, pairs, trajs, divs, cells, seed_tables, conventions=conventions,
                   conformance=matrix.conformance(cases, rows, instances),
                   conventions_table=_conventions(cases, runnable),
                   time_flow=time_flow)


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
        "kink_conventions": tables.conventions_table(results.conventions),
        "precision": tables.precision_table(results.rows),
        "trajectories": trajectory_table(results.divergences),
        "gradient_flow": flow_table(results.flow_cells),
        **results.seed_tables,
    }
    named = {k: v for k, v in named.items() if len(v.columns)}
    doc = Document()
    doc.heading("crosscheck report", 1)
    counts = tables.summary_line(results.rows)
    doc.text(f"{len({r.case for r in results.rows})} cases, {len(results.rows)} rows: {counts}. Each row is one "
             f"gradient (case, parameter, backend, dtype) against the float64 reference: a complex-step derivative "
             f"where the case is analytic, else finite differences with their own error estimate per element.")
    doc.table(tables.versions())
    _conventions_section(doc, results.conventions_table)
    doc.heading("Verdicts")
    doc.table(named["summary"], "summary")
    doc.text("What the verdicts mean:")
    doc.table(verdict_legend(VERDICTS))
    doc.heading("Rows that are not a pass")
    doc.table(named["discrepancies"], "discrepancies")
    if len(named["kink_conventions"]):
        doc.heading("Kink conventions: different valid subgradients")
        doc.text("At these kinks the backends return different values, each between the left and right "
                 "derivatives (so each row stays `kink`): the conventions differ, the mathematics allows both.")
        doc.table(named["kink_conventions"], "kink_conventions")
    doc.heading("Errors at a glance")
    if len(long):
        doc.image("error_heatmap.png", plots.error_heatmap(long), "worst error ÷ tolerance per case and backend")
    if "pairwise_worst" in named:
        doc.heading("Backends against each other")
        doc.text("Worst relative difference between two backends' gradients over the cases where both pass every "
                 "row (|a - b| / max(|a|, |b|), element-wise); every case, kinks included, in pairwise.csv.")
        doc.table(named["pairwise_worst"], "pairwise")
    if len(named["precision"]):
        doc.heading("Precision below the tolerance")
        doc.text("Each row's worst error in units in the last place of its dtype, at the reference (elements "
                 "below eps·max|reference| left out), and how often a backend was the most precise of the backends "
                 "on the same (case, parameter, dtype): differences a pass does not show.")
        doc.table(named["precision"], "precision")
    bindings = binding_table(sorted({r.backend for r in results.rows}, key=_backend_order))
    if len(bindings):
        doc.heading("How each framework computes an op")
        doc.text("Ops a framework has no single native function for, and the composition used instead "
                 "(every other op is the framework's own function); a row's note names those its case used.")
        doc.table(bindings)
    seed_names = (("seed_chain_rule", "Chain rule"), ("seed_local_gradients", "Local gradients"),
                  ("seed_xor_gradient_check", "XOR: gradient check of W1"),
                  ("seed_xor_training", "XOR: training, lr = 1.0, 2000 epochs"),
                  ("seed_gradient_flow", "Gradient flow: mean |dL/dx| at the input"))
    present = [(name, title) for name, title in seed_names if name in named and len(named[name])]
    if present:  # a user's case folder reproduces none of them: no empty heading
        doc.heading("The article's figures, reproduced")
    for name, title in present:
        doc.heading(title, 3)
        doc.table(named[name], name)
    if results.flow_cells:
        doc.image("gradient_flow.png", plots.gradient_flow(results.flow_cells, seed.GRADIENT_FLOW),
                  "gradient flow against depth, every backend (stars: the article)")
        deepest = max(c.depth for c in results.flow_cells)
        doc.image("layer_norms.png",
                  plots.layer_norms([c for c in results.flow_cells if c.dtype == "float64"], deepest),
                  f"per-layer weight-gradient norms, {deepest} layers, float64")
    if results.time_flow:  # --- gradient flow through time (issue 11)
        doc.heading("Gradient flow through time")
        doc.text("mean |dL/dx₁| at the first input step when the loss reads the last hidden state h_T (cotangent "
                 "of ones), for the tanh RNN, the LSTM and the GRU unrolled over T steps (float64; same weights "
                 "for every T): the vanishing gradient of the deep stacks, in time.")
        named["gradient_flow_through_time"] = flow_time.table(results.time_flow)
        doc.table(named["gradient_flow_through_time"], "gradient_flow_through_time")
        doc.image("gradient_flow_through_time.png", flow_time.plot(results.time_flow),
                  "mean |dL/dx₁| against T, every backend")
    _add_conformance(doc, results)
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


def _add_conformance(doc, results):
    """The conformance matrix's section of the report (its own files: :func:`_conformance_files`)."""
    if results.conformance is None:
        return
    doc.heading("Conformance matrix: ops × backends")
    doc.text("A cell sums up the cases that call the op on that backend: pass, kink convention (a valid "
             "subgradient where the op has no derivative), expected, fail, missing (not bound), untested (its "
             "cases need a missing op), skipped (not installed). Also in conformance.md and conformance.csv.")
    doc.table(results.conformance[1])
    doc.table(results.conformance[0])


def _conformance_files(results):
    """conformance.md (matrix and counts per backend) and conformance.csv (the matrix)."""
    if results.conformance is None:
        return {}
    table, counts = results.conformance
    return {"conformance.md": matrix.markdown(table, counts),
            "conformance.csv": table.to_csv(index=False, lineterminator="\n")}


def _backend_order(name):
    return (tables.BACKEND_ORDER.index(name) if name in tables.BACKEND_ORDER else 9, name)


def write(results: Results, folder, force=False) -> list[Path]:
    """Write every table, plot and the report into ``folder``: all rendered first, then the folder's
    report files replaced together (see :mod:`crosscheck.folder`)."""
    from . import folder as results_folder

    return results_folder.write(folder, render(results), "report", force=force)


def render(results: Results) -> dict:
    """{file name: str or bytes}: every table, plot, report.md and report.html."""
    named, doc = build(results)
    files = {}
    for name, df in named.items():
        files.update(tables.render_table(name, df, header=tables.versions() if name == "rows" else None))
    files.update(doc.images)
    files.update(_conformance_files(results))
    files.update(_conventions_files(results.conventions_table))
    files["versions.md"] = tables.markdown_table(tables.versions())
    files["report.md"] = doc.markdown()
    files["report.html"] = doc.html()
    return files


def _conventions_files(df):
    from . import conventions

    return conventions.render(df)
