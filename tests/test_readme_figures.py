"""The figures the README quotes are read against the committed results/: they cannot drift from them unnoticed."""

import csv
import re
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
RESULTS = ROOT / "results"


def agrees(printed: str, actual: float) -> bool:
    """Whether ``actual`` rounds to ``printed`` at the last digit printed (0.38 ↔ 0.3751..0.3849)."""
    value = Decimal(printed)
    half_unit = Decimal(1).scaleb(value.as_tuple().exponent) / 2
    return abs(Decimal(repr(actual)) - value) <= half_unit


def rows():
    with open(RESULTS / "rows.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_worst_ratios_quoted_are_the_committed_ones():
    worst = {}
    for r in rows():
        if r["verdict"] == "pass" and r["ratio"] and r["mode"] == "rev":  # the gradients: the passing rows' margin (a kink's or an unjudged row's is none)
            key = (r["backend"], r["dtype"])
            worst[key] = max(worst.get(key, 0.0), float(r["ratio"]))
    checked = 0
    for dtype in ("float64", "float32"):
        line = next(line for line in README.splitlines() if line.startswith(f"| worst error ÷ tolerance, {dtype} |"))
        cells = [c.strip() for c in line.strip("|").split("|")[1:]]
        for backend, cell in zip(("core", "handwritten", "torch", "jax"), cells):
            printed = re.match(r"[0-9.]+", cell).group(0)
            assert agrees(printed, worst[(backend, dtype)]), (backend, dtype, printed, worst[(backend, dtype)])
            checked += 1
    assert checked == 8


def test_the_gradient_flow_table_quoted_is_the_committed_one():
    with open(RESULTS / "seed_gradient_flow.csv", newline="") as fh:
        committed = {(r["layers"], r["stack"]): r["core"] for r in csv.DictReader(fh)}
    section = README[README.index("| layers | sigmoid | ReLU | sigmoid + residual |"):]
    checked = 0
    for line in section.splitlines()[2:]:
        if not line.startswith("|"):
            break
        layers, *values = [c.strip() for c in line.strip("|").split("|")]
        for stack, printed in zip(("sigmoid", "relu", "sigmoid_residual"), values):
            assert committed[(layers, stack)] == printed, (layers, stack)
            checked += 1
    assert checked == 15


def test_the_pairwise_figures_quoted_are_the_committed_ones():
    with open(RESULTS / "pairwise_worst.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    for dtype in ("float64", "float32"):
        worst = max((r for r in table if r["dtype"] == dtype), key=lambda r: float(r["worst rel to scale"]))
        m = re.search(rf"in {dtype} to ([0-9.e-]+) of the gradient's scale at worst \(([a-z]+) vs ([a-z]+), "
                      rf"`([a-z0-9_]+)`, `([A-Za-z0-9]+)`\)", " ".join(README.split()))
        assert m, f"the README's {dtype} pairwise sentence is not where the test looks"
        rel, a, b, case, param = m.groups()
        assert agrees(rel, float(worst["worst rel to scale"]))
        assert (f"{a} vs {b}", case, param) == (worst["pair"], worst["case"], worst["param"])


def test_the_modes_table_quoted_is_the_committed_one():
    """The README's J·v / H·v counts per backend and mode (issue 13) are those of results/rows.csv."""
    counts = {}
    for r in rows():
        if r["mode"] != "rev":
            key = (r["backend"], r["mode"], r["verdict"])
            counts[key] = counts.get(key, 0) + 1
    section = README[README.index("| backend | mode | pass | kink | unjudged |"):]
    header = [c.strip() for c in section.splitlines()[0].strip("|").split("|")]
    checked = 0
    for line in section.splitlines()[2:]:
        if not line.startswith("|"):
            break
        backend, mode, *values = [c.strip() for c in line.strip("|").split("|")]
        for verdict, printed in zip(header[2:], values):
            assert counts.get((backend, mode, verdict), 0) == int(printed), (backend, mode, verdict, printed)
            checked += 1
    assert checked == 5 * 2 * 8
