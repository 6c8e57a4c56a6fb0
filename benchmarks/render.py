"""The measurements → results/benchmarks.md: one table per item, the targets, and why any target was missed.

The layout is fixed (the same sections, rows and columns on every run); only the numbers vary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from crosscheck.tables import markdown_table, versions
from .timing import mebibytes, ratio, seconds

MIB = 2**20


def cell(timing):
    """``490 ms (7)``: the median and how many calls it is the median of."""
    if timing is None:
        return "–"
    if timing.capped:
        return str(timing)
    return f"{timing} ({len(timing.times)})"


# ------------------------------------------------------------------------------------------------ targets


@dataclass
class Target:
    group: str  # which note explains a miss
    text: str
    limit: float
    sense: str  # "≤" or "≥": how the measured ratio must compare with the limit
    measured: float | None = None  # None: not measured in this mode
    estimate: float | None = None  # when ``measured`` is only a bound (a capped gradcheck): the extrapolation
    unit: str = "×"
    shown_as: str | None = None  # what the measured column shows, where not a number
    replaced_by: str | None = None  # an earlier target that issue 15 replaced: by which (still measured, shown apart)

    def met(self):
        value = self.measured
        if value is None:
            return None
        if self.estimate is not None and not self._meets(value):
            value = self.estimate
        return self._meets(value)

    def _meets(self, v):
        return v <= self.limit if self.sense == "≤" else v >= self.limit

    def shown(self):
        if self.measured is None:
            return "not measured (--quick)"
        if self.shown_as is not None:
            return self.shown_as
        fmt = {"×": ratio, "ms": lambda v: f"{v:.3g} ms"}.get(self.unit, lambda v: mebibytes(v * MIB))
        if self.estimate is not None:
            return f"> {fmt(self.measured)} (≈ {fmt(self.estimate)} extrapolated)"
        return fmt(self.measured)

    def verdict(self):
        met = self.met()
        if met is None:
            return "–"
        if self.limit == 0:
            return "met" if met else "**missed**"
        value = self.measured if self.estimate is None or self._meets(self.measured) else self.estimate
        by = value / self.limit if self.sense == "≤" else self.limit / value
        how = " (extrapolated)" if value is self.estimate and self.estimate is not None else ""
        if met:
            return f"met, {1 / by:.3g}× to spare{how}" if by > 0 else "met"
        return f"**missed by {by:.3g}×**{how}"


def _power(n):
    """10⁴ for 10000."""
    return "10" + str(len(str(n)) - 1).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _size(checks, target):
    return next((s for s in checks if s.target == target), None)


def targets(e2e, checks, layers, selection=()):
    out = []
    floor, report = e2e["floor"].timing.median, e2e["report"].timing.median
    out.append(Target("report", "default `crosscheck report` wall time ÷ import floor of torch + jax", 5, "≤",
                      None if selection else report / floor,
                      replaced_by="`crosscheck report -j 2` ÷ the import floor of every installed framework, "
                                  "warm ≤ 4×, cold ≤ 10× (section 5)"))
    for target, need in ((10**4, 8), (10**5, 5)):
        size = _size(checks, target)
        for b in ("core", "torch", "jax"):
            t = Target("full", f"P = {_power(target)}: gradcheck(fast_mode=False) ÷ crosscheck full "
                               f"element-wise check, {b}", need, "≥")
            if size is not None and "gradcheck full" in size.timings:
                gc, ours = size.timings["gradcheck full"], size.timings[f"central {b}"].median
                t.measured = gc.bound / ours
                if gc.capped and gc.estimate:
                    t.estimate = gc.estimate / ours
            out.append(t)
    size = _size(checks, 10**5)
    for b in ("core", "torch", "jax"):
        t = Target("directional", f"P = 10⁵: crosscheck directional (16 directions) ÷ gradcheck(fast_mode=True), {b}",
                   2, "≤", replaced_by="the directional check at gradcheck's detection power ≤ 1× (section 6)")
        if size is not None:
            t.measured = size.timings[f"dir16 {b}"].median / size.timings["gradcheck fast"].median
        out.append(t)
    by = {(layer.width, layer.dtype): layer for layer in layers}
    for dtype in ("float32", "float64"):
        for width in (16, 256, 1024, 4096):
            t = Target("layers torch", f"forward + backward, width {width}, {dtype}: core ÷ torch eager", 1, "≤")
            if (width, dtype) in by:
                tm = by[(width, dtype)].timings
                t.measured = tm["core tape"].median / tm["torch eager"].median
            out.append(t)
    for dtype in ("float32", "float64"):
        for width in (1024, 4096):
            t = Target("layers jax", f"forward + backward, width {width}, {dtype}: core ÷ jax jit", 1.2, "≤")
            if (width, dtype) in by:
                tm = by[(width, dtype)].timings
                t.measured = tm["core tape"].median / tm["jax jit"].median
            out.append(t)
    numpy_only = e2e["numpy_only"]
    out.append(Target("memory", "peak memory of a numpy-only run (`crosscheck run --backend core --backend "
                                "handwritten`)", 100, "≤", max(numpy_only.max_rss) / MIB, unit="MiB"))
    frameworks = [m for m in ("torch", "jax") if m in (numpy_only.imported or [])]
    out.append(Target("imports", "a numpy-only run imports neither torch nor jax", 0, "≤", len(frameworks),
                      unit="frameworks", shown_as=", ".join(frameworks) or "neither imported"))
    return out


def targets_table(ts):
    df = pd.DataFrame([[t.text, "none" if t.unit == "frameworks" else f"{t.sense} {t.limit:g} {t.unit}", t.shown(),
                        t.verdict()] for t in ts],
                      columns=["target", "limit", "measured", "verdict"])
    return markdown_table(df)


# ------------------------------------------------------------------------------------------------ the items


def item1(e2e, selection):
    floor = e2e["floor"].timing.median
    rows = []
    for cmd in (e2e["floor"], e2e["report"], *e2e["extra"]):
        rows.append([f"`{cmd.label}`", len(cmd.timing.times), seconds(cmd.timing.median),
                     seconds(min(cmd.timing.times)), ratio(cmd.timing.median / floor), mebibytes(max(cmd.max_rss)),
                     " ".join(str(c) for c in sorted(set(cmd.returncodes)))])
    df = pd.DataFrame(rows, columns=["command", "runs", "median", "fastest", "÷ floor", "peak memory", "exit"])
    lines = [markdown_table(df)]
    if selection:
        lines.append(f"\n(--quick: the report runs on `{' '.join(selection)}` only, not the default catalogue.)\n")
    return "\n".join(lines)


def item2_full(checks):
    rows = []
    for s in checks:
        t = s.timings
        gc = t.get("gradcheck full")
        speedups = " / ".join(_speedup(gc, t[f"central {b}"]) for b in ("core", "torch", "jax"))
        rows.append([s.count, s.hidden, cell(t["central core"]), cell(t["central torch"]), cell(t["central jax"]),
                     cell(gc) if gc else "not run (--quick)", cell(t.get("numpy loop")), speedups])
    df = pd.DataFrame(rows, columns=["P", "H", "crosscheck core", "crosscheck torch", "crosscheck jax",
                                     "gradcheck(fast_mode=False)", "numpy, one element at a time",
                                     "gradcheck ÷ crosscheck (core / torch / jax)"])
    return markdown_table(df)


def _speedup(gc, ours):
    if gc is None:
        return "–"
    if gc.capped:
        est = f" (≈ {gc.estimate / ours.median:.3g}×)" if gc.estimate else ""
        return f"> {gc.cap / ours.median:.3g}×{est}"
    return ratio(gc.median / ours.median)


def item2_directional(checks):
    rows = []
    for s in checks:
        t = s.timings
        fast = t["gradcheck fast"].median
        rows.append([s.count, s.hidden,
                     *(cell(t[f"dir16 {b}"]) for b in ("core", "torch", "jax")),
                     *(cell(t[f"dir1 {b}"]) for b in ("core", "torch", "jax")),
                     cell(t["gradcheck fast"]), cell(t["check_grads"]),
                     " / ".join(ratio(t[f"dir16 {b}"].median / fast) for b in ("core", "torch", "jax")),
                     " / ".join(ratio(t[f"dir1 {b}"].median / fast) for b in ("core", "torch", "jax"))])
    df = pd.DataFrame(rows, columns=["P", "H", "×16 core", "×16 torch", "×16 jax", "×1 core", "×1 torch", "×1 jax",
                                     "gradcheck(fast_mode=True)", "check_grads", "×16 ÷ gradcheck fast",
                                     "×1 ÷ gradcheck fast"])
    return markdown_table(df)


def item2_cold(checks):
    rows = []
    for s in checks:
        t = s.timings
        rows.append([s.count, *(f"{seconds(t[f'cold {b}'].median)} / {seconds(t[f'dir16 {b}'].median)}"
                                for b in ("core", "torch", "jax")),
                     f"{seconds(t['cold check_grads'].median)} / {seconds(t['check_grads'].median)}"])
    df = pd.DataFrame(rows, columns=["P", "crosscheck core ×16", "crosscheck torch ×16", "crosscheck jax ×16",
                                     "check_grads"])
    return markdown_table(df)


def item2_verdicts(checks):
    failed = [(s.count, label) for s in checks for label, ok in s.passed.items() if ok is False]
    if not failed:
        return ("Every check above accepted every gradient (crosscheck: all rows `pass`; gradcheck and check_grads: "
                "no error).")
    return "**Checks that did not accept the gradient:** " + ", ".join(f"{label} at P = {p}" for p, label in failed)


def item3(layers):
    rows = []
    for layer in layers:
        t = layer.timings
        core = t["core tape"].median
        rows.append([layer.width, layer.dtype, *(cell(t[name]) for name in ("core tape", "numpy by hand", "torch eager",
                                                                          "jax jit")),
                     ratio(core / t["torch eager"].median), ratio(core / t["jax jit"].median),
                     ratio(core / t["numpy by hand"].median), f"{layer.agreement:.1e}"])
    df = pd.DataFrame(rows, columns=["width", "dtype", "core tape", "numpy by hand", "torch eager", "jax jit",
                                     "core ÷ torch", "core ÷ jax", "core ÷ by hand", "gradients agree to"])
    return markdown_table(df)


def item4(e2e):
    rows = []
    for key in ("numpy_only", "full_run", "report"):
        cmd = e2e[key]
        imported = cmd.imported if cmd.imported is not None else []
        rows.append([f"`{cmd.label}`", mebibytes(max(cmd.max_rss)), seconds(cmd.timing.median),
                     "yes" if "torch" in imported else "no", "yes" if "jax" in imported else "no",
                     ", ".join(imported) or "–"])
    df = pd.DataFrame(rows, columns=["run", "peak memory (max RSS)", "wall", "imports torch", "imports jax",
                                     "heavy modules imported"])
    return markdown_table(df)


#: the figures the issue quotes, "measured earlier on this kind of machine" (threads unknown)
BASELINES = (
    ("import torch + import jax + first ops", "1.9 s", lambda e2e, c, l: seconds(e2e["floor"].timing.median)),
    ("gradcheck(fast_mode=False), P = 10⁴ / 10⁵", "2.36 s / 72 s",
     lambda e2e, c, l: " / ".join(str(_timing(c, t, "gradcheck full")) for t in (10**4, 10**5))),
    ("gradcheck(fast_mode=True), P = 10⁴ / 10⁵", "1.6 ms / 9.8 ms",
     lambda e2e, c, l: " / ".join(str(_timing(c, t, "gradcheck fast")) for t in (10**4, 10**5))),
    ("plain numpy, one element at a time, P = 10⁴ / 10⁵", "0.58 s / 22 s",
     lambda e2e, c, l: " / ".join(str(_timing(c, t, "numpy loop")) for t in (10**4, 10**5))),
    ("one forward + backward, batch 64, width 1024, float32: numpy by hand / torch eager / jax jit",
     "2.2 ms / 5.5 ms / 1.9 ms",
     lambda e2e, c, l: " / ".join(str(_layer(l, 1024, "float32", k)) for k in ("numpy by hand", "torch eager",
                                                                               "jax jit"))),
)


def _timing(checks, target, label):
    s = _size(checks, target)
    return s.timings.get(label, "–") if s is not None else "–"


def _layer(layers, width, dtype, contender):
    return next((layer.timings[contender] for layer in layers if (layer.width, layer.dtype) == (width, dtype)), "–")


def baselines_table(e2e, checks, layers):
    rows = [(what, quoted, now(e2e, checks, layers)) for what, quoted, now in BASELINES]
    return markdown_table(pd.DataFrame(rows, columns=["measurement", "quoted in the issue", "this run"]))


def machine_table(before, after, wall, command):
    rows = [("command", f"`{command}`"), ("crosscheck at commit", before["revision"]), ("CPU", before["cpu"]),
            ("cores", before["cores"]), ("memory", before["memory"]),
            ("load average (1 / 5 / 15 min), start", before["load"]),
            ("load average (1 / 5 / 15 min), end", after["load"]),
            ("threads", before["threads"]), ("torch threads", _torch_threads()), ("benchmark wall time", seconds(wall))]
    return markdown_table(pd.DataFrame(rows, columns=["", ""]))


def _torch_threads():
    import torch

    return str(torch.get_num_threads())


# ------------------------------------------------------------------------------------------------ the document


def scaling_targets(scaling, detection):
    """Issue 15's targets: the report warm and cold against the floor, the marginal cost of a row per backend,
    -j 2 against -j 1, and the directional check against gradcheck's fast mode at equal detection power."""
    from .scaling import find, marginal_costs

    out = []
    floor, runs = scaling["floor"], scaling["runs"]
    for state, limit in (("warm", 4), ("cold", 10)):
        run = find(runs, "all", 2, state)
        out.append(Target("scaling", f"`crosscheck report -j 2`, full catalogue, {state} caches ÷ import floor of "
                                     f"{', '.join(scaling['frameworks'])}", limit, "≤",
                          run.wall / floor if run else None))
    for state, limit in (("warm", 4), ("cold", 10)):  # the same targets for the default report, with J·v and H·v
        run = find(runs, "all", 2, state, modes="all")
        if run is not None:
            out.append(Target("scaling", f"default `crosscheck report -j 2` (rev, fwd and hvp rows), full catalogue, "
                                         f"{state} caches ÷ import floor of {', '.join(scaling['frameworks'])}",
                              limit, "≤", run.wall / floor))
    for backend, (slope, rows) in marginal_costs(runs).items():
        out.append(Target("scaling", f"marginal cost of a row, warm, {backend} (ms per row)", 5, "≤", slope * 1e3,
                          unit="ms"))
    one, two = find(runs, "all", 1, "warm"), find(runs, "all", 2, "warm")
    out.append(Target("scaling", "`-j 2` speed-up over `-j 1` on 2 cores, full catalogue, warm", 1.6, "≥",
                      one.wall / two.wall if one and two else None))
    t = Target("detection", "P = 10⁵: crosscheck directional at gradcheck's detection power ÷ "
                            "gradcheck(fast_mode=True)", 1, "≤")
    if detection is not None and detection.timings and detection.count > 50_000:  # --quick measures P = 10⁴
        ours = next(v for k, v in detection.timings.items() if k.startswith("crosscheck"))
        t.measured = ours.median / detection.timings["gradcheck fast"].median
    out.append(t)
    return out


def item5(scaling):
    from .scaling import marginal_costs

    floor = scaling["floor"]
    rows = []
    for r in scaling["runs"]:
        rows.append([r.fraction, "rev" if r.modes == "rev" else "rev, fwd, hvp (default)", r.jobs, r.cache,
                     sum(r.rows.values()), seconds(r.wall), ratio(r.wall / floor),
                     r.cache_line.split(":")[1].split(" read")[0].strip() if r.cache_line else "–"])
    runs = markdown_table(pd.DataFrame(rows, columns=["catalogue", "modes", "-j", "caches", "rows", "wall", "÷ floor",
                                                      "jax compilations from the cache"]))
    costs = marginal_costs(scaling["runs"])
    by_size = {r.fraction: r for r in scaling["runs"] if r.jobs == 1 and r.cache == "warm" and r.modes == "rev"}
    rows = []
    for backend, (slope, count) in costs.items():
        full = by_size.get("all")
        rows_of = sum(full.rows.values()) if full and backend == "reference" else full.rows.get(backend, 0) if full else 0
        mean = full.spent.get(backend, 0.0) / rows_of if rows_of else float("nan")
        rows.append([backend, count, f"{slope * 1e3:.2f} ms", f"{mean * 1e3:.2f} ms"])
    costs_table = markdown_table(pd.DataFrame(rows, columns=["backend", "rows (full)", "marginal cost per row",
                                                             "mean cost per row (full)"]))
    return runs, costs_table, expected_scaling(scaling)


def expected_scaling(scaling, cores=(2, 4, 8, 16)):
    """The wall time to expect on more cores, from the warm -j 1 and -j 2 runs of the whole catalogue (rev):
    T(n) = max(S + P/n, S + L) (Amdahl's law, S and P solved from T(1) and T(2); L the longest single unit, which
    no number of workers shortens). A sketch, not a measurement."""
    from .scaling import find

    one, two = find(scaling["runs"], "all", 1, "warm"), find(scaling["runs"], "all", 2, "warm")
    if one is None or two is None:
        return ""
    spread = max(2 * (one.wall - two.wall), 0.0)
    serial = one.wall - spread
    longest = scaling.get("longest", float("nan"))
    bound = 0.0 if math.isnan(longest) else serial + longest
    rows = []
    for n in cores:
        t = max(serial + spread / n, bound)
        rows.append([n, seconds(t), ratio(t / scaling["floor"]), "S + L" if t == bound else "S + P/n"])
    table = markdown_table(pd.DataFrame(rows, columns=["cores (-j)", "expected wall, warm", "÷ floor", "bound by"]))
    return ("Expected on more cores: Amdahl's law fitted to the warm `-j 1` and `-j 2` runs of the whole catalogue, "
            f"a part that does not spread, S = {seconds(serial)} (imports, reading the catalogue, rendering the "
            f"report), and one that does, P = {seconds(spread)}; no number of workers shortens the longest single "
            f"unit, L = {seconds(longest)} (the XOR MLP's training on every backend, both dtypes, timed alone, "
            "warm), so T(n) = max(S + P/n, S + L). An estimate, not a measurement: each worker also imports the "
            "frameworks again.\n\n" + table)


def item6(detection):
    rows = [[check, "not caught" if v == float("inf") else f"{v:.2e}"] for check, v in detection.thresholds.items()]
    table = markdown_table(pd.DataFrame(rows, columns=["check", "smallest caught error ÷ max |dL/dW2|"]))
    timed = markdown_table(pd.DataFrame([[k, cell(v)] for k, v in detection.timings.items()],
                                        columns=["check", "time"])) if detection.timings else ""
    return table, timed


def document(*, command, quick, selection, before, after, wall, e2e, checks, layers, cap, memory=(), scaling=None,
             detection=None):
    from .notes import notes_for

    ts = targets(e2e, checks, layers, selection)
    if scaling is not None:
        ts += scaling_targets(scaling, detection)
    for point in memory:
        ts.append(Target("memory size", f"peak memory at {point.elements:.0e} input elements, numpy only: "
                                        f"(peak − import footprint) ÷ the input's bytes", 8, "≤", point.factor,
                         unit="×"))
    out = ["# crosscheck benchmarks", ""]
    out.append("Every number below comes from one run of the command in the machine table; contenders are timed "
               "in turns (A, B, C, A, B, C, …), so a burst of load elsewhere falls on all of them alike and the "
               "ratios stay meaningful even where the absolute times drift. A time is the median over the number "
               "of calls in brackets.")
    if quick:
        out += ["", "**--quick**: a subset that proves the script runs (small P and widths, few repeats, the report "
                    "on two cases). The targets need the full run."]
    out += ["", markdown_table(versions()), "## Machine", "", machine_table(before, after, wall, command)]
    current, replaced = [t for t in ts if t.replaced_by is None], [t for t in ts if t.replaced_by is not None]
    out += ["## Targets", "", targets_table(current)]
    if replaced:
        out += ["Earlier targets that issue 15 replaced (still measured; the target that replaced each is named):",
                "", markdown_table(pd.DataFrame([[t.text, f"{t.sense} {t.limit:g} {t.unit}", t.shown(), t.verdict(),
                                                   t.replaced_by] for t in replaced],
                                                 columns=["target", "limit", "measured", "verdict", "replaced by"]))]
    out += ["## 1. `crosscheck report` against the import floor of torch + jax", "",
            "Fresh processes from the repository root, timed from start to exit; the floor is "
            f"`python -c \"{_floor()}\"`. The report writes into a temporary folder.", "", item1(e2e, selection)]
    out += ["## 2. Checking the tanh MLP 16 → H → H → 1 (batch 32, float64)", "",
            "The same scalar ⟨c, f(x)⟩ (f's (32, 1) output contracted with the case's seeded cotangent c) at the "
            "same float64 parameters for every tool. crosscheck: `runner.run([case], backends=[b], "
            "dtypes=(\"float64\",), method=…, probe=\"failing\")`, i.e. the float64 reference, one backend's gradient "
            "and the judgement; `probe=\"failing\"` because gradcheck probes no kinks (a default run also probes "
            "every element for a kink, twice the cost of the central differences). gradcheck: "
            "`torch.autograd.gradcheck(f, params, fast_mode=…)` in float64, run in a child process and stopped "
            f"after {cap:g} s (a stopped one is extrapolated from gradcheck of every input but W2, by element "
            "count). check_grads: `jax.test_util.check_grads(f, params, order=1, modes=(\"rev\",))` in float64, "
            "eager; it projects on one random direction for all inputs together, as gradcheck's fast mode does "
            "per input. Times are steady state (jax compiled, frameworks imported); first calls are in 2c.", ""]
    out += ["### 2a. Full element-wise checks (every element by central differences)", "", item2_full(checks)]
    out += ["### 2b. Directional checks", "",
            "crosscheck `method=\"directional\"` with the default 16 random ±1 directions per input (×16), and with "
            "one (×1: the coverage of gradcheck's fast mode, one random direction per input).", "",
            item2_directional(checks)]
    out += ["### 2c. First call against steady state", "",
            "first call / steady-state median: for jax the first call traces and compiles `value_and_grad`; "
            "check_grads runs op by op, compiling each primitive on first use.", "", item2_cold(checks),
            item2_verdicts(checks), ""]
    out += ["## 3. One forward + backward of a dense stack (w → w → w, tanh, batch 64)", "",
            "The loss is ⟨c, tanh(tanh(x W1) W2)⟩ with a random c; each contender returns dL/dW1 and dL/dW2 "
            "(the core's tape, as the `core` backend runs a case; the same computation written out in numpy; torch "
            "eager autograd; `jax.jit(jax.value_and_grad(…))`, compiled before timing, `block_until_ready`). The "
            "gradients are compared with each other before timing.", "", item3(layers)]
    out += ["## 4. Peak memory", "",
            "Max resident set size of each fresh process (its own, by `wait4`), and the heavy modules it had "
            "imported at exit.", "", item4(e2e)]
    if memory:
        from .memory import table as memory_table

        out += ["### 4b. Peak memory against the input's size", "",
                "`crosscheck run --backend core --dtype float64` on one case with one input of n elements "
                "(`tanh(x)·0.5`), in a fresh process; the footprint is the same command at 10 elements. A large "
                "input is checked along 16 random ±1 directions, made one at a time as int8, each perturbed point "
                "evaluated alone.", "", markdown_table(memory_table(memory))]
    if scaling is not None:
        runs, costs, expected = item5(scaling)
        out += ["## 5. The report as the catalogue grows: cold and warm caches, one and two processes", "",
                "`crosscheck report` on every 4th, every 2nd and every case of the catalogue (a case file that "
                "re-exports them), each twice from an empty compilation cache (`CROSSCHECK_CACHE_DIR` in a temporary "
                "folder): first cold, then warm; the whole catalogue also with `-j 2`. These are reports of the "
                "gradients (`--mode rev`), as issue 15's targets were set; the last two rows time the default report "
                "(J·v and H·v rows too) on the whole catalogue with `-j 2`, for what a user's report costs. Fresh "
                "processes from the "
                "repository root, timed from start to exit. The floor imports every installed framework "
                f"({', '.join(scaling['frameworks'])}) and runs one op on each: {seconds(scaling['floor'])}.", "",
                runs, "",
                "Marginal cost of a row: the seconds each run spent in a backend's `evaluate` (its gradients, "
                "judging runs only), against the rows it wrote, fitted by least squares over the three warm `-j 1` "
                "runs; the slope is what one more row costs on that backend. The float64 reference's cost is per "
                "(case, dtype) and shared by the backends (row `reference`, per row of all backends).", "", costs,
                "", expected, ""]
    if detection is not None:
        table, timed = item6(detection)
        out += ["## 6. Directional checks at gradcheck's detection power", "",
                f"The smallest error in one element of dL/dW2 (P = {detection.count} tanh MLP) that each check "
                "catches: planted "
                "at three seeded positions, found by bisection on log δ, the largest over the positions kept. "
                "crosscheck is then timed with the fewest directions that catch at least what gradcheck's fast "
                "mode catches, side by side with it (float64, core backend, `probe=\"failing\"`).", "", table, "",
                timed, ""]
    out += ["## Against the baselines quoted in the issue", "",
            "The issue's figures were measured earlier on the same kind of machine, thread settings unknown; this "
            "run's are medians with the settings in the machine table. Item 2's MLP here is the one described in "
            "table 2 (batch 32, 16 inputs, tanh).", "", baselines_table(e2e, checks, layers)]
    out += ["## Notes: the targets missed, why, and what would close them", ""]
    out += notes_for(ts, e2e, checks, layers) or ["Every measured target was met."]
    return "\n".join(out).rstrip() + "\n"


def _floor():
    from .end_to_end import FLOOR

    return FLOOR
