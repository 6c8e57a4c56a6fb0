"""Checks that scale: random-direction derivatives for large inputs, chosen automatically or forced."""

import textwrap

import numpy as np
import pytest

from crosscheck import runner
from crosscheck.catalogue import discover
from crosscheck.cli import main
from crosscheck.numerical import directional_difference, rademacher_directions

LARGE = """
    import numpy as np
    from crosscheck import case, inputs

    WRONG = {wrong}

    def backward(g, x, w):
        gw = g * np.tanh(x)            # d/dw of sum(g * w * tanh(x))
        gx = g * w * (1 - np.tanh(x) ** 2)
        gw.flat[12345] += WRONG         # one element off, in a 200 × 100 tensor
        return {{"x": gx, "w": gw}}

    @case(x=inputs.normal(200, 100), w=inputs.normal(200, 100), backward=backward)
    def large_elementwise(nn, x, w):
        return w * nn.tanh(x)
"""


def large_case(tmp_path, wrong):
    (tmp_path / "large.py").write_text(textwrap.dedent(LARGE.format(wrong=wrong)))
    (case,) = discover([tmp_path])
    return case


def test_directional_difference_matches_the_projection():
    a = np.linspace(-1, 1, 12).reshape(3, 4)
    f = lambda x: float(np.sum(np.sin(a * x)))
    x = np.random.default_rng(1).standard_normal((3, 4))
    v = rademacher_directions(x.shape, 5, seed=7)
    got = directional_difference(f, x, v)
    np.testing.assert_allclose(got, v.reshape(5, -1) @ (a * np.cos(a * x)).ravel(), rtol=1e-9)
    assert set(np.unique(v)) == {-1.0, 1.0}


def test_large_inputs_go_directional_and_pass(tmp_path):
    rows = runner.run([large_case(tmp_path, 0.0)], backends=["core", "handwritten"], dtypes=("float64", "float32"))
    assert {r.method for r in rows} == {"directional×16"}
    assert {r.verdict for r in rows} == {"pass"}
    assert max(r.ratio for r in rows) < 0.1


def test_a_single_wrong_element_in_a_large_tensor_is_caught(tmp_path):
    rows = runner.run([large_case(tmp_path, 0.05)], backends=["core", "handwritten"], dtypes=("float64",))
    by = {(r.backend, r.param): r for r in rows}
    assert by[("core", "w")].verdict == "pass"
    bad = by[("handwritten", "w")]
    assert bad.verdict == "fail" and bad.method == "directional×16"
    assert "16 of 16 random ±1 directions outside tolerance" in bad.message
    # the fallback names the culprit: flat index 12345 of a (200, 100) array is [123, 45]
    assert bad.worst_index == (123, 45) and "worst at w[123, 45]" in bad.message


def test_the_method_can_be_forced(catalogue):
    case = catalogue["linear_tanh_layer"]  # x (4, 3), W (3, 2), b (2,)
    run = lambda **kw: {r.param: r.method for r in runner.run([case], backends=["core"], dtypes=("float64",), **kw)}
    assert run() == {"x": "central", "W": "central", "b": "central"}
    assert run(central_max=6) == {"x": "directional×16", "W": "central", "b": "central"}
    assert run(method="directional", directions=4) == {"x": "directional×4", "W": "directional×4",
                                                       "b": "directional×4"}
    assert run(method="central", central_max=1) == {"x": "central", "W": "central", "b": "central"}


def test_the_cli_and_the_table_say_which_method(tmp_path, capsys):
    large_case(tmp_path, 0.05)
    out = tmp_path / "out"
    assert main(["run", "--cases", str(tmp_path), "--backend", "handwritten", "--dtype", "float64",
                 "--directions", "8", "--results", str(out)]) == 1
    assert "directional×8" in (out / "run.csv").read_text()
    assert "8 of 8 random ±1 directions" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [1e-3])
def test_an_error_below_the_directional_allowance_is_not_claimed(tmp_path, wrong):
    """Directions trade resolution for cost: an error far below n·atol passes, and the table shows the ratio."""
    rows = runner.run([large_case(tmp_path, wrong)], backends=["handwritten"], dtypes=("float64",))
    row = next(r for r in rows if r.param == "w")
    assert row.verdict == "pass" and 0 < row.ratio < 1
