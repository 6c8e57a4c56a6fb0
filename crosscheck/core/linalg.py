"""Linear algebra on (batches of) square matrices: each forward beside its hand-derived backward.

Notation: Ā is the gradient of the loss with respect to A, ⁻ᵀ the inverse transposed; the cotangent of
the output is ``g``. Inputs symmetric by construction (eigh, cholesky): the rules return the symmetric
gradient, as torch and jax do.
"""

from __future__ import annotations

import numpy as np


def _t(x):
    return np.swapaxes(x, -1, -2)


def _mT(T, x):
    """x with its last two axes swapped, on the tape."""
    return T.transpose(x, axes=tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


def _sym(T, x):
    return (x + _mT(T, x)) * 0.5


def _cofactor_tensor(T, a):
    """The cofactor matrix of ``a`` on the tape: C_ij = (-1)^(i+j) det(minor ij), the minors picked by indexing
    (so the H·v sweep differentiates it through det's and getitem's backwards)."""
    n = a.shape[-1]
    if n == 1:
        return T.constant(np.ones(a.shape, dtype=a.dtype))  # d det [a] = da: a constant cofactor
    keep = np.array([[k for k in range(n) if k != i] for i in range(n)])
    rows, cols = keep[:, None, :, None], keep[None, :, None, :]  # every minor at once: (..., n, n, n-1, n-1)
    sign = ((-1.0) ** np.add.outer(np.arange(n), np.arange(n))).astype(a.dtype)
    return T.det(a[(Ellipsis, rows, cols)]) * T.constant(sign)


def _cofactors(a):
    """The cofactor matrix C (C_ij = (-1)^(i+j) det(minor ij)): det's gradient, exact at singular matrices."""
    n = a.shape[-1]
    c = np.empty_like(a)
    if n == 1:
        return np.ones_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, axis=-2), j, axis=-1)
            c[..., i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return c


def det(a):
    # d det A = tr(adj(A) dA)  ⇒  Ā = g · cof(A)  (the cofactor matrix: det·A⁻ᵀ where A is invertible, and
    # still right where it is singular)
    y = np.linalg.det(a)
    return y, lambda g: (np.asarray(g)[..., None, None] * _cofactors(a),)


# d det A = tr(cof(A)ᵀ dA) = Σ_ij cof(A)_ij dA_ij  (the cofactors, not det·A⁻ᵀ: exact at singular matrices too)
det.jvp = lambda T, y, a, da: T.sum(_cofactor_tensor(T, a) * da, axis=(-2, -1))


def slogdet(a):
    # log|det A|:  d = tr(A⁻¹ dA)  ⇒  Ā = g A⁻ᵀ   (the sign is piecewise constant: no gradient)
    sign, logabs = np.linalg.slogdet(a)
    return logabs, lambda g: (np.asarray(g)[..., None, None] * _t(np.linalg.inv(a)),)


# d log|det A| = tr(A⁻¹ dA)  (A⁻¹ dA by a solve)
slogdet.jvp = lambda T, y, a, da: T.trace(T.solve(a, da))


def inv(a):
    # Y = A⁻¹:  dY = -Y dA Y  ⇒  Ā = -Yᵀ Ḡ Yᵀ
    y = np.linalg.inv(a)
    return y, lambda g: (-_t(y) @ g @ _t(y),)


# Y = A⁻¹, AY = I:  dA Y + A dY = 0  ⇒  dY = -Y dA Y
inv.jvp = lambda T, y, a, da: -(y @ da @ y)


def solve(a, b):
    # x = A⁻¹ b:  b̄ = A⁻ᵀ ḡ,  Ā = -b̄ xᵀ   (b a vector or a matrix of columns)
    vector = b.ndim == a.ndim - 1
    x = np.linalg.solve(a, b[..., None] if vector else b)

    def vjp(g):
        gb = np.linalg.solve(_t(a), g[..., None] if vector else g)
        da = -gb @ _t(x)
        return da, (gb[..., 0] if vector else gb)

    return (x[..., 0] if vector else x), vjp


def _solve_jvp(T, y, a, b, da, db):
    # A x = b:  dA x + A dx = db  ⇒  dx = A⁻¹ (db - dA x)   (x a vector: dA x as a column)
    if b.ndim == a.ndim - 1:
        return T.solve(a, db - T.squeeze(da @ T.expand_dims(y, axis=-1), axis=-1))
    return T.solve(a, db - da @ y)


solve.jvp = _solve_jvp


def cholesky(a):
    # A = LLᵀ:  Ā = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹),  Φ = lower triangle with the diagonal halved,
    # sym(X) = (X + Xᵀ)/2
    # (Murray 2016, "Differentiation of the Cholesky decomposition")
    low = np.linalg.cholesky(a)

    def vjp(g):
        phi = np.tril(_t(low) @ np.tril(g))
        phi = phi - 0.5 * np.eye(a.shape[-1]) * phi
        inv_low = np.linalg.inv(low)
        s = _t(inv_low) @ phi @ inv_low
        return (0.5 * (s + _t(s)),)

    return low, vjp


def _cholesky_jvp(T, y, a, da):
    # A = LLᵀ:  dA = dL Lᵀ + L dLᵀ  ⇒  L⁻¹ dA L⁻ᵀ = L⁻¹dL + (L⁻¹dL)ᵀ with L⁻¹dL lower triangular, so
    # dL = L Φ(L⁻¹ dA L⁻ᵀ), Φ = the lower triangle with the diagonal halved (dA symmetrised, as the backward)
    n = a.shape[-1]
    phi = (np.tril(np.ones((n, n))) - 0.5 * np.eye(n)).astype(a.dtype)
    inv_low = T.inv(y)
    return y @ ((inv_low @ _sym(T, da) @ _mT(T, inv_low)) * T.constant(phi))


cholesky.jvp = _cholesky_jvp


def eigh(a):
    # eigenvalues w of a symmetric A = V diag(w) Vᵀ:  dw_i = v_iᵀ dA v_i  ⇒  Ā = V diag(ḡ) Vᵀ
    # (well defined at repeated eigenvalues for the values; not for the vectors, see eigh_vectors)
    w, v = np.linalg.eigh(a)
    return w, lambda g: ((v * np.asarray(g)[..., None, :]) @ _t(v),)


def _eigh_jvp(T, y, a, da):
    # A v_i = w_i v_i, v_iᵀv_i = 1:  v_iᵀ dA v_i + w_i v_iᵀdv_i = v_iᵀ dv_i w_i + dw_i  ⇒  dw_i = v_iᵀ dA v_i,
    # the diagonal of Vᵀ dA V (V from eigenbasis on the tape: the second derivative goes through its gaps)
    v = T.eigenbasis(a)
    return T.sum(v * (_sym(T, da) @ v), axis=-2)


eigh.jvp = _eigh_jvp


def eigh_vectors(a):
    # eigenvectors V of a symmetric A:  Ā = V (F ∘ (Vᵀ V̄)) Vᵀ, F_ij = 1/(w_j - w_i) off the diagonal, 0 on it,
    # symmetrised; it blows up as two eigenvalues meet (the vectors are not unique there)
    w, v = np.linalg.eigh(a)

    def vjp(g):
        diff = w[..., None, :] - w[..., :, None]
        eye = np.eye(a.shape[-1], dtype=bool)
        with np.errstate(divide="ignore"):
            f = np.where(eye, 0, 1 / np.where(eye, 1, diff))
        inner = v @ (f * (_t(v) @ g)) @ _t(v)
        return (0.5 * (inner + _t(inner)),)

    return v, vjp


def eigenbasis(a):
    # the eigenvectors V of a symmetric A, as eigh_vectors, for the eigenvalue rules (eigh, svdvals) to be
    # differentiated through: Ā = sym(V (F ∘ (Vᵀ V̄)) Vᵀ) with F_ij = 1/(w_j - w_i), but F_ij = 0 where w_i and
    # w_j are tied (within rounding): at a repeated eigenvalue the eigenvalues have no second derivative (their
    # gradient jumps), and the pair's coupling is dropped, holding the basis numpy picked — the second-order
    # counterpart of the eigenvalue backward's own convention (V diag(ḡ) Vᵀ in that basis). Not an op of the
    # vocabulary: only forward-mode rules use it.
    w, v = np.linalg.eigh(a)

    def vjp(g):
        diff = w[..., None, :] - w[..., :, None]
        scale = np.max(np.abs(w), axis=-1, keepdims=True)[..., None]
        tied = np.abs(diff) <= 8 * a.shape[-1] * np.finfo(w.dtype).eps * scale
        with np.errstate(divide="ignore"):
            f = np.where(tied, 0, 1 / np.where(tied, 1, diff))  # the diagonal is tied with itself: 0
        inner = v @ (f * (_t(v) @ g)) @ _t(v)
        return (0.5 * (inner + _t(inner)),)

    return v, vjp


def _eigh_vectors_jvp(T, y, a, da):
    # AV = VΛ, dV = V C:  Vᵀ dA V + ΛC = CΛ + dΛ  ⇒  C_ij = (Vᵀ dA V)_ij / (w_j - w_i) off the diagonal, C_ii = 0
    # (VᵀV = I makes C antisymmetric): dV = V (F ∘ (Vᵀ dA V)), F as the backward's, the gaps w_j - w_i from eigh
    # on the tape (inf where two eigenvalues meet, as the backward)
    n = a.shape[-1]
    eye = np.eye(n, dtype=a.dtype)
    w = T.eigh(a)
    gaps = T.expand_dims(w, axis=-2) - T.expand_dims(w, axis=-1)  # [i, j] = w_j - w_i
    f = T.constant(1 - eye) / (gaps + T.constant(eye))  # 0 on the diagonal (the 1 added there is never used)
    return y @ (f * (_mT(T, y) @ _sym(T, da) @ y))


eigh_vectors.jvp = _eigh_vectors_jvp


def svdvals(a):
    # singular values s of A = U diag(s) Vᵀ:  ds_i = u_iᵀ dA v_i  ⇒  Ā = U diag(ḡ) Vᵀ (reduced SVD)
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return s, lambda g: ((u * np.asarray(g)[..., None, :]) @ vt,)


def _svdvals_jvp(T, y, a, da):
    # ds_i = u_iᵀ dA v_i.  U and V on the tape through the symmetric B = [[0, A], [Aᵀ, 0]]: its eigenvalues are
    # ±s_i (and 0s), the eigenvector of s_i is z_i = (u_i; v_i)/√2, so ds_i = z_iᵀ dB z_i = u_iᵀ dA v_i (the
    # eigenvalue rule), s_i the top k = min(m, n) eigenvalues in descending order
    m, n = a.shape[-2:]
    k = min(m, n)
    lead = a.shape[:-2]
    zm = T.constant(np.zeros(lead + (m, m), dtype=a.dtype))
    zn = T.constant(np.zeros(lead + (n, n), dtype=a.dtype))

    def block(x):
        return T.concatenate(T.concatenate(zm, x, axis=-1), T.concatenate(_mT(T, x), zn, axis=-1), axis=-2)

    z = T.eigenbasis(block(a))
    dw = T.sum(z * (block(da) @ z), axis=-2)  # every eigenvalue's derivative, ascending
    return dw[(Ellipsis, slice(m + n - 1, m + n - 1 - k, -1))]  # the top k, descending (m + n - 1 - k ≥ 0)


svdvals.jvp = _svdvals_jvp


def trace(a):
    # tr A = Σ A_ii:  Ā = g I
    n = a.shape[-1]
    return np.trace(a, axis1=-2, axis2=-1), lambda g: (np.asarray(g)[..., None, None] * np.eye(n, dtype=a.dtype),)


trace.linear = True  # d tr A = tr dA


def diagonal(a):
    # the main diagonal: Ā = ḡ on the diagonal, 0 elsewhere
    n = a.shape[-1]
    eye = np.eye(n, dtype=a.dtype)
    return np.diagonal(a, axis1=-2, axis2=-1).copy(), lambda g: (np.asarray(g)[..., None, :] * eye,)


diagonal.linear = True  # d diag(A) = diag(dA): it picks elements
