"""Finite differences: central (the reference) and one-sided (for locating kinks).

Step sizes. Central differences have truncation error ~h²·f'''/6 and
round-off error ~eps·|f|/h; the sum is smallest near h = eps^(1/3). We take
the power of two nearest to it, scaled by the power of two at or below
|x| (for |x| ≥ 1):

    dtype    h (×scale)
    float64  2^-17 ≈ 7.6e-6
    float32  2^-8  ≈ 3.9e-3

The one-sided differences use second-order stencils with the same step, so
their error is of the same order as the central difference's.

A power-of-two step that is a multiple of x's ulp makes x ± h and 2h exact,
so the only errors left are the function's own. A caller may pass an
absolute ``step`` instead (e.g. the article's 1e-7); then the quotient is
(f(x + h) - f(x - h)) / (2h) as written.

Vectorised: with ``batched=True`` the function takes a stack of inputs
(shape ``(B, *x.shape)``) and returns B values, so the perturbations of many
elements are evaluated in one call, in chunks that bound memory.
"""

from __future__ import annotations

import numpy as np

CENTRAL_STEP = {"float64": 2.0**-17, "float32": 2.0**-8}
#: perturbed copies per call hold at most this many elements (~32 MiB in float64)
CHUNK_ELEMENTS = 1 << 22
#: perturbations per call for a function that takes them lazily (see Perturbation)
LAZY_CHUNK = (32, 256)


class Perturbation:
    """A stack of copies of ``x``, copy k with ``deltas[k]`` added at flat index ``flat_indices[k]``,
    kept as (x, indices, deltas) until someone needs the full stack (:meth:`stack`).

    A function marked ``accepts_perturbation = True`` receives this instead of the stack, so it can
    exploit that each copy differs from x in one element: e.g. x @ W with one element of W
    perturbed is x @ W plus a rank-one update, computed once instead of once per copy.
    """

    def __init__(self, x, flat_indices, deltas):
        self.x, self.flat_indices, self.deltas = x, np.asarray(flat_indices), np.asarray(deltas, dtype=x.dtype)

    def __len__(self):
        return len(self.flat_indices)

    def stack(self):
        out = np.repeat(self.x[None], len(self), axis=0)
        out.reshape(len(self), -1)[np.arange(len(self)), self.flat_indices] += self.deltas
        return out


def steps(x, base):
    """Per-element step: ``base`` times the power of two at or below max(|x|, 1)."""
    x = np.asarray(x)
    scale = np.exp2(np.floor(np.log2(np.maximum(np.where(np.isfinite(x), np.abs(x), 1.0), 1.0))))  # ±inf: step ×1
    return (base * scale).astype(x.dtype)


def _step_array(x, step, table):
    if step is None:
        name = np.dtype(x.dtype).name
        if name not in table:
            raise TypeError(f"finite differences support {sorted(table)}, not {name}")
        return steps(x, table[name])
    return np.broadcast_to(np.asarray(step, dtype=x.dtype), x.shape)


def _evaluate(f, x, deltas, flat_indices, batched):
    """f at x + deltas[k]·e_{flat_indices[k]} for every k (deltas may be 0: f at x itself)."""
    n = len(flat_indices)
    out = np.empty(n, dtype=np.float64)
    if not batched:
        for k, (i, d) in enumerate(zip(flat_indices, deltas)):
            xp = x.copy()
            xp.flat[i] += d
            out[k] = f(xp)
        return out
    lazy = getattr(f, "accepts_perturbation", False)
    chunk = CHUNK_ELEMENTS // max(x.size, 1)
    chunk = min(n, max(LAZY_CHUNK[0], min(chunk, LAZY_CHUNK[1])) if lazy else max(1, chunk))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        p = Perturbation(x, flat_indices[start:stop], deltas[start:stop])
        values = f(p) if lazy else f(p.stack())
        out[start:stop] = np.broadcast_to(np.asarray(values, dtype=np.float64).reshape(-1), (stop - start,))
    return out


def central_difference(f, x, *, step=None, batched=False, indices=None):
    """df/dx by central differences, every element (or only the flat ``indices``).

    ``f`` maps an array shaped like ``x`` to a scalar; with ``batched=True`` it maps
    a stack ``(B, *x.shape)`` to ``B`` values. Returns an array shaped like ``x``
    (zeros outside ``indices`` when they are given).
    """
    x = np.asarray(x)
    h = _step_array(x, step, CENTRAL_STEP).reshape(-1)
    idx = np.arange(x.size) if indices is None else np.asarray(indices, dtype=int).reshape(-1)
    both = np.concatenate([idx, idx])
    values = _evaluate(f, x, np.concatenate([h[idx], -h[idx]]), both, batched)
    plus, minus = values[: idx.size], values[idx.size:]
    grad = np.zeros(x.size, dtype=np.float64)
    grad[idx] = (plus - minus) / (2 * h[idx].astype(np.float64))
    return grad.reshape(x.shape)


def one_sided_differences(f, x, *, indices=None, step=None, batched=False):
    """Right and left derivatives at the flat ``indices``, by second-order one-sided stencils:

        right = (-3 f(x) + 4 f(x + h) - f(x + 2h)) / 2h,   left = (3 f(x) - 4 f(x - h) + f(x - 2h)) / 2h

    Each sees only its own side of x, so where they disagree beyond their error,
    f has no derivative at x (a kink). Returns ``(right, left, noise)``, where
    ``noise`` bounds the round-off of each (8·eps·(|f(x)| + 1)/h) plus nothing
    for truncation, which is O(h²) like the central difference's.
    """
    x = np.asarray(x)
    h = _step_array(x, step, CENTRAL_STEP).reshape(-1)
    idx = np.arange(x.size) if indices is None else np.asarray(indices, dtype=int).reshape(-1)
    hi = h[idx]
    f0 = _evaluate(f, x, np.zeros(1, dtype=x.dtype), np.zeros(1, dtype=int), batched)[0]
    values = _evaluate(f, x, np.concatenate([hi, 2 * hi, -hi, -2 * hi]), np.tile(idx, 4), batched)
    p1, p2, m1, m2 = values.reshape(4, idx.size)
    hh = hi.astype(np.float64)
    right = (-3 * f0 + 4 * p1 - p2) / (2 * hh)
    left = (3 * f0 - 4 * m1 + m2) / (2 * hh)
    noise = 8 * np.finfo(np.float64).eps * (abs(f0) + 1) / hh
    return right, left, noise


def rademacher_directions(shape, count, seed):
    """``count`` seeded directions of ±1 entries, shaped ``(count, *shape)``.

    With entries of magnitude one, a single wrong gradient element of size δ moves every projection by
    exactly δ, so it is caught by each direction alone; several wrong elements escape only if they
    cancel in every direction (for two equal ones, probability 2^-count).
    """
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, 1.0]), size=(count, *shape))


def directional_difference(f, x, directions, *, step=None, batched=False):
    """(f(x + h·v) - f(x - h·v)) / 2h for every direction v: the derivative of f along v, 2 evaluations each.

    The step is one power of two for the whole array (base step × the power of two at or below
    max(max|x|, 1)), so that with ±1 directions every x ± h·v is exact.
    """
    x = np.asarray(x)
    directions = np.asarray(directions, dtype=x.dtype)
    if step is None:
        base = CENTRAL_STEP[np.dtype(x.dtype).name]
        h = steps(np.array(np.max(np.abs(x)) if x.size else 0.0, dtype=x.dtype), base)
    else:
        h = np.asarray(step, dtype=x.dtype)
    k = directions.shape[0]
    stack = np.concatenate([x[None] + h * directions, x[None] - h * directions])
    if batched:
        values = np.asarray(f(stack), dtype=np.float64).reshape(-1)
        values = np.broadcast_to(values, (2 * k,))
    else:
        values = np.array([f(s) for s in stack], dtype=np.float64)
    return (values[:k] - values[k:]) / (2 * float(h))
