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
    """f at x + deltas[k]·e_{flat_indices[k]} for every k (deltas may be 0: f at x itself); float64, or complex
    for a complex x (the complex-step oracle)."""
    n = len(flat_indices)
    out = np.empty(n, dtype=np.result_type(x.dtype, np.float64))
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
        out[start:stop] = np.broadcast_to(np.asarray(values, dtype=out.dtype).reshape(-1), (stop - start,))
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


def rademacher_direction(shape, seed, k):
    """The ``k``-th seeded direction of ±1 entries, as int8 (made on demand: a direction costs one byte per
    element and is never kept beside the others)."""
    rng = np.random.default_rng([int(seed), int(k)])
    v = rng.integers(0, 2, size=shape, dtype=np.int8)
    v *= 2
    v -= 1
    return v


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


# ---------------------------------------------------------------------------------------------------------------
# The reference's estimator: per element, a derivative with its own error estimate.
#
# One level of the estimator evaluates f at x ± h/2, x ± h and x ± 2h along one element (or one direction):
#
#   central, two steps      c(h)  = (f(x+h) - f(x-h)) / 2h,      c(h/2) = (f(x+h/2) - f(x-h/2)) / h
#   right, second order     r(h)  = (-3 f(x) + 4 f(x+h) - f(x+2h)) / 2h,   r(h/2) likewise with h/2
#   left, second order      l(h)  = (3 f(x) - 4 f(x-h) + f(x-2h)) / 2h,    l(h/2) likewise
#
# Each pair is combined by Richardson extrapolation (the error of all three stencils is O(h²) where f is smooth,
# so E(h/2) - E(h) = -3/4 of E(h)'s leading term): D = D(h/2) + (D(h/2) - D(h)) / 3, and |D(h/2) - D(h)| bounds
# its error (it is 3× the leading error term of D(h/2) where f is smooth, and still bounds it at a C¹ point,
# where the error of the central difference is O(h)). Round-off adds c·eps·max|f|/h.
#
# Where the two one-sided derivatives agree within their errors the point is smooth, and the estimate is whichever
# of the central and the one-sided mean has the smaller error (at a C¹ point, where f'' jumps, the one-sided
# stencils keep their O(h²) error while the central one has O(h)). Where one side is not finite (a domain edge
# within 2h) the finite side is used alone. Where they disagree beyond their errors the point *may* be a kink —
# or a smooth point whose curvature is large at this step, or a kink within 2h of x: the estimator then goes down
# a ladder of smaller steps (h·16^-j), and only one-sided derivatives that stay apart at every step down to the
# finest make a kink. An element whose error is still large at the end has that error as its estimate: the judge
# then says whether it can judge the backend or not.
# ---------------------------------------------------------------------------------------------------------------

#: how much smaller each level of the ladder's step is than the one before
LADDER_RATIO = 16.0
#: levels of the ladder (the finest step is h·16^-(LEVELS-1), ~1e-20 for a unit input)
LADDER_LEVELS = 13
#: one-sided derivatives differing by more than this many times their summed error estimates are apart
SPLIT_FACTOR = 4.0
#: the relative accuracy at which the estimator stops going down the ladder
TARGET_RTOL = 1e-10
#: an estimate whose error is still above this fraction of itself at the end of the ladder has no error bound
UNRESOLVED = 1e-2
#: round-off allowance of a stencil: this many eps·max|f| / h
ROUNDOFF = 4.0

SOURCES = ("central", "one-sided mean", "right", "left", "complex step", "none")


class Estimate:
    """Per element of one input (flat arrays over the elements estimated): the derivative, its error
    estimate, the one-sided derivatives with theirs, whether the point is a kink, and where the value came
    from (an index into :data:`SOURCES`)."""

    def __init__(self, n):
        self.value = np.full(n, np.nan)
        self.error = np.full(n, np.inf)
        self.right = np.full(n, np.nan)
        self.left = np.full(n, np.nan)
        self.right_error = np.full(n, np.inf)
        self.left_error = np.full(n, np.inf)
        self.kink = np.zeros(n, bool)
        self.source = np.full(n, SOURCES.index("none"), dtype=np.int8)
        self.step = np.full(n, np.nan)
        self.noise = np.zeros(n)  # the round-off part of the error, at the step the value came from
        self.levels = np.zeros(n, dtype=np.int16)  # how many ladder levels each element took

    def __len__(self):
        return len(self.value)

    def sources(self):
        return [SOURCES[s] for s in self.source]


def min_steps(x):
    """The smallest step per element that moves x exactly: 4 ulps of x (0 where x is 0 or not finite)."""
    x = np.abs(np.asarray(x, dtype=np.float64))
    return np.where(np.isfinite(x), 4 * np.spacing(np.where(np.isfinite(x), x, 0.0)), 0.0) * (x > 0)


def base_steps(x):
    """The first level's step per element: 2^-17 times the power of two at or below max(|x|, 1); 2^-17
    for a non-finite element (x ± h stays ±inf, so f there is held constant: the derivative at ±inf is the
    limit of the function's slope)."""
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    scale = np.exp2(np.floor(np.log2(np.maximum(np.abs(np.where(finite, x, 1.0)), 1.0))))
    return CENTRAL_STEP["float64"] * scale


def _level(values, f0, h, fscale=0.0):
    """The stencils of one level from f at [x+h/2, x-h/2, x+h, x-h, x+2h, x-2h] (rows of ``values``)."""
    ph, mh, p1, m1, p2, m2 = values
    fmax = np.max(np.abs(np.where(np.isfinite(values), values, 0.0)), axis=0)
    fmax = np.maximum(np.maximum(fmax, np.where(np.isfinite(f0), np.abs(f0), 0.0)), fscale)
    eps = np.finfo(np.float64).eps
    noise = ROUNDOFF * eps * fmax / h
    c1, c2 = (p1 - m1) / (2 * h), (ph - mh) / h
    r1, r2 = (-3 * f0 + 4 * p1 - p2) / (2 * h), (-3 * f0 + 4 * ph - p1) / h
    l1, l2 = (3 * f0 - 4 * m1 + m2) / (2 * h), (3 * f0 - 4 * mh + m1) / h
    # the central estimate's error: the Richardson difference, but never less than half the spread of all six
    # raw estimates — where truncation is nil (a linear function) their differences are round-off alone, and
    # six samples of it bound it more surely than two (|f| underestimates the round-off of a sum that cancels)
    raw = np.stack([c1, c2, r1, r2, l1, l2])
    with np.errstate(invalid="ignore"):
        spread = np.where(np.isfinite(raw).all(axis=0), np.ptp(np.where(np.isfinite(raw), raw, 0.0), axis=0), 0.0)
    central = (c2 + (c2 - c1) / 3, np.maximum(np.abs(c2 - c1) + 2 * noise, spread / 2))
    right = (r2 + (r2 - r1) / 3, np.abs(r2 - r1) + 8 * noise)
    left = (l2 + (l2 - l1) / 3, np.abs(l2 - l1) + 8 * noise)
    finite_c = np.isfinite(ph) & np.isfinite(mh) & np.isfinite(p1) & np.isfinite(m1)
    finite_r = np.isfinite(ph) & np.isfinite(p1) & np.isfinite(p2)
    finite_l = np.isfinite(mh) & np.isfinite(m1) & np.isfinite(m2)
    return central, right, left, finite_c, finite_r, finite_l, noise


def _scale(value, error):
    """A magnitude for relative targets: the largest well-estimated |derivative| among the elements."""
    ok = np.isfinite(value) & np.isfinite(error)
    return float(np.max(np.abs(value[ok]))) if ok.any() else 0.0


def estimate_derivatives(evaluate, f0, h0, *, ladder=LADDER_LEVELS, ratio=LADDER_RATIO, min_step=None, fscale=0.0):
    """Derivatives with error estimates along n directions (see the comment above).

    ``evaluate(k, offsets)`` returns f at x + offsets[j]·d_k for the directions ``k`` (an index array)
    and a matching array of offsets, as float64. ``f0`` is f(x), or per direction an array f_k(x) (n
    functions along one direction: the elements of a vector output, forward mode); ``h0`` the first step per
    direction;
    ``min_step`` (per direction), the smallest step that still moves x (4 ulps of it): the ladder stops there.
    ``fscale``, the magnitude that sets the round-off of every f (default: each f's own values): for the
    elements of one computed vector (a gradient, an output) their common scale, since a small element of it
    carries the rounding of the large ones it was computed with.
    Returns an :class:`Estimate`.
    """
    h0 = np.asarray(h0, dtype=np.float64)
    n = h0.size
    est = Estimate(n)
    best_err = np.full(n, np.inf)
    apart = np.zeros(n, bool)  # one-sided derivatives apart at every level visited so far
    todo = np.arange(n)
    h = h0.copy()
    for level in range(ladder):
        if todo.size == 0:
            break
        hk = h[todo]
        offsets = np.stack([hk / 2, -hk / 2, hk, -hk, 2 * hk, -2 * hk])  # (6, m)
        values = evaluate(np.tile(todo, 6), offsets.reshape(-1)).reshape(6, todo.size)
        (cv, ce), (rv, re), (lv, le), fc, fr, fl, noise = _level(values, f0[todo] if np.ndim(f0) else f0, hk, fscale)
        est.levels[todo] = level + 1
        both = fr & fl
        split = both & (np.abs(rv - lv) > SPLIT_FACTOR * (re + le))
        apart[todo] = (apart[todo] | (level == 0)) & split
        # the smooth candidates, the best (smallest error) kept across levels
        cands = [(np.where(fc, cv, np.nan), np.where(fc, ce, np.inf), 0),
                 (np.where(both & ~split, (rv + lv) / 2, np.nan),
                  np.where(both & ~split, (re + le) / 2 + np.abs(rv - lv) / 2, np.inf), 1),
                 (np.where(fr & ~fl, rv, np.nan), np.where(fr & ~fl, re, np.inf), 2),
                 (np.where(fl & ~fr, lv, np.nan), np.where(fl & ~fr, le, np.inf), 3)]
        for value, error, source in cands:
            better = np.isfinite(value) & (error < best_err[todo]) & ~split
            sel = todo[better]
            est.value[sel], est.error[sel], est.source[sel] = value[better], error[better], source
            est.step[sel], est.noise[sel] = hk[better], noise[better]
            best_err[sel] = error[better]
        # one-sided derivatives: those with the smallest error over the levels where both were finite
        keep = both & (re + le < est.right_error[todo] + est.left_error[todo])
        est.right[todo[keep]], est.right_error[todo[keep]] = rv[keep], re[keep]
        est.left[todo[keep]], est.left_error[todo[keep]] = lv[keep], le[keep]
        # where a split point has no smooth estimate yet, hold the central one (the kink's mean) meanwhile
        hold = split & fc & ~np.isfinite(est.value[todo])
        est.value[todo[hold]], est.error[todo[hold]], est.source[todo[hold]] = cv[hold], ce[hold], 0
        est.step[todo[hold]] = hk[hold]
        scale = _scale(est.value, est.error)
        target = TARGET_RTOL * (np.abs(est.value[todo]) + scale)
        # done: accurate enough, or limited by round-off already (a smaller step would only add to it)
        roundoff_bound = np.where(fc, ce, np.where(both, re + le, np.inf)) <= 12 * noise
        converged = ~split & np.isfinite(est.value[todo]) & ((best_err[todo] <= target) | roundoff_bound)
        # round-off alone at this step already exceeds the best error: a smaller step cannot do better
        stalled = ~split & np.isfinite(best_err[todo]) & (12 * noise >= best_err[todo])
        # apart at every level so far, and the next level's round-off would hide the split: a kink, to the
        # precision the arithmetic allows (a kink nearer to x than this step is one in float64)
        resolved = split & apart[todo] & (2 * SPLIT_FACTOR * LADDER_RATIO * 16 * noise >= np.abs(rv - lv))
        todo = todo[~(converged | stalled | resolved)]
        h = h / ratio
        if min_step is not None:
            todo = todo[h[todo] >= min_step[todo]]
    # a kink's one-sided derivatives converge (each side is smooth up to x); at a jump they grow like 1/h, so
    # there the function has no derivative, left or right, to judge against
    settled = est.right_error + est.left_error <= UNRESOLVED * np.abs(est.right - est.left)
    est.kink = apart & np.isfinite(est.right) & np.isfinite(est.left) & settled
    jump = apart & ~est.kink
    est.error[jump] = np.inf
    # an estimate still uncertain by more than a percent of itself when the ladder ended does not converge
    # (an infinite derivative, sqrt at 0; a function not finite on either side): it has no error bound
    # (round-off alone may exceed a percent of a derivative near 0, say of a saturated sigmoid: that error is
    # known, and the estimate keeps it)
    lost = ~est.kink & (est.error > UNRESOLVED * np.abs(est.value)) & (est.error > 64 * est.noise)
    est.error[lost] = np.inf
    return est
