"""Calibration: a fast subset of what ``scripts/calibrate.py`` runs, the tables it writes, and that it can fail."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from crosscheck import calibration, runner
from crosscheck.catalogue import select
from crosscheck.compare import Tolerance

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "calibrate.py"
#: three smooth cases: a broadcast, a non-scalar matmul, a scalar loss
SUBSET = ("bias_add_broadcast", "matmul_batched", "softmax_cross_entropy")
DRAWS = 3
HAS_JAX = importlib.util.find_spec("jax") is not None


@pytest.fixture(scope="module")
def subset(catalogue):
    return [catalogue[name] for name in SUBSET]


def test_smooth_cases_are_the_random_ones_without_kinks(catalogue):
    smooth = {c.name for c in calibration.smooth_cases(catalogue.values())}
    assert set(SUBSET) <= smooth
    assert "relu_at_zero" not in smooth and "maximum_tie" not in smooth  # fixed points, tagged kinks
    assert "xor_mlp" not in smooth and "sin_of_quadratic" not in smooth  # fixed points only
    assert all(catalogue[n].is_random and "kinks" not in catalogue[n].tags for n in smooth)


def test_a_few_draws_of_a_few_cases_all_pass_and_are_written(subset, tmp_path):
    stats = calibration.calibrate(subset, DRAWS, ["core"], ("float64", "float32"))
    assert [(s.case, s.backend, s.dtype) for s in stats] == [(c, "core", d) for c in SUBSET
                                                            for d in ("float64", "float32")]
    totals = calibration.totals(stats)
    assert totals["non_pass"] == 0, [m for s in stats for m in s.messages]
    params = {c.name: len(c.wrt) for c in subset}
    assert all(s.rows == DRAWS * params[s.case] for s in stats)
    assert all(0 <= s.worst_ratio < 1 and 0 <= s.worst_draw < DRAWS for s in stats)

    written = calibration.write(stats, tmp_path, draws=DRAWS, backends=["core"], dtypes=("float64", "float32"))
    assert sorted(p.name for p in written) == ["calibration.csv", "calibration.md"]
    md = (tmp_path / "calibration.md").read_text()
    rows = 2 * DRAWS * sum(params.values())
    for heading in ("## Versions", "## Settings", "## Default tolerances", "## Worst ratio per backend and dtype",
                    f"**Total: {rows} rows judged, 0 not a pass (none).**"):
        assert heading in md
    csv = (tmp_path / "calibration.csv").read_text().splitlines()
    assert csv[0] == ",".join(calibration.COLUMNS) and len(csv) == 1 + len(stats)
    ratios = [float(line.split(",")[4]) for line in csv[1:]]  # after case, backend, dtype, mode
    assert ratios == sorted(ratios, reverse=True)


def test_a_too_tight_tolerance_makes_the_calibration_report_failures(subset, tmp_path):
    tight = Tolerance(atol=1e-20, rtol=1e-20)  # below float64 round-off: nothing computed can meet it
    stats = calibration.calibrate(subset, 2, ["core"], ("float32",), tolerances={"float32": tight})
    assert all(s.counts["fail"] == s.rows > 0 and s.worst_ratio > 1 for s in stats)
    assert calibration.totals(stats)["non_pass"] == sum(s.rows for s in stats)
    calibration.write(stats, tmp_path, draws=2, backends=["core"], dtypes=("float32",))
    md = (tmp_path / "calibration.md").read_text()
    assert "## Rows that are not a pass" in md and "**fail** `bias_add_broadcast`" in md
    assert "outside tolerance" in md  # the row's own message, enough to act on


def test_the_worst_draw_is_the_one_that_failed(catalogue):
    """Scale the tolerance so that only the worst draw's ratio exceeds 1 (both atol and rtol scaled by f
    divide every ratio by f): that draw fails, and is the one the table names."""
    case = catalogue["exp"]
    loose = calibration.calibrate([case], 6, ["core"], ("float32",))[0]
    f = loose.worst_ratio * 0.999
    default = case.tolerance("float32")
    tight = Tolerance(atol=default.atol * f, rtol=default.rtol * f)
    stats = calibration.calibrate([case], 6, ["core"], ("float32",), tolerances={"float32": tight})[0]
    assert stats.worst_draw == loose.worst_draw and stats.worst_ratio > 1
    assert stats.counts["fail"] >= 1
    assert loose.worst_draw in [draw for draw, verdict, _, _ in stats.messages if verdict == "fail"]


def test_a_later_range_of_draws_is_the_continuation_of_an_earlier_one(subset):
    """--first-draw extends a calibration: draws 2..3 are the same points whether or not 0..1 ran first."""
    whole = calibration.calibrate(subset, 4, ["core"], ("float32",))
    later = calibration.calibrate(subset, 2, ["core"], ("float32",), first_draw=2)
    for w, s in zip(whole, later):
        if w.worst_draw >= 2:
            assert (s.worst_draw, s.worst_ratio) == (w.worst_draw, w.worst_ratio)
        else:
            assert s.worst_ratio <= w.worst_ratio


def test_the_tables_are_byte_identical_for_the_same_inputs(subset, tmp_path):
    for out in ("a", "b"):
        stats = calibration.calibrate(subset, 2, ["core"], ("float64",))
        calibration.write(stats, tmp_path / out, draws=2, backends=["core"], dtypes=("float64",))
    for name in ("calibration.md", "calibration.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_two_workers_give_the_tables_of_one_and_of_a_run_draw_by_draw(subset, tmp_path):
    """A calibration runs a few cases at a time, each at every draw (a framework compiles a case once for all
    its draws); with -j its workers hold several draws of one case. Each row must count for its own draw: the
    tables are those of one worker, and the worst draws those of the draws run one by one."""
    for jobs in (1, 2):
        stats = calibration.calibrate(subset, 3, ["core"], ("float32",), modes=("rev", "fwd"), jobs=jobs)
        calibration.write(stats, tmp_path / str(jobs), draws=3, backends=["core"], dtypes=("float32",))
    for name in ("calibration.md", "calibration.csv"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()
    worst = {}
    for draw in range(3):
        for row in runner.run([c.redrawn(draw) for c in subset], ["core"], ("float32",), probe="failing",
                              modes=("rev", "fwd")):
            key = (row.case, row.dtype, row.mode)
            if row.ratio > worst.get(key, (-1.0,))[0]:
                worst[key] = (row.ratio, draw)
    assert {(s.case, s.dtype, s.mode): (s.worst_ratio, s.worst_draw) for s in stats} == worst


@pytest.mark.skipif(not HAS_JAX, reason="jax is not installed")
def test_jax_contracts_each_draw_with_its_own_cotangent(catalogue):
    """jax compiles a case once and reuses it for every draw: the cotangent must be an argument, not draw 0's
    traced in as a constant (bias_add_broadcast's 5 × 4 output is contracted with one). Draw 0 first, as a
    calibration runs them, so that the compilation is the one that would carry the stale constant."""
    stats = calibration.calibrate([catalogue["bias_add_broadcast"]], 3, ["jax"], ("float64",))
    assert calibration.totals(stats)["non_pass"] == 0, [m for s in stats for m in s.messages]


def test_the_script_runs_its_options_and_exits_zero(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), "--draws", "2", "--backend", "core", "--dtype", "float64",
                          "-k", "matmul_vector", "--cases", str(ROOT / "cases"), "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "0 not a pass" in out.stdout and "wall time" in out.stderr
    csv = (tmp_path / "calibration.csv").read_text().splitlines()
    assert [line.split(",")[:3] for line in csv[1:]] == [["matmul_vector", "core", "float64"]]


def test_the_script_says_when_nothing_matches(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), "--draws", "1", "--backend", "core", "-k", "no_such_case",
                          "--cases", str(ROOT / "cases"), "--out", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 2 and "no smooth case matched" in out.stderr
    assert not (tmp_path / "calibration.md").exists()


def test_select_and_smooth_compose_as_the_script_does(catalogue):
    assert [c.name for c in calibration.smooth_cases(select(catalogue.values(), pattern="relu*"))] == ["relu"]
