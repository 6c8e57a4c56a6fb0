"""The judge's own test suites: planted bugs it must catch, and correct gradients at hard points it must pass.

- **Planted bugs** (``tests/judge/planted``): cases whose hand-written backward (or the case itself) carries
  a bug, each tagged ``expect_<verdict>`` with the verdict it deserves. A planted case is *caught* when the
  worst verdict of its ``handwritten`` rows, in every dtype it declares, is exactly that one. For a case
  expected to be an ``error`` because of the case itself (not deterministic), every backend's rows are looked at.
- **Hard points** (``tests/judge/hard_points``): correct cases at points where a naive finite-difference
  check raises false alarms. Random cases run at many input draws, fixed ones once, on every backend and
  dtype; a ``fail``, ``nan`` or ``error`` is a false alarm, an ``unjudged`` row is counted (it must stay rare).

``python scripts/judge_suites.py`` runs both and writes ``results/judge.md`` (and ``judge_*.csv``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from . import runner
from .catalogue import discover

#: verdicts from mildest to worst, for "the worst verdict of a case's rows"
SEVERITY = ("pass", "skipped", "kink", "expected-discrepancy", "unjudged", "fail", "nan", "error")
FALSE_ALARMS = ("fail", "nan", "error")


def expected_verdict(case):
    tags = [t for t in case.tags if t.startswith("expect_")]
    if len(tags) != 1:
        raise ValueError(f"planted case {case.name!r} ({case.location}) needs exactly one expect_<verdict> tag")
    return tags[0][len("expect_"):]


@dataclass
class Planted:
    case: str
    dtype: str
    expected: str
    got: str
    message: str

    @property
    def caught(self):
        return self.got == self.expected


def run_planted(folder, backends=("handwritten", "core", "torch", "jax")):
    """One :class:`Planted` per (planted case, dtype)."""
    out = []
    for case in discover([folder]):
        want = expected_verdict(case)
        rows = runner.run([case], backends=list(backends) if want == "error" else ["handwritten"])
        for dtype in case.dtypes:
            mine = [r for r in rows if r.dtype == dtype and r.backend == "handwritten"]
            worst = max((r.verdict for r in mine), key=SEVERITY.index, default="skipped")
            message = next((r.message or r.note for r in mine if r.verdict == worst), "")
            out.append(Planted(case.name, dtype, want, worst, message))
    return out


@dataclass
class HardPoints:
    """Verdict counts per (backend, dtype) over every hard-point case and draw, and the false alarms."""

    counts: dict = field(default_factory=dict)  # (backend, dtype) -> Counter of verdicts
    alarms: list = field(default_factory=list)  # (case, draw, row)
    unjudged: list = field(default_factory=list)  # (case, draw, row)
    cases: int = 0
    draws: int = 0

    @property
    def rows(self):
        return sum(sum(c.values()) for c in self.counts.values())

    def total(self, verdict):
        return sum(c[verdict] for c in self.counts.values())


def run_hard_points(folder, draws=200, backends=("core", "handwritten", "torch", "jax"), dtypes=("float64", "float32"),
                    progress=None):
    """Every hard-point case on every backend and dtype: random ones at ``draws`` draws, fixed ones once."""
    result = HardPoints(draws=draws)
    cases = discover([folder])
    result.cases = len(cases)
    for draw in range(draws):
        batch = [c.redrawn(draw) for c in cases if c.is_random or draw == 0]
        for row in runner.run(batch, backends=list(backends), dtypes=dtypes):
            result.counts.setdefault((row.backend, row.dtype), Counter())[row.verdict] += 1
            if row.verdict in FALSE_ALARMS:
                result.alarms.append((row.case, draw, row))
            elif row.verdict == "unjudged":
                result.unjudged.append((row.case, draw, row))
        if progress:
            progress(draw + 1, draws)
    return result


def markdown(planted, hard) -> str:
    """results/judge.md: both suites' figures."""
    from .tables import _markdown

    caught = sum(p.caught for p in planted)
    lines = ["# The judge's own test suites", "",
             "Written by `python scripts/judge_suites.py` from the case folders in `tests/judge/` (see "
             "`crosscheck/selftest.py`).", "",
             "## Planted bugs", "",
             f"{caught} of {len(planted)} planted (case, dtype) pairs caught with the verdict they deserve, "
             f"from {len({p.case for p in planted})} planted cases.", "",
             _markdown(["case", "dtype", "expected", "got", "caught", "message"],
                       [(p.case, p.dtype, p.expected, p.got, "yes" if p.caught else "**NO**", p.message[:160])
                        for p in planted]), "",
             "## Hard points: correct gradients that must not be flagged", "",
             f"{hard.cases} cases, random ones at {hard.draws} input draws (fixed ones once), every backend and "
             f"dtype: {hard.rows} rows, {len(hard.alarms)} false alarms (fail, nan or error), "
             f"{len(hard.unjudged)} unjudged ({100 * len(hard.unjudged) / max(hard.rows, 1):.2f} %).", ""]
    verdicts = [v for v in SEVERITY if any(c[v] for c in hard.counts.values())]
    lines.append(_markdown(["backend", "dtype", "rows", *verdicts],
                           [(b, d, sum(c.values()), *(c[v] for v in verdicts))
                            for (b, d), c in sorted(hard.counts.items())]))
    for title, items in (("False alarms", hard.alarms), ("Unjudged rows (their reasons)", hard.unjudged)):
        if items:
            lines += ["", f"### {title}", ""]
            lines += [f"- `{c}` draw {d}, {r.backend} {r.dtype}: {r.message}" for c, d, r in items[:50]]
    return "\n".join(lines) + "\n"
