"""The float64 reference for one case in one dtype, computed once and shared by every backend.

Every differentiated input gets, per element, a derivative *and an estimate of its error*
(:func:`crosscheck.numerical.estimate_derivatives`): central and one-sided second-order differences at
two steps, combined by Richardson extrapolation, the step going down a ladder where the estimate is not
yet good (small |x| near a singularity, a domain edge within the step, a kink nearby). Where the case is
analytic along the way, a complex step (the numeric vocabulary evaluated on complex inputs) replaces the
estimate with one good to ~1e-15 relative — the *oracle* — after checking it agrees with the finite
differences within their error.

Each input is checked one of two ways:

- ``central``: every element as above — says *which* element is wrong;
- ``directional``: the derivative along ``k`` seeded random ±1 directions, estimated the same way
  along each direction (6 evaluations per direction, whatever the input's size) — for large inputs.

``method="auto"`` takes ``central`` for inputs of at most ``central_max`` elements and ``directional``
beyond. The forward value is computed twice at the point: a case whose value differs between two calls
(its own randomness, a counter) cannot be differentiated numerically, and says so.
"""

from __future__ import annotations

import numpy as np

from .numerical import SOURCES

METHODS = ("auto", "central", "directional")
#: inputs up to this many elements get element-wise central differences under method="auto"
CENTRAL_MAX = 1 << 14
#: random directions per input under the directional method
DIRECTIONS = 16
#: the oracle is used where it agrees with the finite differences within this many times their error
ORACLE_AGREEMENT = 4.0
#: the oracle's own error: this many eps of the derivative, plus this many eps of the input's largest one
ORACLE_ULPS = (64.0, 16.0)


class NotDeterministic(Exception):
    """The case's value differs between two evaluations at the same point."""


class ParamReference:
    """The reference for one differentiated input: arrays shaped like the input (``central``), or the
    projections on seeded directions (``directional``)."""

    def __init__(self, method):
        self.method = method
        self.grad = self.error = self.right = self.left = self.right_error = self.left_error = None
        self.kink = self.oracle = None
        self.sources = None  # per element, the estimate's source (a name from numerical.SOURCES)
        self.estimate = None  # the numerical.Estimate (flat)
        self.direction = None  # k -> the k-th direction (directional)
        self.count = 0

    @classmethod
    def from_estimate(cls, est, shape):
        """The element-wise reference of one input (or of one J·v / H·v vector) from a flat Estimate."""
        ref = cls("central")
        ref.estimate = est
        ref.grad, ref.error = est.value.reshape(shape), est.error.reshape(shape)
        ref.right, ref.left = est.right.reshape(shape), est.left.reshape(shape)
        ref.right_error, ref.left_error = est.right_error.reshape(shape), est.left_error.reshape(shape)
        ref.kink = est.kink.reshape(shape)
        ref.oracle = (est.source == SOURCES.index("complex step")).reshape(shape)
        ref.sources = est.source.reshape(shape)
        return ref

    @property
    def scale(self):
        """The largest |derivative| of the input (of the projections, when directional)."""
        g = self.estimate.value
        ok = np.isfinite(g)
        return float(np.max(np.abs(g[ok]))) if ok.any() else 0.0


class Reference:
    """The point (rounded to the dtype), the forward value, and per input its :class:`ParamReference`.

    Raises whatever the case raises when it cannot be evaluated in plain numpy, and :class:`NotDeterministic`
    when two evaluations at the point differ.
    """

    def __init__(self, case, dtype, numeric, method="auto", directions=DIRECTIONS, central_max=CENTRAL_MAX,
                 oracle=True):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.case, self.numeric, self.dtype = case, numeric, dtype
        self.point = {k: np.asarray(v, dtype=np.float64) for k, v in case.point(dtype).items()}
        for v in self.point.values():
            v.setflags(write=False)
        self.value = numeric.value(case, self.point)
        again = numeric.value(case, self.point)
        if not (again == self.value or (np.isnan(again) and np.isnan(self.value))):
            raise NotDeterministic(
                f"the case is not deterministic: its value at the same {dtype} point was {self.value!r}, then "
                f"{again!r} (randomness or state inside the case function?): finite differences of it mean "
                f"nothing, so no gradient can be judged")
        self.oracle_note = ""
        self.params = {}
        self._pieces = {}
        if not np.isfinite(self.value):
            return
        for param in case.wrt:
            size = self.point[param].size
            use_central = method == "central" or (method == "auto" and size <= central_max)
            if use_central:
                self.params[param] = self._central(param, oracle)
            else:
                self.params[param] = self._directional(param, directions)

    # -- element-wise --------------------------------------------------------------------------------------

    def _central(self, param, oracle):
        est = self.numeric.estimate(self.case, self.point, param, self.value)
        if oracle:
            self._apply_oracle(param, est)
        return ParamReference.from_estimate(est, self.point[param].shape)

    def _apply_oracle(self, param, est):
        """Complex-step derivatives where the element is smooth and the case analytic: the estimate is kept
        where the two disagree beyond the finite differences' error (and the note says why)."""
        from .backends.numeric import NotAnalytic

        x = self.point[param].reshape(-1)
        scale = float(np.max(np.abs(est.value[np.isfinite(est.value)]), initial=0.0))
        usable = ~est.kink & np.isfinite(x) & np.isfinite(est.value)
        idx = np.flatnonzero(usable)
        if idx.size == 0:
            return
        # Two checks. (1) The complex step is taken at two steps 2^20 apart: where the case is analytic the two
        # agree to the last bits; at a singular point (sqrt at 0) they differ by powers of the ratio. (2) Where the
        # finite differences are precise, the oracle must agree with them, and it is used only if it did at every
        # such element: a case that is not analytic on the way (an op outside the vocabulary's complex forms)
        # shows it there. Where they are not precise (x far beyond the function's own scale, sin at 1e15, or a
        # kink nearer than round-off lets a step resolve), the oracle then stands on check (1).
        err = est.error[idx]
        precise = np.isfinite(err) & (err <= 1e-2 * (np.abs(est.value[idx]) + scale))
        try:
            with np.errstate(all="ignore"):
                cs = self.numeric.complex_step(self.case, self.point, param, idx)
                cs2 = self.numeric.complex_step(self.case, self.point, param, idx, shrink=2.0**-20)
        except NotAnalytic as exc:
            self.oracle_note = f"no complex-step oracle: the case calls {exc.args[0]!r}, which has no complex form"
            return
        except Exception as exc:  # the case does something complex inputs cannot take: finite differences stay
            self.oracle_note = f"no complex-step oracle: the case fails on complex inputs ({type(exc).__name__}: {exc})"
            return
        eps = np.finfo(np.float64).eps
        steady = np.isfinite(cs) & (np.abs(cs - cs2) <= ORACLE_ULPS[0] * eps * (np.abs(cs) + scale))
        near = np.where(np.isfinite(err), np.abs(cs - est.value[idx]) <= ORACLE_AGREEMENT * err
                        + ORACLE_ULPS[0] * eps * np.abs(cs), True)
        agree = steady & near
        if not precise.any() or not agree[precise].all():
            if precise.any():
                k = int(np.flatnonzero(precise & ~agree)[0])
                bad = idx[k]
                self.oracle_note = (f"complex step disagrees with the finite differences at {param}"
                                    f"{list(np.unravel_index(bad, self.point[param].shape))} ({cs[k]:.6g} vs "
                                    f"{est.value[bad]:.6g} ± {est.error[bad]:.1e}): not analytic there; finite "
                                    f"differences kept")
            return
        use = idx[agree]
        est.value[use] = cs[agree]
        est.error[use] = ORACLE_ULPS[0] * eps * np.abs(cs[agree]) + ORACLE_ULPS[1] * eps * scale
        est.source[use] = SOURCES.index("complex step")

    # -- directional ---------------------------------------------------------------------------------------

    def _directional(self, param, count):
        from .numerical import rademacher_direction

        ref = ParamReference("directional")
        shape, seed = self.point[param].shape, self.case.seed(f"{param}<directions>")
        last = {}  # the direction drawn last: its stencil's evaluations ask for it in a row

        def direction(k):
            if k not in last:
                last.clear()
                last[k] = rademacher_direction(shape, seed, k)
            return last[k]

        ref.direction = direction
        ref.count = count
        ref.estimate = self.numeric.estimate_directional(self.case, self.point, param, self.value, ref.direction,
                                                         count)
        return ref

    def method_label(self, param):
        ref = self.params[param]
        return "central" if ref.method == "central" else f"directional×{ref.count}"

    def screened(self, param, grad, tolerance):
        """An element-wise reference of a large input for judging ``grad``, at a third of the full cost: a
        plain central difference of every element (memoised), and the full estimator (errors, kinks, the
        oracle) only where ``grad`` disagrees with it beyond the tolerance — the elements that need it.
        Elements that agree keep the plain difference, with its truncation ignored (it agreed)."""
        from .numerical import central_difference

        ref = self.params[param]
        x = self.point[param]
        if not hasattr(ref, "plain"):
            f = self.numeric._objective_of(self.case, self.point, param)
            ref.plain = central_difference(f, x, batched=True)
            ref.estimated = {}
        g = np.asarray(grad, dtype=np.float64)
        suspects = np.flatnonzero(~(np.abs(g - ref.plain) <= tolerance.atol + tolerance.rtol * np.abs(ref.plain)))
        todo = np.array([i for i in suspects if i not in ref.estimated], dtype=int)
        if todo.size:
            est = self.numeric.estimate(self.case, self.point, param, self.value, indices=todo)
            fields = ("value", "error", "right", "left", "right_error", "left_error", "kink", "source")
            for j, i in enumerate(todo):
                ref.estimated[int(i)] = tuple(getattr(est, k)[j] for k in fields)
        out = ParamReference("central")
        n = x.size
        out.grad, out.error = ref.plain.reshape(-1).copy(), np.zeros(n)
        out.right, out.left = out.grad.copy(), out.grad.copy()
        out.right_error, out.left_error = np.zeros(n), np.zeros(n)
        out.kink, out.sources = np.zeros(n, bool), np.zeros(n, np.int8)
        for i in suspects:
            (out.grad[i], out.error[i], out.right[i], out.left[i], out.right_error[i], out.left_error[i],
             out.kink[i], out.sources[i]) = ref.estimated[int(i)]
        for name in ("grad", "error", "right", "left", "right_error", "left_error", "kink", "sources"):
            setattr(out, name, getattr(out, name).reshape(x.shape))
        out.oracle = np.zeros(x.shape, bool)
        return out

    # -- joint kinks ----------------------------------------------------------------------------------------

    def pieces(self, kinks):
        """The gradients, over the kink elements ``kinks`` ((param, flat index), ...), of the smooth pieces that
        meet at the point (memoised): every sign pattern for up to 4 elements, else ± each axis and 16 seeded
        random patterns. The valid subgradients of a piecewise-smooth function are their convex hull (Clarke)."""
        key = tuple(kinks)
        if key not in self._pieces:
            m = len(kinks)
            if m <= 4:
                patterns = [[1.0 if (b >> j) & 1 else -1.0 for j in range(m)] for b in range(2 ** m)]
            else:
                rng = np.random.default_rng(m)
                patterns = [list(row) for row in rng.choice([-1.0, 1.0], size=(16, m))]
                patterns += [[(1.0 if j == k else -1.0) * sign for j in range(m)] for k in range(m) for sign in (1, -1)]
            self._pieces[key] = self.numeric.piece_gradients(self.case, self.point, list(kinks), patterns)
        return self._pieces[key]


def reference_for(case, dtype, numeric=None, **options):
    """The case's :class:`Reference` in ``dtype``, or the exception that prevented it (None for a case
    whose own specification is broken: its rows say why)."""
    if case.error:
        return None
    if numeric is None:
        from . import backends

        numeric = backends.get("numeric")
    try:
        with np.errstate(all="ignore"):
            return Reference(case, dtype, numeric, **options)
    except Exception as exc:
        return exc


__all__ = ["CENTRAL_MAX", "DIRECTIONS", "METHODS", "NotDeterministic", "ParamReference", "Reference",
           "reference_for"]
