"""The machine a benchmark ran on: CPU, cores, memory, load, and the thread settings in force."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpuinfo(key):
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _memory():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def revision():
    """The commit the package and catalogue were measured at, and whether they had uncommitted changes."""
    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10).stdout
    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        dirty = git("status", "--porcelain", "--", "crosscheck", "cases").strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}" + (" + uncommitted changes to crosscheck/ or cases/" if dirty else "") if commit else "unknown"


def machine():
    """What the document's header shows; the load average is read when this is called."""
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    threads = {v: os.environ[v] for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")
               if v in os.environ}
    return {
        "revision": revision(),
        "cpu": _cpuinfo("model name"),
        "cores": f"{cores} ({usable} usable by this process)",
        "memory": _memory(),
        "load": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "threads": ", ".join(f"{k}={v}" for k, v in threads.items()) or "each library's default",
    }
