"""The forward-mode rules of core/elementwise.py: the judge catches a wrong one in either mode it is used in
(a wrong derivative in the fwd rows; a rule right to first order but computed off the tape in the hvp rows
only), the rules compose (tangents that are themselves functions on the tape, in a chain of the module's ops),
and the conventions the rules add beside their backwards hold (a held input's term left out, slopes that vanish
at ±inf)."""

import textwrap

import numpy as np
import pytest

from crosscheck import catalogue, runner
from crosscheck.core import elementwise, tape
from crosscheck.core.ops import sigmoid_value

_CASES = None


def _cases(*names):
    global _CASES
    if _CASES is None:
        _CASES = {c.name: c for c in catalogue.discover([catalogue.shipped_case_folder()])}
    return [_CASES[n] for n in names]


def _verdicts(rows):
    return {(r.mode, r.param, r.dtype): r.verdict for r in rows}


def test_a_wrong_derivative_is_a_fail_in_the_fwd_rows(monkeypatch):
    # planted: d tan a = (1 - y²) da, tanh's derivative, instead of (1 + y²) da
    monkeypatch.setattr(elementwise.tan, "jvp", lambda T, y, a, da: da * (1 - y * y))
    rows = runner.run(_cases("op_tan__random"), ["core"], modes=("fwd", "hvp"))
    verdicts = _verdicts(rows)
    assert verdicts[("fwd", "a", "float64")] == "fail"
    assert verdicts[("fwd", "a", "float32")] == "fail"
    fwd = next(r for r in rows if r.mode == "fwd" and r.dtype == "float64")
    assert "fwd" in fwd.message and "'a'" in fwd.message


def test_the_correct_rule_passes_where_the_planted_ones_fail():
    rows = runner.run(_cases("op_tan__random", "op_gelu__random"), ["core"], modes=("fwd", "hvp"))
    assert rows and {r.verdict for r in rows} == {"pass"}


def _gelu_slope_in_numpy(a):
    cdf = 0.5 * (1 + elementwise.erf_value(a / np.sqrt(2)))
    return cdf + a * np.exp(-0.5 * a * a) / np.sqrt(2 * np.pi)


def test_a_rule_computed_off_the_tape_is_caught_by_the_hvp_rows_only(monkeypatch):
    # planted: gelu's slope from the primal's value in numpy: J·v is right, but the slope is a constant to the
    # reverse sweep of the rule, so H·v loses the slope's own derivative (gelu'' = 2φ(a) - a²φ(a))
    monkeypatch.setattr(elementwise.gelu, "jvp", lambda T, y, a, da: da * T.constant(
        _gelu_slope_in_numpy(a.value).astype(da.dtype)))
    rows = runner.run(_cases("op_gelu__random"), ["core"], modes=("fwd", "hvp"))
    verdicts = _verdicts(rows)
    assert verdicts[("fwd", "a", "float64")] == "pass"
    assert verdicts[("fwd", "a", "float32")] == "pass"
    assert verdicts[("hvp", "a", "float64")] == "fail"
    assert verdicts[("hvp", "a", "float32")] == "fail"


def test_a_mask_rule_that_drops_the_bound_is_caught(monkeypatch):
    # planted: clip's tangent without the bounds' terms (right for a, wrong for lo and hi where a is clipped)
    monkeypatch.setattr(elementwise.clip, "jvp", lambda T, y, a, lo, hi, da, dlo, dhi: da * elementwise._mask(
        T, (a.value >= lo.value) & (a.value <= hi.value), da))
    rows = runner.run(_cases("op_clip__inside"), ["core"], modes=("fwd",), dtypes=("float64",))
    verdicts = _verdicts(rows)
    assert verdicts[("fwd", "a", "float64")] == "pass"
    assert verdicts[("fwd", "lo", "float64")] == "fail" and verdicts[("fwd", "hi", "float64")] == "fail"


_CHAINS = textwrap.dedent("""
    import numpy as np
    from crosscheck import case, inputs

    @case(x=inputs.normal(3, 4), w=inputs.uniform(4, low=0.5, high=1.5))
    def smooth_chain(nn, x, w):
        h = nn.gelu(x * w) + nn.silu(nn.tan(0.3 * x)) * nn.mish(w)
        h = nn.logaddexp(nn.erf(nn.sinh(h)), nn.softplus(nn.arctan(x), beta=2.0)) + nn.xlogy(h, w)
        return nn.sum(nn.log_sigmoid(h) * nn.rsqrt(nn.square(h) + nn.expm1(w) + 1.0))

    @case(a=inputs.uniform(3, 4, low=0.5, high=2.0), b=inputs.normal(4))
    def pow_chain(nn, a, b):
        # both the base and the exponent carry tangents that are functions on the tape
        base = nn.sqrt(nn.square(a) + nn.reciprocal(nn.cosh(b)))
        return nn.sum(nn.pow(base, nn.atan2(nn.log1p(nn.softsign(b)), base)) * nn.gelu_tanh(a))

    @case(x=inputs.normal(3, 4, scale=2.0), m=inputs.data(np.array([1.0, 0.0, 1.0, 1.0])))
    def piecewise_chain(nn, x, m):
        # random points: no element sits on a kink; the masks' derivatives are 0, the smooth pieces' are not,
        # and products of the pieces give every piece a second derivative the hvp rows see
        h = nn.where(m, nn.elu(x) + nn.selu(x), nn.celu(x, alpha=0.5))
        g = (nn.leaky_relu(x) * nn.hardtanh(x) + nn.relu6(x * x) * nn.hard_sigmoid(x)
             + nn.minimum(x, nn.hard_swish(x) - 0.5) * nn.abs(x) + nn.clip(x, -1.0, 1.0))
        return nn.sum(h * g + nn.fmod(x * x, 1.3) + nn.remainder(x, 0.7) * nn.arcsin(nn.softsign(x))
                      + nn.arccos(0.5 * nn.softsign(x)))
""")


def test_chains_of_the_modules_ops_pass_in_fwd_and_hvp(tmp_path):
    """Rules compose: the tangents entering an op are themselves tape functions of the inputs (so the hvp's
    reverse sweep goes through every rule of the chain), in float64 and float32."""
    (tmp_path / "chains.py").write_text(_CHAINS)
    rows = runner.run(catalogue.discover([tmp_path]), ["core"], modes=("fwd", "hvp"))
    assert {r.case for r in rows} == {"smooth_chain", "pow_chain", "piecewise_chain"}
    assert {r.mode for r in rows} == {"fwd", "hvp"}
    bad = [f"{r.case} {r.param} {r.dtype} {r.mode} {r.verdict}: {r.message}" for r in rows if r.verdict != "pass"]
    assert not bad, "\n".join(bad)


def test_a_held_input_leaves_its_term_out_but_a_tangent_on_the_tape_keeps_it():
    # J·v of (-2)^b along a alone: b a^(b-1) = -4 (the db term's log(-2) is NaN, but db is held at zero)
    _, dy = tape.jvp(lambda a, b: a ** b, [np.array([-2.0]), np.array([2.0])], [np.array([1.0]), None])
    assert dy == pytest.approx([-4.0])
    # f(a, x) = a^(x²) at x = 0: the exponent's tangent 2x·dx is 0 there, yet its derivative is not, and
    # ∂²f/∂x² = 2 log a, ∂²f/∂x∂a = 0, ∂²f/∂a² = x²(x²-1)a^(x²-2) = 0: H·(va, vx) = (0, 2 log a · vx)
    a, x = np.array([1.7]), np.array([0.0])
    _, (ha, hx) = tape.hvp(lambda a, x: tape.T.pow(a, x * x).sum(), [a, x], [np.array([1.0]), np.array([1.0])])
    assert ha == pytest.approx([0.0], abs=1e-15)
    assert hx == pytest.approx(2 * np.log(a))


@pytest.mark.parametrize("op, second", [("arctan", 0.0), ("erf", 0.0)])
def test_slopes_vanishing_at_infinity_give_finite_second_derivatives(op, second):
    fn = getattr(tape.T, op)
    point = np.array([np.inf, -np.inf, 0.5])
    value, (hv,) = tape.hvp(lambda a: fn(a).sum(), [point], [np.ones(3)])
    _, dy = tape.jvp(fn, [point], [np.ones(3)])
    assert np.all(np.isfinite(hv)) and np.all(np.isfinite(dy))
    assert dy[:2].tolist() == [0.0, 0.0] and hv[:2].tolist() == [second, second]
    exact = {"arctan": (1 / 1.25, -2 * 0.5 / 1.25 ** 2),
             "erf": (2 / np.sqrt(np.pi) * np.exp(-0.25), -2 * 0.5 * 2 / np.sqrt(np.pi) * np.exp(-0.25))}[op]
    assert dy[2] == pytest.approx(exact[0]) and hv[2] == pytest.approx(exact[1])


def _elementwise_ops():
    from crosscheck import ops_spec

    return sorted(k for k, v in ops_spec.OPS.items() if v.core.startswith("elementwise."))


def _core_function(op):
    from crosscheck import ops_spec

    return getattr(elementwise, ops_spec.OPS[op].core.split(".", 1)[1])


def test_every_op_of_the_module_is_covered_here():
    assert len(_elementwise_ops()) == 43
    assert all(callable(getattr(_core_function(op), "jvp", None)) for op in _elementwise_ops())


@pytest.mark.parametrize("op", _elementwise_ops())
def test_rules_keep_the_runs_dtype(op):
    """J·v of a float32 run stays float32 along every input (a float64 constant in a rule would promote it)."""
    from crosscheck import backends

    (case,) = _cases(f"op_{op}__random")
    core = backends.get("core")
    point = case.point()
    for param in case.wrt:
        v = np.ones(np.shape(point[param]), dtype=np.float32)
        dy = core.jvp(case, point, "float32", param, v)
        assert dy.dtype == np.float32, f"{op}: J·v along {param} is {dy.dtype}"
        assert np.all(np.isfinite(dy)), f"{op}: J·v along {param} is not finite at the random point"


def test_silus_float32_rule_agrees_with_its_float64_derivative():
    point = np.linspace(-2.5, 2.5, 7, dtype=np.float32)
    _, dy = tape.jvp(tape.T.silu, [point], [np.ones(7, dtype=np.float32)])
    s = sigmoid_value(point.astype(np.float64))
    np.testing.assert_allclose(dy, s * (1 + point * (1 - s)), rtol=1e-6)
