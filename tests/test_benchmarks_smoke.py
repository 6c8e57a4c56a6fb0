"""The benchmark script runs: ``--quick`` writes benchmarks.md with every section.

Timings are not asserted (benchmarks are a script writing a table, never timed assertions in the test
suite); only that the script runs, checks every gradient it times, and writes its document.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "run.py"
MISSING = [m for m in ("torch", "jax") if importlib.util.find_spec(m) is None]
needs_frameworks = pytest.mark.skipif(bool(MISSING), reason=f"the benchmarks compare against torch and jax; "
                                                            f"{' and '.join(MISSING)} not installed")

SECTIONS = ("## Machine", "## Targets", "## 1. `crosscheck report`", "## 2. Checking the tanh MLP",
            "### 2a. Full element-wise checks", "### 2b. Directional checks", "### 2c. First call",
            "## 3. One forward + backward", "## 4. Peak memory", "## Against the baselines", "## Notes")


@needs_frameworks
def test_quick_run_writes_every_section(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = (tmp_path / "benchmarks.md").read_text(encoding="utf-8")
    positions = [text.find(s) for s in SECTIONS]
    assert -1 not in positions, [s for s, p in zip(SECTIONS, positions) if p == -1]
    assert positions == sorted(positions)
    assert "| torch |" in text and "| jax |" in text  # the versions header
    assert "Every check above accepted every gradient" in text
    assert "| a numpy-only run imports neither torch nor jax | none | neither imported | met |" in text
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary left behind


def test_without_frameworks_the_script_says_what_is_missing(tmp_path):
    """Run with torch and jax hidden from the import system: exit 2 and a message naming both."""
    hide = ("import importlib.util, runpy, sys\n"
            "real = importlib.util.find_spec\n"
            "importlib.util.find_spec = lambda name, *a: None if name in ('torch', 'jax') else real(name, *a)\n"
            f"sys.argv = [{str(SCRIPT)!r}, '--out', {str(tmp_path)!r}]\n"
            f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", hide], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "torch and jax not installed" in proc.stderr
    assert not (tmp_path / "benchmarks.md").exists()


def test_a_target_says_by_how_much_it_is_met_or_missed():
    from benchmarks.render import Target

    assert Target("g", "t", 5, "≤", 15.5).verdict() == "**missed by 3.1×**"
    assert Target("g", "t", 8, "≥", 16.0).verdict() == "met, 2× to spare"
    assert Target("g", "t", 8, "≥", None).verdict() == "–"
    capped = Target("g", "t", 5, "≥", 2.0, estimate=40.0)  # gradcheck stopped at its cap, then extrapolated
    assert capped.shown() == "> 2× (≈ 40× extrapolated)"
    assert capped.verdict() == "met, 8× to spare (extrapolated)"
