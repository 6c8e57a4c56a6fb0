"""Forward mode (J·v) and second order (H·v) on the framework backends (issue 13).

Each framework's binding passes on smooth cases in both dtypes; planted bugs are each caught by a row: a custom
torch autograd Function whose backward is right to first order but not differentiable correctly (its ``hvp`` rows
fail, its ``rev`` rows pass), an H·v binding that drops the cross-input blocks, a J·v binding that differentiates
the wrong input, and a J·v off by less than the per-element tolerance in every element but coherently with the
cotangent (only the transpose identity ⟨u, J·v⟩ = ⟨Jᵀu, v⟩ sees it). A framework without a rule for an op gives
a ``skipped`` row naming it. Tests that need a framework skip without it.
"""

import numpy as np
import pytest

from crosscheck import backends, catalogue, inputs, modes, runner
from crosscheck.compare import DEFAULT_TOLERANCES

FRAMEWORKS = ("torch", "jax", "tensorflow", "autograd")
DTYPES = ("float64", "float32")
#: smooth cases every framework binds natively in forward mode (autograd has no JVP of erf, so no gelu here)
SMOOTH = ("sigmoid_neuron", "linear_tanh_layer", "multiply", "sin_of_quadratic", "op_softmax__random")


@pytest.fixture(params=FRAMEWORKS)
def framework(request):
    pytest.importorskip(request.param)
    return request.param


def _base(framework):
    return type(backends.get(framework))


def _planted(framework, prefix, name, method):
    """The framework's backend with its method ``name`` replaced by ``method(base, self, ...)``: a planted bug."""
    base = _base(framework)
    return type(f"{prefix}{base.__name__}", (base,),
                {name: lambda self, *args: method(base, self, *args)})()


def _rows(case, backend, modes_=("rev", "fwd", "hvp"), dtypes=DTYPES):
    return runner.run([case], backends=[backend], dtypes=dtypes, modes=modes_)


def _show(rows):
    return "\n".join(f"{r.case} {r.param} {r.backend} {r.dtype} {r.mode} {r.verdict}: {r.message}" for r in rows)


# ---------------------------------------------------------------------------------------------- correct bindings
def test_each_framework_passes_fwd_and_hvp_on_smooth_cases_in_both_dtypes(framework, catalogue):
    cases = [catalogue[n] for n in SMOOTH]
    rows = [r for r in runner.run(cases, backends=[framework], dtypes=DTYPES, modes=("rev", "fwd", "hvp"))
            if r.mode in ("fwd", "hvp")]
    expected = sum(len(c.wrt) * len([d for d in c.dtypes if d in DTYPES]) * 2 for c in cases)
    assert len(rows) == expected
    bad = [r for r in rows if r.verdict != "pass"]
    assert not bad, _show(bad)
    # every fwd row also checked the transpose identity against the framework's own gradient
    assert all("transpose identity holds" in r.note for r in rows if r.mode == "fwd"), _show(rows)


def test_torch_forward_over_reverse_agrees_with_double_backward(catalogue):
    pytest.importorskip("torch")
    torch_backend = backends.get("torch")
    for name in ("linear_tanh_layer", "sigmoid_neuron", "op_softmax__random"):
        case = catalogue[name]
        point = {k: v.astype(np.float64) for k, v in case.point("float64").items()}
        v = modes.hvp_tangents(case, point)
        twice = torch_backend.hvp(case, point, "float64", v)
        fwd_rev = torch_backend.hvp_forward_over_reverse(case, point, "float64", v)
        for p in case.wrt:
            np.testing.assert_allclose(fwd_rev[p], twice[p], rtol=1e-12, atol=1e-14, err_msg=f"{name} {p}")
    # and they are not both zero: H·v of these cases is not trivial
    assert any(np.abs(twice[p]).max() > 1e-3 for p in case.wrt)


def test_jax_eager_and_jitted_agree(catalogue):
    pytest.importorskip("jax")
    from crosscheck.backends.jax import JaxBackend

    eager = type("EagerJax", (JaxBackend,), {"eager": True})()
    jitted = JaxBackend()
    case = catalogue["linear_tanh_layer"]
    point = {k: v.astype(np.float64) for k, v in case.point("float64").items()}
    v = modes.hvp_tangents(case, point)
    for p in case.wrt:
        t = modes.tangent(case, p, point[p].shape)
        np.testing.assert_allclose(eager.jvp(case, point, "float64", p, t), jitted.jvp(case, point, "float64", p, t),
                                   rtol=1e-13, atol=1e-15)
    a, b = eager.hvp(case, point, "float64", v), jitted.hvp(case, point, "float64", v)
    for p in case.wrt:
        np.testing.assert_allclose(a[p], b[p], rtol=1e-13, atol=1e-15)


def test_tensorflow_traced_and_eager_agree(catalogue):
    pytest.importorskip("tensorflow")
    from crosscheck.backends import tensorflow as tfb

    case = catalogue["linear_tanh_layer"]
    point = {k: v.astype(np.float64) for k, v in case.point("float64").items()}
    v = modes.hvp_tangents(case, point)
    traced, eager = tfb.TensorFlowBackend(), tfb.TensorFlowBackend(compiled=False)
    for p in case.wrt:
        t = modes.tangent(case, p, point[p].shape)
        np.testing.assert_allclose(traced.jvp(case, point, "float64", p, t), eager.jvp(case, point, "float64", p, t),
                                   rtol=1e-12, atol=1e-14)
    a, b = traced.hvp(case, point, "float64", v), eager.hvp(case, point, "float64", v)
    for p in case.wrt:
        np.testing.assert_allclose(a[p], b[p], rtol=1e-12, atol=1e-14)
    # one trace for every input's J·v, one for H·v
    assert sum(1 for key in tfb._COMPILED.keys(case) if case.name in key and "float64" in key and ("jvp" in key or "hvp" in key)
               and key[0] is tfb.TensorFlowVocabulary) == 2


# ------------------------------------------------------------------------------- torch: a wrong double backward
def _torch_tanh_backend(detached):
    """torch with nn.tanh bound to a custom autograd Function: forward, JVP and first-order backward right; with
    ``detached`` its backward computes g·(1 - y²) from a detached y, so it is not itself differentiable correctly
    (its double backward loses the -2y·(1 - y²) term: H·v wrong, everything first-order right)."""
    import torch

    from crosscheck.backends.torch import TorchBackend, TorchVocabulary

    class Tanh(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return torch.tanh(x)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)
            ctx.save_for_forward(output)

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            y = y.detach() if detached else y
            return g * (1 - y * y)

        @staticmethod
        def jvp(ctx, t):
            (y,) = ctx.saved_tensors
            return t * (1 - y * y)

    class Vocabulary(TorchVocabulary):
        def tanh(self, a): return Tanh.apply(a)

    return type("CustomTanh" + ("Detached" if detached else ""), (TorchBackend,), {"vocabulary": Vocabulary})()


@pytest.mark.parametrize("name", ["tanh", "linear_tanh_layer"])
def test_a_wrong_double_backward_is_caught_by_the_hvp_rows_only(name, catalogue):
    pytest.importorskip("torch")
    rows = _rows(catalogue[name], _torch_tanh_backend(detached=True))
    by_mode = {m: [r for r in rows if r.mode == m] for m in ("rev", "fwd", "hvp")}
    assert by_mode["rev"] and all(r.verdict == "pass" for r in by_mode["rev"]), _show(by_mode["rev"])
    assert by_mode["fwd"] and all(r.verdict == "pass" for r in by_mode["fwd"]), _show(by_mode["fwd"])
    assert by_mode["hvp"] and all(r.verdict == "fail" for r in by_mode["hvp"]), _show(by_mode["hvp"])
    assert all("hvp (H·v" in r.message for r in by_mode["hvp"])


def test_the_same_function_with_a_differentiable_backward_passes(catalogue):
    pytest.importorskip("torch")
    rows = _rows(catalogue["linear_tanh_layer"], _torch_tanh_backend(detached=False))
    assert len(rows) == 3 * 3 * 2 and all(r.verdict == "pass" for r in rows), _show(rows)


def test_a_custom_function_without_a_forward_rule_is_skipped_naming_it(catalogue):
    torch = pytest.importorskip("torch")
    from crosscheck.backends.torch import TorchBackend, TorchVocabulary

    class NoJvp(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return torch.tanh(x)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * (1 - y * y)

    class Vocabulary(TorchVocabulary):
        def tanh(self, a): return NoJvp.apply(a)

    backend = type("NoJvpTanh", (TorchBackend,), {"vocabulary": Vocabulary})()
    rows = _rows(catalogue["tanh"], backend, dtypes=("float64",))
    fwd = [r for r in rows if r.mode == "fwd"]
    assert [r.verdict for r in fwd] == ["skipped"] and "jvp" in fwd[0].message, _show(fwd)
    assert all(r.verdict == "pass" for r in rows if r.mode != "fwd"), _show(rows)


def test_a_framework_without_a_jvp_rule_gives_a_skipped_row_naming_the_op(catalogue):
    pytest.importorskip("autograd")
    rows = _rows(catalogue["op_erf__random"], "autograd", modes_=("rev", "fwd"), dtypes=("float64",))
    (fwd,) = [r for r in rows if r.mode == "fwd"]
    assert fwd.verdict == "skipped" and "JVP of erf" in fwd.message and "autograd.make_jvp" in fwd.message


# ----------------------------------------------------------------------------------- wrong H·v and J·v bindings
def _without_cross_terms(framework):
    """The framework's H·v with each input's block computed alone (the other inputs' tangents zeroed): the
    blocks H_pq v_q, p ≠ q, dropped — a wrong H·v binding."""
    def hvp(base, self, case, point, dtype, tangents):
        out = {}
        for p in case.wrt:
            alone = {q: (t if q == p else np.zeros_like(t)) for q, t in tangents.items()}
            out[p] = base.hvp(self, case, point, dtype, alone)[p]
        return out

    return _planted(framework, "NoCross", "hvp", hvp)


def test_an_hvp_binding_without_the_cross_terms_is_caught(framework, catalogue):
    case = catalogue["multiply"]  # H of Σ c·a·b is all cross terms: H·v = (c·v_b, c·v_a)
    wrong = [r for r in _rows(case, _without_cross_terms(framework), modes_=("hvp",))]
    assert len(wrong) == 4 and all(r.verdict == "fail" for r in wrong), _show(wrong)
    right = _rows(case, framework, modes_=("hvp",))
    assert len(right) == 4 and all(r.verdict == "pass" for r in right), _show(right)


def _first_input_jvp(framework):
    """J·v with the tangent always put on the case's first differentiated input, whichever was asked for."""
    return _planted(framework, "FirstInput", "jvp", lambda base, self, case, point, dtype, param, tangent:
                    base.jvp(self, case, point, dtype, case.wrt[0], tangent))


def test_a_jvp_binding_on_the_wrong_input_is_caught_by_the_fwd_row(framework, catalogue):
    rows = [r for r in _rows(catalogue["multiply"], _first_input_jvp(framework), modes_=("rev", "fwd"))
            if r.mode == "fwd"]
    verdicts = {(r.param, r.dtype): r.verdict for r in rows}
    assert verdicts == {("a", "float64"): "pass", ("b", "float64"): "fail", ("a", "float32"): "pass",
                        ("b", "float32"): "fail"}, _show(rows)
    (b64,) = [r for r in rows if r.param == "b" and r.dtype == "float64"]
    assert "transpose identity" not in b64.message  # the reference caught it, element by element


#: an output whose J·v is small (|J·v| ≲ 1e-3 ≪ atol/rtol), many elements: a bias below atol per element passes
#: element by element, but summed along the cotangent it exceeds the transpose identity's allowance. The tolerances
#: are the defaults, declared: in float64 the judge would otherwise tighten the rows' tolerance to the complex-step
#: oracle's (1e-13), and the reference alone would see the bias
SMALL = catalogue.Case(name="small_tanh", fn=lambda nn, x: nn.tanh(x) * 1e-3, inputs={"x": inputs.normal(128)},
                       tolerances=dict(DEFAULT_TOLERANCES))


def _biased_jvp(framework):
    """J·v plus half the per-element tolerance, with the sign of the cotangent u at each element: every element
    within tolerance of the reference, yet ⟨u, J·v⟩ off by ½·atol·Σ|u|."""
    def jvp(base, self, case, point, dtype, param, tangent):
        jv = np.asarray(base.jvp(self, case, point, dtype, param, tangent))
        tol = case.tolerance(dtype)
        u = case.cotangent_for(jv.shape, dtype)
        return (jv + 0.5 * (tol.atol + tol.rtol * np.abs(jv)) * np.sign(u)).astype(dtype)

    return _planted(framework, "Biased", "jvp", jvp)


def test_a_jvp_wrong_below_the_tolerance_is_caught_by_the_transpose_identity(framework):
    rows = [r for r in _rows(SMALL, _biased_jvp(framework), modes_=("rev", "fwd")) if r.mode == "fwd"]
    assert len(rows) == 2 and all(r.verdict == "fail" for r in rows), _show(rows)
    assert all("the transpose identity fails" in r.message and "forward and reverse mode disagree" in r.message
               for r in rows), _show(rows)
    # the genuine binding: the identity holds, the rows pass
    right = [r for r in _rows(SMALL, framework, modes_=("rev", "fwd")) if r.mode == "fwd"]
    assert len(right) == 2 and all(r.verdict == "pass" and "transpose identity holds" in r.note for r in right), \
        _show(right)


def test_the_biased_jvp_passes_element_by_element(framework):
    """The control of the test above: the biased J·v is within tolerance of the reference in every element, so
    without the transpose identity (no gradient to compare with) its row passes."""
    backend = _biased_jvp(framework)
    ref = runner.reference_for(SMALL, "float64", backends.get("numeric"))
    rows = modes.judge_modes(SMALL, "float64", [backend], ref, {}, [], ("fwd",), "all", backends.get("numeric"))
    assert [r.verdict for r in rows] == ["pass"] and "transpose identity" not in rows[0].note, _show(rows)
