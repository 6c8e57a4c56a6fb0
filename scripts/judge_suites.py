"""Run the judge's own suites and write results/judge.md: planted bugs caught, false alarms at hard points.

    python scripts/judge_suites.py                  # 200 draws of every random hard-point case
    python scripts/judge_suites.py --draws 20

Exits 1 when a planted bug is missed or a hard point raises a false alarm, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from crosscheck import selftest
from crosscheck.tables import write_files

ROOT = Path(__file__).resolve().parent.parent
JUDGE = ROOT / "tests" / "judge"


def main(argv=None):
    p = argparse.ArgumentParser(prog="judge_suites.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--draws", type=int, default=200, help="input draws per random hard-point case (default 200)")
    p.add_argument("--out", default=str(ROOT / "results"), help="folder for judge.md (default results)")
    args = p.parse_args(argv)
    if args.draws < 1:
        p.error("--draws must be at least 1")
    start = time.perf_counter()
    planted = selftest.run_planted(JUDGE / "planted")

    def progress(done, total):
        if done == total or done % max(total // 10, 1) == 0:
            print(f"hard points: {done}/{total} draws", file=sys.stderr, flush=True)

    hard = selftest.run_hard_points(JUDGE / "hard_points", draws=args.draws, progress=progress)
    write_files(Path(args.out), {"judge.md": selftest.markdown(planted, hard)})
    missed = [p for p in planted if not p.caught]
    print(f"planted: {len(planted) - len(missed)} of {len(planted)} caught; hard points: {hard.rows} rows, "
          f"{len(hard.alarms)} false alarms, {len(hard.unjudged)} unjudged; wrote {Path(args.out) / 'judge.md'}")
    print(f"wall time {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 1 if missed or hard.alarms else 0


if __name__ == "__main__":
    sys.exit(main())
