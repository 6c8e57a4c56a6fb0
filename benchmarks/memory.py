"""Peak memory against the size of the input: one differentiated input of 10^6 and 4·10^6 elements.

The target (issue: memory proportional to the input): peak ≤ 8× the largest input's bytes plus the import
footprint. Each size runs ``crosscheck run`` on a one-case folder in a fresh child process, numpy only
(``--backend core``, float64), so the footprint is crosscheck's and numpy's own imports: the same command on
the same case at 10 elements. A large input is checked along random directions (its size is beyond
``--central-max``), made one at a time as int8, the perturbed points evaluated one copy at a time.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .end_to_end import Command, _run, crosscheck_argv

CASE = """
from crosscheck import case, inputs

@case(x=inputs.normal({n}), dtypes=("float64",))
def big_tanh(nn, x):
    return nn.tanh(x) * 0.5
"""
SIZES = (10**6, 4 * 10**6)
#: the target: peak minus the footprint, in units of the input's bytes
TARGET_FACTOR = 8


@dataclass
class MemoryPoint:
    elements: int
    input_bytes: int
    peak: int
    footprint: int
    verdicts: str

    @property
    def factor(self):
        return (self.peak - self.footprint) / self.input_bytes


def _command(folder, n, label):
    Path(folder, "big.py").write_text(CASE.format(n=n))
    return Command(label, crosscheck_argv("run", "--cases", str(folder), "--backend", "core", "--dtype", "float64",
                                          "-q"))


def measure(sizes=SIZES, log=print):
    points = []
    with tempfile.TemporaryDirectory(prefix="crosscheck-mem-") as tmp:
        small = Path(tmp, "small")
        small.mkdir()
        base = _command(small, 10, "footprint")
        _run(base)
        footprint = base.max_rss[0]
        for n in sizes:
            log(f"  peak memory at {n:.0e} elements")
            folder = Path(tmp, f"n{n}")
            folder.mkdir()
            cmd = _command(folder, n, f"{n} elements")
            _run(cmd)
            points.append(MemoryPoint(n, 8 * n, cmd.max_rss[0], footprint, cmd.summary))
    return points


def table(points):
    import pandas as pd

    mib = 2**20
    return pd.DataFrame([{
        "input elements": f"{p.elements:.0e}", "input (float64)": f"{p.input_bytes / mib:.1f} MiB",
        "peak": f"{p.peak / mib:.0f} MiB", "footprint (10 elements)": f"{p.footprint / mib:.0f} MiB",
        "(peak − footprint) ÷ input": f"{p.factor:.1f}×", "target": f"≤ {TARGET_FACTOR}×",
        "met": "yes" if p.factor <= TARGET_FACTOR else "no", "run": p.verdicts} for p in points])


if __name__ == "__main__":
    for p in measure():
        print(p, f"{p.factor:.2f}x", file=sys.stderr)
