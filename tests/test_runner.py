"""A run: the catalogue against finite differences, and wrong gradients caught with a useful message."""

import re
import textwrap

import numpy as np
import pytest

from crosscheck import runner
from crosscheck.backends import get
from crosscheck.catalogue import discover
from crosscheck.core import ops


def run_rev(*args, **kwargs):
    """A run of the gradients' rows only (what these tests judge; J·v and H·v rows are tests/test_modes*.py's)."""
    return runner.run(*args, modes=("rev",), **kwargs)


@pytest.fixture(scope="module")
def rows(catalogue):
    return runner.run(list(catalogue.values()), backends=["core", "handwritten"])


def test_every_case_passes_on_the_core(rows, catalogue):
    # beside pass and kink: unjudged only at special points without a derivative to converge to (tag judge_v2),
    # expected only where a case declares it, each with its reason. J·v and H·v (issue 13) may be unjudged also
    # where the case's gradient has a kink or the case is an op's special point (a C¹ point: huber at |d| = δ
    # has a gradient, and its H·v jumps)
    kinked = {r.case for r in rows if r.mode == "rev" and r.verdict in ("kink", "unjudged")}
    kinked |= {name for name, c in catalogue.items() if "special" in c.tags}
    bad = [(r.case, r.param, r.backend, r.dtype, r.mode, r.verdict, r.message) for r in rows
           if not (r.verdict in ("pass", "kink")
                   or (r.verdict == "unjudged" and "judge_v2" in catalogue[r.case].tags and r.message)
                   or (r.verdict == "unjudged" and r.mode != "rev" and r.case in kinked and r.message)
                   or (r.verdict == "expected-discrepancy" and catalogue[r.case].expected))]
    assert not bad
    # every differentiated input of every case, in both dtypes and the three modes, on the tape
    assert sum(1 for r in rows if r.backend == "core") == sum(len(c.wrt) * len(c.dtypes) * len(c.modes)
                                                              for c in catalogue.values())
    assert {r.mode for r in rows if r.backend == "core"} == {"rev", "fwd", "hvp"}


def test_kinks_are_reported_where_the_points_are_not_differentiable(rows):
    kinks = {(r.case, r.param) for r in rows if r.verdict == "kink" and not r.case.startswith("op_") and r.mode == "rev"}
    assert kinks == {("relu_at_zero", "x"), ("maximum_tie", "a"), ("maximum_tie", "b"), ("xor_mlp", "b1"),
                     ("max_pool2d_ties", "x")}  # issue 11: tied maxima inside max-pool windows


def test_the_op_cases_kinks_are_at_their_special_points(rows):
    # cases/ops.py: a kink only where an op's definition declares a special point, never at a random point
    kinks = {r.case for r in rows if r.verdict == "kink" and r.case.startswith("op_")}
    # J·v and H·v too: a kink only at a special point
    assert kinks and not {c for c in kinks if c.endswith("__random")}


def test_handwritten_rows_exist_only_for_cases_with_a_backward(rows, catalogue):
    with_backward = {c.name for c in catalogue.values() if c.backward}
    assert {r.case for r in rows if r.backend == "handwritten"} == with_backward
    # xor_mlp, the 15 stacks and the regression stack; 13 layer cases (12 layers and the CNN) and 8 attention and
    # recurrent cases (issue 11)
    assert len(with_backward) == 17 + 13 + 8


def _wrong_sigmoid(a):
    y = ops.sigmoid_value(a)
    return y, lambda g: (g * y * (1 + y),)  # wrong: σ' is y(1 - y)


def test_a_wrong_backward_rule_is_caught_with_a_full_message(monkeypatch, catalogue):
    monkeypatch.setattr(ops, "sigmoid", _wrong_sigmoid)
    rows = run_rev([catalogue["sigmoid"]], backends=["core"], dtypes=("float64",))
    (row,) = rows
    assert row.verdict == "fail"
    msg = row.message
    for words in ("case 'sigmoid'", "parameter 'x'", "backend core", "dtype float64", "worst at x[",
                  "got ", "reference ", "max abs error", "max rel error", "atol=", "rtol=", "x=float64[3,4]", "seed="):
        assert words in msg, (words, msg)
    i, j = map(int, re.search(r"worst at x\[(\d+), (\d+)\]", msg).groups())
    assert row.worst_index == (i, j)
    assert runner.failed(rows) == rows


def test_a_wrong_rule_is_caught_in_every_case_that_uses_it(monkeypatch, catalogue):
    monkeypatch.setattr(ops, "sigmoid", _wrong_sigmoid)
    cases = [catalogue[n] for n in ("sigmoid_neuron", "xor_mlp", "stack_sigmoid_5")]
    failed = {(r.case, r.backend) for r in run_rev(cases, backends=["core", "handwritten"]) if r.verdict == "fail"}
    # the tape uses the broken rule; the hand-written backwards do not
    assert failed == {("sigmoid_neuron", "core"), ("xor_mlp", "core"), ("stack_sigmoid_5", "core")}


def test_a_wrong_broadcast_undo_is_caught(monkeypatch, catalogue):
    from crosscheck.core import tape

    monkeypatch.setattr(tape, "unbroadcast", lambda g, shape: np.reshape(np.asarray(g).flat[: int(np.prod(shape))],
                                                                           shape))
    (row,) = run_rev([catalogue["bias_add_broadcast"]], backends=["core"], dtypes=("float64",))[1:]
    assert row.param == "b" and row.verdict == "fail"


def test_a_wrong_handwritten_backward_fails(tmp_path):
    (tmp_path / "mine.py").write_text(textwrap.dedent("""
        import numpy as np
        from crosscheck import case, inputs

        @case(x=inputs.normal(4), backward=lambda g, x: {"x": g * 2 * np.cos(x)})  # wrong factor 2
        def my_sin(nn, x):
            return nn.sin(x)
    """))
    rows = run_rev(discover([tmp_path]), backends=["core", "handwritten"], dtypes=("float64",))
    verdicts = {r.backend: r.verdict for r in rows}
    assert verdicts == {"core": "pass", "handwritten": "fail"}


def test_a_handwritten_backward_with_the_wrong_shape_is_an_error(tmp_path):
    (tmp_path / "mine.py").write_text(textwrap.dedent("""
        from crosscheck import case, inputs

        @case(x=inputs.normal(4), backward=lambda g, x: {"x": g[:2]})
        def short(nn, x):
            return nn.sin(x)
    """))
    (row,) = [r for r in run_rev(discover([tmp_path]), backends=["handwritten"], dtypes=("float64",))]
    assert row.verdict == "error" and "shape" in row.message and "'short'" in row.message


def test_the_batched_reference_equals_the_one_at_a_time_reference(catalogue):
    """Evaluating perturbations as a materialised stack does not change a bit of the reference; the lazy
    rank-one matmul shortcut changes only the rounding, within the differences' own noise (~eps·|f|/h)."""
    from crosscheck.numerical import central_difference

    numeric = get("numeric")
    for name in ("xor_mlp", "softmax_cross_entropy", "matmul_batched", "transpose", "stack_sigmoid_residual_5",
                 "matmul", "linear_tanh_layer"):
        case = catalogue[name]
        point = case.point()
        lazy = numeric.evaluate(case, point).grads
        for k in case.wrt:
            f = numeric._objective_of(case, point, k)
            one_by_one = central_difference(lambda v: f(v[None])[0], point[k])
            f.accepts_perturbation = False
            stacked = central_difference(f, point[k], batched=True)
            np.testing.assert_array_equal(stacked, one_by_one, err_msg=f"{name}.{k}")
            np.testing.assert_allclose(lazy[k], one_by_one, rtol=0, atol=2e-9, err_msg=f"{name}.{k}")


def test_expected_discrepancies_are_reported_as_such(tmp_path):
    (tmp_path / "exp.py").write_text(textwrap.dedent("""
        from crosscheck import case, inputs, Expected

        @case(x=inputs.fixed([0.0, 1.0]), expect=[Expected("relu has no derivative at 0", param="x")])
        def relu_kink_expected(nn, x):
            return nn.relu(x)
    """))
    (row,) = run_rev(discover([tmp_path]), backends=["core"], dtypes=("float64",))
    assert row.verdict == "expected-discrepancy" and "no derivative at 0" in row.note
