"""The machine a benchmark ran on: CPU, cores, memory, load, and the thread settings in force."""

from __future__ import annotations

import os
from pathlib import Path


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


def machine():
    """What the document's header shows; the load average is read when this is called."""
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    threads = {v: os.environ[v] for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")
               if v in os.environ}
    return {
        "cpu": _cpuinfo("model name"),
        "cores": f"{cores} ({usable} usable by this process)",
        "memory": _memory(),
        "load": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "threads": ", ".join(f"{k}={v}" for k, v in threads.items()) or "each library's default",
    }
