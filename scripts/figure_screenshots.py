"""Screenshots of report.html's two interactive figures for the README (docs/*.png), in headless Chromium.

    python scripts/figure_screenshots.py                       # from results/report.html into docs/
    python scripts/figure_screenshots.py PAGE.html --out DIR

The figures' section is taken out of the page (it is self-contained: its style, data and script inside it)
and shown alone: the gradient-flow explorer at its default setting (the article's 20 sigmoid layers, its
cell highlighted), and the XOR network's backward sweep stepped to its last step, the gradient of W1.
"""

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import browser  # noqa: E402  (headless Chromium helpers)

SHOTS = {
    "explorer_gradient_flow.png": ("xp-steps", "", (1100, 900)),
    "explorer_backprop_steps.png": ("xp-flow", """
        const sel = document.getElementById('bp-case');
        sel.value = String([...sel.options].findIndex(o => o.textContent.includes('XOR')));
        sel.dispatchEvent(new Event('change'));
        while (!document.getElementById('bp-next').disabled) document.getElementById('bp-next').click();
    """, (1100, 700)),
}


def section(page_text):
    found = re.search(r'<section id="xp".*?</section>', page_text, re.S)
    if not found:
        raise SystemExit("the page has no interactive figures (<section id=\"xp\">): write it with crosscheck report "
                         "on the shipped catalogue, which has the article's cases")
    return found.group(0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", nargs="?", default=str(ROOT / "results" / "report.html"))
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args(argv)
    if browser.skip_reason():
        raise SystemExit(browser.skip_reason())
    body = section(Path(args.page).read_text(encoding="utf-8"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, (hide, script, size) in SHOTS.items():
            page = Path(tmp) / "figure.html"
            page.write_text('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><style>body{font-family:'
                            'sans-serif;margin:1em}table{border-collapse:collapse;font-size:12px}td,th{border:1px '
                            f'solid #ccc;padding:2px 6px}}</style></head><body>{body}<script>document.getElementById'
                            f"('{hide}').remove();{script}</script></body></html>", encoding="utf-8")
            browser.screenshot(page, out / name, size=size)
            print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
