"""One run: every case × dtype × backend, judged against the finite-difference reference.

Flows one way: cases → backends compute → ``compare`` judges → rows. The
reference for a dtype is taken at the case's input point rounded to that
dtype, so a float32 gradient is compared with the exact gradient at the
float32 point, not at a nearby float64 one.
"""

from __future__ import annotations

import time

import numpy as np

from . import backends as backend_registry
from .backends.base import InPlaceWrite, in_place_write
from .compare import (FAILING, ORACLE_TOLERANCE, REFERENCE_ERROR_FACTOR, Convention, Pair, Row, agreement,
                      compare, describe_failure, error_in_eps, index_str, is_subgradient, ulp_error)
from .guard import DEFAULT_TIMEOUT, guarded_rows
from .reference import CENTRAL_MAX, DIRECTIONS, NotDeterministic, Reference, reference_for
from .vocabulary import MissingOp



def _error_rows(case, backend, dtype, verdict, message, note=""):
    return [Row(case.name, p, backend, dtype, verdict, message=message, note=note) for p in case.wrt]


def _describe_exception(case, exc):
    """The exception, with the line of the case's own file where it was raised (or passed through)."""
    from .catalogue import _line_in

    line = _line_in(exc, case.file)
    where = f"{case.file}:{line}" if line else case.location
    hint = ""
    if "does not support ufuncs" in str(exc):  # np.sin(x) and the like on a backend's array
        hint = " (a numpy function was called on a backend's array inside the case: use nn's ops, e.g. nn.sin)"
    hint = hint or _method_hint(exc)
    return f"case {case.name!r} ({where}): {type(exc).__name__}: {exc}{hint}"


def _method_hint(exc):
    """For a method a framework's array lacks (``x.sqeeze()``): the vocabulary's nearest op, if one is close."""
    import re

    from .vocabulary import nearest_op

    match = re.search(r"has no attribute '(\w+)'", str(exc)) if isinstance(exc, AttributeError) else None
    close = nearest_op(match.group(1)) if match else None
    return f" (as an op of the vocabulary: did you mean nn.{close}?)" if close else ""


def load_error_rows(errors):
    """One ``error`` row per case file that failed to load or case name defined twice."""
    rows = []
    for e in errors:
        name = e.case or f"<{e.path}>"
        rows.append(Row(name, "-", "-", "-", "error", reference="-", message=str(e)))
    return rows


def _nonfinite_value_rows(case, dtype, backends, reference):
    """The forward value itself is NaN or ±inf in plain float64: no gradient can be judged."""
    value = reference.value
    msg = (f"case {case.name!r} ({case.location}): the forward value is {value} at the {dtype} input point "
           f"(plain float64 numpy), so no gradient there means anything; inputs {case.inputs_summary(dtype)}")
    return [r for b in backends if b.applies(case) for r in _error_rows(case, b.name, dtype, "nan", msg)]


def _at(flat, shape):
    return index_str(np.unravel_index(int(flat), shape)) if len(shape) else ""


def _tolerance(case, dtype, pref):
    """The case's tolerance; in float64 with every element's reference from the complex-step oracle and no
    tolerance of the case's own, the oracle's (tighter: the reference no longer needs room)."""
    if dtype == "float64" and dtype not in case.tolerances and pref.oracle is not None and pref.oracle.size \
            and pref.oracle.all():
        return ORACLE_TOLERANCE
    return case.tolerance(dtype)


def _reference_label(pref):
    if pref.oracle is None or not pref.oracle.size:
        return "finite-difference"
    if pref.oracle.all():
        return "complex-step"
    return "complex-step+finite-difference" if pref.oracle.any() else "finite-difference"


def _judge_param(case, param, backend, dtype, grad, reference, probe, others_finite):
    """One row: the gradient against the reference, by the method the reference took for this input."""
    if reference.params[param].method == "directional":
        return _judge_directional(case, param, backend, dtype, grad, reference, probe, others_finite)
    return _judge_central(case, param, backend, dtype, grad, reference.params[param], probe, others_finite)


#: a failed directional check falls back to element-wise differences up to this size, to name the worst element
FALLBACK_MAX = 1 << 18
#: the directional check's allowance for a correct backend's rounding: per element this many units of the
#: dtype's eps times (|g_i| + max|g| / 16), the errors of different elements adding up like a random walk
#: (the directions are random signs, independent of the errors), and this many standard deviations of it
ROUNDING_ULPS, ROUNDING_SIGMAS = 32.0, 6.0


def _dot_int8(g, v):
    """g·v for a ±1 int8 direction, in slices (no float64 copy of v the size of g)."""
    return float(sum(np.dot(g[s:s + (1 << 18)], v[s:s + (1 << 18)].astype(np.float64))
                     for s in range(0, g.size, 1 << 18)))


def _projection_allowance(g, dtype):
    eps = np.finfo(np.dtype(dtype)).eps
    flat = g.reshape(-1)
    m = float(np.max(np.abs(flat), initial=0.0))
    total = 0.0
    for start in range(0, flat.size, 1 << 18):  # in slices: no temporary the size of g
        a = np.abs(flat[start:start + (1 << 18)]) + m / 16
        total += float(np.dot(a, a))
    return ROUNDING_SIGMAS * ROUNDING_ULPS * eps * float(np.sqrt(total))


def _judge_directional(case, param, backend, dtype, grad, reference, probe, others_finite):
    """The gradient's projections on the reference's random ±1 directions against the directional estimates.

    Allowed per projection: the estimate's own error (×2) plus what rounding in the backend's dtype can do to a
    correct projection (see ROUNDING_ULPS); along a direction on which the function has a kink, the projection
    must lie between the left and right directional derivatives. A single wrong element of size δ moves every
    projection by δ, so the row states the smallest δ it was sure to catch. A failed projection falls back to
    the element-wise judge (kinks probed), which names the element.
    """
    tol = case.tolerance(dtype)
    pref = reference.params[param]
    est = pref.estimate
    row = Row(case.name, param, backend, dtype, "pass", atol=tol.atol, rtol=tol.rtol,
              method=reference.method_label(param), reference="finite-difference")
    g = np.asarray(grad, dtype=np.float64)
    if g.shape != reference.point[param].shape:
        raise ValueError(f"gradient has shape {g.shape}, the input {reference.point[param].shape}")
    if not np.isfinite(g).all():
        bad = ", ".join(f"{param}{_at(i, g.shape)}" for i in np.flatnonzero(~np.isfinite(g))[:8])
        row.verdict = "nan"
        row.message = (f"case {case.name!r}, parameter {param!r}, backend {backend}, dtype {dtype}: "
                       f"gradient is NaN or inf at {bad}")
        return row
    flat = g.reshape(-1)
    got = np.array([_dot_int8(flat, pref.direction(k).reshape(-1)) for k in range(pref.count)])
    rounding = _projection_allowance(g, dtype)
    with np.errstate(invalid="ignore"):
        allowed = REFERENCE_ERROR_FACTOR * est.error + rounding
        lo, hi = np.minimum(est.left, est.right), np.maximum(est.left, est.right)
        kink_slack = REFERENCE_ERROR_FACTOR * (est.left_error + est.right_error) + rounding
        err = np.where(est.kink, np.maximum(np.maximum(lo - got, got - hi), 0.0), np.abs(got - est.value))
        bad = np.where(est.kink, err > kink_slack, ~(err <= allowed))
    k = int(np.nanargmax(np.where(np.isfinite(err), err / np.where(est.kink, kink_slack, allowed), np.inf)))
    row.max_abs, row.worst_index, row.value, row.expected = float(err[k]), (k,), float(got[k]), float(est.value[k])
    with np.errstate(divide="ignore", invalid="ignore"):
        row.max_rel = float(np.max(np.where(err == 0, 0.0, err / np.abs(est.value))))
        row.ratio = float(err[k] / (kink_slack[k] if est.kink[k] else allowed[k]))
    row.err_eps = error_in_eps(float(err[k]) / g.size, float(np.max(np.abs(est.value))) / g.size, dtype)
    smooth = ~est.kink & np.isfinite(allowed)
    row.detectable = float(np.min((allowed + np.abs(got - est.value))[smooth])) if smooth.any() else float("nan")
    row.note = (f"directional: a single element off by {row.detectable:.2e} or more is caught"
                if smooth.any() else "")
    # a projection outside [left, right] along a direction that crosses kinks is suspicious, not proof: with
    # kinks of both convexities on one direction, valid subgradients reach beyond the two one-sided slopes
    unsure = ~np.isfinite(est.value) | ~np.isfinite(est.error)
    # issue 16: a direction without a finite estimate is unjudged, not failed (|g·v - NaN| > allowed is "bad")
    failing = int(np.sum(bad & ~est.kink & ~unsure))
    suspicious = int(np.sum(bad & est.kink & ~unsure))
    if not failing and not suspicious and not unsure.any():
        if est.kink.any():
            row.verdict = "kink"
            row.message = (f"{int(est.kink.sum())} of {pref.count} directions cross a kink of {param!r}; "
                           f"{backend}'s projections lie between the left and right directional derivatives")
        return row
    if not failing:
        row.verdict = "unjudged"
        row.message = (f"case {case.name!r}, parameter {param!r}: the directional reference is not finite or has "
                       f"no error bound along {int(unsure.sum())} of {pref.count} directions" if unsure.any() else
                       f"case {case.name!r}, parameter {param!r}: {suspicious} of {pref.count} directions cross kinks "
                       f"and {backend}'s projection lies outside their one-sided slopes there, which a valid "
                       f"subgradient may do; only an element-wise check can tell")
    else:
        row.verdict = "fail"
        row.message = (f"case {case.name!r}, parameter {param!r}, backend {backend}, dtype {dtype}: directional "
                       f"check, {failing} of {pref.count} random ±1 directions outside tolerance; worst direction {k}: "
                       f"got g·v = {got[k]:.10g}, reference {est.value[k]:.10g} ± {est.error[k]:.1e}; abs error "
                       f"{err[k]:.3e}; allowed {allowed[k]:.3e} (the reference's error ×{REFERENCE_ERROR_FACTOR:g} + "
                       f"{dtype} rounding {rounding:.2e}); inputs {case.inputs_summary(dtype)}")
    if g.size <= FALLBACK_MAX:  # locate the culprit, as gradcheck re-runs its slow mode when the fast one fails
        pref_screened = reference.screened(param, g, tol)
        fallback = _judge_central(case, param, backend, dtype, grad, pref_screened, probe, others_finite)
        fallback.method = f"{row.method}, then central"
        fallback.note = "; ".join(x for x in (row.note, fallback.note) if x)
        if fallback.verdict in ("pass", "kink", "unjudged"):
            fallback.note += (f"; the directional check had flagged {failing + suspicious} of {pref.count} "
                              f"directions ({row.message}); the element-wise check settles it")
        else:
            fallback.message = row.message + "; element-wise: " + fallback.message
        return fallback
    return row


def _judge_central(case, param, backend, dtype, grad, pref, probe, others_finite):
    """The gradient against the element-wise reference and its error, kinks told apart from failures."""
    tol = _tolerance(case, dtype, pref)
    row = Row(case.name, param, backend, dtype, "pass", atol=tol.atol, rtol=tol.rtol, method="central",
              reference=_reference_label(pref))
    g = np.asarray(grad, dtype=np.float64)
    shape = np.shape(grad)
    r, e = pref.grad, pref.error
    usable = np.isfinite(r) & np.isfinite(e)
    c = compare(g, np.where(usable, r, np.nan), tol, np.where(usable, e, 0.0))
    row.max_abs, row.max_rel, row.worst_index = c.max_abs, c.max_rel, c.worst_index
    row.value, row.expected = c.value_at_worst, c.reference_at_worst
    row.err_eps = error_in_eps(c.max_abs, c.scale, dtype)
    row.ratio = c.worst_ratio
    row.ulps = ulp_error(g, np.where(usable, r, np.nan), dtype)
    allowed = tol.atol + tol.rtol * np.abs(np.where(usable, r, 0.0))
    row.ref_error = float(np.max(np.where(usable, e, 0.0) / allowed)) if g.size else 0.0
    gf, rf = g.reshape(-1), r.reshape(-1)
    finite_g = np.isfinite(gf)
    kink = pref.kink.reshape(-1).copy()
    # elements where the backend is not finite: a NaN of its own where the reference (or another backend) is finite
    nan_elems = np.flatnonzero(~finite_g & (usable.reshape(-1) | others_finite.reshape(-1) | kink))
    if nan_elems.size:
        bad = ", ".join(f"{param}{_at(i, shape)}" for i in nan_elems[:8])
        row.verdict = "nan"
        row.message = (f"case {case.name!r}, parameter {param!r}, backend {backend}, dtype {dtype}: gradient is NaN "
                       f"or inf at {nan_elems.size} element(s) where the reference or another backend is finite: {bad}")
        return row
    if probe == "failing":  # kinks considered only where the smooth comparison fails
        kink &= np.isin(np.arange(kink.size), c.mismatched)
    at_kink = np.flatnonzero(kink)
    failing = np.setdiff1d(np.union1d(c.mismatched, c.nonfinite), at_kink)
    kink_bad = np.zeros(0, int)
    if at_kink.size:
        left, right = pref.left.reshape(-1)[at_kink], pref.right.reshape(-1)[at_kink]
        slack = REFERENCE_ERROR_FACTOR * (pref.left_error.reshape(-1)[at_kink] + pref.right_error.reshape(-1)[at_kink])
        valid = is_subgradient(gf[at_kink], left, right, tol, slack) & finite_g[at_kink]
        kink_bad = at_kink[~valid]
    unjudgeable = np.flatnonzero(~usable.reshape(-1) & ~kink)
    uncertain = np.union1d(np.setdiff1d(c.uncertain, at_kink), unjudgeable)
    if failing.size or kink_bad.size:
        row.verdict = "fail"
        if failing.size:
            if at_kink.size:  # issue 16: the message and the worst element name the failing smooth elements, not
                # a kink element whose valid subgradient is far from the central difference (which averages)
                c = compare(g, np.where(kink.reshape(shape), g, np.where(usable, r, np.nan)), tol,
                            np.where(usable, e, 0.0))
                row.max_abs, row.max_rel, row.worst_index = c.max_abs, c.max_rel, c.worst_index
                row.value, row.expected, row.ratio = c.value_at_worst, c.reference_at_worst, c.worst_ratio
            row.message = describe_failure(row, c, case.inputs_summary(dtype))
        else:
            row.message = (f"case {case.name!r}, parameter {param!r}, backend {backend}, dtype {dtype}: "
                           f"{kink_bad.size} of {c.size} elements outside tolerance")
        if kink_bad.size:
            i = kink_bad[0]
            row.message += (f"; {param}{_at(i, shape)} is a kink (left derivative {pref.left.reshape(-1)[i]:.6g}, "
                            f"right {pref.right.reshape(-1)[i]:.6g}); {backend} gives {gf[i]:.6g}, which lies "
                            f"outside [left, right], so it is no subgradient")
            if not failing.size:
                row.worst_index = tuple(int(j) for j in np.unravel_index(i, shape)) if len(shape) else ()
                row.value, row.expected = float(gf[i]), float(rf[i])
        return row
    if uncertain.size:
        i = uncertain[0]
        where = f"{param}{_at(i, shape)}"
        row.verdict = "unjudged"
        if not usable.reshape(-1)[i]:
            why = (f"the reference is not finite or has no error bound at {where} (the function is not finite or "
                   f"not differentiable within the smallest step: a domain edge, or an infinite derivative)")
        else:
            why = (f"at {where} the reference {rf[i]:.10g} carries an estimated error of {e.reshape(-1)[i]:.2e}, "
                   f"larger than the tolerance {allowed.reshape(-1)[i]:.2e}, and {backend}'s {gf[i]:.10g} differs "
                   f"from it by {abs(gf[i] - rf[i]):.2e}: within the reference's error, beyond the tolerance")
        row.message = (f"case {case.name!r}, parameter {param!r}, backend {backend}, dtype {dtype}: "
                       f"{uncertain.size} of {c.size} element(s) cannot be judged; {why}")
        return row
    if at_kink.size:
        i = at_kink[0]
        row.verdict = "kink"
        row.message = (f"not differentiable at {at_kink.size} element(s) of {param!r}: {param}{_at(i, shape)} is a "
                       f"kink (left derivative {pref.left.reshape(-1)[i]:.6g}, right {pref.right.reshape(-1)[i]:.6g}; "
                       f"{backend} gives {gf[i]:.6g}, a subgradient; the central difference {rf[i]:.6g} averages "
                       f"the two)")
    return row


#: joint kinks are judged together for at most this many kink elements of a case (beyond, element by element)
JOINT_MAX = 8


def hull_distance(points, g, iterations=400):
    """A lower bound on the distance from ``g`` to the convex hull of the rows of ``points``, and the nearest
    hull point found (Frank-Wolfe on the simplex of weights; its duality gap makes the bound sound: the true
    squared distance is at least f(λ) - gap, so a vector is never called outside by an unconverged search)."""
    P = np.asarray(points, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    lam = np.full(len(P), 1.0 / len(P))
    best_lower = 0.0
    for _ in range(iterations):
        x = lam @ P
        r = x - g
        grad = 2 * P @ r
        k = int(np.argmin(grad))
        gap = float(lam @ grad - grad[k])
        f = float(r @ r)
        best_lower = max(best_lower, f - gap)
        if gap <= 1e-30 + 1e-12 * f:
            break
        d = P[k] - x
        dd = float(d @ d)
        step = 0.0 if dd == 0 else min(1.0, max(0.0, -float(r @ d) / dd))
        lam = (1 - step) * lam
        lam[k] += step
    return float(np.sqrt(max(best_lower, 0.0))), lam @ P


def _judge_joint(case, backend, dtype, grads, reference, rows):
    """Several kink elements (of one input or several) judged together: the gradient over them must lie in
    the convex hull of the gradients of the smooth pieces that meet there (Clarke's generalised gradient),
    found at points just off the kinks. At a three-way tie of a maximum the pieces are (1, 0, 0), (0, 1, 0),
    (0, 0, 1): (1, 1, 1) and (0, 0, 0) are each a subgradient coordinate by coordinate, but not in their hull;
    (1/3, 1/3, 1/3) and (1, 0, 0) are. A violation fails every row of the elements involved."""
    kinks = [(p, int(i)) for p in case.wrt if reference.params[p].method == "central"
             for i in np.flatnonzero(reference.params[p].kink)]
    by_param = {r.param: r for r in rows}
    kinks = [(p, i) for p, i in kinks if by_param.get(p) is not None and by_param[p].verdict in ("kink", "pass")]
    if not 2 <= len(kinks) <= JOINT_MAX:
        return
    pieces = reference.pieces(tuple(kinks))
    if not np.isfinite(pieces).all():
        return
    g = np.array([float(np.asarray(grads[p], dtype=np.float64).reshape(-1)[i]) for p, i in kinks])
    tol = case.tolerance(dtype)
    size = float(np.max(np.abs(pieces), initial=0.0))
    # the tolerance per element, and the pieces' own finite-difference error (steps of 2^-28 of the scale)
    slack = np.sqrt(len(kinks)) * (tol.atol + tol.rtol * size) + 1e-6 * size
    distance, nearest = hull_distance(pieces, g)
    if distance <= slack:
        return
    names = ", ".join(f"{p}{_at(i, reference.point[p].shape)}" for p, i in kinks)
    msg = (f"case {case.name!r}, backend {backend}, dtype {dtype}: joint kink at {names}: {backend} gives "
           f"({', '.join(f'{v:.6g}' for v in g)}), each element between its left and right derivatives, but not a "
           f"subgradient as a vector: it lies {distance:.3e} from the convex hull of the gradients of the pieces "
           f"that meet there ({'; '.join('(' + ', '.join(f'{v:.3g}' for v in row) + ')' for row in np.unique(np.round(pieces, 9), axis=0)[:6])}); "
           f"the nearest valid one is ({', '.join(f'{v:.6g}' for v in nearest)})")
    for p in {p for p, _ in kinks}:
        r = by_param[p]
        r.verdict, r.message = "fail", msg


def _forward_check(case, backend, dtype, value, reference):
    """The backend's forward value against the reference's (float64 at the same point): the text of a mismatch
    beyond the dtype's tolerance, or ''."""
    tol = case.tolerance(dtype)
    ref = reference.value
    if abs(value - ref) <= tol.atol + tol.rtol * abs(ref):
        return ""
    return f"forward value {value:.10g} where the reference gives {ref:.10g} (difference {abs(value - ref):.2e})"


#: seconds spent in each backend's evaluate and in the reference, in this process (the benchmarks read it to
#: give each backend's cost per row; crosscheck.parallel adds its workers' seconds)
SPENT = {}


def _evaluate_isolated(backend, case, point, dtype):
    """``backend.evaluate`` on its own read-only copy of the inputs: a backend (or a hand-written backward)
    that writes into an input raises, and the error names the inputs it wrote."""
    started = time.perf_counter()
    try:
        return _evaluate_read_only(backend, case, point, dtype)
    finally:
        SPENT[backend.name] = SPENT.get(backend.name, 0.0) + time.perf_counter() - started


def _evaluate_read_only(backend, case, point, dtype):
    mine = {}
    for k, v in point.items():  # a read-only view: writing through it raises, and it costs no copy
        a = np.asarray(v).view()
        a.setflags(write=False)
        mine[k] = a
    try:
        return backend.evaluate(case, mine, dtype)
    except InPlaceWrite:
        raise
    except ValueError as exc:
        if "read-only" not in str(exc):
            raise
        raise in_place_write(backend.name, case, point, lambda a: backend.evaluate(case, a, dtype), exc) from exc


def _apply_expectation(case, row):
    expected = case.expectation(row.backend, row.dtype, row.param, row.mode)
    if expected is None:
        return row
    if row.verdict in ("fail", "kink", "nan"):
        row.note = f"expected: {expected.reason}" + (f" | {row.message}" if row.message else "")
        row.verdict = "expected-discrepancy"
    elif row.verdict == "pass":
        row.note = f"an expected discrepancy did not occur: {expected.reason}"
    return row


def pairwise(case, dtype, evaluations):
    """Every pair of backends that both computed the case: their worst disagreement over the parameters, and
    how many elements differ beyond the case's tolerance (|a - b| > atol + rtol·max(|a|, |b|))."""
    names = sorted(evaluations)
    tol = case.tolerance(dtype)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            measured, beyond, scaled = [], 0, 0.0
            for k in case.wrt:
                ga = np.asarray(evaluations[a].grads.get(k, np.nan), dtype=np.float64)
                gb = np.asarray(evaluations[b].grads.get(k, np.nan), dtype=np.float64)
                if ga.shape != gb.shape:
                    continue
                measured.append((agreement(ga, gb), k))
                with np.errstate(invalid="ignore"):
                    size = float(np.nanmax(np.maximum(np.abs(ga), np.abs(gb)), initial=0.0))
                    diff = float(np.nanmax(np.abs(ga - gb), initial=0.0))
                # at a gradient that is 0 (backends' 1e-17 against 0), the scale is the tolerance's atol
                scaled = max(scaled, diff / max(size, tol.atol)) if np.isfinite(diff) else scaled
                with np.errstate(invalid="ignore"):
                    same = (ga == gb) | (np.isnan(ga) & np.isnan(gb))  # two NaNs (or two equal infs) agree
                    close = np.abs(ga - gb) <= tol.atol + tol.rtol * np.maximum(np.abs(ga), np.abs(gb))
                    beyond += int(np.sum(~same & ~close))
            (max_abs, max_rel), param = max(measured, key=lambda t: (t[0][1], t[0][0]), default=((0.0, 0.0), ""))
            pairs.append(Pair(case.name, dtype, a, b, max_abs, max_rel, param, beyond, scale_rel=scaled))
    return pairs


def judge_case(case, dtype, backends, reference=None, probe="all", pairs=None, conventions=None, modes=("rev",),
               oracle=True):
    """Rows for one case in one dtype, one per (backend, differentiated input).

    ``reference`` is the case's :class:`Reference` (or the exception that prevented
    it); computed here when None. When ``pairs`` is a list, the pairwise agreement
    of the backends is appended to it. numpy's floating-point warnings are silenced
    here: a NaN or inf is judged and reported as a verdict, not as a warning.
    """
    with np.errstate(all="ignore"):
        rows = _judge_case(case, dtype, backends, reference, probe, pairs, conventions)
        if any(m != "rev" for m in modes) and isinstance(reference, Reference) and np.isfinite(reference.value):
            from . import modes as modes_module

            numeric = backend_registry.get("numeric")
            rev = [r for r in rows if r.mode == "rev"]
            evaluations = getattr(rows, "evaluations", {})
            extra = modes_module.judge_modes(case, dtype, backends, reference, evaluations, rev, modes, probe,
                                             numeric, oracle=oracle, spent=SPENT)
            rows = _Rows(rows)
            rows.extend(extra)
        if "rev" not in modes:
            rows = [r for r in rows if r.mode != "rev"]
        return rows


class _Rows(list):
    """A case's rows, and the backends' evaluations they were judged from (the modes' transpose check)."""

    evaluations = {}


def _judge_case(case, dtype, backends, reference, probe, pairs, conventions):
    if reference is None:
        reference = reference_for(case, dtype)
    if case.error:
        msg = f"case {case.name!r} ({case.location}): invalid input spec: {case.error}"
        return [r for b in backends if b.applies(case) for r in _error_rows(case, b.name, dtype, "error", msg)]
    if isinstance(reference, NotDeterministic):
        msg = f"case {case.name!r} ({case.location}): {reference}"
        return [r for b in backends if b.applies(case) for r in _error_rows(case, b.name, dtype, "error", msg)]
    if isinstance(reference, Exception):  # not even plain numpy can evaluate the case: every backend's row says so
        msg = f"reference failed: {_describe_exception(case, reference)}"
        return [r for b in backends if b.applies(case) for r in _error_rows(case, b.name, dtype, "error", msg)]
    if not np.isfinite(reference.value):
        return _nonfinite_value_rows(case, dtype, backends, reference)
    point = reference.point
    rows, evaluations = [], {}
    for backend in backends:
        if not backend.applies(case):
            continue
        reason = backend.unavailable()
        if reason:
            rows.extend(_error_rows(case, backend.name, dtype, "skipped", reason))
            continue
        try:
            ev = _evaluate_isolated(backend, case, point, dtype)
        except MissingOp as exc:  # a young engine: the op it lacks is named, the run is not failed
            rows.extend(_error_rows(case, backend.name, dtype, "skipped", f"case {case.name!r}: {exc}"))
            continue
        except Exception as exc:
            rows.extend(_error_rows(case, backend.name, dtype, "error", _describe_exception(case, exc)))
            continue
        if not np.isfinite(ev.value):
            msg = (f"case {case.name!r}, backend {backend.name}, dtype {dtype}: the forward value is {ev.value} "
                   f"where plain float64 gives {reference.value:.10g}")
            rows.extend(_apply_expectation(case, r) for r in _error_rows(case, backend.name, dtype, "nan", msg))
            continue
        evaluations[backend.name] = ev
    for name, ev in evaluations.items():
        forward = _forward_check(case, name, dtype, ev.value, reference)
        mine = []
        for param in case.wrt:
            others = [np.isfinite(np.asarray(o.grads.get(param, np.nan), dtype=np.float64))
                      for b, o in evaluations.items() if b != name]
            others_finite = np.logical_or.reduce(
                [o for o in others if o.shape == point[param].shape] or [np.zeros(point[param].shape, bool)])
            try:
                row = _judge_param(case, param, name, dtype, ev.grads[param], reference, probe, others_finite)
            except Exception as exc:  # a gradient that cannot even be compared (missing, wrong shape)
                mine.append(Row(case.name, param, name, dtype, "error",
                                message=f"case {case.name!r}, parameter {param!r}, backend {name}, dtype "
                                        f"{dtype}: the gradient could not be judged: {type(exc).__name__}: {exc}"))
                continue
            binding = "; ".join(f"{op}: {how}" for op, how in sorted(ev.notes.items()))
            row.note = "; ".join(x for x in (row.note, binding, reference.oracle_note) if x)
            row.forward = forward
            mine.append(row)
        _judge_joint(case, name, dtype, ev.grads, reference, mine)
        rows.extend(_apply_expectation(case, r) for r in mine)
    _rank_precision(rows)
    for r in rows:
        r.tags = tuple(sorted(case.tags))
    if pairs is not None:
        passing = {n for n in evaluations if all(r.verdict == "pass" for r in rows if r.backend == n)}
        for p in pairwise(case, dtype, evaluations):
            p.both_pass = p.a in passing and p.b in passing
            pairs.append(p)
    if conventions is not None:
        conventions.extend(kink_conventions(case, dtype, evaluations, reference))
    rows = _Rows(rows)
    rows.evaluations = evaluations
    return rows


def _rank_precision(rows):
    """Each row's ulps ranked among the backends on the same (case, param, dtype): "1/3" is the most precise."""
    groups = {}
    for r in rows:
        if np.isfinite(r.ulps):
            groups.setdefault((r.case, r.param, r.dtype), []).append(r)
    for group in groups.values():
        ordered = sorted({r.ulps for r in group})
        for r in group:
            r.precision = f"{ordered.index(r.ulps) + 1}/{len(group)}"


def kink_conventions(case, dtype, evaluations, reference):
    """A :class:`Convention` per kink element where the backends' values differ beyond the tolerance."""
    out = []
    tol = case.tolerance(dtype)
    for param in case.wrt:
        pref = reference.params.get(param)
        if pref is None or pref.method != "central" or not pref.kink.any():
            continue
        shape = reference.point[param].shape
        for i in np.flatnonzero(pref.kink):
            values = {}
            for b, ev in evaluations.items():
                g = np.asarray(ev.grads.get(param, np.nan), dtype=np.float64)
                if g.shape == shape:
                    values[b] = float(g.reshape(-1)[i])
            vals = [v for v in values.values() if np.isfinite(v)]
            if len(values) > 1 and (len(vals) < len(values) or
                                    max(vals) - min(vals) > tol.atol + tol.rtol * max(abs(v) for v in vals)):
                index = tuple(int(j) for j in np.unravel_index(i, shape)) if shape else ()
                out.append(Convention(case.name, dtype, param, index, float(pref.left.reshape(-1)[i]),
                                      float(pref.right.reshape(-1)[i]), values))
    return out


def run(cases, backends=backend_registry.DEFAULT, dtypes=("float64", "float32"), progress=None, probe="all",
        pairs=None, method="auto", directions=DIRECTIONS, central_max=CENTRAL_MAX, conventions=None, oracle=True,
        timeout=DEFAULT_TIMEOUT, jobs=1, modes=("rev", "fwd", "hvp")):
    """Judge every case in every dtype it declares (among ``dtypes``) on every backend named.

    ``probe="all"`` looks for kinks at every element (one-sided differences:
    twice the cost of the central ones); ``"failing"`` only where the central
    difference disagrees, which misses a kink the central difference happens to
    average correctly (a tie of maximum). When ``pairs`` is a list, every
    pair of backends' agreement per case and dtype is appended to it.
    ``method``, ``directions`` and ``central_max`` choose how each input is
    checked (see :mod:`crosscheck.reference`). A case that runs past ``timeout`` seconds (per dtype) or
    calls ``sys.exit`` gives ``error`` rows and the run goes on (see :mod:`crosscheck.guard`).
    ``jobs`` > 1 spreads the (case, dtype) units over that many processes (:mod:`crosscheck.parallel`),
    with the same rows, pairs and conventions, in the same order. ``modes`` selects among ``rev`` (gradients),
    ``fwd`` (J·v) and ``hvp`` (H·v), see :mod:`crosscheck.modes`; each case is checked in the modes it takes.
    """
    from .modes import check_modes

    modes = check_modes(modes)
    if probe not in ("all", "failing"):
        raise ValueError(f"probe must be 'all' or 'failing', got {probe!r}")
    instances = [backend_registry.get(b) if isinstance(b, str) else b for b in backends]
    instances = [b for b in instances if not b.reference]
    options = dict(probe=probe, method=method, directions=directions, central_max=central_max, oracle=oracle,
                   timeout=timeout, modes=modes)
    if jobs > 1:
        from . import parallel

        reason = parallel.why_serial(cases, instances)
        if reason is None:
            return _run_parallel(cases, instances, dtypes, progress, pairs, conventions, options, jobs)
        parallel.note_serial(reason)
    numeric = backend_registry.get("numeric")
    rows = []
    for case in cases:
        for dtype in (d for d in case.dtypes if d in dtypes):
            def judged(case=case, dtype=dtype):
                started = time.perf_counter()
                ref = reference_for(case, dtype, numeric, method=method, directions=directions,
                                    central_max=central_max, oracle=oracle)
                SPENT["reference"] = SPENT.get("reference", 0.0) + time.perf_counter() - started
                return judge_case(case, dtype, instances, ref, probe, pairs, conventions, modes, oracle)

            unit_rows = guarded_rows(case, dtype, instances, timeout, judged)
            for row in unit_rows:
                row.draw = case.draw
            rows.extend(unit_rows)
            if progress:
                progress(case, dtype)
    return rows


def _run_parallel(cases, instances, dtypes, progress, pairs, conventions, options, jobs):
    from . import parallel

    units = [(case, dtype) for case in cases for dtype in case.dtypes if dtype in dtypes]

    def done(i, result):
        if progress:
            progress(*units[i])

    def lost(i, message):
        case, dtype = units[i]
        rows = [Row(case.name, p, b.name, dtype, "error", message=f"case {case.name!r} ({case.location}) in "
                    f"{dtype}: {message}", draw=case.draw) for b in instances if b.applies(case) for p in case.wrt]
        return rows, [], []

    results = parallel.run_units([("judge", ((case.name, case.draw), dtype, options)) for case, dtype in units],
                                 cases, instances, jobs, on_done=done, on_lost=lost)
    rows = []  # each row carries its draw: a worker judges by runner.run, which sets it
    for unit_rows, unit_pairs, unit_conventions in results:
        rows.extend(unit_rows)
        if pairs is not None:
            pairs.extend(unit_pairs)
        if conventions is not None:
            conventions.extend(unit_conventions)
    return rows


def failed(rows):
    return [r for r in rows if r.verdict in FAILING]
