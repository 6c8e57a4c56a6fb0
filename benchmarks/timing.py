"""Timing and memory measurement: medians over round-robin repeats, subprocesses with their own peak RSS.

Contenders are timed in turns (A, B, C, A, B, C, …) rather than one after the other, so
that a burst of load from elsewhere on the machine falls on all of them alike and their
ratios stay meaningful even when the absolute times drift.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field


@dataclass
class Timing:
    """Seconds per call of one contender; ``capped`` when one call ran past ``cap`` seconds and was stopped
    (then ``times`` is empty and the time is only known to exceed ``cap``)."""

    times: list = field(default_factory=list)
    cap: float | None = None
    capped: bool = False
    estimate: float | None = None  # an extrapolated time, for a capped measurement
    result: object = None  # what the last call returned

    @property
    def median(self):
        if self.capped:
            return float("inf")
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def bound(self):
        """The median, or the cap it exceeds: a lower bound on the time when capped."""
        return self.cap if self.capped else self.median

    def __str__(self):
        if self.capped:
            est = f" (≈ {seconds(self.estimate)} extrapolated)" if self.estimate else ""
            return f"> {seconds(self.cap)}{est}"
        return seconds(self.median)


def round_robin(contenders, *, repeats, budget=float("inf"), min_repeats=1):
    """Time each ``name -> callable`` in turns, up to ``repeats`` calls each; a contender stops early once it
    has ``min_repeats`` calls and has used ``budget`` seconds in all. Returns ``name -> Timing``."""
    out = {name: Timing() for name in contenders}
    spent = {name: 0.0 for name in contenders}
    for r in range(repeats):
        active = [n for n in contenders if r < min_repeats or spent[n] < budget]
        if not active:
            break
        for name in active:
            t = time.perf_counter()
            out[name].result = contenders[name]()
            dt = time.perf_counter() - t
            out[name].times.append(dt)
            spent[name] += dt
    return out


def once(fn):
    """Seconds for one call of ``fn`` (e.g. a cold call: first use, compilation included)."""
    t = time.perf_counter()
    result = fn()
    return Timing([time.perf_counter() - t], result=result)


@dataclass
class Process:
    """One subprocess: its wall time, its peak resident memory, its exit status and output."""

    wall: float
    max_rss: int  # bytes
    returncode: int
    stdout: str
    stderr: str


def run_process(argv, *, cwd=None, env=None, timeout=None):
    """Run ``argv`` to completion and return a :class:`Process`, or None when it ran past ``timeout``
    seconds (then it is killed). The peak RSS is the child's own, from ``wait4`` on its pid (not the
    maximum over every child this process ever had, which is what RUSAGE_CHILDREN gives)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        deadline = None if timeout is None else t + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, 0 if deadline is None else os.WNOHANG)
            if pid == p.pid:
                break
            if time.perf_counter() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                p.returncode = -9
                return None
            time.sleep(0.05)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        return Process(wall, usage.ru_maxrss * 1024, p.returncode, out.read(), err.read())


def seconds(s):
    """1.23 s, 45.6 ms, 789 µs: three significant figures in a unit that suits."""
    if s != s:
        return "–"
    if s == float("inf"):
        return "∞"
    if s >= 1:
        return f"{s:.3g} s" if s < 1000 else f"{s:.0f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def mebibytes(n):
    return f"{n / 2**20:.0f} MiB"


def ratio(x):
    if x != x:
        return "–"
    if x == float("inf"):
        return "∞"
    return f"{x:.3g}×"
