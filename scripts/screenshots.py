"""The README's pictures of the report: results/report.html in headless Chromium, as a reader first sees it.

    python scripts/screenshots.py                    # from results/report.html into docs/
    python scripts/screenshots.py --report other/report.html --out /tmp/shots

Writes docs/report-first-screen.png (the first screen at 1366 × 768) and docs/report-narrow.png (the top of the
page at 500 px, headless Chromium's narrowest window). Run it after `crosscheck report` regenerates results/.
It then checks the acceptance of the first screen: the verdict counts end and the disagreements (when the run
has special points) begin within 768 px, else it exits 1. Needs Debian's chromium (or chrome) on PATH; exits 2
with the reason when there is none, or when the report is missing. Chromium's PNGs carry no timestamp: the same report gives the same files on the same Chromium.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import browser  # noqa: E402  (the repository's headless-Chromium helpers)

#: file name -> window size (width, height) in CSS pixels
SHOTS = {"report-first-screen.png": (1366, 768), "report-narrow.png": (500, 1100)}
FIRST_SCREEN = SHOTS["report-first-screen.png"]
#: where, on the first screen, the verdict counts end and the disagreements begin (px from the top; -1: absent)
WHERE = """
const at = (id, edge) => { const h = document.getElementById(id); if (!h) return -1;
  const box = edge === 'bottom' ? h.nextElementSibling : h; return Math.round(box.getBoundingClientRect()[edge]); };
document.body.setAttribute('data-where', at('verdicts-per-backend-and-dtype', 'bottom') + ' '
  + at('where-the-frameworks-disagree', 'top'));
"""


def first_screen(report):
    """(bottom of the verdict counts table, top of 'Where the frameworks disagree') in px, -1 where absent."""
    import re

    dom = browser.probe(report, WHERE, size=FIRST_SCREEN)
    return tuple(int(v) for v in re.search(r'data-where="(-?\d+) (-?\d+)"', dom).groups())


def main(argv=None):
    p = argparse.ArgumentParser(prog="screenshots.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--report", type=Path, default=ROOT / "results" / "report.html", help="the page (default "
                   "results/report.html)")
    p.add_argument("--out", type=Path, default=ROOT / "docs", help="the folder for the PNGs (default docs/)")
    args = p.parse_args(argv)
    if browser.skip_reason() is not None:
        print(f"screenshots.py: {browser.skip_reason()}", file=sys.stderr)
        return 2
    if not args.report.is_file():
        print(f"screenshots.py: no report at {args.report} (run `crosscheck report` first)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, size in SHOTS.items():
        (args.out / name).unlink(missing_ok=True)  # a stale picture must not pass for a new one
        shot = browser.screenshot(args.report, args.out / name, size=size)
        print(f"wrote {shot} ({size[0]} × {size[1]})")
    counts, disagree = first_screen(args.report)
    height = FIRST_SCREEN[1]
    print(f"first screen ({height} px high): the verdict counts end at {counts} px, the disagreements start at "
          f"{disagree} px")
    if not 0 < counts <= height or disagree >= height:
        print("screenshots.py: the first screen does not show the verdict counts and the start of the "
              "disagreements", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
