"""Forward-mode rules of the linear algebra, the layers and attention (issue 13): planted wrong rules that the fwd
and hvp rows must catch, and the rules at shapes and attributes the catalogue does not reach (batches, a vector
right-hand side, tall and wide matrices, groups, dilation, a causal mask with fewer queries than keys, float32),
checked against central differences of the forward (J·v) and of the core's own gradient (H·v)."""

import zlib

import numpy as np
import pytest

from crosscheck import runner
from crosscheck.core import layers, linalg, ops, sequence, tape
from crosscheck.core.tape import T, Tensor, apply

from tests.forward_helpers import shipped_cases as _cases, verdicts as _verdicts


# ---------------------------------------------------------------- planted wrong rules


def test_a_wrong_sign_is_caught_by_the_fwd_rows(monkeypatch):
    # inv's rule with the sign lost: dY = +Y dA Y
    monkeypatch.setattr(linalg.inv, "jvp", lambda T, y, a, da: y @ da @ y)
    fwd = _verdicts(runner.run(_cases("op_inv__random"), ["core"], modes=("fwd",)), "fwd")
    assert fwd and set(fwd.values()) == {"fail"}, fwd


def test_a_forgotten_bias_term_fails_only_the_bias_rows(monkeypatch):
    # conv2d's rule without the bias's tangent: J·v along the input and the weight stay right
    def no_bias(T, y, a, weight, bias, da, dw, db, **attrs):
        zero = T.constant(np.zeros(bias.shape, dtype=a.dtype))
        return T.conv2d(da, weight, zero, **attrs) + T.conv2d(a, dw, zero, **attrs)

    monkeypatch.setattr(layers.conv2d, "jvp", no_bias)
    fwd = _verdicts(runner.run(_cases("op_conv2d__random"), ["core"], modes=("fwd",)), "fwd")
    assert {k[1] for k, v in fwd.items() if v == "fail"} == {"bias"}, fwd
    assert {v for k, v in fwd.items() if k[1] != "bias"} == {"pass"}, fwd


def test_a_rule_from_numpy_values_is_caught_by_the_hvp_rows_only(monkeypatch):
    # layer norm's x̂ and 1/σ computed in numpy from the primal's value: J·v is right, but to the reverse sweep of
    # the rule they are constants, so the second derivative through the statistics is lost
    def from_values(T, y, a, weight, bias, da, dw, db, *, eps=1e-5):
        x = a.value
        d = x - x.mean(axis=-1, keepdims=True)
        r = 1 / np.sqrt((d * d).mean(axis=-1, keepdims=True) + eps)
        x_hat, r = T.constant(d * r), T.constant(r)
        dd = da - T.mean(da, axis=-1, keepdims=True)
        return r * (dd - x_hat * T.mean(x_hat * dd, axis=-1, keepdims=True)) * weight + x_hat * dw + db

    monkeypatch.setattr(layers.layer_norm, "jvp", from_values)
    rows = runner.run(_cases("op_layer_norm__random"), ["core"], modes=("fwd", "hvp"))
    fwd, hvp = _verdicts(rows, "fwd"), _verdicts(rows, "hvp")
    assert fwd and set(fwd.values()) == {"pass"}, fwd
    # H·v's block of a loses the terms through x̂ and 1/σ; the blocks of weight and bias only need dx̂'s value
    assert {k[1]: v for k, v in hvp.items() if k[2] == "float64"} == {"a": "fail", "weight": "pass", "bias": "pass"}
    assert {k[1]: v for k, v in hvp.items() if k[2] == "float32"} == {"a": "fail", "weight": "pass", "bias": "pass"}


def test_an_inverse_from_numpy_is_caught_by_the_hvp_rows_only(monkeypatch):
    # dY = -Y dA Y with Y taken as numpy's A⁻¹: right J·v, no second derivative
    monkeypatch.setattr(linalg.inv, "jvp", lambda T, y, a, da: -(T.constant(y.value) @ da @ T.constant(y.value)))
    rows = runner.run(_cases("op_inv__random"), ["core"], modes=("fwd", "hvp"))
    fwd, hvp = _verdicts(rows, "fwd"), _verdicts(rows, "hvp")
    assert fwd and set(fwd.values()) == {"pass"}, fwd
    assert hvp and set(hvp.values()) == {"fail"}, hvp


def test_the_same_rules_pass_unplanted():
    rows = runner.run(_cases("op_inv__random", "op_conv2d__random", "op_layer_norm__random"), ["core"],
                      modes=("fwd", "hvp"))
    assert rows and {r.verdict for r in rows} == {"pass"}, [(r.case, r.param, r.mode, r.verdict) for r in rows
                                                            if r.verdict != "pass"]


# ---------------------------------------------------------------- beyond the catalogue's shapes and attributes

rng = np.random.default_rng(1313)


def _n(*shape, scale=1.0):
    return scale * rng.normal(size=shape)


def _t(x):
    return apply(ops.transpose, x, axes=tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


def _c(x, like):
    """A constant in ``like``'s dtype (a float32 run stays float32)."""
    return Tensor(np.asarray(x, dtype=like.dtype))


def _spd(a):
    return a @ _t(a) + _c(3.0 * np.eye(a.shape[-1]), a)


EYE3 = 3.0 * np.eye(3)
MASK = (rng.uniform(size=(3, 4)) > 0.3).astype(np.float32)  # float32 data: promotes nothing
INDICES = np.array([4, 0, 2, 2, 1])

#: (name, fn of tensors, primals): fn must be smooth at the primals
SMOOTH = [
    ("det_batched", lambda a: T.det(a), (_n(2, 3, 3),)),
    ("det_1x1", lambda a: T.det(a), (_n(2, 1, 1),)),
    ("det_4x4", lambda a: T.det(a), (_n(4, 4),)),
    ("slogdet_negative_det", lambda a: T.slogdet(a), (np.array([[0.0, 1.0], [1.0, 0.5]]) + _n(2, 2, scale=0.1),)),
    ("inv_batched", lambda a: T.inv(a + _c(EYE3, a)), (_n(2, 3, 3),)),
    ("solve_vector", lambda a, b: T.solve(a + _c(EYE3, a), b), (_n(3, 3), _n(3))),
    ("solve_batched_vector", lambda a, b: T.solve(a + _c(EYE3, a), b), (_n(2, 3, 3), _n(2, 3))),
    ("solve_batched_matrix", lambda a, b: T.solve(a + _c(EYE3, a), b), (_n(2, 3, 3), _n(2, 3, 4))),
    ("cholesky_batched", lambda a: T.cholesky(_spd(a)), (_n(2, 4, 4),)),
    ("eigh_4x4", lambda a: T.eigh(a + _t(a)), (_n(4, 4),)),
    ("eigh_batched", lambda a: T.eigh(a + _t(a)), (_n(2, 3, 3),)),
    ("eigh_vectors_squared", lambda a: T.eigh_vectors(a + _t(a)) ** 2, (_n(4, 4),)),
    ("svdvals_tall", lambda a: T.svdvals(a), (_n(5, 2),)),  # four zero eigenvalues in [[0, A], [Aᵀ, 0]]
    ("svdvals_wide", lambda a: T.svdvals(a), (_n(2, 4),)),
    ("svdvals_batched", lambda a: T.svdvals(a), (_n(2, 3, 3),)),
    ("trace_batched", lambda a: T.trace(a) * T.trace(a), (_n(2, 3, 3),)),
    ("diagonal_batched", lambda a: T.diagonal(a) ** 3, (_n(2, 3, 3),)),
    ("layer_norm_3d", lambda a, w, b: T.layer_norm(a, w, b, eps=1e-3), (_n(2, 3, 4), _n(4), _n(4))),
    ("rms_norm_3d", lambda a, w: T.rms_norm(a, w), (_n(2, 3, 4), _n(4))),
    ("batch_norm_1d", lambda a, w, b: T.batch_norm(a, w, b), (_n(4, 3, 5), _n(3), _n(3))),
    ("group_norm_one_group", lambda a, w, b: T.group_norm(a, w, b, num_groups=1), (_n(2, 4, 3), _n(4), _n(4))),
    ("group_norm_per_channel", lambda a, w, b: T.group_norm(a, w, b, num_groups=4),
     (_n(2, 4, 2, 3), _n(4), _n(4))),
    ("dropout_then_square", lambda a: T.dropout(a, Tensor(MASK), p=0.3) ** 2, (_n(3, 4),)),
    ("conv1d_plain", lambda a, w, b: T.conv1d(a, w, b), (_n(2, 3, 7), _n(4, 3, 3), _n(4))),
    ("conv2d_dilated_squared", lambda a, w, b: T.conv2d(a, w, b, dilation=2, padding=2) ** 2,
     (_n(1, 2, 6, 6), _n(3, 2, 3, 3, scale=0.5), _n(3))),
    ("conv_transpose2d_dilated", lambda a, w, b: T.conv_transpose2d(a, w, b, stride=2, dilation=2, output_padding=1),
     (_n(1, 2, 3, 3), _n(2, 3, 2, 2), _n(3))),
    ("max_pool2d_default_stride", lambda a: T.max_pool2d(a * a, kernel_size=2), (_n(2, 2, 4, 6),)),
    ("avg_pool2d_stride1", lambda a: T.avg_pool2d(a, kernel_size=(2, 3), stride=1) ** 2, (_n(1, 2, 4, 5),)),
    ("embedding_squared", lambda w: T.embedding(Tensor(INDICES), w) ** 2, (_n(5, 3),)),
    ("attention_4d", lambda q, k, v: T.scaled_dot_product_attention(q, k, v), (_n(2, 2, 3, 4), _n(2, 2, 5, 4),
                                                                              _n(2, 2, 5, 4))),
    ("attention_causal_fewer_queries", lambda q, k, v: T.scaled_dot_product_attention(q, k, v, causal=True),
     (_n(2, 3, 4), _n(2, 5, 4), _n(2, 5, 4))),
]


def _value(fn, xs):
    return fn(*[Tensor(np.asarray(x)) for x in xs]).value


def _gradient(objective, xs):
    leaves = [Tensor(np.asarray(x), requires_grad=True) for x in xs]
    return tape.gradients(objective(*leaves), leaves)


def _close(got, want, what, rtol=1e-6):
    scale = max(float(np.max(np.abs(want))), 1.0)
    assert np.allclose(got, want, rtol=rtol, atol=rtol * scale), f"{what}: got {got}, want {want}"


@pytest.mark.parametrize("name, fn, primals", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_jvp_and_hvp_against_differences(name, fn, primals):
    r = np.random.default_rng(zlib.crc32(name.encode()))
    v = [r.normal(size=np.shape(x)) for x in primals]
    h = 1e-5
    y, dy = tape.jvp(fn, primals, v)
    plus = [x + h * t for x, t in zip(primals, v)]
    minus = [x - h * t for x, t in zip(primals, v)]
    _close(dy, (_value(fn, plus) - _value(fn, minus)) / (2 * h), f"{name}: J·v")
    u = Tensor(r.normal(size=np.shape(y)))

    def objective(*xs):
        return (fn(*xs) * u).sum()

    _, hv = tape.hvp(objective, primals, v)
    for k, (g_plus, g_minus) in enumerate(zip(_gradient(objective, plus), _gradient(objective, minus))):
        _close(hv[k], (g_plus - g_minus) / (2 * h), f"{name}: H·v of input {k}", rtol=1e-5)


@pytest.mark.parametrize("name, fn, primals", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_rules_keep_float32(name, fn, primals):
    xs = [np.asarray(x, dtype=np.float32) for x in primals]
    vs = [np.ones_like(x) for x in xs]
    y, dy = tape.jvp(fn, xs, vs)
    assert y.dtype == np.float32 and dy.dtype == np.float32, (y.dtype, dy.dtype)
    _, hv = tape.hvp(lambda *t: fn(*t).sum(), xs, vs)
    assert all(g.dtype == np.float32 for g in hv), [g.dtype for g in hv]


# ---------------------------------------------------------------- repeated eigenvalues


def test_eigenvalue_hvp_is_finite_at_a_repeated_eigenvalue():
    # A = 2I + t S along S: the eigenvalues are 2 + t·eig(S), whose gradient (the eigenbasis of S, ordered by the
    # sign of t) is constant on each side of t = 0: H·v is 0 on both sides. The eigenvalue rule goes through
    # eigenbasis, which drops the coupling of tied eigenvalues, so it gives that 0, not 0·inf
    s = np.array([[1.0, 2.0], [2.0, -1.0]])
    u = Tensor(np.array([0.3, -1.2]))
    _, hv = tape.hvp(lambda a: (T.eigh(a) * u).sum(), [2.0 * np.eye(2)], [s])
    assert np.array_equal(hv[0], np.zeros((2, 2))), hv
    for t in (1e-3, -1e-3):  # and the gradient is indeed constant on either side
        g1 = _gradient(lambda a: (T.eigh(a) * u).sum(), [2.0 * np.eye(2) + t * s])[0]
        g2 = _gradient(lambda a: (T.eigh(a) * u).sum(), [2.0 * np.eye(2) + 2 * t * s])[0]
        assert np.allclose(g1, g2, atol=1e-12)


def test_singular_value_hvp_at_a_repeated_singular_value_is_the_one_sided_value():
    # A = I + t V with V = [[-1, 1], [1, -1]] (the catalogue's op_svdvals__repeated point and tangent): the singular
    # values are 1 and |1 - 2t|, their singular vectors those of V whatever t ≠ 0, so the gradient of ⟨u, s⟩ is
    # constant on each side of t = 0 (a jump between the sides): H·v is 0 on both. The rule gives that 0. (The
    # catalogue's hvp reference differentiates the float64 gradient with steps down to ~2e-15, where LAPACK
    # treats I + tV as already diagonal and the gradient is a smooth function of t of slope -u₂ at a[0, 1]: it
    # takes that slope for the derivative and misses the jump.)
    v = np.array([[-1.0, 1.0], [1.0, -1.0]])
    u = Tensor(np.array([-0.05272738, 0.54789361]))

    def objective(a):
        return (T.svdvals(a) * u).sum()

    _, hv = tape.hvp(objective, [np.eye(2)], [v])
    assert np.allclose(hv[0], 0.0, atol=1e-12), hv
    for t in (1e-3, 1e-8, -1e-8, -1e-3):
        g1, g2 = (_gradient(objective, [np.eye(2) + s * v])[0] for s in (t, 2 * t))
        assert np.allclose(g1, g2, atol=1e-12)  # constant along v on each side


def test_eigenbasis_backward_is_the_eigenvector_backward_where_eigenvalues_differ():
    a = _n(4, 4)
    a = a + a.T
    g = _n(4, 4)
    (v1, vjp1), (v2, vjp2) = linalg.eigh_vectors(a), linalg.eigenbasis(a)
    assert np.array_equal(v1, v2)
    assert np.allclose(vjp1(g)[0], vjp2(g)[0], rtol=1e-13, atol=1e-13)
    tied = np.diag([1.0, 1.0, 3.0])
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(linalg.eigh_vectors(tied)[1](_n(3, 3))[0]))  # the vectors' own backward
    assert np.all(np.isfinite(linalg.eigenbasis(tied)[1](_n(3, 3))[0]))


def test_det_rule_is_exact_at_a_singular_matrix():
    # the cofactors, not det·A⁻¹: at a rank-2 3×3 matrix (det 0, cofactors not 0) J·v and H·v are finite and
    # right. Along a line det is a cubic in t, so Richardson's extrapolation of central differences is exact, and
    # the gradient (the cofactors) is quadratic, so its central difference is
    a = np.outer([1.0, 2.0, -1.0], [0.5, 1.0, 3.0]) + np.outer([0.0, 1.0, 1.0], [2.0, -1.0, 0.5])
    assert abs(np.linalg.det(a)) < 1e-12
    v = _n(3, 3)
    _, dy = tape.jvp(lambda x: T.det(x), [a], [v])

    def central(h):
        return (np.linalg.det(a + h * v) - np.linalg.det(a - h * v)) / (2 * h)

    want = central(1e-2) - (central(2e-2) - central(1e-2)) / 3
    assert abs(want) > 1e-2  # not the trivial 0 of a rank-1 matrix
    assert np.isclose(dy, want, rtol=1e-9, atol=1e-12), (dy, want)
    _, hv = tape.hvp(lambda x: T.det(x), [a], [v])
    h = 1e-2
    gp, gm = (_gradient(lambda x: T.det(x), [a + s * h * v])[0] for s in (1, -1))
    assert np.all(np.isfinite(hv[0])) and np.allclose(hv[0], (gp - gm) / (2 * h), rtol=1e-9, atol=1e-12)


def test_max_pool_tangent_follows_the_backward_at_a_tie():
    # the window [[1, 1], [0, 1]]: the backward sends the gradient to the first maximum, the rule reads its tangent
    a = np.array([[[[1.0, 1.0], [0.0, 1.0]]]])
    v = np.array([[[[5.0, 7.0], [11.0, 13.0]]]])
    _, dy = tape.jvp(lambda x: T.max_pool2d(x, kernel_size=2), [a], [v])
    assert dy.reshape(-1).tolist() == [5.0]
    (grad,) = _gradient(lambda x: T.max_pool2d(x, kernel_size=2).sum(), [a])
    assert float(np.sum(grad * v)) == 5.0  # ⟨Jᵀ1, v⟩ = J·v: forward and reverse make the same choice


def test_every_rule_of_this_part_is_there():
    for module, names in ((linalg, ("det", "slogdet", "inv", "solve", "cholesky", "eigh", "eigh_vectors", "svdvals")),
                          (layers, ("layer_norm", "rms_norm", "batch_norm", "group_norm", "dropout", "conv1d",
                                    "conv2d", "conv_transpose2d", "max_pool2d", "embedding")),
                          (sequence, ("scaled_dot_product_attention",))):
        for name in names:
            assert callable(getattr(getattr(module, name), "jvp", None)), name
    assert linalg.trace.linear and linalg.diagonal.linear and layers.avg_pool2d.linear
