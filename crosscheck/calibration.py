"""Calibration: the default tolerances measured against many input draws, not guessed.

Every *smooth* case (at least one random input, no ``kinks`` tag) is judged at
draws 0..N-1 of its random inputs (:meth:`Case.redrawn`) on every backend and
dtype. Per (case, backend, dtype) we keep the worst :attr:`Row.ratio` — the
worst element's error ÷ (atol + rtol·|reference|), so above 1 fails — over
the draws and the parameters, the draw where it happened, and how many rows
(draw × parameter) were anything but a pass. A worst ratio well below 1 on
every row is the evidence that a tolerance is wide enough; how far below says
how much tighter it could be.

Flows one way, like a run: cases → :func:`crosscheck.runner.run` → rows →
:class:`Calibration` accumulators → one DataFrame → files.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from . import backends as backend_registry
from . import runner, tables
from .catalogue import discover, select
from .compare import DEFAULT_TOLERANCES, ORACLE_TOLERANCE, VERDICTS, Tolerance, index_str

#: verdicts counted per row of the table (every verdict but "pass")
NON_PASS = tuple(v for v in VERDICTS if v != "pass")
DTYPE_ORDER = ("float64", "float32")
#: how many non-pass messages per (case, backend, dtype) the Markdown keeps for diagnosis
MESSAGES_KEPT = 3
COLUMNS = ("case", "backend", "dtype", "mode", "worst_ratio", "worst_draw", "worst_param", "worst_index", "value",
           "reference", "atol", "rtol", "rows", "non_pass") + tuple(v.replace("-", "_") for v in NON_PASS)


def smooth_cases(cases):
    """The cases that must pass at every random point: some input is random, and no kink is declared."""
    return [c for c in cases if c.is_random and "kinks" not in c.tags]


@dataclass
class Calibration:
    """The worst of one (case, backend, dtype) over every draw and parameter judged so far."""

    case: str
    backend: str
    dtype: str
    tolerance: Tolerance
    mode: str = "rev"  # rev (gradients), fwd (J·v) or hvp (H·v): see crosscheck.modes
    rows: int = 0
    worst_ratio: float = float("nan")
    worst_draw: int = -1
    worst_param: str = ""
    worst_index: tuple = ()
    value: float = float("nan")  # the backend's gradient at the worst element
    reference: float = float("nan")  # and the reference's: ratio = |value - reference| / (atol + rtol·|reference|)
    counts: dict = field(default_factory=lambda: {v: 0 for v in NON_PASS})
    messages: list = field(default_factory=list)  # (draw, verdict, param, message), the first few

    @property
    def non_pass(self):
        return sum(self.counts.values())

    def add(self, row, draw):
        self.rows += 1
        if row.verdict != "pass":
            self.counts[row.verdict] += 1
            if len(self.messages) < MESSAGES_KEPT:
                self.messages.append((draw, row.verdict, row.param, row.message or row.note))
        ratio = row.ratio
        if ratio != ratio:  # NaN: nothing was compared (an error or a skip), counted above
            return
        # strictly worse only: on a tie the earliest draw (and first parameter) is kept, so the table is stable
        if self.worst_ratio != self.worst_ratio or ratio > self.worst_ratio:
            self.worst_ratio, self.worst_draw, self.worst_param = ratio, draw, row.param
            self.worst_index, self.value, self.reference = row.worst_index, row.value, row.expected
            if row.atol == row.atol:  # the tolerance the worst row was judged with (the oracle's is tighter)
                self.tolerance = Tolerance(atol=row.atol, rtol=row.rtol)


def instances(names):
    """(backends that can run, {name: why not} for those that cannot), reference backends left out."""
    ready, unavailable = [], {}
    for name in names:
        b = backend_registry.get(name) if isinstance(name, str) else name
        if b.reference:
            continue
        reason = b.unavailable()
        if reason:
            unavailable[b.name] = reason
        else:
            ready.append(b)
    return ready, unavailable


#: cases per runner.run of a calibration (each at every draw): with -j, each run starts its worker processes
CASES_PER_RUN = 8


def calibrate(cases, draws=200, backends=backend_registry.DEFAULT, dtypes=("float64", "float32"), *,
              probe="failing", tolerances=None, first_draw=0, progress=None, method="auto", modes=("rev",), jobs=1):
    """Judge every case at draws ``first_draw .. first_draw + draws - 1``; one :class:`Calibration` per
    (case, backend, dtype), in case, backend and dtype order.

    ``backends`` are names or instances that can run (see :func:`instances`).
    ``tolerances`` ({dtype: Tolerance}), when given, replaces the cases' own:
    to ask how a tighter (or looser) tolerance would fare.
    ``progress(done)`` is called as cases are done (``done`` of ``len(cases)``). ``modes``: the modes judged (one
    Calibration per mode too).

    A few cases at a time, each at every draw: a framework compiles (jax) or traces (TensorFlow) a case once and
    reuses that for all its draws, which it cannot when every case runs between two draws of one (it keeps the
    last few cases' compilations only, see backends.framework.CaseCache; worker processes start afresh per run).
    The rows of each (case, backend, dtype, mode) still come in draw order, so the tables are those of a run draw
    by draw.
    """
    backends = [backend_registry.get(b) if isinstance(b, str) else b for b in backends]
    if tolerances:
        cases = [dataclasses.replace(c, tolerances={**c.tolerances, **tolerances}) for c in cases]
    stats = {}
    for c in cases:
        for b in backends:
            if b.reference or not b.applies(c):
                continue
            takes = [m for m in modes if m in c.modes and m in getattr(b, "modes", ("rev",))]
            for d in c.dtypes:
                if d in dtypes:
                    for m in takes:
                        stats[(c.name, b.name, d, m)] = Calibration(c.name, b.name, d, c.tolerance(d), mode=m)
    for start in range(0, len(cases), CASES_PER_RUN):
        block = cases[start:start + CASES_PER_RUN]
        work = [c.redrawn(draw) for c in block for draw in range(first_draw, first_draw + draws)]
        for row in runner.run(work, backends, dtypes, probe=probe, method=method, modes=modes, jobs=jobs):
            stats[(row.case, row.backend, row.dtype, row.mode)].add(row, row.draw)
        if progress:
            progress(start + len(block))
    return list(stats.values())


def calibrate_folders(folders, draws=200, backends=backend_registry.DEFAULT, dtypes=("float64", "float32"), *,
                      pattern=None, probe="failing", first_draw=0, progress=None, method="auto", modes=("rev",),
                      jobs=1):
    """:func:`calibrate` on the smooth cases found under ``folders`` (matching ``pattern``), on the backends
    that can run. ``progress(done, total)`` is called as cases are done. Returns (stats, the backends run,
    {backend: why it could not run})."""
    ready, unavailable = instances(backends)
    cases = smooth_cases(select(discover(folders), pattern=pattern))
    stats = calibrate(cases, draws, ready, dtypes, probe=probe, first_draw=first_draw, method=method, modes=modes,
                      jobs=jobs,
                      progress=progress and (lambda done: progress(done, len(cases))))
    return stats, [b.name for b in ready], unavailable


# ------------------------------------------------------------------ tables


def _e(x):
    return "" if x != x else "inf" if math.isinf(x) else f"{x:.3e}"


def _g(x):
    return "" if x != x else f"{x:.10g}"


def _order(stat):
    """Worst ratio first (NaN, nothing compared, last); ties in catalogue-independent name order."""
    r = stat.worst_ratio
    backend = tables.BACKEND_ORDER.index(stat.backend) if stat.backend in tables.BACKEND_ORDER else 9
    return (r != r, -r if r == r else 0.0, stat.case, backend, stat.backend, stat.dtype, stat.mode)


def frame(stats):
    """One row per (case, backend, dtype), worst ratio first, numbers formatted once (CSV and Markdown agree)."""
    import pandas as pd

    rows = []
    for s in sorted(stats, key=_order):
        rows.append([s.case, s.backend, s.dtype, s.mode, _e(s.worst_ratio), "" if s.worst_draw < 0 else str(s.worst_draw),
                     s.worst_param, index_str(s.worst_index) if s.worst_index else "", _g(s.value),
                     _g(s.reference), f"{s.tolerance.atol:.0e}", f"{s.tolerance.rtol:.0e}", str(s.rows),
                     str(s.non_pass)] + [str(s.counts[v]) for v in NON_PASS])
    return pd.DataFrame(rows, columns=list(COLUMNS))


def worst_per_backend(stats):
    """Per (backend, dtype, mode): the worst ratio over every case, where it happened, and the non-pass rows."""
    import pandas as pd

    groups = {}
    for s in stats:
        groups.setdefault((s.backend, s.dtype, s.mode), []).append(s)

    def key(bd):
        backend, dtype, mode = bd
        return (DTYPE_ORDER.index(dtype) if dtype in DTYPE_ORDER else 9,
                tables.BACKEND_ORDER.index(backend) if backend in tables.BACKEND_ORDER else 9, backend, dtype,
                ("rev", "fwd", "hvp").index(mode))

    out = []
    for bd in sorted(groups, key=key):
        group = groups[bd]
        worst = min(group, key=_order)
        out.append({"backend": bd[0], "dtype": bd[1], "mode": bd[2], "worst ratio": _e(worst.worst_ratio),
                    "case": worst.case,
                    "param": worst.worst_param, "draw": "" if worst.worst_draw < 0 else str(worst.worst_draw),
                    "rows": str(sum(s.rows for s in group)), "non-pass": str(sum(s.non_pass for s in group))})
    return pd.DataFrame(out, columns=["backend", "dtype", "mode", "worst ratio", "case", "param", "draw", "rows",
                                      "non-pass"])


def totals(stats):
    """{verdict: rows} over everything, "rows" and "non_pass" included."""
    out = {"rows": sum(s.rows for s in stats), "non_pass": sum(s.non_pass for s in stats)}
    out.update({v: sum(s.counts[v] for s in stats) for v in NON_PASS})
    return out


def markdown(stats, *, draws, first_draw=0, backends=(), unavailable=None, dtypes=(), probe="failing",
             versions=None, method="auto", modes=("rev",)):
    """The whole calibration.md: what was run, with which versions and tolerances, the headline and the table.
    Nothing in it depends on the time of the run."""
    import pandas as pd

    versions = tables.versions() if versions is None else versions
    unavailable = unavailable or {}
    t = totals(stats)
    cases = sorted({s.case for s in stats})
    breakdown = ", ".join(f"{t[v]} {v}" for v in NON_PASS if t[v]) or "none"
    settings = pd.DataFrame([
        ("draws", f"{draws} (draw {first_draw}..{first_draw + draws - 1} of each case's random inputs)"),
        ("cases", f"{len(cases)} smooth cases (a random input, no `kinks` tag)"),
        ("backends", ", ".join(backends) or "none"),
        *(("not run", f"{name}: {why}") for name, why in sorted(unavailable.items())),
        ("dtypes", ", ".join(dtypes)),
        ("kink probe", probe),
        ("method", method + (" (every input along 16 random ±1 directions)" if method == "directional" else "")),
        ("modes", ", ".join(modes) + " (rev: gradients; fwd: J·v along a seeded ±1 tangent of each input; hvp: H·v"
                                     " along a seeded ±1 tangent over every input)"),
    ], columns=["setting", "value"])
    tolerance_table = pd.DataFrame(
        [(d, "finite differences", f"{tol.atol:.0e}", f"{tol.rtol:.0e}") for d, tol in DEFAULT_TOLERANCES.items()]
        + [("float64", "complex-step oracle on every element", f"{ORACLE_TOLERANCE.atol:.0e}",
            f"{ORACLE_TOLERANCE.rtol:.0e}")], columns=["dtype", "reference", "atol", "rtol"])
    lines = [
        "# Tolerance calibration",
        "",
        "Every smooth case judged at many draws of its random inputs, on every backend and dtype. "
        "`ratio` is the worst element's |g − r| ÷ (atol + rtol·|r| + 2e), r the float64 reference and e its "
        "error estimate (complex step where the case is analytic, else finite differences): above 1 fails. Per (case, backend, dtype) the table keeps the worst ratio over every "
        "draw and parameter and the draw where it happened; `non_pass` counts rows (draw × parameter) "
        "with any verdict but `pass`. Regenerate with `python scripts/calibrate.py`.",
        "",
        "## Versions",
        "",
        tables.markdown_table(versions),
        "## Settings",
        "",
        tables.markdown_table(settings),
        "## Default tolerances",
        "",
        tables.markdown_table(tolerance_table),
        "## Worst ratio per backend and dtype",
        "",
        tables.markdown_table(worst_per_backend(stats)),
        f"**Total: {t['rows']} rows judged, {t['non_pass']} not a pass ({breakdown}).**",
        "",
        "## Every case, backend and dtype, worst ratio first",
        "",
        tables.markdown_table(frame(stats)),
    ]
    notable = [s for s in sorted(stats, key=_order) if s.messages]
    if notable:
        lines += ["## Rows that are not a pass (the first few per case, backend and dtype)", ""]
        for s in notable:
            for draw, verdict, param, message in s.messages:
                lines.append(f"- **{verdict}** `{s.case}` {param} {s.backend} {s.dtype} {s.mode}, draw {draw}: {message}")
        lines.append("")
    return "\n".join(lines)


def write(stats, folder, name="calibration", **settings) -> list[Path]:
    """results/``name``.md (header + table) and results/``name``.csv (the table), each atomically."""
    folder = Path(folder)
    written = tables.write_table(folder, name, frame(stats), formats=("csv",))
    tables.write_atomic(folder / f"{name}.md", markdown(stats, **settings))
    return written + [folder / f"{name}.md"]
