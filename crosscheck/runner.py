"""One run: every case × dtype × backend, judged against the finite-difference reference.

Flows one way: cases → backends compute → ``compare`` judges → rows. The
reference for a dtype is taken at the case's input point rounded to that
dtype, so a float32 gradient is compared with the exact gradient at the
float32 point, not at a nearby float64 one.
"""

from __future__ import annotations

import numpy as np

from . import backends as backend_registry
from .compare import (FAILING, Pair, Row, Tolerance, agreement, compare, describe_failure, error_in_eps, index_str,
                      is_subgradient, kinks)
from .reference import CENTRAL_MAX, DIRECTIONS, reference_for

#: how closely the left and right derivatives must agree (beyond their round-off) for a point to be smooth
KINK_TOLERANCE = Tolerance(atol=1e-8, rtol=1e-6)


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


def _judge_param(case, param, backend, dtype, grad, reference, probe):
    """One row: the gradient against the reference, by the method the reference took for this input."""
    if reference.methods[param] == "directional":
        return _judge_directional(case, param, backend, dtype, grad, reference)
    return _judge_central(case, param, backend, dtype, grad, reference, probe)


#: a failed directional check falls back to element-wise differences up to this size, to name the worst element
FALLBACK_MAX = 1 << 18


def _judge_directional(case, param, backend, dtype, grad, reference):
    """The gradient's projections on the reference's random ±1 directions against the directional differences.

    Allowed per projection: Σ_i |v_i|·(atol + rtol·|g_i|) = n·atol + rtol·Σ|g_i|, what element-wise
    tolerance would allow if every element's error added up with the same sign.
    """
    tol = case.tolerance(dtype)
    row = Row(case.name, param, backend, dtype, "pass", atol=tol.atol, rtol=tol.rtol,
              method=reference.method_label(param))
    g = np.asarray(grad, dtype=np.float64)
    if not np.isfinite(g).all():
        bad = ", ".join(f"{param}{_at(i, g.shape)}" for i in np.flatnonzero(~np.isfinite(g))[:8])
        row.verdict = "nan"
        row.message = (f"case {case.name!r}, parameter {param!r}, backend {backend}, dtype {dtype}: "
                       f"gradient is NaN or inf at {bad}")
        return row
    v, d = reference.directions[param], reference.projections[param]
    got = v.reshape(len(d), -1) @ g.reshape(-1)
    err = np.abs(got - d)
    allowed = tol.atol * g.size + tol.rtol * np.sum(np.abs(g))
    k = int(np.argmax(err))
    row.max_abs, row.worst_index, row.value, row.expected = float(err[k]), (k,), float(got[k]), float(d[k])
    with np.errstate(divide="ignore", invalid="ignore"):
        row.max_rel = float(np.max(np.where(err == 0, 0.0, err / np.abs(d))))
    row.ratio = float(err[k] / allowed) if allowed else float("inf") if err[k] else 0.0
    row.err_eps = error_in_eps(float(err[k]) / g.size, float(np.max(np.abs(d))) / g.size, dtype)
    failing = int(np.sum(err > allowed))
    if not failing:
        return row
    row.verdict = "fail"
    row.message = (f"case {case.name!r}, parameter {param!r}, backend {backend}, dtype {dtype}: directional check, "
                   f"{failing} of {len(d)} random ±1 directions outside tolerance; worst direction {k}: got g·v = "
                   f"{got[k]:.10g}, reference {d[k]:.10g}; abs error {err[k]:.3e}, rel error {row.max_rel:.3e}; "
                   f"allowed n·atol + rtol·Σ|g| = {allowed:.3e} (n = {g.size}, atol={tol.atol:.1e}, "
                   f"rtol={tol.rtol:.1e}); inputs {case.inputs_summary(dtype)}")
    if g.size <= FALLBACK_MAX:  # locate the culprit, as gradcheck re-runs its slow mode when the fast one fails
        c = compare(g, reference.central(param), tol)
        row.worst_index = c.worst_index
        where = f"{param}{index_str(c.worst_index)}" if c.worst_index else param
        row.message += (f"; element-wise central differences: {c.mismatched.size} of {c.size} elements outside, "
                        f"worst at {where}: got {c.value_at_worst:.10g}, reference {c.reference_at_worst:.10g}")
    return row


def _judge_central(case, param, backend, dtype, grad, reference, probe):
    """The gradient against the element-wise central difference, with kinks told apart from failures."""
    tol = case.tolerance(dtype)
    ref_grad = reference.grads[param]
    row = Row(case.name, param, backend, dtype, "pass", atol=tol.atol, rtol=tol.rtol, method="central")
    c = compare(grad, ref_grad, tol)
    row.max_abs, row.max_rel, row.worst_index = c.max_abs, c.max_rel, c.worst_index
    row.value, row.expected = c.value_at_worst, c.reference_at_worst
    row.err_eps = error_in_eps(c.max_abs, c.scale, dtype)
    row.ratio = c.worst_ratio
    shape = np.shape(grad)
    ref_bad = np.flatnonzero(~np.isfinite(np.asarray(ref_grad, dtype=np.float64)))
    if ref_bad.size:
        at = ", ".join(f"{param}{_at(i, shape)}" for i in ref_bad[:8])
        row.verdict = "nan"
        row.message = (f"case {case.name!r}, parameter {param!r}: the finite-difference reference is NaN or inf at "
                       f"{ref_bad.size} element(s) ({at}): the function is not finite within a step of the point")
        return row
    if c.nonfinite.size:
        bad = ", ".join(f"{param}{_at(i, shape)}" for i in c.nonfinite[:8])
        row.verdict = "nan"
        row.message = (f"case {case.name!r}, parameter {param!r}, backend {backend}, dtype {dtype}: "
                       f"gradient is NaN or inf at {c.nonfinite.size} element(s) where the reference is finite: {bad}")
        return row
    # Probe for kinks: every element ("all"), or only those the central difference rejected ("failing").
    probed = np.arange(c.size) if probe == "all" else c.mismatched
    if probed.size:
        right, left, noise = reference.one_sided(param, None if probe == "all" else probed)
        split = kinks(left, right, KINK_TOLERANCE, noise)
    else:
        split = np.zeros(0, bool)
    if not split.any():
        if not c.passed:
            row.verdict = "fail"
            row.message = describe_failure(row, c, case.inputs_summary(dtype))
        return row
    at_kink = probed[split]
    got = np.asarray(grad, dtype=np.float64).reshape(-1)[at_kink]
    left, right, noise = left[split], right[split], np.broadcast_to(noise, split.shape)[split]
    valid = is_subgradient(got, left, right, tol, noise)
    smooth_failures = np.setdiff1d(c.mismatched, at_kink)
    k = int(np.argmin(valid)) if not valid.all() else 0
    kink_text = (f"{param}{_at(at_kink[k], shape)} is a kink (left derivative {left[k]:.6g}, right {right[k]:.6g}; "
                 f"{backend} gives {got[k]:.6g}")
    if smooth_failures.size or not valid.all():
        row.verdict = "fail"
        row.message = describe_failure(row, c, case.inputs_summary(dtype))
        if not valid.all():
            row.message += f"; {kink_text}, which lies outside [left, right], so it is no subgradient)"
        return row
    row.verdict = "kink"
    row.message = (f"not differentiable at {at_kink.size} element(s) of {param!r}: {kink_text}, a subgradient; "
                   f"the central difference {float(np.reshape(ref_grad, -1)[at_kink[k]]):.6g} averages the two)")
    return row


def _apply_expectation(case, row):
    expected = case.expectation(row.backend, row.dtype, row.param)
    if expected is None:
        return row
    if row.verdict in ("fail", "kink", "nan"):
        row.note = f"expected: {expected.reason}" + (f" | {row.message}" if row.message else "")
        row.verdict = "expected-discrepancy"
    elif row.verdict == "pass":
        row.note = f"an expected discrepancy did not occur: {expected.reason}"
    return row


def pairwise(case, dtype, evaluations):
    """Every pair of backends that both computed the case: their worst disagreement over the parameters."""
    names = sorted(evaluations)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            worst = max(((agreement(evaluations[a].grads[k], evaluations[b].grads[k]), k) for k in case.wrt),
                        key=lambda t: (t[0][1], t[0][0]), default=((0.0, 0.0), ""))
            (max_abs, max_rel), param = worst
            pairs.append(Pair(case.name, dtype, a, b, max_abs, max_rel, param))
    return pairs


def judge_case(case, dtype, backends, reference=None, probe="all", pairs=None):
    """Rows for one case in one dtype, one per (backend, differentiated input).

    ``reference`` is the case's :class:`Reference` (or the exception that prevented
    it); computed here when None. When ``pairs`` is a list, the pairwise agreement
    of the backends is appended to it. numpy's floating-point warnings are silenced
    here: a NaN or inf is judged and reported as a verdict, not as a warning.
    """
    with np.errstate(all="ignore"):
        return _judge_case(case, dtype, backends, reference, probe, pairs)


def _judge_case(case, dtype, backends, reference, probe, pairs):
    if reference is None:
        reference = reference_for(case, dtype)
    if case.error:
        msg = f"case {case.name!r} ({case.location}): invalid input spec: {case.error}"
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
            ev = backend.evaluate(case, point, dtype)
        except Exception as exc:
            rows.extend(_error_rows(case, backend.name, dtype, "error", _describe_exception(case, exc)))
            continue
        if not np.isfinite(ev.value):
            msg = (f"case {case.name!r}, backend {backend.name}, dtype {dtype}: the forward value is {ev.value} "
                   f"where plain float64 gives {reference.value:.10g}")
            rows.extend(_error_rows(case, backend.name, dtype, "nan", msg))
            continue
        evaluations[backend.name] = ev
        for param in case.wrt:
            try:
                row = _judge_param(case, param, backend.name, dtype, ev.grads[param], reference, probe)
            except Exception as exc:  # a gradient that cannot even be compared (missing, wrong shape)
                rows.append(Row(case.name, param, backend.name, dtype, "error",
                                message=f"case {case.name!r}, parameter {param!r}, backend {backend.name}, dtype "
                                        f"{dtype}: the gradient could not be judged: {type(exc).__name__}: {exc}"))
                continue
            row.note = row.note or "; ".join(f"{op}: {how}" for op, how in sorted(ev.notes.items()))
            rows.append(_apply_expectation(case, row))
    for r in rows:
        r.tags = tuple(sorted(case.tags))
    if pairs is not None:
        pairs.extend(pairwise(case, dtype, evaluations))
    return rows


def run(cases, backends=backend_registry.DEFAULT, dtypes=("float64", "float32"), progress=None, probe="all",
        pairs=None, method="auto", directions=DIRECTIONS, central_max=CENTRAL_MAX):
    """Judge every case in every dtype it declares (among ``dtypes``) on every backend named.

    ``probe="all"`` looks for kinks at every element (one-sided differences:
    twice the cost of the central ones); ``"failing"`` only where the central
    difference disagrees, which misses a kink the central difference happens to
    average correctly (a tie of maximum). When ``pairs`` is a list, every
    pair of backends' agreement per case and dtype is appended to it.
    ``method``, ``directions`` and ``central_max`` choose how each input is
    checked (see :mod:`crosscheck.reference`).
    """
    if probe not in ("all", "failing"):
        raise ValueError(f"probe must be 'all' or 'failing', got {probe!r}")
    numeric = backend_registry.get("numeric")
    instances = [backend_registry.get(b) if isinstance(b, str) else b for b in backends]
    instances = [b for b in instances if not b.reference]
    rows = []
    for case in cases:
        for dtype in (d for d in case.dtypes if d in dtypes):
            ref = reference_for(case, dtype, numeric, method=method, directions=directions, central_max=central_max)
            rows.extend(judge_case(case, dtype, instances, ref, probe, pairs))
            if progress:
                progress(case, dtype)
    return rows


def failed(rows):
    return [r for r in rows if r.verdict in FAILING]
