"""A case that hangs or ends the process must not end the run silently.

* **Time limit** (``--timeout``, default 120 s per case and dtype, every backend
  and the reference together): ``SIGALRM`` raises :class:`CaseTimeout` in the
  case's Python code. It derives from ``BaseException`` so that the backends'
  ``except Exception`` cannot swallow it and let the next backend run unlimited.
  It works in the main thread (the command line, pytest without threads); a C
  call that never returns to Python is not interrupted (Ctrl-C still ends it).
* **sys.exit() in a case** raises ``SystemExit``: caught here, the case's rows
  become ``error`` rows saying so, and the run goes on (at import of a case
  file, :mod:`crosscheck.catalogue` turns it into a load error).
* **os._exit() or an exit from native code** cannot be caught in-process. The
  ``crosscheck`` command therefore runs the real command in a child process
  (:func:`supervise`) and reads a status file the child keeps: the case it is
  in, and a last line when ``main`` returns. A child that ends without that line
  is reported with the case it was running and a non-zero exit status. The child
  also gets :func:`pinned_arithmetic`, so that its BLAS computes alike everywhere.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

DEFAULT_TIMEOUT = 120.0
#: environment variable naming the status file the supervising ``crosscheck`` process reads
STATUS_ENV = "CROSSCHECK_STATUS_FILE"
END = "end"


class CaseTimeout(BaseException):
    """A case ran past its time limit (a BaseException: a backend's ``except Exception`` must not stop it)."""


def note(line: str):
    """Append one line to the status file of a supervised run (nothing otherwise)."""
    path = os.environ.get(STATUS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line.replace("\n", " ") + "\n")


@contextmanager
def time_limit(seconds, what):
    """Raise :class:`CaseTimeout` in this block after ``seconds`` (no limit: None or 0, or off the main thread)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise CaseTimeout(f"{what} ran longer than the time limit of {seconds:g} s (--timeout)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def guarded_rows(case, dtype, backends, timeout, compute):
    """``compute()``'s rows for one case and dtype, or ``error`` rows (every backend that applies, every
    parameter) when it runs past ``timeout`` seconds or calls ``sys.exit``."""
    from .compare import Row

    note(f"case {case.name} {dtype} ({case.location})")
    try:
        with time_limit(timeout, f"case {case.name!r} ({case.location}) in {dtype}"):
            return compute()
    except CaseTimeout as exc:
        message = str(exc)
    except SystemExit as exc:
        message = (f"case {case.name!r} ({case.location}) called sys.exit({exc.code!r}) in {dtype}: "
                   f"a case must return its output, not end the process")
    return [Row(case.name, p, b.name, dtype, "error", message=message)
            for b in backends if b.applies(case) for p in case.wrt]


#: OpenBLAS's generic kernel per machine architecture: every CPU of the architecture runs it alike
_GENERIC_OPENBLAS_CORE = {"x86_64": "Prescott", "amd64": "Prescott", "aarch64": "ARMV8", "arm64": "ARMV8"}


def pinned_arithmetic() -> dict:
    """Environment that makes the BLAS behind numpy (and torch's MKL) compute alike on every machine of an
    architecture, whatever the user's thread count or kernel choice: OpenBLAS on one thread with its generic
    kernel, MKL in its compatible mode. A matrix product's last bits depend on the kernel (FMA or not, block
    sizes) and on how the threads split the sums; with these, the committed results/ regenerate byte for byte.
    It must be set before numpy loads OpenBLAS, so the ``crosscheck`` command sets it for its child process."""
    import platform

    env = {"OPENBLAS_NUM_THREADS": "1", "MKL_CBWR": "COMPATIBLE"}
    core = _GENERIC_OPENBLAS_CORE.get(platform.machine().lower())
    if core:
        env["OPENBLAS_CORETYPE"] = core
    return env


def supervise(argv) -> int:
    """Run ``python -m crosscheck.cli ARGV`` in a child process; report an exit that skipped ``main``'s end."""
    import subprocess
    import sys
    import tempfile

    fd, status = tempfile.mkstemp(prefix="crosscheck-status-", suffix=".txt")
    os.close(fd)
    env = {**os.environ, **pinned_arithmetic(), STATUS_ENV: status}
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the child too: it answers 130
    try:
        proc = subprocess.Popen([sys.executable, "-m", "crosscheck.cli", *argv], env=env)
        forward = signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signum))
        try:
            code = proc.wait()
        finally:
            signal.signal(signal.SIGTERM, forward)
        with open(status, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    finally:
        signal.signal(signal.SIGINT, previous)
        os.unlink(status)
    if lines and lines[-1] == END:
        return code
    where = next((line for line in reversed(lines) if line.startswith("case ")), None)
    during = f" while running {where}" if where else ""
    how = f"was killed by signal {-code}" if code < 0 else f"ended abruptly with exit status {code}"
    print(f"crosscheck: error: the process {how}{during} (os._exit(), or an exit from native code, skips "
          f"crosscheck's own ending); no results were written", file=sys.stderr)
    return 128 - code if code < 0 else (code or 1)
