"""Items 1 and 4: ``crosscheck report`` against the import floor of torch + jax, and peak memory.

Each command runs in a fresh child process from the repository root (so ``./cases`` is the default
catalogue), timed from start to exit; its peak resident memory is its own (``wait4``). The crosscheck
commands run through a two-line wrapper equivalent to the console script, which also reports which
frameworks the run imported and its peak memory (see ``PEAK``).
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .timing import Timing, run_process

ROOT = Path(__file__).resolve().parent.parent
FLOOR = "import torch, jax, jax.numpy as jnp; torch.ones(2).sum(); jnp.ones(2).sum().block_until_ready()"
#: the process's own peak RSS since exec (VmHWM), printed at exit. Not the rusage a parent reads with wait4:
#: Python starts a child by vfork + exec, and Linux carries the parent's peak RSS into the child's ru_maxrss
#: at exec, so a child of a 70 MiB benchmark process would never show less than 70 MiB.
PEAK = ("\ntry:\n"
        "    print('PEAK ' + next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))\n"
        "except (OSError, StopIteration):\n"
        "    pass\n")
#: ``crosscheck ARGS`` as the console script runs it, then the heavy modules it imported, then its peak
CROSSCHECK = ("import json, sys\n"
              "from crosscheck.cli import main\n"
              "rc = main(sys.argv[1:])\n"
              "heavy = ('torch', 'jax', 'pandas', 'matplotlib')\n"
              "print('IMPORTED ' + json.dumps([m for m in heavy if m in sys.modules]))"
              + PEAK + "sys.exit(rc)\n")


@dataclass
class Command:
    """Repeated runs of one command line."""

    label: str
    argv: list
    timing: Timing = field(default_factory=Timing)
    max_rss: list = field(default_factory=list)  # bytes, per run
    imported: list | None = None
    returncodes: list = field(default_factory=list)
    summary: str = ""  # crosscheck's closing line: "57 cases, 1838 rows: …"


def crosscheck_argv(*args):
    return [sys.executable, "-c", CROSSCHECK, *args]


def _run(command):
    proc = run_process(command.argv, cwd=ROOT)
    command.timing.times.append(proc.wall)
    command.returncodes.append(proc.returncode)
    peak = proc.max_rss  # an upper bound (see PEAK), used only where /proc is missing
    for line in proc.stdout.splitlines():
        if line.startswith("IMPORTED "):
            command.imported = json.loads(line[len("IMPORTED "):])
        if " cases, " in line and " rows" in line:
            command.summary = line.split(":")[0].strip()
        if line.startswith("PEAK "):
            peak = int(line.split()[1]) * 1024
    command.max_rss.append(peak)
    if proc.returncode not in (0, 1):  # 1: some gradient failed, which is a result; anything else is a crash
        raise RuntimeError(f"{' '.join(command.argv[-6:])} exited {proc.returncode}:\n{proc.stderr[-2000:]}")


def measure(*, repeats, selection=(), with_breakdown=True, log=print):
    """The report and the import floor, in turns; then the numpy-only and full ``crosscheck run`` for memory.

    ``selection`` (e.g. ``("--tag", "chain_rule")``) narrows the catalogue for a quick run."""
    with tempfile.TemporaryDirectory(prefix="crosscheck-bench-") as tmp:
        floor = Command("import torch + jax, first ops", [sys.executable, "-c", FLOOR + PEAK])
        report = Command("crosscheck report", crosscheck_argv("report", *selection, "--results", f"{tmp}/report"))
        for r in range(repeats):
            log(f"  import floor and crosscheck report, run {r + 1} of {repeats}")
            _run(floor)
            _run(report)
        extra = []
        if with_breakdown:
            log("  crosscheck report without jax (where the time goes)")
            no_jax = Command("crosscheck report --backend core --backend handwritten --backend torch",
                             crosscheck_argv("report", *selection, "--backend", "core", "--backend", "handwritten",
                                             "--backend", "torch", "--results", f"{tmp}/no-jax"))
            _run(no_jax)
            extra.append(no_jax)
        log("  crosscheck run, numpy only and full")
        numpy_only = Command("crosscheck run --backend core --backend handwritten",
                             crosscheck_argv("run", "--backend", "core", "--backend", "handwritten", "-q"))
        full_run = Command("crosscheck run", crosscheck_argv("run", *selection, "-q"))
        _run(numpy_only)
        _run(full_run)
    return {"floor": floor, "report": report, "extra": extra, "numpy_only": numpy_only, "full_run": full_run}
