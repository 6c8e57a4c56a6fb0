"""``-j N``: a run's work spread over N worker processes, with rows identical to a serial run's.

The unit of work is what a serial run already does in one piece: judging one case in one dtype on every
backend (its rows, pairwise agreements and kink conventions), training one case on every backend, or the
studies (gradient flow, the article's tables, the conventions table). Each unit computes exactly what the
serial code computes, from the same seeded inputs; the results are put back in the serial order, so the
tables are the same byte for byte whatever N and whatever order the units finish in.

Workers are started with ``spawn`` (a fresh interpreter: torch, jax and TensorFlow keep threads that a
``fork`` would copy in an unknown state). Each worker loads the cases again from the case files they came
from and unpickles the backends it is given; a case made in code (no case file) cannot travel, and the run
then stays serial, saying why. A worker that dies (``os._exit`` in a case, a crash in native code) breaks the
pool: the units it left unfinished are retried one at a time in a fresh worker, and the unit that kills its
worker alone gets ``error`` rows naming the case, as the supervising ``crosscheck`` process would say of a
serial run.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

#: environment variable carrying the default of -j (the cores available when unset)
JOBS_ENV = "CROSSCHECK_JOBS"


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform says, else the count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_jobs() -> int:
    """``$CROSSCHECK_JOBS`` when set (an integer ≥ 1), else the cores available."""
    value = os.environ.get(JOBS_ENV, "").strip()
    if not value:
        return available_cores()
    try:
        jobs = int(value)
    except ValueError:
        raise ValueError(f"{JOBS_ENV}={value!r} is not an integer (the number of worker processes)") from None
    if jobs < 1:
        raise ValueError(f"{JOBS_ENV}={value!r} must be at least 1")
    return jobs


def why_serial(cases, backends) -> str | None:
    """None when the cases and backends can travel to worker processes, else why the run stays serial."""
    made_in_code = [c.name for c in cases if not c.source]
    if made_in_code:
        return (f"case {made_in_code[0]!r} was made in code, not loaded from a case file, so a worker process "
                f"cannot load it")
    for b in backends:
        try:
            pickle.dumps(b)
        except Exception as exc:  # a backend holding a lock, a module, a lambda...
            return f"backend {getattr(b, 'name', b)!r} cannot be sent to a worker process ({type(exc).__name__}: {exc})"
    return None


# ------------------------------------------------------------------ inside a worker

_WORKER = {}


def _start_worker(sources, selected, backends_blob):
    """Load the cases of the run (by case file, name and draw) and the backends, once per worker."""
    from .catalogue import discover

    found = {c.name: c for c in discover(sorted(sources), errors=[])}
    cases = {}
    for name, draw in selected:
        if name not in found:
            raise RuntimeError(f"worker process: case {name!r} is no longer in its case file")
        cases[(name, draw)] = found[name].redrawn(draw) if draw else found[name]
    _WORKER["cases"] = cases  # (name, draw) -> case: a calibration runs several draws of a case in one run
    _WORKER["order"] = list(selected)
    _WORKER["backends"] = pickle.loads(backends_blob)


def _judge(key, dtype, options):
    """One case (``key``: its name and draw) in one dtype, as :func:`crosscheck.runner.run` judges it:
    (rows, pairs, conventions)."""
    from . import runner

    pairs, conventions = [], []
    rows = runner.run([_WORKER["cases"][tuple(key)]], _WORKER["backends"], (dtype,), pairs=pairs,
                      conventions=conventions, **options)
    return rows, pairs, conventions


def _train(key, dtypes, timeout, checkpoints):
    from . import report

    return report.train_case(_WORKER["cases"][tuple(key)], _WORKER["backends"], dtypes, timeout, checkpoints)


def _study(name, dtypes):
    """One of the report's studies (report.STUDY_UNITS) over the run's cases."""
    from . import report

    catalogue = {case: _WORKER["cases"][(case, draw)] for case, draw in _WORKER["order"]}
    return report.STUDY_UNITS[name](catalogue, _WORKER["backends"], dtypes)


_TASKS = {"judge": _judge, "train": _train, "study": _study}


def _do(kind, args):
    """The unit's result, and the compilation-cache counts it added (summed in the main process)."""
    from . import cache, runner

    before, spent = dict(cache.counts), dict(runner.SPENT)
    result = _TASKS[kind](*args)
    return result, ({k: cache.counts[k] - before[k] for k in before},
                    {k: v - spent.get(k, 0.0) for k, v in runner.SPENT.items()})


# ------------------------------------------------------------------ in the main process


def run_units(units, cases, backends, jobs, on_done=None, on_lost=None):
    """Results of ``units`` (a list of (kind, args)), in the same order, computed by ``jobs`` workers.

    ``on_done(index, result)`` is called as each unit finishes (for a progress bar); ``on_lost(index, message)``
    gives the result of a unit whose worker died while running it alone.
    """
    from . import cache, runner

    sources = {c.source for c in cases}
    selected = list(dict.fromkeys((c.name, c.draw) for c in cases))
    blob = pickle.dumps(backends)
    results, pending = {}, list(range(len(units)))
    context = multiprocessing.get_context("spawn")
    suspects = []  # after a broken pool: the units that may have been running, retried one at a time
    while pending:
        batch = suspects[:1] if suspects else pending
        del suspects[:1]
        with ProcessPoolExecutor(min(jobs, len(batch)), mp_context=context, initializer=_start_worker,
                                 initargs=(sources, selected, blob)) as pool:
            futures = {pool.submit(_do, *units[i]): i for i in batch}
            try:
                for future in as_completed(futures):
                    i = futures[future]
                    results[i], (counted, spent) = future.result()
                    for k, v in counted.items():
                        cache.counts[k] += v
                    for k, v in spent.items():
                        runner.SPENT[k] = runner.SPENT.get(k, 0.0) + v
                    if on_done:
                        on_done(i, results[i])
            except BrokenProcessPool:
                pool.shutdown(wait=False, cancel_futures=True)
                unfinished = [i for i in batch if i not in results]
                if len(batch) == 1:  # this unit ends its worker by itself
                    i = batch[0]
                    results[i] = on_lost(i, "the worker process running it ended abruptly (os._exit, a signal "
                                            "or a crash in native code)") if on_lost else None
                    if on_done:
                        on_done(i, results[i])
                else:  # workers take units in submission order: those running are the first unfinished ones
                    suspects = unfinished[:jobs + 1]
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        pending = [i for i in pending if i not in results]
    return [results[i] for i in range(len(units))]


def note_serial(reason):
    print(f"crosscheck: running serially: {reason}", file=sys.stderr)
