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

import html
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import backends as backend_registry
from . import explorer, flow, guard, matrix, plots, seed, tables, trajectories
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
    """The report as blocks, rendered once as Markdown (report.md) and once as HTML (report.html,
    :mod:`crosscheck.page`). Blocks: ``part`` (a top-level section with an anchor: Findings, Studies, ...),
    ``heading``, ``text`` (`code` spans allowed), ``table``, ``image`` and ``raw`` (HTML for the page, its
    Markdown counterpart for report.md)."""

    blocks: list = field(default_factory=list)
    images: dict = field(default_factory=dict)  # file name -> PNG bytes

    def part(self, title, anchor):
        self.blocks.append(("part", title, anchor))

    def heading(self, text, level=2):
        self.blocks.append(("heading", level, text))

    def text(self, text):
        self.blocks.append(("text", text))

    def table(self, df, link=None, **options):
        """A table; ``link`` names its .csv/.md/.json beside the report. Options (HTML): ``filter`` (a group
        name: a case / backend / dtype / verdict filter above it), ``grid`` (columns are "backend dtype"),
        ``collapse`` ((mask, summary): the rows where mask is true folded into a ``<details>``; report.md
        shows the others and the summary), ``below`` (columns shown as a line under their row, for long
        text), ``classes`` ({column: value -> CSS class}), ``css`` (the table's
        class), ``markdown`` (False: the HTML only; report.md gets a line linking the table)."""
        self.blocks.append(("table", df, link, options))

    def image(self, name, png, caption):
        self.images[name] = png
        self.blocks.append(("image", name, caption))

    def raw(self, html, markdown):
        """A block given as is: ``html`` into report.html, ``markdown`` (plain Markdown) into report.md."""
        self.blocks.append(("raw", html, markdown))

    def markdown(self):
        out = []
        for block in self.blocks:
            kind = block[0]
            if kind == "part":
                out.append(f"## {block[1]}")
            elif kind == "heading":
                out.append("#" * block[1] + " " + block[2])
            elif kind == "text":
                out.append(block[1])
            elif kind == "raw":
                out.append(block[2])
            elif kind == "table":
                _markdown_table(out, *block[1:])
            elif kind == "image":
                out.append(f"![{block[2]}]({block[1]})")
            out.append("")
        return "\n".join(out)

    def html(self):
        from . import page

        return page.render(self.blocks, self.images, plots.VERDICT_COLOURS)


def _markdown_table(out, df, link, options):
    """A table into report.md: its rows (those not collapsed), then a blank line (a line right below a table
    would render as one more row), then the links to its files."""
    instead = options.get("markdown", True)
    if isinstance(instead, tuple):  # another table stands for this one in report.md: (df, link)
        df, link, options = instead[0], instead[1], {}
        instead = True
    if instead:
        collapse = options.get("collapse")
        if collapse is not None:
            mask, summary = collapse
            shown = df[[not m for m in mask]]
            if len(shown):
                out.append(tables.markdown_table(shown).rstrip())
                out.append("")
            if any(mask):
                out.append(f"Not shown here: {summary}" + (f" (in [{link}.csv]({link}.csv))." if link else "."))
        else:
            out.append(tables.markdown_table(df).rstrip())
    elif link:
        out.append(f"{len(df)} rows, not repeated here (report.html has them with a filter).")
    if link:
        if out[-1] != "":
            out.append("")
        out.append(f"Full table: [{link}.csv]({link}.csv) · [.md]({link}.md) · [.json]({link}.json)")


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
    explorer: dict = None  # the interactive figures' data (crosscheck.explorer, issue 18)
    time_flow: list = field(default_factory=list)  # gradient flow through time (crosscheck.flow_time), issue 11
    second_order: tuple = ([], None)  # (XOR curvature rows, depth-20 agreement table): crosscheck.second_order


def compute(cases, backend_names, dtypes, probe="all", progress=None, timeout=guard.DEFAULT_TIMEOUT, jobs=1,
            **reference_options) -> Results:
    """Everything the report shows, computed in memory (nothing is written here). ``timeout`` limits each
    case per dtype, and each training run (see :mod:`crosscheck.guard`). ``jobs`` > 1 spreads the work over
    that many processes (:mod:`crosscheck.parallel`): the same results, in the same order."""
    instances = [backend_registry.get(n) if isinstance(n, str) else n for n in backend_names]

    def applying(case):
        return sum(1 for b in instances if b.applies(case))

    bar = progress or Progress(sum(applying(c) * sum(1 for d in c.dtypes if d in dtypes) for c in cases))
    if jobs > 1:
        from . import parallel

        reason = parallel.why_serial(cases, instances)
        if reason is None:
            return _compute_parallel(cases, instances, dtypes, probe, bar, applying, timeout, jobs,
                                     reference_options)
        parallel.note_serial(reason)
    pairs, conventions = [], []
    rows = runner.run(cases, instances, dtypes, probe=probe, pairs=pairs, conventions=conventions, timeout=timeout,
                      **reference_options,
                      progress=lambda case, dtype: bar.advance(applying(case), f"{case.name} {dtype}"))
    bar.close()
    trajs, divs = [], []
    for case in cases:
        if case.training is not None:
            trained = train_case(case, instances, dtypes, timeout)
            if trained is not None:
                trajs.extend(trained[0])
                divs.extend(trained[1])
    catalogue = {c.name: c for c in cases}
    studied = {name: study(catalogue, instances, dtypes) for name, study in STUDY_UNITS.items()}
    return _results(rows, pairs, conventions, trajs, divs, studied, cases, instances)


def train_case(case, instances, dtypes, timeout, checkpoints=tuple(seed.XOR_EPOCHS)):
    """(trajectories, divergences) of one case's training on every backend that binds its ops, or None when it
    runs past ``timeout`` or exits (its error rows come from the judging run)."""
    runnable = [b for b in instances if not b.unavailable()]
    try:
        with guard.time_limit(timeout, f"training run of case {case.name!r}"):
            return trajectories.compare_trajectories(case, matrix.binding_every_op(runnable, case), dtypes,
                                                     checkpoints=checkpoints)
    except (guard.CaseTimeout, SystemExit):
        return None


def studies(catalogue, instances, dtypes):
    """(gradient-flow cells, the article's tables but the training one, the conventions table)."""
    numeric = backend_registry.get("numeric")
    runnable = [b for b in instances if not b.unavailable()]
    cells = [c for dtype in dtypes for c in flow.gradient_flow(catalogue, runnable, dtype)]
    seed_tables = {
        "seed_chain_rule": seed.chain_rule(catalogue, runnable, numeric),
        "seed_local_gradients": seed.local_gradients(catalogue, runnable, numeric),
        "seed_xor_gradient_check": seed.xor_gradient_check(catalogue, runnable, numeric),
    }
    return cells, seed_tables, _conventions(list(catalogue.values()), runnable)


def explorer_study(catalogue, instances, dtypes):
    runnable = [b for b in instances if not b.unavailable()]
    return _explorer(list(catalogue.values()), catalogue, runnable, backend_registry.get("numeric"), dtypes)


def time_flow_study(catalogue, instances, dtypes):
    """Gradient flow through time (issue 11): when the run holds the recurrent layer cases (not for a user's own
    case folder), float64."""
    runnable = [b for b in instances if not b.unavailable()]
    cases = catalogue.values()
    if "float64" not in dtypes or not any("recurrent" in c.tags for c in cases):
        return []
    return flow_time.gradient_flow_through_time(runnable)


#: the studies beside the judging, each a unit of work of its own under -j: name -> function(catalogue, backends,
#: dtypes), its result going to the Results field of the same name (``studies``: flow cells, seed tables,
#: conventions table)
STUDY_UNITS = {"studies": lambda *a: studies(*a), "explorer": lambda *a: explorer_study(*a),
               "time_flow": lambda *a: time_flow_study(*a), "second_order": lambda *a: second_order_study(*a)}


def second_order_study(catalogue, instances, dtypes):
    """Curvature along the XOR training run and JVP/VJP/HVP agreement at depth 20 (issue 13), float64."""
    from . import second_order

    return second_order.compute(catalogue, [b for b in instances if not b.unavailable()], dtypes,
                                tuple(seed.XOR_EPOCHS))


def _explorer(cases, catalogue, runnable, numeric, dtypes):
    """The interactive figures (issue 18): with the article's cases in the run (a user's folder gets none), float64."""
    if "float64" not in dtypes or not any("seed" in c.tags for c in cases):
        return None
    return explorer.compute(catalogue, runnable, numeric)


def _results(rows, pairs, conventions, trajs, divs, studied, cases, instances):
    (cells, seed_tables, conventions_table), explored, time_flow, second = (studied[k] for k in STUDY_UNITS)
    f64 = [c for c in cells if c.dtype == "float64"]
    seed_tables = {**seed_tables, "seed_xor_training": seed.xor_training(divs, trajs),
                   "seed_gradient_flow": seed.gradient_flow(f64)}
    order = ("seed_chain_rule", "seed_local_gradients", "seed_xor_gradient_check", "seed_xor_training",
             "seed_gradient_flow")
    gradients = [r for r in rows if r.mode == "rev"]  # the conformance matrix is of the ops' gradients
    return Results(rows, pairs, trajs, divs, cells, {k: seed_tables[k] for k in order}, conventions=conventions,
                   conformance=matrix.conformance(cases, gradients, instances), conventions_table=conventions_table,
                   explorer=explored, time_flow=time_flow, second_order=second)


def _compute_parallel(cases, instances, dtypes, probe, bar, applying, timeout, jobs, reference_options):
    """:func:`compute` over worker processes: training runs first (the longest units), then the studies, then
    every (case, dtype) judged; put back together in the serial order."""
    from . import parallel

    options = dict(probe=probe, timeout=timeout, **reference_options)
    trained = [c for c in cases if c.training is not None]
    judged = [(c, d) for c in cases for d in c.dtypes if d in dtypes]
    units = ([("train", ((c.name, c.draw), dtypes, timeout, tuple(seed.XOR_EPOCHS))) for c in trained]
             + [("study", (name, dtypes)) for name in STUDY_UNITS]
             + [("judge", ((c.name, c.draw), d, options)) for c, d in judged])
    first_judged = len(trained) + len(STUDY_UNITS)

    def done(i, result):
        if i >= first_judged:
            case, dtype = judged[i - first_judged]
            bar.advance(applying(case), f"{case.name} {dtype}")

    def lost(i, message):
        if i < first_judged:  # a training run or the studies: left out, as a serial run leaves out a timed-out one
            if i < len(trained):
                return None
            return {"studies": ([], {}, None), "explorer": None, "time_flow": [],
                    "second_order": ([], None)}[list(STUDY_UNITS)[i - len(trained)]]
        case, dtype = judged[i - first_judged]
        return ([runner.Row(case.name, p, b.name, dtype, "error",
                            message=f"case {case.name!r} ({case.location}) in {dtype}: {message}")
                 for b in instances if b.applies(case) for p in case.wrt], [], [])

    results = parallel.run_units(units, cases, instances, jobs, on_done=done, on_lost=lost)
    bar.close()
    rows, pairs, conventions = [], [], []
    for unit_rows, unit_pairs, unit_conventions in results[first_judged:]:
        rows.extend(unit_rows)
        pairs.extend(unit_pairs)
        conventions.extend(unit_conventions)
    trajs, divs = [], []
    for result in results[:len(trained)]:
        if result is not None:
            trajs.extend(result[0])
            divs.extend(result[1])
    studied = dict(zip(STUDY_UNITS, results[len(trained):first_judged]))
    return _results(rows, pairs, conventions, trajs, divs, studied, cases, instances)


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
    """(tables by name, Document) from the results: the findings first, then the studies, then the full
    tables (the order of report.md and report.html alike)."""
    long = tables.frame(results.rows)
    rev = long[long["mode"] != "fwd"]
    rev = rev[rev["mode"] != "hvp"]  # the gradients' rows (and load errors): the grid, heatmap and precision
    named = {
        "rows": long,
        "verdict_counts": verdict_counts(results.rows),
        "summary": tables.summary_pivot(rev) if len(rev) else rev,
        "pairwise": tables.pairwise_table(results.pairs),
        "pairwise_worst": tables.pairwise_worst(results.pairs),
        "discrepancies": tables.discrepancies(long),
        "kink_conventions": tables.conventions_table(results.conventions),
        "precision": tables.precision_table([r for r in results.rows if r.mode == "rev"]),
        "trajectories": trajectory_table(results.divergences),
        "gradient_flow": flow_table(results.flow_cells),
        **results.seed_tables,
    }
    for mode in ("fwd", "hvp"):
        part = long[long["mode"] == mode]
        if len(part):
            named[f"summary_{mode}"] = tables.summary_pivot(part)
            named[f"disagreements_{mode}"] = mode_disagreements(part)
    named = {k: v for k, v in named.items() if len(v.columns)}
    doc = Document()
    doc.heading("crosscheck report", 1)
    counts = tables.summary_line(results.rows)
    doc.text(f"{len({r.case for r in results.rows})} cases, {len(results.rows)} rows: {counts}. Each row is one "
             f"derivative (case, parameter, backend, dtype, mode: the gradient, J·v or H·v) against its float64 "
             f"reference: a complex-step derivative where the case is analytic, else finite differences with their "
             f"own error estimate per element.")
    _findings(doc, results, named)
    studies = Document(images=doc.images)
    for add in STUDIES:
        add(studies, results, named)
    if studies.blocks:  # a user's case folder may have none of them: no empty part
        doc.part("Studies", "studies")
        doc.blocks += studies.blocks
    _mode_sections(doc, results, named)
    if results.explorer:  # issue 18: the interactive figures (crosscheck/explorer.py), right after the studies
        from . import explorer

        doc.part("Interactive figures", "explorer")
        doc.raw(explorer.html(results.explorer), explorer.markdown(results.explorer))
    _full_tables(doc, results, named)
    return named, doc


# ------------------------------------------------------------------ the findings: what a reader came for


def verdict_counts(rows, by_mode=False):
    """Per backend and dtype, how many rows got each verdict (every verdict a column, zeros included); the modes
    summed (the ``mode`` column names them: the findings' one screen), or one line per mode (``by_mode``)."""
    import pandas as pd

    counts, modes = {}, {}
    for r in rows:
        key = (r.backend, r.dtype, r.mode if by_mode else "")
        counts.setdefault(key, dict.fromkeys(VERDICTS, 0))[r.verdict] += 1
        modes.setdefault(key, set()).add(r.mode)
    order = sorted(counts, key=lambda k: (_backend_order(k[0]), _DTYPE_ORDER.get(k[1], 9), k[1],
                                          _MODE_ORDER.get(k[2], 9)))
    return pd.DataFrame([{"backend": b, "dtype": d,
                          "mode": "+".join(sorted(modes[b, d, m], key=lambda x: _MODE_ORDER.get(x, 9))),
                          **counts[b, d, m], "rows": sum(counts[b, d, m].values())}
                         for b, d, m in order], columns=["backend", "dtype", "mode", *VERDICTS, "rows"])


_MODE_ORDER = {"rev": 0, "fwd": 1, "hvp": 2}


def second_order_conventions(rows):
    """(case, backend) → the dtypes and parameters whose H·v row is an expected discrepancy or failing, with the
    reason (the expectation's, else the message)."""
    import pandas as pd

    found = {}
    for r in rows:
        if r.mode != "hvp" or r.verdict not in ("expected-discrepancy", "fail", "nan", "error"):
            continue
        reason = r.note.split(" | ")[0].removeprefix("expected: ") if r.verdict == "expected-discrepancy" else r.message
        rec = found.setdefault((r.case, r.backend), {"params": [], "dtypes": [], "verdict": r.verdict,
                                                     "reason": reason})
        rec["params"] += [r.param] if r.param not in rec["params"] else []
        rec["dtypes"] += [r.dtype] if r.dtype not in rec["dtypes"] else []
    order = sorted(found, key=lambda k: (k[0], _backend_order(k[1])))
    return pd.DataFrame([{"case": c, "backend": b, "param": ", ".join(found[c, b]["params"]),
                          "dtype": ", ".join(found[c, b]["dtypes"]), "mode": "hvp", "verdict": found[c, b]["verdict"],
                          "reason": found[c, b]["reason"]} for c, b in order],
                        columns=["case", "backend", "param", "dtype", "mode", "verdict", "reason"])


def mode_disagreements(part):
    """The (case, param, dtype) of one mode where the backends do not all pass alike: every backend's verdict
    and worst relative error side by side, and the first cause given."""
    import pandas as pd

    out = []
    for (case, param, dtype), group in part.groupby(["case", "param", "dtype"], sort=False):
        verdicts = dict(zip(group["backend"], group["verdict"]))
        if all(v == "pass" for v in verdicts.values()) or len(set(verdicts.values())) == 1 and \
                set(verdicts.values()) <= {"skipped", "kink"}:
            continue
        cause = next((m or n for m, n, v in zip(group["message"], group["note"], group["verdict"])
                      if v != "pass" and (m or n)), "")
        out.append({"case": case, "param": param, "dtype": dtype, "mode": group["mode"].iloc[0],
                    **{b: f"{v} ({r})" if r else v for b, v, r in zip(group["backend"], group["verdict"],
                                                                   group["max_rel"])},
                    "cause": cause})
    backends = sorted({b for row in out for b in row if b not in ("case", "param", "dtype", "mode", "cause")},
                      key=_backend_order)
    return pd.DataFrame(out, columns=["case", "param", "dtype", "mode", *backends, "cause"])


_DTYPE_ORDER = {"float64": 0, "float32": 1}


def _nonzero(verdict):
    return lambda value: f"v-{verdict}" if value not in ("0", "") else "zero"


def _legend_chips(verdicts):
    chips = "".join(f'<span class="chip v-{v}" title="{html.escape(VERDICT_MEANINGS.get(v, ""))}">{v}</span>'
                    for v in verdicts)
    return (f'<p class="legend">Verdict colours (hover for the meaning; the legend is above the verdict grid, '
            f'<a href="#legend">Full tables</a>): {chips}</p>')


def _findings(doc, results, named):
    from . import conventions

    doc.part("Findings", "findings")
    if "verdict_counts" in named and len(named["verdict_counts"]):
        doc.heading("Verdicts per backend and dtype", 3)
        doc.text("The three modes summed (gradients, J·v, H·v: the mode column names those a backend computes); "
                 "per mode in the parts Forward mode and Second order below.")
        doc.table(named["verdict_counts"], "verdict_counts", css="counts",
                  classes={v: _nonzero(v) for v in VERDICTS})
        doc.raw(_legend_chips(VERDICTS), "What each verdict means: the legend above the verdict grid (Full tables).")
    conventions.add_section(doc, results.conventions_table, level=3)
    second = second_order_conventions(results.rows)
    if len(second):
        named["second_order_conventions"] = second
        doc.heading("Where second order disagrees with the mathematics (H·v)", 3)
        doc.text("The H·v rows (double backward, forward over reverse, nested tapes) that are not a pass on their "
                 "backend while the mathematics has an answer: each declared with its reason, found by the hvp "
                 "rows (every first derivative of these cases passes or is declared in the table above).")
        doc.table(second, "second_order_conventions", below=["reason"])
    ranking = precision_ranking(named.get("precision"), "float32")
    if ranking is not None and len(ranking):
        doc.heading("Precision ranking in float32", 3)
        doc.text("Backends in float32 against the float64 reference, most precise first: the median and worst "
                 "error of a row in units in the last place of float32, and how often the backend was the most "
                 "precise on the same (case, parameter). Every dtype in the precision table (Full tables).")
        doc.table(ranking, "precision")
    failing = [r for r in results.rows if r.verdict in runner.FAILING]
    doc.heading("Failures", 3)
    if not failing:
        doc.text("None: no gradient outside its tolerance, no NaN where a number belongs, no error.")
    else:
        import pandas as pd

        doc.text(f"{len(failing)} rows fail the run (verdict {', '.join(sorted(runner.FAILING))}), each with its "
                 f"message:")
        doc.table(pd.DataFrame([{"case": r.case, "param": r.param, "backend": r.backend, "dtype": r.dtype,
                                 "mode": r.mode, "verdict": r.verdict, "message": r.message or r.note} for r in failing]),
                  "discrepancies", below=["message"])
    parted = [d for d in results.divergences if d.predictions_agree is False or d.error]
    if parted:
        doc.heading("Training runs that part ways", 3)
        doc.text(f"{len(parted)} training runs end with predictions other than the hand-written backward's (or "
                 f"stop on an error): every gradient may pass its check and the runs still differ. The full "
                 f"table is under Training trajectories (Studies).")
        keep = [(d.case, d.backend, d.dtype) for d in parted]
        df = named["trajectories"]
        doc.table(df[[k in keep for k in zip(df["case"], df["backend"], df["dtype"])]].reset_index(drop=True),
                  "trajectories", classes={"predictions agree": lambda v: v.lower() if v else None})


def precision_ranking(precision, dtype):
    """The precision table's rows for ``dtype``, ranked by median then worst ulps (a rank column first)."""
    if precision is None or not len(precision):
        return None
    rows = precision[precision["dtype"] == dtype].copy()
    key = [(float(m or "inf"), float(w or "inf")) for m, w in zip(rows["median ulps"], rows["worst ulps"])]
    rows = rows.assign(_key=key).sort_values("_key", kind="stable").drop(columns="_key")
    rows.insert(0, "rank", [str(i + 1) for i in range(len(rows))])
    return rows.reset_index(drop=True)


# ------------------------------------------------------------------ the studies: one function each


def _article_study(doc, results, named):
    seed_names = (("seed_chain_rule", "Chain rule"), ("seed_local_gradients", "Local gradients"),
                  ("seed_xor_gradient_check", "XOR: gradient check of W1"),
                  ("seed_xor_training", "XOR: training, lr = 1.0, 2000 epochs"),
                  ("seed_gradient_flow", "Gradient flow: mean |dL/dx| at the input"))
    present = [(name, title) for name, title in seed_names if name in named and len(named[name])]
    if not present:  # a user's case folder reproduces none of them: no empty heading
        return
    doc.heading("The article's tables, reproduced", 3)
    for name, title in present:
        doc.heading(title, 4)
        doc.table(named[name], name)


def _gradient_flow_study(doc, results, named):
    if not results.flow_cells:
        return
    doc.heading("Gradient flow in depth", 3)
    doc.image("gradient_flow.png", plots.gradient_flow(results.flow_cells, seed.GRADIENT_FLOW),
              "gradient flow against depth, every backend (stars: the article)")
    deepest = max(c.depth for c in results.flow_cells)
    doc.image("layer_norms.png",
              plots.layer_norms([c for c in results.flow_cells if c.dtype == "float64"], deepest),
              f"per-layer weight-gradient norms, {deepest} layers, float64")
    df = named["gradient_flow"]
    doc.table(df, "gradient_flow", collapse=([True] * len(df), f"every stack, backend and dtype ({len(df)} rows)"))


def _trajectories_study(doc, results, named):
    if not results.divergences:
        return
    doc.heading("Training trajectories", 3)
    doc.text("Each backend trains from the same point; divergence is measured against the hand-written "
             "backward (else the core's tape) at every step.")
    doc.table(named["trajectories"], "trajectories")
    if any(t.case == "xor_mlp" for t in results.trajectories):
        doc.image("xor_loss.png", plots.xor_losses(results.trajectories), "XOR loss curves per backend")


def _time_flow_study(doc, results, named):
    """Gradient flow through time (issue 11): the recurrent layers' vanishing gradient, in time."""
    if not results.time_flow:
        return
    doc.heading("Gradient flow through time", 3)
    doc.text("mean |dL/dx₁| at the first input step when the loss reads the last hidden state h_T (cotangent "
             "of ones), for the tanh RNN, the LSTM and the GRU unrolled over T steps (float64; same weights "
             "for every T): the vanishing gradient of the deep stacks, in time.")
    named["gradient_flow_through_time"] = flow_time.table(results.time_flow)
    doc.table(named["gradient_flow_through_time"], "gradient_flow_through_time")
    doc.image("gradient_flow_through_time.png", flow_time.plot(results.time_flow),
              "mean |dL/dx₁| against T, every backend")


#: the studies part, in order: each adds its heading (level 3) and blocks, or nothing when the run has no data
#: for it. A new study is a function (doc, results, named) appended here.
def _second_order_study(doc, results, named):
    """Issue 13: curvature along the XOR run, and JVP/VJP/HVP agreement at depth 20."""
    from . import second_order

    curvature, depth = results.second_order
    if curvature:
        doc.heading("Curvature along the XOR training run", 3)
        doc.text("Gradient descent at learning rate lr is stable along a direction only while lr < 2/λ, λ the "
                 "loss's curvature there (the article trains its XOR MLP at lr = 1.0). At checkpoints of the core's "
                 "float64 run: the largest curvature λ_max by power iteration on the core's H·v, then every "
                 "backend's own H·v along that top direction: its vᵀHv, and its H·v's largest difference from the "
                 "core's, relative to the core's largest element.")
        named["xor_curvature"] = second_order.xor_curvature_table(curvature)
        doc.table(named["xor_curvature"], "xor_curvature")
    if depth is not None and len(depth):
        doc.heading("Forward, reverse and second order at depth 20", 3)
        doc.text("On the depth-20 stacks (float64): each backend's J·v (seeded ±1 tangent of the input x), its "
                 "gradient of x (Jᵀu, u = ones) and its H·v (a seeded ±1 tangent over every input), each against "
                 "the core's (largest difference ÷ the core's largest element); the transpose identity's residual "
                 "|⟨u, J·v⟩ − ⟨Jᵀu, v⟩| ÷ (|⟨u, J·v⟩| + |⟨Jᵀu, v⟩|) within the backend; and, where a backend "
                 "has two ways to H·v (torch: double backward and torch.func forward over reverse), how far apart "
                 "they are.")
        named["depth20_modes"] = depth
        doc.table(depth, "depth20_modes")


STUDIES = [_article_study, _gradient_flow_study, _time_flow_study, _trajectories_study, _second_order_study]


# ------------------------------------------------------------------ forward mode and second order (issue 13)


_MODE_TEXT = {
    "fwd": ("Forward mode: J·v", "Each row is J·v, the derivative of a case's output along a seeded ±1 tangent in one "
            "input (the other inputs held), computed by each backend's own forward mode (the core's forward-mode "
            "rules, torch.func.jvp, jax.jvp, tf.autodiff.ForwardAccumulator), against the derivative of the float64 "
            "output along the tangent: complex step where the case is analytic, else finite differences with their "
            "own error estimate, per output element. Beside it the transpose identity ⟨u, J·v⟩ = ⟨Jᵀu, v⟩ between "
            "the backend's J·v and its own gradient: a backend whose gradient passes and whose identity fails has a "
            "forward mode at odds with its reverse mode, and its row fails."),
    "hvp": ("Second order: H·v", "Each row is one input's block of H·v, the Hessian of the case's scalar objective "
            "times a seeded ±1 tangent over all its inputs, computed by each backend's own second order (the core: "
            "reverse over its forward-mode rules; torch: double backward; jax: jax.jvp of jax.grad; TensorFlow: "
            "nested tapes), against the derivative of the core's float64 gradient along the tangent, by finite "
            "differences with their own error estimate. Where the gradient has a kink or a jump along the tangent "
            "(relu and friends: a second derivative that is a distribution) the row is kink or unjudged, with the "
            "reason."),
}


def _mode_sections(doc, results, named):
    """A part per mode beyond the gradients: what its rows compare, verdict counts, the cases that do not
    plainly pass, and where the backends part ways."""
    for mode, (title, text) in _MODE_TEXT.items():
        if f"summary_{mode}" not in named:
            continue
        doc.part(title, f"mode-{mode}")
        doc.text(text)
        doc.table(verdict_counts([r for r in results.rows if r.mode == mode], by_mode=True), css="counts",
                  classes={v: _nonzero(v) for v in VERDICTS})
        grid = named[f"summary_{mode}"]
        passing = [all(v in ("pass", "skipped", "") for v in values[1:]) for values in grid.itertuples(index=False)]
        doc.heading(f"Verdict grid ({mode}): case × backend and dtype", 3)
        doc.text(f"Shown: the {len(passing) - sum(passing)} cases where some backend does not plainly pass; folded: "
                 f"the {sum(passing)} where every backend that runs the case in this mode passes.")
        doc.table(grid, f"summary_{mode}", grid=True,
                  collapse=(passing, f"{sum(passing)} cases where every backend passes"))
        disagreements = named.get(f"disagreements_{mode}")
        if disagreements is not None and len(disagreements):
            doc.heading(f"Where the backends do not agree ({mode})", 3)
            doc.text("Per case, input and dtype where the backends' verdicts in this mode differ (or are not a "
                     "pass): each backend's verdict with its worst relative error, and the first cause given.")
            doc.table(disagreements, f"disagreements_{mode}", below=["cause"])


# ------------------------------------------------------------------ the full tables


def _full_tables(doc, results, named):
    long = named["rows"]
    doc.part("Full tables", "tables")
    if len(long):
        grid = named["summary"]
        passing = [all(v in ("pass", "skipped", "") for v in values[1:]) for values in grid.itertuples(index=False)]
        doc.heading("Verdict grid: case × backend and dtype", 3)
        doc.raw('<p id="legend">What the verdicts mean:</p>', "What the verdicts mean:")
        doc.table(verdict_legend(VERDICTS), classes={"verdict": lambda v: f"v-{v}"})
        doc.text(f"The worst verdict of each case on each backend and dtype. Shown: the {len(passing) - sum(passing)} "
                 f"cases where some backend does not plainly pass; folded: the {sum(passing)} where every backend "
                 f"that runs the case passes.")
        doc.table(grid, "summary", filter="grid", grid=True,
                  collapse=(passing, f"{sum(passing)} cases where every backend that runs them passes"))
        doc.heading("Errors at a glance", 3)
        doc.image("error_heatmap.png", plots.error_heatmap(long[long["mode"] == "rev"]),
                  "worst error ÷ tolerance per case and backend (gradients)")
        doc.heading("Every row", 3)
        doc.text("One row per gradient (case, parameter, backend, dtype): the worst absolute and relative error, "
                 "the error in ulps and the cause of any verdict but a pass. report.md lists the rows that are not "
                 "a pass.")
        compact = long[["case", "param", "backend", "dtype", "mode", "verdict", "max_abs", "max_rel", "ulps"]].assign(
            cause=[m or n for m, n in zip(long["message"], long["note"])])
        doc.table(compact, "rows", filter="rows", markdown=(named["discrepancies"], "discrepancies"),
                  collapse=([True] * len(compact), f"all {len(compact)} rows (the filter above applies)"))
    if "pairwise_worst" in named:
        doc.heading("Backends against each other", 3)
        doc.text("Worst relative difference between two backends' gradients over the cases where both pass every "
                 "row (|a - b| / max(|a|, |b|), element-wise); every case, kinks included, in pairwise.csv.")
        doc.table(named["pairwise_worst"], "pairwise")
    if len(named["precision"]):
        doc.heading("Precision below the tolerance", 3)
        doc.text("Each row's worst error in units in the last place of its dtype, at the reference (elements "
                 "below eps·max|reference| left out), and how often a backend was the most precise of the backends "
                 "on the same (case, parameter, dtype): differences a pass does not show.")
        doc.table(named["precision"], "precision")
    if len(named["kink_conventions"]):
        doc.heading("Kink conventions: different valid subgradients", 3)
        doc.text("At these kinks the backends return different values, each between the left and right "
                 "derivatives (so each row stays `kink`): the conventions differ, the mathematics allows both.")
        doc.table(named["kink_conventions"], "kink_conventions")
    bindings = binding_table(sorted({r.backend for r in results.rows}, key=_backend_order))
    if len(bindings):
        doc.heading("How each framework computes an op", 3)
        doc.text("Ops a framework has no single native function for, and the composition used instead "
                 "(every other op is the framework's own function); a row's note names those its case used.")
        doc.table(bindings)
    _add_conformance(doc, results)
    doc.heading("Versions", 3)
    doc.table(tables.versions())
    _files_line(doc, "versions.md")


def _add_conformance(doc, results):
    """The conformance matrix's section of the report (its own files: :func:`_conformance_files`)."""
    if results.conformance is None:
        return
    doc.heading("Conformance matrix: ops × backends", 3)
    doc.text("A cell sums up the cases that call the op on that backend: pass, kink convention (a valid "
             "subgradient where the op has no derivative), expected, fail, missing (not bound), untested (its "
             "cases need a missing op), skipped (not installed). Also in conformance.md and conformance.csv.")
    doc.table(results.conformance[1])
    doc.table(results.conformance[0])
    _files_line(doc, "conformance.csv", "conformance.md")


def _files_line(doc, *names):
    """A table's files beside the report, for a table whose files are not the usual .csv/.md/.json."""
    doc.raw('<p class="links">Full table: ' + " · ".join(f'<a href="{n}">{n}</a>' for n in names) + "</p>",
            "Full table: " + " · ".join(f"[{n}]({n})" for n in names))


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
