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


def run_rev(*args, **kwargs):
    """A run of the gradients' rows only (what these tests judge; J·v and H·v rows are tests/test_modes*.py's)."""
    return runner.run(*args, modes=("rev",), **kwargs)


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
    rows = run_rev([large_case(tmp_path, 0.0)], backends=["core", "handwritten"], dtypes=("float64", "float32"))
    assert {r.method for r in rows} == {"directional×16"}
    assert {r.verdict for r in rows} == {"pass"}
    assert max(r.ratio for r in rows) < 0.5


def test_a_single_wrong_element_in_a_large_tensor_is_caught(tmp_path):
    rows = run_rev([large_case(tmp_path, 0.05)], backends=["core", "handwritten"], dtypes=("float64",))
    by = {(r.backend, r.param): r for r in rows}
    assert by[("core", "w")].verdict == "pass"
    bad = by[("handwritten", "w")]
    assert bad.verdict == "fail" and bad.method == "directional×16, then central"
    assert "16 of 16 random ±1 directions outside tolerance" in bad.message
    # the fallback names the culprit: flat index 12345 of a (200, 100) array is [123, 45]
    assert bad.worst_index == (123, 45) and "worst at w[123, 45]" in bad.message


def test_the_method_can_be_forced(catalogue):
    case = catalogue["linear_tanh_layer"]  # x (4, 3), W (3, 2), b (2,)
    run = lambda **kw: {r.param: r.method for r in run_rev([case], backends=["core"], dtypes=("float64",), **kw)}
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


def test_an_error_below_what_the_row_says_it_detects_passes(tmp_path):
    """Directions trade resolution for cost: the row states the smallest single-element error it was sure to
    catch; an error well below it passes, with the ratio in the table."""
    clean = next(r for r in run_rev([large_case(tmp_path, 0.0)], backends=["handwritten"], dtypes=("float64",))
                 if r.param == "w")
    assert 0 < clean.detectable < 1e-6 and "is caught" in clean.note
    rows = run_rev([large_case(tmp_path, clean.detectable / 100)], backends=["handwritten"], dtypes=("float64",))
    row = next(r for r in rows if r.param == "w")
    assert row.verdict == "pass" and 0 < row.ratio < 1


HUNDRED_K = """
    import numpy as np
    from crosscheck import case, inputs

    def backward(g, x, w):
        gw = g * np.tanh(x)
        gx = g * w * (1 - np.tanh(x) ** 2)
        scale = max(np.max(np.abs(gw)), np.max(np.abs(gx)))
        gw.flat[54321] += {wrong} * scale      # one element off by a fraction of the gradient's largest magnitude
        return {{"x": gx, "w": gw}}

    @case(x=inputs.normal(400, 250), w=inputs.normal(400, 250), backward=backward, tags={{"mine"}})
    def hundred_thousand(nn, x, w):
        return w * nn.tanh(x)
"""


@pytest.mark.parametrize("dtype, wrong", [("float64", 1e-3), ("float32", 1e-2)])
def test_at_a_hundred_thousand_elements_one_element_off_is_caught(tmp_path, monkeypatch, dtype, wrong):
    """The acceptance figure: at P = 10^5 the default check catches a single element off by 1e-3 of the
    gradient's largest magnitude in float64 and 1e-2 in float32; the same case without the error passes."""
    monkeypatch.setattr(runner, "FALLBACK_MAX", 0)  # the element-wise fallback would take a minute here
    for w, verdict in ((wrong, "fail"), (0.0, "pass")):
        (tmp_path / "big.py").write_text(textwrap.dedent(HUNDRED_K.format(wrong=w)))
        rows = run_rev(discover([tmp_path]), backends=["handwritten"], dtypes=(dtype,))
        row = next(r for r in rows if r.param == "w")
        assert row.method == "directional×16" and row.verdict == verdict, row.message
