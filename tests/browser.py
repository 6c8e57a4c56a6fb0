"""Headless Chromium from the command line (Debian's ``chromium``): a page's DOM after load, and a screenshot.

``probe(html_path, script)`` copies the page, appends ``script`` (which records what a reader sees as
``data-*`` attributes on elements, e.g. computed colours, image sizes) and returns the DOM Chromium dumps.
Reusable by any test that must look at a page: skip with :func:`skip_reason` when Chromium is absent.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--run-all-compositor-stages-before-draw",
         "--virtual-time-budget=5000")


def executable():
    return next((path for name in NAMES if (path := shutil.which(name))), None)


def skip_reason():
    """None when Chromium is there, else why a browser test cannot run."""
    if executable() is None:
        return f"no Chromium on PATH (looked for {', '.join(NAMES)}; Debian: apt-get install chromium)"
    return None


def _run(args, timeout):
    with tempfile.TemporaryDirectory(prefix="crosscheck-chromium-") as profile:
        return subprocess.run([executable(), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout)


def dump_dom(page: Path, timeout=120, size=None) -> str:
    """The page's DOM after load (and after its scripts ran), in a window of ``size`` pixels if given."""
    window = [f"--window-size={size[0]},{size[1]}"] if size else []
    proc = _run([*window, "--dump-dom", page.resolve().as_uri()], timeout)
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise RuntimeError(f"chromium --dump-dom failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def screenshot(page: Path, png: Path, size=(1280, 2400), timeout=120) -> Path:
    """A PNG of the page as rendered, ``size`` pixels."""
    proc = _run([f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", page.resolve().as_uri()], timeout)
    if not png.exists():
        raise RuntimeError(f"chromium --screenshot wrote nothing ({proc.returncode}): {proc.stderr[-2000:]}")
    return png


def probe(page: Path, script: str, timeout=120, size=None) -> str:
    """The DOM of a copy of ``page`` (beside it, so relative links resolve alike) with ``script`` run on load."""
    copy = page.with_name(f".probe-{page.name}")
    text = page.read_text(encoding="utf-8")
    copy.write_text(text.replace("</body>", f"<script>window.addEventListener('load', () => {{{script}}});"
                                           f"</script></body>"), encoding="utf-8")
    try:
        return dump_dom(copy, timeout, size)
    finally:
        copy.unlink()
