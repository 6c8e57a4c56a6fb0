"""Calibrate the tolerances: every smooth case at many input draws, on every backend and dtype.

    python scripts/calibrate.py                      # 200 draws, every backend installed, both dtypes
    python scripts/calibrate.py --draws 20 -k matmul --backend core --dtype float32

Writes results/calibration.md (versions, settings, tolerances, the worst
ratio per backend and dtype, the table) and results/calibration.csv (the
table), atomically and without timestamps. Exits 1 when any row was fail,
nan, error, unjudged or kink (a smooth case must pass at every draw; a declared
expected-discrepancy is counted and shown, not a failure), 2 on a usage error. The wall time goes to stderr, never into the files.
"""

from __future__ import annotations

import argparse
import sys
import time

from crosscheck import backends as backend_registry
from crosscheck import calibration
from crosscheck.catalogue import DTYPES, CatalogueError, default_case_folder


def parse(argv):
    p = argparse.ArgumentParser(prog="calibrate.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--draws", type=int, default=200, help="input draws per case (default 200)")
    p.add_argument("--first-draw", type=int, default=0, help="the first draw (default 0: the catalogue's own point)")
    p.add_argument("--backend", action="append", choices=[n for n in backend_registry.NAMES if n != "numeric"],
                   help="a backend to calibrate (repeatable; default every backend)")
    p.add_argument("--dtype", action="append", choices=DTYPES, help="a dtype (repeatable; default both)")
    p.add_argument("-k", dest="pattern", help="only cases whose name matches this glob or substring")
    p.add_argument("--cases", action="append", help="case folder or file (repeatable; default ./cases)")
    p.add_argument("--probe", choices=("failing", "all"), default="failing",
                   help="probe for kinks only where the central difference disagrees (default), or everywhere")
    p.add_argument("--method", choices=("auto", "central", "directional"), default="auto",
                   help="how each input is checked (default auto); 'directional' calibrates the random-direction "
                        "check on every input, writing calibration_directional.md/.csv")
    p.add_argument("--mode", action="append", choices=("rev", "fwd", "hvp"),
                   help="a mode to calibrate (repeatable; default rev): rev (gradients), fwd (J·v), hvp (H·v); "
                        "without rev the files are calibration_modes.md/.csv")
    p.add_argument("--name", help="the files' name (default calibration, calibration_<method>, or calibration_modes "
                                   "without rev)")
    p.add_argument("-j", dest="jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--out", default="results", help="folder for calibration.md and .csv (default results)")
    args = p.parse_args(argv)
    if args.draws < 1:
        p.error("--draws must be at least 1")
    if args.first_draw < 0:
        p.error("--first-draw must be non-negative")
    return args


def main(argv=None):
    args = parse(argv)
    backends = args.backend or list(backend_registry.DEFAULT)
    modes = tuple(m for m in ("rev", "fwd", "hvp") if m in (args.mode or ("rev",)))
    dtypes = tuple(d for d in DTYPES if d in (args.dtype or DTYPES))
    folders = args.cases or [default_case_folder()]

    tty, shown = sys.stderr.isatty(), [0]

    def progress(done, total):
        if tty:
            print(f"\rcalibrate: {done}/{total} cases", end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif done == total or done * 10 // total > shown[0]:  # a log file: a line per tenth
            shown[0] = done * 10 // total
            print(f"calibrate: {done}/{total} cases", file=sys.stderr, flush=True)

    start = time.perf_counter()
    try:
        stats, ran, unavailable = calibration.calibrate_folders(
            folders, args.draws, backends, dtypes, pattern=args.pattern, probe=args.probe,
            first_draw=args.first_draw, progress=progress, method=args.method, modes=modes, jobs=args.jobs)
    except CatalogueError as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 2
    for name, why in sorted(unavailable.items()):
        print(f"calibrate: not calibrating {name}: {why}", file=sys.stderr)
    if not stats:
        print("calibrate: no smooth case matched", file=sys.stderr)
        return 2
    name = "calibration" if args.method == "auto" else f"calibration_{args.method}"
    if "rev" not in modes:
        name = name.replace("calibration", "calibration_modes")
    name = args.name or name
    written = calibration.write(stats, args.out, name=name, draws=args.draws, first_draw=args.first_draw, backends=ran,
                                unavailable=unavailable, dtypes=dtypes, probe=args.probe, method=args.method,
                                modes=modes)
    elapsed = time.perf_counter() - start
    totals = calibration.totals(stats)
    print(calibration.worst_per_backend(stats).to_string(index=False))
    print(f"{totals['rows']} rows, {totals['non_pass']} not a pass; wrote {', '.join(map(str, written))}")
    print(f"wall time {elapsed:.1f} s", file=sys.stderr)
    # a declared expected discrepancy (the framework's own rule, with its reason) is counted, not a failure
    return 1 if any(totals[v] for v in ("fail", "nan", "error", "unjudged", "kink")) else 0


if __name__ == "__main__":
    sys.exit(main())
