"""Forward-mode rules of the reductions, shape ops and losses (issue 13): planted wrong rules that the fwd and hvp
rows must catch, and the rules at points and attributes the catalogue does not reach (axis=None, keepdims,
broadcasting, a padding value, zeros in a product), checked against differences of the forward and of the
core's own gradient."""

import numpy as np
import pytest

from crosscheck import runner
from crosscheck.core import losses, reductions, shape, tape
from crosscheck.core.tape import Tensor

from tests.forward_helpers import shipped_cases as _cases, verdicts as _verdicts


# ---------------------------------------------------------------- planted wrong rules


def test_a_wrong_derivative_is_caught_by_the_fwd_rows(monkeypatch):
    # softmax's rule without the -Σ y da term (dy = y da): a wrong J·v
    monkeypatch.setattr(reductions.softmax, "jvp", lambda T, y, a, da, *, axis=-1: y * da)
    rows = runner.run(_cases("op_softmax__random"), ["core"], modes=("fwd",))
    fwd = _verdicts(rows, "fwd")
    assert fwd and set(fwd.values()) == {"fail"}, fwd


def test_a_wrong_loss_rule_is_caught_by_the_fwd_rows(monkeypatch):
    # binary cross-entropy's rule with p(1 - p) in the numerator instead of the denominator
    monkeypatch.setattr(losses.binary_cross_entropy, "jvp",
                        lambda T, out, p, y, dp, dy: ((p - y) * p * (1 - p) * dp).sum() / p.value.size)
    rows = runner.run(_cases("binary_cross_entropy"), ["core"], modes=("fwd",))
    fwd = _verdicts(rows, "fwd")
    assert fwd and set(fwd.values()) == {"fail"}, fwd


def test_a_rule_from_numpy_values_is_caught_by_the_hvp_rows_only(monkeypatch):
    # logsumexp's weights e^(a - y) computed in numpy from the primal's value: J·v is right, but to the reverse
    # sweep of the rule the weights are a constant, so the second derivative is lost
    def from_values(T, y, a, da, *, axis=None, keepdims=False):
        w = np.exp(a.value - reductions._kept(y.value, a.ndim, axis, keepdims))
        return T.sum(da * T.constant(w), axis=axis, keepdims=keepdims)

    monkeypatch.setattr(reductions.logsumexp, "jvp", from_values)
    rows = runner.run(_cases("op_logsumexp__random"), ["core"], modes=("fwd", "hvp"))
    fwd, hvp = _verdicts(rows, "fwd"), _verdicts(rows, "hvp")
    assert fwd and set(fwd.values()) == {"pass"}, fwd
    assert hvp and set(hvp.values()) == {"fail"}, hvp


def test_the_same_rules_pass_unplanted():
    rows = runner.run(_cases("op_softmax__random", "op_logsumexp__random", "binary_cross_entropy"), ["core"],
                      modes=("fwd", "hvp"))
    assert rows and {r.verdict for r in rows} == {"pass"}, [(r.case, r.mode, r.verdict) for r in rows]


# ---------------------------------------------------------------- beyond the catalogue's attributes


def _apply(op, **attrs):
    return lambda *t: tape.apply(op, *t, **attrs)


def _central_jvp(fn, primals, tangents, h=1e-6):
    plus = [x + h * v for x, v in zip(primals, tangents)]
    minus = [x - h * v for x, v in zip(primals, tangents)]
    return (fn(*[Tensor(x) for x in plus]).value - fn(*[Tensor(x) for x in minus]).value) / (2 * h)


def _grad(fn, primals, index):
    leaves = [Tensor(np.asarray(x), requires_grad=True) for x in primals]
    out = fn(*leaves)
    cot = np.ones_like(out.value)
    return tape.gradients(out, leaves, cotangent=cot)[index]


rng = np.random.default_rng(1313)
A = rng.normal(size=(3, 4))
P = rng.uniform(0.1, 0.9, size=(3, 4))

SMOOTH = [
    ("prod_all", reductions.prod, (A,), {}),
    ("prod_keepdims", reductions.prod, (A,), {"axis": 0, "keepdims": True}),
    ("logsumexp_all", reductions.logsumexp, (A,), {}),
    ("logsumexp_keepdims", reductions.logsumexp, (A,), {"axis": 1, "keepdims": True}),
    ("var_all", reductions.var, (A,), {"ddof": 1}),
    ("var_axis0", reductions.var, (A,), {"axis": 0}),
    ("std_all_keepdims", reductions.std, (A,), {"keepdims": True}),
    ("max_all", reductions.max, (A,), {}),
    ("min_axis0_keepdims", reductions.min, (A,), {"axis": 0, "keepdims": True}),
    ("norm_1", reductions.norm, (A,), {"ord": 1}),
    ("cumprod_axis0", reductions.cumprod, (A,), {"axis": 0}),
    ("cummax_axis0", reductions.cummax, (A,), {"axis": 0}),
    ("sort_axis0", reductions.sort, (A,), {"axis": 0}),
    ("median_all", reductions.median, (A[:, :3],), {}),
    ("median_axis0", reductions.median, (A,), {"axis": 0}),
    ("softmax_axis0", reductions.softmax, (A,), {"axis": 0}),
    ("log_softmax_axis0", reductions.log_softmax, (A,), {"axis": 0}),
    ("pad_value", shape.pad, (A,), {"pad_width": ((1, 2), (0, 1)), "value": 3.0}),
    ("take_along_axis", shape.take_along_axis, (A, np.array([[0, 3, 3], [1, 1, 0], [2, 0, 1]])), {"axis": 1}),
    ("einsum3", shape.einsum, (A, A.T, rng.normal(size=(3,))), {"subscripts": "ij,jk,k->i"}),
    ("mse_broadcast", losses.mean_squared_error, (A, A[0]), {}),
    ("bce_broadcast", losses.binary_cross_entropy, (P, P[:1] > 0.5), {}),
    ("sce_broadcast_logit", losses.softmax_cross_entropy, (A[:, :1], P), {}),
    ("sce_broadcast_target", losses.softmax_cross_entropy, (A, P[0]), {}),
    ("bce_logits_broadcast", losses.binary_cross_entropy_with_logits, (A, P[0]), {}),
    ("kl_p_moving", losses.kl_div, (A, P / P.sum(1, keepdims=True)), {}),
    ("cosine_axis0", losses.cosine_similarity, (A, A[::-1] + 1), {"axis": 0}),
    ("huber_delta", losses.huber, (A, A[::-1]), {"delta": 0.3}),
    ("smooth_l1_beta", losses.smooth_l1, (A, A[::-1]), {"beta": 0.3}),
]


@pytest.mark.parametrize("name,op,arrays,attrs", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_jvp_matches_differences_of_the_forward(name, op, arrays, attrs):
    fn = _apply(op, **attrs)
    moving = [np.asarray(x).dtype.kind == "f" and not (op is shape.take_along_axis and i == 1)
              for i, x in enumerate(arrays)]
    primals = [np.asarray(x, dtype=float) if m else np.asarray(x) for x, m in zip(arrays, moving)]
    tangents = [rng.choice([-1.0, 1.0], size=np.shape(x)) if m else None for x, m in zip(primals, moving)]
    _, got = tape.jvp(fn, primals, tangents)
    zeros = [t if t is not None else np.zeros(np.shape(x)) for x, t in zip(primals, tangents)]
    want = _central_jvp(fn, primals, zeros)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


SECOND = [s for s in SMOOTH if s[0] in ("prod_all", "logsumexp_keepdims", "var_all", "std_all_keepdims",
                                        "softmax_axis0", "log_softmax_axis0", "cumprod_axis0", "sce_broadcast_logit",
                                        "bce_broadcast", "cosine_axis0", "huber_delta")]


@pytest.mark.parametrize("name,op,arrays,attrs", SECOND, ids=[s[0] for s in SECOND])
def test_hvp_matches_differences_of_the_core_gradient(name, op, arrays, attrs):
    # H·v of Σ(op · w) against central differences of the core's own gradient along v
    w = rng.normal(size=np.shape(op(*[np.asarray(x, dtype=float) for x in arrays], **attrs)[0]))

    def fn(x, *rest):
        return (tape.apply(op, x, *rest, **attrs) * Tensor(w)).sum()

    x = np.asarray(arrays[0], dtype=float)
    rest = [np.asarray(r, dtype=float) for r in arrays[1:]]
    v = rng.choice([-1.0, 1.0], size=x.shape)
    leaves = [Tensor(x, requires_grad=True)] + [Tensor(r) for r in rest]
    leaves[0].tangent = Tensor(v)
    out = fn(*leaves)
    got = tape.gradients(out.tangent, [leaves[0]])[0]
    h = 1e-5
    want = (_grad(fn, [x + h * v, *rest], 0) - _grad(fn, [x - h * v, *rest], 0)) / (2 * h)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_prod_and_cumprod_tangents_are_exact_at_zeros():
    a = np.array([[2.0, 0.0, 3.0, 0.0], [0.0, 1.5, -2.0, 4.0]])
    v = np.array([[1.0, -1.0, 1.0, 1.0], [-1.0, 1.0, 1.0, -1.0]])
    _, dp = tape.jvp(_apply(reductions.prod, axis=1), [a], [v])
    # row 0 has two zeros: every term keeps one of them, 0; row 1 has one zero: the tangent is (the product
    # of the others) × the zero's tangent
    np.testing.assert_array_equal(dp, [0.0, 1.5 * -2.0 * 4.0 * -1.0])
    _, dc = tape.jvp(_apply(reductions.cumprod, axis=1), [a], [v])
    np.testing.assert_allclose(dc, _central_jvp(_apply(reductions.cumprod, axis=1), [a], [v]), atol=1e-9)


def test_tangents_keep_float32():
    a = A.astype(np.float32)
    v = np.ones_like(a)
    for op, attrs in [(reductions.std, {"axis": 1}), (reductions.logsumexp, {}), (reductions.norm, {"ord": 2}),
                      (reductions.cumprod, {"axis": 1}), (shape.pad, {"pad_width": 1, "value": 2.0})]:
        _, dy = tape.jvp(_apply(op, **attrs), [a], [v])
        assert dy.dtype == np.float32, op.__name__
    for op, second in [(losses.cosine_similarity, a[::-1]), (losses.huber, a[::-1]),
                       (losses.binary_cross_entropy, P.astype(np.float32))]:
        first = P.astype(np.float32) if op is losses.binary_cross_entropy else a
        _, dy = tape.jvp(_apply(op), [first, second], [v, None])
        assert dy.dtype == np.float32, op.__name__


def test_every_op_of_the_three_modules_has_a_rule():
    # its own jvp, or marked linear / multilinear
    from crosscheck import ops_spec
    from crosscheck.backends.core import core_function

    mine = [n for n, s in ops_spec.OPS.items() if s.core.split(".")[0] in ("reductions", "shape", "losses")]
    assert len(mine) == 40
    for n in mine:
        fn = core_function(n)
        assert getattr(fn, "jvp", None) or getattr(fn, "linear", False) or getattr(fn, "multilinear", False), n
