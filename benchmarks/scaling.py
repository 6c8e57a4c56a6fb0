"""Item 5: ``crosscheck report`` as the catalogue grows, cold and warm, over one and two processes.

The catalogue at 1/4, 1/2 and all of its size (every 4th, every 2nd and every case, in catalogue order, through
a case file that re-exports them: :data:`SUBSET`) is reported twice from a fresh compilation cache (the first
run cold, the second warm) with ``-j 1``; the full catalogue also with ``-j 2``, cold and warm. Each run is a
fresh process from the repository root, timed from start to exit. The floor is importing every installed
framework and running a first op on each.

The marginal cost of a row: each run also prints the seconds it spent in each backend's ``evaluate`` (and in the
float64 reference) and the rows it wrote per backend; the slope of seconds against rows over the three sizes
(least squares) is what one more row costs on that backend, warm.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .timing import run_process

ROOT = Path(__file__).resolve().parent.parent
FRACTIONS = ((4, "1/4"), (2, "1/2"), (1, "all"))
#: a case file holding every k-th case of the shipped catalogue (k from the environment)
SUBSET = """
import os
from pathlib import Path
from crosscheck.catalogue import discover

__crosscheck_cases__ = discover([Path({root!r}) / "cases"])[::int(os.environ["CROSSCHECK_BENCH_EVERY"])]
"""
#: ``crosscheck ARGS``, then the seconds per backend and the rows per backend it wrote
WRAPPER = ("import json, sys, csv, collections\n"
           "from crosscheck.cli import main\n"
           "from crosscheck import runner\n"
           "rc = main(sys.argv[1:])\n"
           "print('SPENT ' + json.dumps(runner.SPENT))\n"
           "sys.exit(rc)\n")
FRAMEWORKS = {"torch": "import torch; torch.ones(2).sum()",
              "jax": "import jax, jax.numpy as jnp; jnp.ones(2).sum().block_until_ready()",
              "tensorflow": "import tensorflow as tf; tf.reduce_sum(tf.ones(2))",
              "autograd": "import autograd.numpy as anp; anp.sum(anp.ones(2))"}


def floor_code():
    """Import every installed framework and run one op on each: the least any run that uses them costs."""
    installed = [name for name in FRAMEWORKS if importlib.util.find_spec(name) is not None]
    return installed, "; ".join(FRAMEWORKS[name] for name in installed)


@dataclass
class Run:
    fraction: str
    jobs: int
    cache: str  # "cold" or "warm"
    modes: str = "rev"  # "rev" (gradients: issue 15's targets) or "all" (the default: rev, fwd and hvp rows)
    wall: float = float("nan")
    rows: Counter = field(default_factory=Counter)  # backend -> rows written
    spent: dict = field(default_factory=dict)  # backend (and "reference") -> seconds in evaluate
    cache_line: str = ""
    summary: str = ""


def _report(run, folder, cache_dir, selection, log):
    env = {**__import__("os").environ, "CROSSCHECK_CACHE_DIR": str(cache_dir),
           "CROSSCHECK_BENCH_EVERY": str(dict((b, a) for a, b in FRACTIONS)[run.fraction])}
    env.pop("CROSSCHECK_CACHE", None)
    env.pop("CROSSCHECK_JOBS", None)
    out = folder / f"results-{run.fraction.replace('/', '_')}-j{run.jobs}-{run.cache}-{run.modes}"
    # the gradients' report (--mode rev), as issue 15's targets were set and measured; the default report (J·v and
    # H·v rows too, issue 13) is timed beside it on the whole catalogue with -j 2, for what a user's report costs
    modes = ["--mode", "rev"] if run.modes == "rev" else []
    argv = [sys.executable, "-c", WRAPPER, "report", *selection, *modes, "-j", str(run.jobs), "--results", str(out)]
    proc = run_process(argv, cwd=ROOT, env=env)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(argv[3:])} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    run.wall = proc.wall
    for line in proc.stdout.splitlines():
        if line.startswith("SPENT "):
            run.spent = json.loads(line[len("SPENT "):])
        elif line.startswith("jax compilation cache"):
            run.cache_line = line
        elif " cases, " in line and " rows" in line:
            run.summary = line.split(";")[0]
    with open(out / "rows.csv", newline="") as fh:
        run.rows = Counter(r["backend"] for r in csv.DictReader(fh))
    log(f"  {run.fraction} of the catalogue, -j {run.jobs}, {run.cache}, modes {run.modes}: {run.wall:.1f} s "
        f"({run.summary}; "
        f"{run.cache_line or 'no jax compilation'})")
    return run


#: the longest unit of a parallel report, timed alone (its second run: warm): the XOR MLP's training on every backend
LONGEST = ("import sys, time\n"
           "from pathlib import Path\n"
           "from crosscheck import report, backends\n"
           "from crosscheck.catalogue import discover\n"
           "case = next(c for c in discover([Path('cases')]) if c.name == 'xor_mlp')\n"
           "instances = [backends.get(n) for n in backends.DEFAULT]\n"
           "for _ in range(2):\n"
           "    t = time.perf_counter()\n"
           "    report.train_case(case, instances, ('float64', 'float32'), 600)\n"
           "print('LONGEST', time.perf_counter() - t)\n")


def longest_unit():
    """Seconds of the XOR MLP's training on every backend, both dtypes, warm (the longest unit of a report)."""
    proc = run_process([sys.executable, "-c", LONGEST], cwd=ROOT)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("LONGEST ")), None)
    return float(line.split()[1]) if line else float("nan")


def measure(*, quick=False, log=print):
    """Every run of item 5, the floor (three times, the median kept) and the longest unit of a report."""
    installed, code = floor_code()
    floor = sorted(run_process([sys.executable, "-c", code], cwd=ROOT).wall for _ in range(3))[1]
    log(f"  floor (import {', '.join(installed)} and one op each): {floor:.2f} s")
    longest = longest_unit()
    log(f"  the longest unit (the XOR MLP's training, every backend, warm): {longest:.1f} s")
    runs = []
    with tempfile.TemporaryDirectory(prefix="crosscheck-scaling-") as tmp:
        tmp = Path(tmp)
        subset = tmp / "subset"
        subset.mkdir()
        (subset / "catalogue_subset.py").write_text(SUBSET.format(root=str(ROOT)))
        selection = ["--cases", str(subset)] + (["-k", "stack_sigmoid_*"] if quick else [])
        fractions = [f for _, f in FRACTIONS][1:] if quick else [f for _, f in FRACTIONS]
        plan = [(f, 1, "rev") for f in fractions] + [("all", 2, "rev")] + ([] if quick else [("all", 2, "all")])
        for fraction, jobs, modes in plan:
            # a fresh cache for each: the first run is cold
            cache_dir = tmp / f"cache-{fraction.replace('/', '_')}-j{jobs}-{modes}"
            for state in ("cold", "warm"):
                runs.append(_report(Run(fraction, jobs, state, modes), tmp, cache_dir, selection, log))
    return {"floor": floor, "frameworks": installed, "runs": runs, "longest": longest}


def marginal_costs(runs):
    """backend -> (seconds per row, warm, from the slope over the sizes; rows at full size)."""
    warm = [r for r in runs if r.cache == "warm" and r.jobs == 1 and r.modes == "rev"]
    out = {}
    for backend in sorted({b for r in warm for b in r.rows}):
        x = np.array([r.rows.get(backend, 0) for r in warm], dtype=float)
        y = np.array([r.spent.get(backend, 0.0) for r in warm])
        if len(set(x)) < 2:
            continue
        slope = float(np.polyfit(x, y, 1)[0])
        out[backend] = (slope, int(x.max()))
    x = np.array([sum(r.rows.values()) for r in warm], dtype=float)
    if len(set(x)) >= 2:  # the reference is computed once per (case, dtype) for every backend: per row of all
        out["reference"] = (float(np.polyfit(x, [r.spent.get("reference", 0.0) for r in warm], 1)[0]), int(x.max()))
    return out


def find(runs, fraction, jobs, cache, modes="rev"):
    return next((r for r in runs if (r.fraction, r.jobs, r.cache, r.modes) == (fraction, jobs, cache, modes)), None)
