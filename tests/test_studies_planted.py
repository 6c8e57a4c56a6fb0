"""Tables and studies with one deliberately wrong backend or case, and the figure each must show (issue 16).

The study tests elsewhere run correct backends only, so they can only bound differences from above; here
each table is fed a planted difference of a hand-computed size and must show exactly that. Fast (fake
backends and hand-made rows, numpy only): ``scripts/mutation.py`` runs this file against every mutant of
tables, seed, trajectories, flow, conventions and matrix.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from crosscheck import conventions, flow, matrix, report, runner, seed, tables
from crosscheck.compare import DEFAULT_TOLERANCES, Row
from crosscheck.trajectories import Divergence, Trajectory, compare_trajectories, divergence

F64 = DEFAULT_TOLERANCES["float64"]


# ------------------------------------------------------------------ the summary and the run tables


def rows_for(case, backend, dtype, *verdicts):
    return [Row(case, f"p{i}", backend, dtype, v) for i, v in enumerate(verdicts)]


def test_the_summary_cell_shows_the_worst_verdict_of_its_rows():
    """One cell per (case, backend, dtype): fail beats kink and pass; unjudged beats expected-discrepancy;
    kink beats pass; nan beats fail; error beats everything."""
    rows = (rows_for("a", "core", "float64", "pass", "fail", "kink")
            + rows_for("a", "torch", "float64", "kink", "pass")
            + rows_for("a", "core", "float32", "expected-discrepancy", "unjudged")
            + rows_for("b", "core", "float64", "fail", "nan", "pass")
            + rows_for("b", "torch", "float64", "skipped", "pass")
            + rows_for("b", "core", "float32", "nan", "error", "fail")
            + rows_for("b", "torch", "float32", "pass", "pass"))
    pivot = tables.summary_pivot(tables.frame(rows)).set_index("case")
    assert list(pivot.columns) == ["core float64", "torch float64", "core float32", "torch float32"]
    assert pivot.loc["a"].tolist() == ["fail", "kink", "unjudged", ""]
    assert pivot.loc["b"].tolist() == ["nan", "skipped", "error", "pass"]


def test_counts_and_the_summary_line_count_every_verdict():
    rows = rows_for("a", "core", "float64", "pass", "fail", "pass", "kink")
    c = tables.counts(rows)
    assert (c["pass"], c["fail"], c["kink"], c["nan"]) == (2, 1, 1, 0)
    assert tables.summary_line(rows) == "2 pass, 1 fail, 1 kink"
    assert tables.summary_line([]) == "no rows"
    files = tables.run_files(rows)
    assert "- **fail** `a` p1 core float64" in files["run.md"] and "**pass**" not in files["run.md"]


def test_the_long_table_formats_every_figure_once():
    row = Row("a", "x", "core", "float64", "fail", max_abs=1e-3, max_rel=0.5, worst_index=(1, 2), value=2.5,
              expected=float("nan"), tags=("t1", "t2"))
    long = tables.frame([row])
    got = long.iloc[0]
    assert (got["max_abs"], got["max_rel"], got["worst_index"], got["value"], got["expected"], got["tags"]) == (
        "1.000e-03", "5.000e-01", "[1, 2]", "2.5", "", "t1 t2")
    csv_lines = tables.to_csv([row]).splitlines()
    assert len(csv_lines) == 2 and csv_lines[0].split(",") == list(tables.COLUMNS)
    assert dict(zip(tables.COLUMNS, csv_lines[1].split(",")))["max_abs"] == "1.000e-03"
    text = tables.to_text([row]).splitlines()
    assert len(text) == 3 and "1.00e-03" in text[2] and "5.00e-01" in text[2]


# ------------------------------------------------------------------ the pairwise tables


class Case:
    name, tags, location = "planted", frozenset(), "planted.py:1"
    wrt = ["x"]
    tolerances = {}

    def tolerance(self, dtype):
        return DEFAULT_TOLERANCES[dtype]


def test_the_pairwise_table_shows_a_planted_disagreement():
    """core and jax agree; torch is off by 100 % at x[1] (2 against 1): core vs torch and jax vs torch show
    1.00e+00 (|2 - 1| / max(2, 1) = 0.5 ... at x[0], 3 against 1.5, 0.5 too; x[2]: 0 against 1: 1.0)."""
    ev = {n: SimpleNamespace(grads={"x": np.asarray(g, np.float64)}) for n, g in
          {"core": [1.5, 1.0, 1.0], "jax": [1.5, 1.0, 1.0], "torch": [3.0, 2.0, 0.0]}.items()}
    pairs = runner.pairwise(Case(), "float64", ev)
    wide = tables.pairwise_table(pairs)
    assert list(wide.columns) == ["case", "dtype", "core vs jax", "core vs torch", "jax vs torch"]
    assert wide.iloc[0].tolist() == ["planted", "float64", "0.00e+00", "1.00e+00", "1.00e+00"]
    assert tables.pairwise_table([]).columns.tolist() == ["case", "dtype"]


def test_the_pairwise_headline_takes_the_worst_case_where_both_backends_pass():
    """Of two cases where core and torch both pass, the one with the larger difference at scale (0.3 against
    0.1) is the headline; a case where torch fails (0.9) is left out."""
    from crosscheck.compare import Pair

    pairs = [Pair("small", "float64", "core", "torch", 1e-3, 0.1, "x", both_pass=True, scale_rel=0.1),
             Pair("large", "float64", "core", "torch", 2e-3, 0.05, "y", both_pass=True, scale_rel=0.3),
             Pair("broken", "float64", "core", "torch", 5.0, 0.9, "z", both_pass=False, scale_rel=0.9)]
    worst = tables.pairwise_worst(pairs)
    assert worst.to_dict("records") == [{"pair": "core vs torch", "dtype": "float64", "worst rel to scale": "3.00e-01",
                                         "worst max rel": "5.00e-02", "max abs": "2.00e-03", "case": "large",
                                         "param": "y"}]


# ------------------------------------------------------------------ trajectories


class Backend:
    reference = False

    def __init__(self, name, slope, fail_at=None):
        self.name, self.slope, self.fail_at, self.calls = name, slope, fail_at, 0

    def applies(self, case):
        return True

    def unavailable(self):
        return ""

    def evaluate(self, case, point, dtype):
        self.calls += 1
        if self.fail_at is not None and self.calls > self.fail_at:
            raise RuntimeError("planted")
        w = point["w"]
        return SimpleNamespace(value=float(np.sum(w * w)), grads={"w": self.slope * w})


def quadratic_case(steps=3):
    """loss w², from w = 1, lr 0.1: the right gradient 2w gives w 1, 0.8, 0.64, 0.512; a wrong 3w gives
    1, 0.7, 0.49, 0.343. Losses before each step: 1, 0.64, 0.4096 against 1, 0.49, 0.2401."""
    return SimpleNamespace(name="quadratic", wrt=["w"], dtypes=("float64",),
                           training=SimpleNamespace(steps=steps, lr=0.1, predict=lambda w: 10 * w),
                           point=lambda dtype: {"w": np.array([1.0], dtype=dtype)})


def test_a_wrong_backend_diverges_from_the_baseline_by_the_hand_computed_amount():
    trajectories, divs = compare_trajectories(quadratic_case(), [Backend("wrong", 3.0), Backend("core", 2.0)],
                                              checkpoints=(0, 2, 5))
    by = {d.backend: d for d in divs}
    assert set(by) == {"wrong", "core"} and {d.baseline for d in divs} == {"core"}
    base, wrong = by["core"], by["wrong"]
    assert (base.max_loss_rel, base.max_param_abs) == (0.0, 0.0)
    # step 1: |0.49 - 0.64| / 0.64 = 0.234; step 2: |0.2401 - 0.4096| / 0.4096 = 0.41382
    assert wrong.max_loss_rel == pytest.approx(0.1695 / 0.4096, rel=1e-9, abs=0) and wrong.worst_step == 2
    assert wrong.max_param_abs == pytest.approx(0.512 - 0.343, rel=1e-9, abs=0)
    assert wrong.final_loss == pytest.approx(0.2401) and wrong.steps == 3
    assert wrong.checkpoints == {0: 1.0, 2: pytest.approx(0.2401)}
    assert wrong.predictions_agree is False and wrong.max_prediction_abs == pytest.approx(1.69)
    assert base.predictions_agree is True and base.max_prediction_abs == 0.0
    t = {x.backend: x for x in trajectories}
    assert t["wrong"].losses == pytest.approx([1.0, 0.49, 0.2401])
    assert t["wrong"].params[:, 0] == pytest.approx([1.0, 0.7, 0.49, 0.343])
    table = report.trajectory_table(divs).set_index("backend")
    assert table.loc["wrong", "max loss rel divergence"] == "4.14e-01"
    assert table.loc["wrong", "at step"] == 2 and table.loc["wrong", "baseline"] == "core"
    assert table.loc["wrong", "max param abs divergence"] == "1.69e-01"


def test_the_divergence_of_a_planted_trajectory_is_measured_against_the_baseline():
    """Losses 1, 0.63 against the baseline's 1, 0.5: 0.26 at step 1 (its own against itself would be 0)."""
    base = Trajectory("c", "core", "float64", np.array([1.0, 0.5]), np.array([[1.0], [0.9], [0.8]]))
    off = Trajectory("c", "torch", "float64", np.array([1.0, 0.63]), np.array([[1.0], [0.9], [0.7]]))
    d = divergence(off, base)
    assert (d.max_loss_rel, d.worst_step, d.baseline, d.backend) == (pytest.approx(0.26), 1, "core", "torch")
    assert d.max_param_abs == pytest.approx(0.1) and d.predictions_agree is None and np.isnan(d.max_prediction_abs)
    assert divergence(base, base).max_loss_rel == 0.0


def test_no_baseline_is_a_clear_error_and_a_failing_backend_keeps_its_steps():
    with pytest.raises(ValueError, match="no baseline backend"):
        compare_trajectories(quadratic_case(), [Backend("torch", 2.0)])
    _, divs = compare_trajectories(quadratic_case(), [Backend("core", 2.0), Backend("flaky", 2.0, fail_at=2)])
    flaky = next(d for d in divs if d.backend == "flaky")
    assert flaky.error == "step 2: RuntimeError: planted"


# ------------------------------------------------------------------ gradient flow


def stack_catalogue():
    case = SimpleNamespace(name="stack_relu_2", point=lambda dtype: {"x": np.zeros(2), "W0": 0, "W1": 0})
    return {"stack_relu_2": case, "stack_relu_x": SimpleNamespace(name="stack_relu_x")}


class FlowBackend(Backend):
    def __init__(self, name, x, w1):
        super().__init__(name, 0.0)
        self.x, self.w1 = x, w1

    def evaluate(self, case, point, dtype):
        assert case.name.startswith("stack_") and isinstance(point, dict) and dtype == "float64"
        if self.x is None:
            raise RuntimeError("planted")
        return SimpleNamespace(grads={"x": np.array(self.x), "W0": np.array([[3.0, 4.0]]),
                                      "W1": np.array([[self.w1, 0.0]])})


def test_gradient_flow_cells_carry_the_wrong_backends_difference():
    """hand-written: mean |dL/dx| of [1, -3] = 2, layer norms 5 and 1; torch: mean of [1, -4] = 2.5 (0.25
    from the baseline), norms 5 and 2 (layer rel diff 1.0); a backend that raises has NaN and its error."""
    backends = [FlowBackend("torch", [1.0, -4.0], 2.0), FlowBackend("handwritten", [1.0, -3.0], 1.0),
                FlowBackend("broken", None, 0.0)]
    cells = {c.backend: c for c in flow.gradient_flow(stack_catalogue(), backends)}
    assert set(cells) == {"torch", "handwritten", "broken"}
    t, h = cells["torch"], cells["handwritten"]
    assert (t.depth, t.kind, t.dtype) == (2, "relu", "float64")
    assert (t.mean_abs_input_grad, t.rel_diff, t.layer_norms, t.max_layer_rel_diff) == (2.5, 0.25, (5.0, 2.0), 1.0)
    assert (h.mean_abs_input_grad, h.rel_diff, h.layer_norms, h.max_layer_rel_diff) == (2.0, 0.0, (5.0, 1.0), 0.0)
    assert np.isnan(cells["broken"].mean_abs_input_grad) and cells["broken"].error == "RuntimeError: planted"
    table = report.flow_table([t]).iloc[0]
    assert (table["mean |dL/dx|"], table["rel diff from hand-written"], table["max layer-norm rel diff"]) == (
        "2.500e+00", "2.5e-01", "1.0e+00")
    assert table["‖dL/dW_i‖ per layer"] == "5.00e+00 2.00e+00"


def test_the_seed_gradient_flow_table_reads_the_mean_and_the_rel_diff_and_flags_the_wrong_cell():
    """At 2 layers the article prints relu 1.44e+00 and sigmoid 6.22e-02: a hand-written 1.44 matches, a
    torch 1.8 (rel diff 0.25) does not, so the relu row does not all match; the sigmoid row does."""
    cells = [flow.FlowCell(2, "relu", "handwritten", "float64", 1.44, 0.0, (9.0,), 7.0),
             flow.FlowCell(2, "relu", "torch", "float64", 1.8, 0.25, (9.0,), 7.0),
             flow.FlowCell(2, "sigmoid", "handwritten", "float64", 0.0622, 0.0, (9.0,), 7.0)]
    table = seed.gradient_flow(cells)
    relu = table[(table["layers"] == 2) & (table["stack"] == "relu")].iloc[0]
    assert (relu["article"], relu["handwritten"], relu["torch"], relu["torch rel diff"]) == (
        "1.44e+00", "1.44e+00", "1.80e+00", "2.5e-01")
    assert not bool(relu["all match"])
    sig = table[(table["layers"] == 2) & (table["stack"] == "sigmoid")].iloc[0]
    assert sig["handwritten"] == "6.22e-02" and bool(sig["all match"])
    assert len(table) == 15 and seed.gradient_flow([]).empty


def test_the_seed_xor_table_flags_a_wrong_trajectory():
    good = Divergence("xor_mlp", "core", "handwritten", "float64", 2000, 0.0, 0.0, 0, 0.0, True, 0.0,
                      checkpoints={0: 0.6974, 500: 0.0027, 1000: 0.0012, 1500: 0.0008})
    bad = Divergence("xor_mlp", "torch", "handwritten", "float64", 2000, 0.0, 0.3, 500, 0.0, False, 0.0,
                     checkpoints={0: 0.6974, 500: 0.0035, 1000: 0.0012, 1500: 0.0008})
    other = Divergence("other", "torch", "handwritten", "float64", 2, 0.0, 0.0, 0, 0.0, None, 0.0)
    preds = np.array([0.0, 0.9978, 1.0, 0.0])
    trajs = [Trajectory("xor_mlp", "core", "float64", None, None, preds),
             Trajectory("xor_mlp", "torch", "float64", None, None, preds + 0.01)]
    table = seed.xor_training([good, bad, other], trajs)
    assert table["backend"].tolist() == ["article", "core", "torch"]
    assert table["matches article"].tolist() == [True, True, False]
    assert table.iloc[2]["epoch 500"] == "0.0035" and table.iloc[1]["predictions"] == "0.0000 0.9978 1.0000 0.0000"
    assert table.iloc[2]["predictions"] == "0.0100 1.0078 1.0100 0.0100"


# ------------------------------------------------------------------ the conventions table


@pytest.mark.parametrize("value, kink, usable, expected", [
    (0.5, True, True, "subgradient"), (1.0, True, True, "subgradient"), (1 + 1.2e-6, True, True, "wrong"),
    (-0.5, True, True, "wrong"), (np.nan, True, True, "nan"),
    (2 + 2.0e-6, False, True, "agree"), (2 + 2.2e-6, False, True, "wrong"), (2 - 2.2e-6, False, True, "wrong"),
    (np.inf, False, True, "nan"), (7.0, False, False, "unjudged"), (np.nan, False, False, "nan"),
])
def test_the_conventions_class_of_one_element(value, kink, usable, expected):
    """left 0, right 1 at a kink (slack 1.1e-6); central 2 elsewhere (allowed 2.1e-6); float64 default."""
    assert conventions._element_class(value, 0.0, 1.0, 2.0, kink, usable, F64, 0.0) == expected


def test_the_conventions_noise_widens_both_rules():
    assert conventions._element_class(2 + 1e-4, 0.0, 1.0, 2.0, False, True, F64, 2e-4) == "agree"
    assert conventions._element_class(1 + 1e-4, 0.0, 1.0, 2.0, True, True, F64, 2e-4) == "subgradient"


def named(*names):
    return [SimpleNamespace(name=n) for n in names]


def test_the_conventions_row_class_names_the_wrong_backend():
    b = named("core", "torch", "jax")
    one = {"x": 1.0}
    cls, why = conventions._classify({"core": {"agree"}, "torch": {"wrong"}, "jax": {"agree"}},
                                     {"core": one, "torch": one, "jax": one}, b, False)
    assert cls == conventions.CLASSES[3] and why.startswith("torch outside")
    cls, why = conventions._classify({"core": {"agree"}, "torch": {"agree"}, "jax": {"nan"}},
                                     {"core": one, "torch": one, "jax": one}, b, False)
    assert cls == conventions.CLASSES[2] and why == "NaN or inf from jax where the others are finite"
    cls, _ = conventions._classify({"core": {"nan"}, "torch": {"nan"}, "jax": {"nan"}},
                                   {"core": one, "torch": one, "jax": one}, b, False)
    assert cls == conventions.CLASSES[0]
    picks = {"core": {"x": 0.0}, "torch": {"x": 0.0}, "jax": {"x": 1.0}}
    cls, why = conventions._classify({n: {"subgradient"} for n in picks}, picks, b, True)
    assert cls == conventions.CLASSES[1] and "core 0, torch 0, jax 1" in why
    same = {n: {"x": 0.5} for n in picks}
    assert conventions._classify({n: {"subgradient"} for n in picks}, same, b, True)[0] == conventions.CLASSES[0]
    cls, why = conventions._classify({n: {"unjudged"} for n in picks}, picks, b, False)
    assert cls == conventions.CLASSES[1] and "does not exist" in why
    assert conventions._classify({n: {"unjudged"} for n in picks}, same, b, False)[0] == conventions.CLASSES[0]


def test_backends_differ_beyond_rtol_1e_6():
    names = ["a", "b"]
    assert not conventions._differ({"a": {"x": 1.0}, "b": {"x": 1 + 5e-7}}, names)
    assert conventions._differ({"a": {"x": 1.0}, "b": {"x": 1 + 2e-6}}, names)
    assert conventions._differ({"a": {"x": 1.0, "y": 0.0}, "b": {"x": 1.0, "y": 1e-8}}, names)
    assert not conventions._differ({"a": {"x": np.nan}, "b": {"x": np.nan}}, names)


# ------------------------------------------------------------------ the conformance matrix


class Engine:
    name, reference, binds_vocabulary = "fake", False, True

    def applies(self, case):
        return True

    def missing_ops(self):
        return {"sin"}


def test_the_matrix_blames_the_op_of_a_planted_failure_and_no_cleared_op(catalogue):
    """tanh fails alone and in linear_tanh_layer (tanh, add, matmul): tanh and add (not cleared by a passing
    case) are blamed, matmul is cleared by the matmul case; relu passes and meets its kink in relu_at_zero: a
    kink convention; maximum_tie is a declared discrepancy: expected; sin is not bound, cos named missing by a
    skipped row: missing."""
    names = ("tanh", "matmul", "linear_tanh_layer", "relu_at_zero", "relu", "maximum_tie")
    verdicts = {"tanh": "fail", "matmul": "pass", "linear_tanh_layer": "fail", "relu_at_zero": "kink",
                "relu": "pass", "maximum_tie": "expected-discrepancy"}
    rows = [Row(n, "x", "fake", "float64", v) for n, v in verdicts.items()]
    rows.append(Row("tanh", "x", "fake", "float32", "skipped", message="backend fake has no binding for op 'cos'"))
    rows.append(Row("tanh", "x", "other", "float64", "pass"))
    table, counts = matrix.conformance([catalogue[n] for n in names], rows, [Engine()])
    cells = dict(zip(table["op"], table["fake"]))
    assert {op: cells[op] for op in ("tanh", "add", "matmul", "relu", "maximum", "sin", "cos")} == {
        "tanh": "fail", "add": "fail", "matmul": "pass", "relu": "kink convention", "maximum": "expected",
        "sin": "missing", "cos": "missing"}
    assert all(cells[op] == "" for op in cells if op not in ("tanh", "add", "matmul", "relu", "maximum", "sin",
                                                             "cos"))
    uses = dict(zip(table["op"], table["cases"]))
    assert (uses["tanh"], uses["matmul"], uses["relu"], uses["add"]) == (2, 2, 2, 1)
    tally = counts.iloc[0].to_dict()
    assert {k: tally[k] for k in matrix.CELLS} == {"pass": 1, "kink convention": 1, "expected": 1, "fail": 2,
                                                   "missing": 2, "untested": 0, "skipped": 0}


def test_the_matrix_tells_untested_from_skipped(catalogue):
    """Every row of the case skipped: untested when the case calls an op the backend lacks, else skipped."""
    rows = [Row("linear_tanh_layer", "x", "fake", "float64", "skipped", message="not installed"),
            Row("relu", "x", "fake", "float64", "skipped", message="not installed")]

    class Lacks(Engine):
        def missing_ops(self):
            return {"add"}

    table, _ = matrix.conformance([catalogue["linear_tanh_layer"], catalogue["relu"]], rows, [Lacks()])
    cells = dict(zip(table["op"], table["fake"]))
    assert (cells["tanh"], cells["matmul"], cells["add"], cells["relu"]) == ("untested", "untested", "missing",
                                                                           "skipped")
    binds = SimpleNamespace(applies=lambda c: True, missing_ops=lambda: None)
    assert matrix.binding_every_op([Lacks(), binds], catalogue["linear_tanh_layer"]) == [binds]
    assert len(matrix.binding_every_op([Lacks(), binds], catalogue["relu"])) == 2


def test_gradient_flow_cells_come_by_depth_then_kind():
    """stack_relu_3, stack_sigmoid_3 and stack_relu_2: cells ordered (2, relu), (3, sigmoid), (3, relu)."""
    def case(name, depth):
        return SimpleNamespace(name=name, point=lambda dtype: {"x": 0, **{f"W{i}": 0 for i in range(depth)}})

    class Deep(FlowBackend):
        def evaluate(self, case, point, dtype):
            depth = len(point) - 1
            return SimpleNamespace(grads={"x": np.array([1.0]), **{f"W{i}": np.ones(1) for i in range(depth)}})

    catalogue = {n: case(n, int(n[-1])) for n in ("stack_relu_3", "stack_sigmoid_3", "stack_relu_2")}
    cells = flow.gradient_flow(catalogue, [Deep("handwritten", None, 0.0)])
    assert [(c.depth, c.kind) for c in cells] == [(2, "relu"), (3, "sigmoid"), (3, "relu")]
    assert [len(c.layer_norms) for c in cells] == [2, 3, 3]


# ------------------------------------------------------------------ the run tables' other outputs


def test_the_terminal_table_has_fixed_columns():
    row = Row("a_case", "x", "core", "float64", "fail", max_abs=1e-3, max_rel=0.5, atol=1e-7, rtol=1e-6, ulps=12.0,
              precision="1/2")
    header, rule, line = tables.to_text([row]).splitlines()
    assert header == ("case                          param     backend      dtype    mode  max abs    max rel    "
                      "tolerance            ulps      rank  verdict")
    assert rule == "  ".join("-" * w for w in (28, 8, 11, 7, 4, 9, 9, 19, 8, 4, 8))
    assert line.split() == ["a_case", "x", "core", "float64", "rev", "1.00e-03", "5.00e-01", "1e-07", "+", "1e-06·|r|",
                            "12", "1/2", "fail"]


def test_the_precision_table_by_hand():
    """core float64 on four rows with ulps 1, 5, 3, 7 (most precise on two), torch float64 on one (ulps 7):
    median the upper middle one, 5 (sorted 1 3 5 7, index 4 // 2), worst 7; a row without a rank or ulps is
    left out."""
    rows = [Row("a", "x", "core", "float64", "pass", ulps=1.0, precision="1/2"),
            Row("b", "x", "core", "float64", "pass", ulps=5.0, precision="2/2"),
            Row("c", "x", "core", "float64", "pass", ulps=3.0, precision="1/1"),
            Row("e", "x", "core", "float64", "pass", ulps=7.0, precision="2/2"),
            Row("d", "x", "core", "float64", "pass"),
            Row("a", "x", "torch", "float64", "pass", ulps=7.0, precision="2/2"),
            Row("a", "x", "core", "float32", "pass", ulps=2.0, precision="1/1")]
    t = tables.precision_table(rows)
    assert t.to_dict("records") == [
        {"backend": "core", "dtype": "float64", "rows": 4, "median ulps": "5", "worst ulps": "7",
         "most precise on": "2 of 4"},
        {"backend": "torch", "dtype": "float64", "rows": 1, "median ulps": "7", "worst ulps": "7",
         "most precise on": "0 of 1"},
        {"backend": "core", "dtype": "float32", "rows": 1, "median ulps": "2", "worst ulps": "2",
         "most precise on": "1 of 1"}]


def test_tables_render_and_write_in_three_formats(tmp_path):
    import json

    import pandas as pd

    df = pd.DataFrame([{"a": "1", "b": "x|y"}])
    files = tables.render_table("t", df, header=pd.DataFrame([{"package": "numpy", "version": "2"}]))
    assert sorted(files) == ["t.csv", "t.json", "t.md"]
    assert files["t.csv"] == "a,b\n1,x|y\n"
    assert json.loads(files["t.json"]) == [{"a": "1", "b": "x|y"}] and files["t.json"].endswith("\n")
    assert files["t.md"].startswith("| package | version |") and "\n\n| a | b |" in files["t.md"]
    assert tables.render_table("t", df, formats=("md",)) == {"t.md": tables.markdown_table(df)}
    with pytest.raises(ValueError, match="unknown table format 'xls'"):
        tables.render_table("t", df, formats=("xls",))
    written = tables.write_table(tmp_path, "t", df)
    assert sorted(p.name for p in written) == ["t.csv", "t.json", "t.md"]
    assert (tmp_path / "t.csv").read_text() == "a,b\n1,x|y\n"
    tables.write_files(tmp_path, {"b.bin": b"\x00\x01"})
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_the_kink_conventions_table_and_the_versions(monkeypatch):
    from importlib import metadata

    from crosscheck.compare import Convention

    conv = [Convention("relu", "float64", "x", (0,), 0.0, 1.0, {"torch": 0.0, "core": 0.5, "mine": 1.0})]
    t = tables.conventions_table(conv)
    assert list(t.columns) == ["case", "param", "index", "dtype", "left", "right", "core", "torch", "mine"]
    assert t.iloc[0].tolist() == ["relu", "x", "[0]", "float64", "0", "1", "0.5", "0", "1"]
    real = metadata.version

    def version(dist):
        if dist == "autograd":
            raise metadata.PackageNotFoundError(dist)
        return real(dist)

    monkeypatch.setattr(metadata, "version", version)
    v = tables.versions().set_index("package")["version"]
    assert v["numpy"] == np.__version__ and v["autograd"] == "not installed"


# ------------------------------------------------------------------ trajectories at non-finite losses


def test_two_trajectories_that_are_both_infinite_or_both_zero_at_a_step_agree_there():
    base = Trajectory("c", "core", "float64", np.array([np.inf, 0.0, 2.0]), np.zeros((4, 1)))
    same = Trajectory("c", "torch", "float64", np.array([np.inf, 0.0, 2.5]), np.zeros((4, 1)))
    d = divergence(same, base)
    assert d.max_loss_rel == pytest.approx(0.25) and d.worst_step == 2


# ------------------------------------------------------------------ the article's tables from the catalogue


def test_the_articles_local_gradients_and_chain_rule_on_the_core(catalogue):
    from crosscheck import backends

    core, numeric = backends.get("core"), backends.get("numeric")
    local = seed.local_gradients(catalogue, [core], numeric)
    got = dict(zip(local["quantity"], local["crosscheck"]))
    assert got["relu_article_points d/dx"] == "[0.0, 1.0, 0.0, 1.0]"
    assert got["sigmoid_article_points d/dx"] == "[0.25, 0.1966, 0.1966, 0.0066]"
    assert got["softmax_cross_entropy_article d/dlogits"] == "[-0.341, 0.2424, 0.0986]"
    assert local["matches"].all() and set(local["backend"]) == {"core"}
    chain = seed.chain_rule(catalogue, [core], numeric)
    assert chain["matches"].all() and len(chain) == 4
    assert seed.xor_gradient_check({}, [core], numeric).empty
    assert seed.local_gradients({}, [core], numeric).empty and seed.chain_rule({}, [core], numeric).empty


def test_the_conventions_table_at_relus_special_points(catalogue):
    from crosscheck import backends

    cases = [c for c in catalogue.values() if c.name.startswith("op_relu")]
    t = conventions.table(cases, [backends.get("core")])
    assert set(t["op"]) == {"relu", "relu6"} and len(t) == 3
    zero = t[(t["op"] == "relu") & (t["point"] == "zero")].iloc[0]
    assert "0 / 1" in zero["reference (left / right)"] and zero["core"] != "" and zero["class"] == "agree"
    assert set(t["class"]) == {"agree"} and conventions.counts(t)["agree"] == 3


def test_the_conventions_section_shows_the_rows_that_do_not_agree():
    import pandas as pd

    class Doc:
        def __init__(self):
            self.calls = []

        def heading(self, text, level=2):
            self.calls.append(("heading", text))

        def text(self, text):
            self.calls.append(("text", text))

        def table(self, df, name, **options):  # the report's table takes options (colours, a line below)
            self.calls.append(("table", df["op"].tolist(), name))

    df = pd.DataFrame([{c: "" for c in conventions.COLUMNS} | {"op": op, "class": cls} for op, cls in
                       (("relu", "agree"), ("abs", conventions.CLASSES[1]), ("sqrt", conventions.CLASSES[2]))])
    doc = Doc()
    conventions.add_section(doc, df)
    assert doc.calls[0] == ("heading", "Where the frameworks disagree")
    assert "At 3 special points" in doc.calls[1][1] and "1 agree, 1 different valid subgradients, 1 NaN in one" in \
        doc.calls[1][1]
    assert doc.calls[2] == ("table", ["abs", "sqrt"], "conventions")
    empty = Doc()
    conventions.add_section(empty, df.iloc[:0])
    assert empty.calls == []
    assert conventions.render(None) == {}
    assert sorted(conventions.render(df)) == ["conventions.csv", "conventions.json", "conventions.md"]


def test_the_kink_predicates_of_the_matrix_by_hand():
    """relu6 at 6, hardtanh at its default +1, a tie of max, a zero singular value; not at a zero eigenvalue."""
    k = matrix.KINKS
    assert k["relu6"](np.array([6.0])) and k["relu6"](np.array([0.0])) and not k["relu6"](np.array([3.0]))
    assert k["hardtanh"](np.array([1.0])) and k["hardtanh"](np.array([-1.0])) and not k["hardtanh"](np.array([0.5]))
    assert k["hard_sigmoid"](np.array([-3.0])) and not k["hard_sigmoid"](np.array([0.0]))
    assert k["max"](np.array([2.0, 2.0, 1.0])) and not k["max"](np.array([2.0, 1.0, 1.0]))
    assert k["min"](np.array([2.0, 1.0, 1.0])) and not k["min"](np.array([2.0, 2.0, 1.0]))
    assert k["svdvals"](np.diag([1.0, 0.0])) and not k["svdvals"](np.diag([1.0, 2.0]))
    assert not k["eigh"](np.diag([0.0, 1.0])) and k["eigh"](np.diag([1.0, 1.0]))
