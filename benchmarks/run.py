"""Benchmarks of crosscheck, side by side in one run: writes results/benchmarks.md.

    python benchmarks/run.py             # everything (about 10 minutes on 2 cores)
    python benchmarks/run.py --quick     # a small subset that proves the script works (under a minute)

1. the default ``crosscheck report`` end to end, against the import floor of torch + jax;
2. crosscheck's check of a tanh MLP (P = 10²…10⁵ parameters) against torch.autograd.gradcheck (both
   modes) and jax.test_util.check_grads;
3. the core's forward + backward against torch eager and jax jit, widths 16…4096, float32 and float64;
4. peak memory of a numpy-only run and of a full run;
5. the report at 1/4, 1/2 and all of the catalogue, cold and warm compilation caches, -j 1 and -j 2, and the
   marginal cost of a row per backend;
6. the directional check against gradcheck(fast_mode=True) at equal detection power.

Not part of the test suite: tests/test_benchmarks_smoke.py only proves that ``--quick`` runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if __package__ in (None, ""):  # run as a script: make the benchmarks package importable
    sys.path.insert(0, str(ROOT))

#: what each mode measures: (item 2 parameter counts, item 3 widths, repeats, per-contender budget in seconds)
FULL = dict(targets=(10**2, 10**3, 10**4, 10**5), widths=(16, 256, 1024, 4096), repeats=7, layer_repeats=21,
            budget=10.0, layer_budget=3.0, report_repeats=3, selection=(), breakdown=True,
            full_gradcheck_max=10**5, numpy_loop_max=10**5)
QUICK = dict(targets=(10**2, 10**3), widths=(16, 256), repeats=3, layer_repeats=5, budget=0.5, layer_budget=0.2,
             report_repeats=1, selection=("--tag", "chain_rule"), breakdown=False, full_gradcheck_max=2000,
             numpy_loop_max=10**3)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="small P and widths, few repeats, the report on two cases: proves the script runs")
    p.add_argument("--out", type=Path, default=ROOT / "results", metavar="DIR",
                   help="where benchmarks.md goes (default: results/)")
    p.add_argument("--cap", type=float, default=120.0, metavar="S",
                   help="stop gradcheck(fast_mode=False) after S seconds and report '> S' (default 120)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="threads for numpy's BLAS, torch and jax, here and in every child process (default 1; "
                        "0: each library's own choice). With more than one, torch's OpenMP pool, which keeps "
                        "spinning after each op, and OpenBLAS's pool fight over the cores when both run in one "
                        "process, and any load from elsewhere makes it worse: on 2 cores numpy's width-256 "
                        "forward + backward went from 0.4 ms to 110 ms, gradcheck at P = 10^4 from 2 s to 55 s")
    return p.parse_args(argv)


def limit_threads(n):
    """Set before numpy, torch or jax is imported (here and inherited by every child process). jax's
    XLA takes a thread count of one only (its own pool otherwise sizes itself to the machine)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    if n == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".strip()


def missing_frameworks():
    return [m for m in ("torch", "jax") if importlib.util.find_spec(m) is None]


def main(argv=None):
    args = parse_args(argv)
    missing = missing_frameworks()
    if missing:
        print(f"benchmarks: {' and '.join(missing)} not installed; the benchmarks compare against both "
              f"(pip install -c constraints.txt -e '.[all]')", file=sys.stderr)
        return 2
    if args.threads:
        limit_threads(args.threads)
    mode = QUICK if args.quick else FULL
    from benchmarks import detection, end_to_end, gradient_checks, layers, memory, render, scaling
    from benchmarks.machine import machine

    def log(text):
        print(text, file=sys.stderr, flush=True)

    started = time.perf_counter()
    before = machine()
    log("1 and 4: crosscheck report against the import floor; peak memory")
    e2e = end_to_end.measure(repeats=mode["report_repeats"], selection=mode["selection"],
                             with_breakdown=mode["breakdown"], log=log)
    log("2: the tanh MLP, crosscheck against gradcheck and check_grads")
    checks = gradient_checks.measure(mode["targets"], repeats=mode["repeats"], budget=mode["budget"], cap=args.cap,
                                     full_gradcheck_max=mode["full_gradcheck_max"],
                                     numpy_loop_max=mode["numpy_loop_max"], log=log)
    log("3: forward + backward of a dense stack")
    stacks = layers.measure(mode["widths"], ("float32", "float64"), repeats=mode["layer_repeats"],
                            budget=mode["layer_budget"], log=log)
    log("4b: peak memory against the input's size")
    sizes = memory.measure(sizes=(10**4, 10**5) if args.quick else memory.SIZES, log=log)
    log("5: the report as the catalogue grows, cold and warm, -j 1 and -j 2")
    grown = scaling.measure(quick=args.quick, log=log)
    log("6: directional checks at gradcheck's detection power")
    detected = detection.measure(10**4 if args.quick else 10**5, repeats=mode["repeats"], budget=mode["budget"],
                                 log=log)
    after = machine()
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "") + (
        f" --threads {args.threads}" if args.threads != 1 else "") + (f" --cap {args.cap:g}" if args.cap != 120 else "")
    text = render.document(command=command, quick=args.quick, selection=mode["selection"], before=before,
                           after=after, wall=time.perf_counter() - started, e2e=e2e, checks=checks, layers=stacks,
                           cap=args.cap, memory=sizes, scaling=grown, detection=detected)
    from crosscheck.tables import write_atomic

    path = args.out / "benchmarks.md"
    write_atomic(path, text)
    log(f"wrote {path} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
