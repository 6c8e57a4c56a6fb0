"""Linear algebra on (batches of) square matrices: each forward beside its hand-derived backward.

Notation: Ā is the gradient of the loss with respect to A, ⁻ᵀ the inverse transposed; the cotangent of
the output is ``g``. Inputs symmetric by construction (eigh, cholesky): the rules return the symmetric
gradient, as torch and jax do.
"""

from __future__ import annotations

import numpy as np


def _t(x):
    return np.swapaxes(x, -1, -2)


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


def slogdet(a):
    # log|det A|:  d = tr(A⁻¹ dA)  ⇒  Ā = g A⁻ᵀ   (the sign is piecewise constant: no gradient)
    sign, logabs = np.linalg.slogdet(a)
    return logabs, lambda g: (np.asarray(g)[..., None, None] * _t(np.linalg.inv(a)),)


def inv(a):
    # Y = A⁻¹:  dY = -Y dA Y  ⇒  Ā = -Yᵀ Ḡ Yᵀ
    y = np.linalg.inv(a)
    return y, lambda g: (-_t(y) @ g @ _t(y),)


def solve(a, b):
    # x = A⁻¹ b:  b̄ = A⁻ᵀ ḡ,  Ā = -b̄ xᵀ   (b a vector or a matrix of columns)
    vector = b.ndim == a.ndim - 1
    x = np.linalg.solve(a, b[..., None] if vector else b)

    def vjp(g):
        gb = np.linalg.solve(_t(a), g[..., None] if vector else g)
        da = -gb @ _t(x)
        return da, (gb[..., 0] if vector else gb)

    return (x[..., 0] if vector else x), vjp


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


def eigh(a):
    # eigenvalues w of a symmetric A = V diag(w) Vᵀ:  dw_i = v_iᵀ dA v_i  ⇒  Ā = V diag(ḡ) Vᵀ
    # (well defined at repeated eigenvalues for the values; not for the vectors, see eigh_vectors)
    w, v = np.linalg.eigh(a)
    return w, lambda g: ((v * np.asarray(g)[..., None, :]) @ _t(v),)


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


def svdvals(a):
    # singular values s of A = U diag(s) Vᵀ:  ds_i = u_iᵀ dA v_i  ⇒  Ā = U diag(ḡ) Vᵀ (reduced SVD)
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return s, lambda g: ((u * np.asarray(g)[..., None, :]) @ vt,)


def trace(a):
    # tr A = Σ A_ii:  Ā = g I
    n = a.shape[-1]
    return np.trace(a, axis1=-2, axis2=-1), lambda g: (np.asarray(g)[..., None, None] * np.eye(n, dtype=a.dtype),)


def diagonal(a):
    # the main diagonal: Ā = ḡ on the diagonal, 0 elsewhere
    n = a.shape[-1]
    eye = np.eye(n, dtype=a.dtype)
    return np.diagonal(a, axis1=-2, axis2=-1).copy(), lambda g: (np.asarray(g)[..., None, :] * eye,)
