"""Forward mode (J·v) and second order (H·v): their references, and rows judged like the gradients' rows.

Three modes, one ``mode`` column in every table:

- ``rev``: the gradient, Jᵀu (the runner's rows; see :mod:`crosscheck.runner`);
- ``fwd``: for each differentiated input p, J_p·v_p, the derivative of the case's *output* along a seeded ±1
  tangent v_p of p (the other inputs held), shaped like the output. Reference: the output's derivative along
  v_p per output element, by the estimator of :mod:`crosscheck.numerical` (central and one-sided differences,
  Richardson, the step ladder, kinks told apart), with the complex step as oracle where the case is analytic
  along v_p. Beside it, the transpose identity ⟨u, J_p v_p⟩ = ⟨J_pᵀ u, v_p⟩ between the backend's own J·v and
  its gradient (u is the case's cotangent): when the backend's gradient passed and the identity fails, its
  forward mode disagrees with its reverse mode, and the row fails;
- ``hvp``: H·v of the scalar objective, v a seeded ±1 tangent over all differentiated inputs at once, one
  row per input (its block of H·v). Reference: the derivative of the core's float64 gradient along v, per
  element, by the same estimator. Where the gradient itself has a kink along v (relu and friends: the second
  derivative is a distribution there) the estimator sees the jump or the kink, and the row is ``unjudged`` or
  ``kink`` with the reason, never a false ``fail``.

A case opts out of the modes it cannot take with ``@case(..., modes=("rev",))``; ``run(modes=...)`` and the
CLI's ``--mode`` select.
"""

from __future__ import annotations

import time

import numpy as np

from .compare import Row
from .numerical import SOURCES, base_steps, estimate_derivatives, rademacher_direction
from .reference import ORACLE_AGREEMENT, ORACLE_ULPS, ParamReference

MODES = ("rev", "fwd", "hvp")
#: what each mode's rows compare, for messages and the report
MEANING = {"rev": "the gradient Jᵀu", "fwd": "J·v, the output's derivative along a seeded ±1 tangent of the input",
           "hvp": "H·v, the objective's Hessian times a seeded ±1 tangent over all inputs"}
#: the hvp reference's smallest step, relative to the inputs' scale (see hvp_reference)
HVP_FLOOR = 2.0**-40
#: the transpose identity's allowance: this many times the tolerance's rtol times the sums of |terms|
TRANSPOSE_SLACK = 4.0
#: elements whose magnitudes lie more than this many binades apart get a tangent (and a step) of their own where
#: one step for all leaves the estimate without a bound (see by_scale)
SCALE_SPAN = 20


def check_modes(modes):
    modes = tuple(modes)
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise ValueError(f"unknown mode(s) {bad}: choose from {', '.join(MODES)}")
    return modes


def tangent(case, param, shape):
    """The seeded ±1 tangent of ``param`` for its ``fwd`` rows (float64)."""
    return rademacher_direction(shape, case.seed(f"{param}<tangent>"), 0).astype(np.float64)


def hvp_tangents(case, point):
    """The seeded ±1 tangent over every differentiated input for the ``hvp`` rows: {param: float64 array}."""
    return {p: rademacher_direction(point[p].shape, case.seed(f"{p}<hvp>"), 0).astype(np.float64) for p in case.wrt}


def _complex_oracle(numeric, case, point, param, v, est):
    """The complex step along v replaces the estimate where the case is analytic (both steps agree to the last
    bits and, where the differences are precise, with them): as the reference's element-wise oracle."""
    from .backends.numeric import NotAnalytic

    try:
        with np.errstate(all="ignore"):
            cs = numeric.complex_step_jvp(case, point, param, v)
            cs2 = numeric.complex_step_jvp(case, point, param, v, shrink=2.0**-20)
    except NotAnalytic as exc:
        return f"no complex-step oracle: the case calls {exc.args[0]!r}, which has no complex form"
    except Exception as exc:
        return f"no complex-step oracle: the case fails on complex inputs ({type(exc).__name__}: {exc})"
    eps = np.finfo(np.float64).eps
    usable = ~est.kink & np.isfinite(est.value)
    scale = float(np.max(np.abs(est.value[usable]), initial=0.0))
    err = est.error
    precise = usable & np.isfinite(err) & (err <= 1e-2 * (np.abs(est.value) + scale))
    steady = np.isfinite(cs) & (np.abs(cs - cs2) <= ORACLE_ULPS[0] * eps * (np.abs(cs) + scale))
    near = np.where(np.isfinite(err), np.abs(cs - est.value) <= ORACLE_AGREEMENT * err + ORACLE_ULPS[0] * eps
                    * np.abs(cs), True)
    agree = steady & near & usable
    if not precise.any() or not agree[precise].all():
        return "complex step disagrees with the finite differences along the tangent: finite differences kept" \
            if precise.any() else ""
    est.value[agree] = cs[agree]
    est.error[agree] = ORACLE_ULPS[0] * eps * np.abs(cs[agree]) + ORACLE_ULPS[1] * eps * scale
    est.source[agree] = SOURCES.index("complex step")
    return ""


def scale_groups(x):
    """Boolean masks over the flat ``x``: its elements grouped by magnitude, a group spanning at most SCALE_SPAN
    binades of max(|x|, 1) (non-finite elements join the first group). One mask where x is of one scale."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    finite = np.isfinite(x)
    binade = np.floor(np.log2(np.maximum(np.abs(np.where(finite, x, 1.0)), 1.0)))
    starts = []
    for b in np.unique(binade[finite]):
        if not starts or b - starts[-1] > SCALE_SPAN:
            starts.append(b)
    if len(starts) <= 1:
        return [np.ones(x.size, bool)]
    group = np.searchsorted(np.array(starts), binade, side="right") - 1
    return [(group == g) | (~finite & (g == 0)) for g in range(len(starts))]


def _top(x, mask):
    x = np.abs(np.asarray(x, dtype=np.float64).reshape(-1)[mask])
    return float(np.max(x[np.isfinite(x)], initial=0.0))


def by_scale(est, masks, estimate):
    """J·v is linear in v: where one step for every element of v leaves ``est`` without an error bound (sin at
    1e6 and at 1e15 in one input: a step fit for 1e15 spans many periods at 1e6), the sum of the estimates along
    v restricted to each group of ``masks`` (``estimate(mask)``, each with a step of its group's scale) replaces
    it, element by element, where it is the more precise and no part saw a kink there (one-sided derivatives
    along v are not the sums of those along its parts). ``est`` is changed in place; returns whether any was."""
    scale = float(np.max(np.abs(est.value[np.isfinite(est.value)]), initial=0.0))
    imprecise = ~est.kink & ~(est.error <= 1e-2 * (np.abs(est.value) + scale))
    if len(masks) <= 1 or not imprecise.any():
        return False
    parts = [estimate(mask) for mask in masks]
    value = np.sum([p.value for p in parts], axis=0)
    error = np.sum([p.error for p in parts], axis=0)
    kink = np.any([p.kink for p in parts], axis=0) | est.kink
    better = ~kink & np.isfinite(value) & np.isfinite(error) & (error < est.error)
    est.value[better], est.error[better] = value[better], error[better]
    est.noise[better] = np.sum([p.noise for p in parts], axis=0)[better]
    est.source[better] = SOURCES.index("central")
    est.step[better] = np.nan  # a step per part
    return bool(better.any())


def _memo(reference, key, compute):
    """A mode's reference, computed once per case and dtype (kept on the case's Reference: the conformance
    suite shares it among the backends' tests)."""
    cache = reference.__dict__.setdefault("_mode_references", {})
    if key not in cache:
        try:
            cache[key] = compute()
        except Exception as exc:
            cache[key] = exc
    if isinstance(cache[key], Exception):
        raise cache[key]
    return cache[key]


def fwd_reference(case, reference, numeric, oracle=True):
    """{param: (ParamReference shaped like the output, tangent, note)} or {param: exception}."""
    return _memo(reference, ("fwd", oracle), lambda: _fwd_reference(case, reference, numeric, oracle))


def _fwd_reference(case, reference, numeric, oracle):
    out = {}
    for param in case.wrt:
        try:
            v = tangent(case, param, reference.point[param].shape)
            x = reference.point[param]
            with np.errstate(all="ignore"):
                est, f0 = numeric.estimate_jvp(case, reference.point, param, v)
                by_scale(est, scale_groups(x), lambda mask: numeric.estimate_jvp(
                    case, reference.point, param, v * mask.reshape(x.shape), top=_top(x, mask))[0])
            note = _complex_oracle(numeric, case, reference.point, param, v, est) if oracle else ""
            shape = _output_shape(case, reference, numeric, f0)
            out[param] = (ParamReference.from_estimate(est, shape), v, note)
        except Exception as exc:
            out[param] = exc
    return out


def _output_shape(case, reference, numeric, f0):
    from .backends.numeric import Batched, BatchedNumpy

    o = case.fn(BatchedNumpy(), **{k: Batched(np.asarray(v, dtype=np.float64)[None])
                                   for k, v in reference.point.items()})
    return tuple(o.shape)


def float64_gradient(case, point):
    """The core's float64 gradient at ``point``, flattened over case.wrt in order (the hvp reference's f)."""
    from . import backends

    ev = backends.get("core").evaluate(case, {k: np.asarray(v, dtype=np.float64) for k, v in point.items()},
                                       "float64")
    return np.concatenate([np.asarray(ev.grads[p], dtype=np.float64).reshape(-1) for p in case.wrt])


def hvp_reference(case, reference):
    """(ParamReference per param, tangents) for the hvp rows: the core's float64 gradient differentiated
    along v by the estimator, every gradient element a function of the step."""
    return _memo(reference, "hvp", lambda: _hvp_reference(case, reference))


def _hvp_reference(case, reference):
    point = reference.point
    v = hvp_tangents(case, point)
    wrt = case.wrt
    f0 = float64_gradient(case, point)
    m = f0.size
    flat = np.concatenate([np.asarray(point[p], dtype=np.float64).reshape(-1) for p in wrt])

    def along(mask):
        """The gradient's derivative along v restricted to ``mask`` (flat over the inputs; all of them at first,
        see by_scale), with a step of the scale of the elements it moves."""
        tangent, start = {}, 0
        for p in wrt:
            tangent[p] = v[p] * mask[start:start + point[p].size].reshape(point[p].shape)
            start += point[p].size
        memo = {}

        def evaluate(k, offsets):
            out = []
            for i, o in zip(np.asarray(k), np.asarray(offsets, dtype=np.float64)):
                if float(o) not in memo:
                    memo[float(o)] = float64_gradient(case, {q: (point[q] + float(o) * tangent[q] if q in tangent
                                                                 else point[q]) for q in point})
                out.append(memo[float(o)][int(i)])
            return np.array(out)

        top = _top(flat, mask)
        # the ladder stops at HVP_FLOOR of the inputs' scale: below it the gradient's round-off (eps·|g|/h) swamps
        # any difference, and a jump in the gradient can hide (an eigen- or singular-value solver handed a matrix
        # within rounding of a tie returns the diagonal case, smooth in t: svdvals at a repeated singular value)
        floor = max(float(4 * np.spacing(top)) if top else 0.0, HVP_FLOOR * max(top, 1.0))
        return estimate_derivatives(evaluate, f0, np.full(m, float(base_steps(np.array(top)))),
                                    min_step=np.full(m, floor), fscale=_finite_max(f0))

    with np.errstate(all="ignore"):
        est = along(np.ones(flat.size, bool))
        by_scale(est, scale_groups(flat), along)
    refs, start = {}, 0
    from .numerical import Estimate

    for p in wrt:
        n = point[p].size
        part = Estimate(n)
        for name in ("value", "error", "right", "left", "right_error", "left_error", "kink", "source", "step",
                     "noise", "levels"):
            getattr(part, name)[:] = getattr(est, name)[start:start + n]
        refs[p] = ParamReference.from_estimate(part, point[p].shape)
        start += n
    return refs, v


def _finite_max(a):
    a = np.abs(np.asarray(a, dtype=np.float64))
    return float(np.max(a[np.isfinite(a)], initial=0.0))


def _scaled_tolerance(case, dtype, pref, scale=None):
    """The case with the tolerance of a fwd or hvp row: atol grows by rtol × the scale of the whole vector (J·v
    of the row; H·v over every input). J·v and H·v are each one computation whose round-off is shared by all
    its elements, so an element far below the vector's largest carries the rounding of the largest (a float32
    H·v of a depth-20 residual stack: max |H·v| = 67, errors 6e-5 on elements of 2e-3, a millionth of the
    scale); the gradient's own rows are per element, as before."""
    import dataclasses

    from .compare import ORACLE_TOLERANCE, Tolerance

    base = case.tolerance(dtype)
    if dtype == "float64" and dtype not in case.tolerances and pref.oracle is not None and pref.oracle.size \
            and pref.oracle.all():
        base = ORACLE_TOLERANCE
    scale = _finite_max(pref.grad) if scale is None else scale
    return dataclasses.replace(case, tolerances={**case.tolerances,
                                                 dtype: Tolerance(atol=base.atol + base.rtol * scale, rtol=base.rtol)})


def _kinks_alone(case, param, backend, dtype, got, pref, probe, others, row):
    """A failing row whose only offending elements are kinks along the tangent, each outside [left, right]:
    where several kinks meet, a valid generalised derivative times v need not lie between the one-sided slopes
    along v (the XOR MLP at the input (0, 0): four ReLUs at 0 at once) — unjudged, with the reason, not fail.
    Anything else outside its tolerance keeps the row failing."""
    from .runner import _judge_central

    smooth = ParamReference("central")
    for name in ("grad", "error", "right", "left", "right_error", "left_error", "oracle", "sources", "estimate"):
        setattr(smooth, name, getattr(pref, name))
    g = np.asarray(got, dtype=np.float64)
    smooth.grad = np.where(pref.kink, g, pref.grad)
    smooth.error = np.where(pref.kink, 0.0, pref.error)
    smooth.kink = np.zeros_like(pref.kink)
    again = _judge_central(case, param, backend, dtype, got, smooth, probe, others)
    if again.verdict == "fail":
        return row
    row.verdict = "unjudged"
    row.message = (f"{row.message}; every other element is within tolerance, and the kinks along the tangent are "
                   f"{int(pref.kink.sum())}: where several meet, a valid generalised derivative need not lie between "
                   f"the one-sided slopes along v, so only a joint check could tell")
    return row


def _read_only(point):
    mine = {}
    for k, v in point.items():
        a = np.asarray(v).view()
        a.setflags(write=False)
        mine[k] = a
    return mine


def _timed(spent, name, call):
    started = time.perf_counter()
    try:
        return call()
    finally:
        spent[name] = spent.get(name, 0.0) + time.perf_counter() - started


def _transpose_check(case, param, dtype, jv, grad, v, output_shape):
    """(holds, text): ⟨u, J v⟩ against ⟨Jᵀu, v⟩ from the backend's own J·v and gradient."""
    jv = np.asarray(jv, dtype=np.float64)
    u = np.ones(output_shape) if int(np.prod(output_shape)) == 1 else case.cotangent_for(output_shape, "float64")
    u = np.asarray(u, dtype=np.float64).reshape(jv.shape)
    g = np.asarray(grad, dtype=np.float64)
    left, right = float(np.sum(u * jv)), float(np.sum(g * v))
    tol = case.tolerance(dtype)
    allowed = TRANSPOSE_SLACK * (tol.atol + tol.rtol * (float(np.sum(np.abs(u * jv))) + float(np.sum(np.abs(g * v)))))
    holds = bool(np.isfinite(left) and np.isfinite(right) and abs(left - right) <= allowed)
    return holds, (f"⟨u, J·v⟩ = {left:.10g}, ⟨Jᵀu, v⟩ = {right:.10g} (difference {abs(left - right):.2e}, allowed "
                   f"{allowed:.2e})")


def judge_modes(case, dtype, backends, reference, evaluations, rev_rows, modes, probe, numeric, oracle=True,
                spent=None):
    """The ``fwd`` and ``hvp`` rows of one case in one dtype (``rev`` rows come from the runner)."""
    from .runner import _apply_expectation, _describe_exception, _judge_central
    from .vocabulary import MissingOp

    spent = {} if spent is None else spent
    rows = []
    chosen = [m for m in ("fwd", "hvp") if m in modes and m in getattr(case, "modes", MODES)]
    if not chosen or not case.wrt:
        return rows
    able = {m: [b for b in backends if b.applies(case) and m in getattr(b, "modes", ("rev",))
                and not b.unavailable()] for m in chosen}
    point = reference.point
    rev_verdict = {(r.backend, r.param): r.verdict for r in rev_rows}

    def error_rows(mode, backend, verdict, message):
        return [Row(case.name, p, backend, dtype, verdict, mode=mode, message=message) for p in case.wrt]

    def judged(mode, backend, param, got, pref, extra="", scale=None):
        others = np.zeros(pref.grad.shape, bool)
        mine = _scaled_tolerance(case, dtype, pref, scale)
        try:
            row = _judge_central(mine, param, backend, dtype, got, pref, probe, others)
            if row.verdict == "fail" and pref.kink.any():
                row = _kinks_alone(mine, param, backend, dtype, got, pref, probe, others, row)
        except Exception as exc:
            return Row(case.name, param, backend, dtype, "error", mode=mode,
                       message=f"case {case.name!r}, {mode} of {param!r}, backend {backend}, dtype {dtype}: could not "
                               f"be judged: {type(exc).__name__}: {exc}")
        row.mode = mode
        row.method = "along v" if mode == "fwd" else "along v (of the gradient)"
        if row.message:
            row.message = f"{mode} ({MEANING[mode]}): {row.message}"
        ev = evaluations.get(backend)  # how the backend binds the case's ops, as on its gradient rows
        binding = "; ".join(f"{op}: {how}" for op, how in sorted(ev.notes.items())) if ev is not None else ""
        row.note = "; ".join(x for x in (row.note, extra, binding) if x)
        return row

    if "fwd" in chosen and able["fwd"]:
        refs = _timed(spent, "reference", lambda: fwd_reference(case, reference, numeric, oracle))
        for b in able["fwd"]:
            for param in case.wrt:
                ref = refs[param]
                if isinstance(ref, Exception):
                    rows.append(Row(case.name, param, b.name, dtype, "error", mode="fwd",
                                    message=f"fwd reference failed: {_describe_exception(case, ref)}"))
                    continue
                pref, v, note = ref
                try:
                    got = _timed(spent, b.name, lambda: b.jvp(case, _read_only(point), dtype, param, v.astype(dtype)))
                except (MissingOp, NotImplementedError) as exc:
                    rows.append(Row(case.name, param, b.name, dtype, "skipped", mode="fwd",
                                    message=f"case {case.name!r}: {exc}"))
                    continue
                except Exception as exc:
                    rows.append(Row(case.name, param, b.name, dtype, "error", mode="fwd",
                                    message=f"fwd: {_describe_exception(case, exc)}"))
                    continue
                got = np.asarray(got)
                if got.shape != pref.grad.shape:
                    rows.append(Row(case.name, param, b.name, dtype, "error", mode="fwd",
                                    message=f"case {case.name!r}, backend {b.name}: J·v has shape {got.shape}, the "
                                            f"output {pref.grad.shape}"))
                    continue
                extra = note
                row = judged("fwd", b.name, param, got, pref, extra)
                ev = evaluations.get(b.name)
                if ev is not None and param in ev.grads:
                    holds, text = _transpose_check(case, param, dtype, got, ev.grads[param], v, pref.grad.shape)
                    if not holds and row.verdict == "pass" and rev_verdict.get((b.name, param)) == "pass":
                        row.verdict = "fail"
                        row.message = (f"case {case.name!r}, parameter {param!r}, backend {b.name}, dtype {dtype}: "
                                       f"fwd: the transpose identity fails: {text}; the gradient passed its check, so "
                                       f"forward and reverse mode disagree")
                    else:
                        row.note = "; ".join(x for x in (row.note, ("transpose identity holds: " if holds else
                                                                    "transpose identity fails: ") + text) if x)
                rows.append(row)
    if "hvp" in chosen and able["hvp"]:
        try:
            refs, v = _timed(spent, "reference", lambda: hvp_reference(case, reference))
        except Exception as exc:
            msg = (f"hvp reference (differences of the core's float64 gradient) failed: "
                   f"{_describe_exception(case, exc)}")
            for b in able["hvp"]:
                rows.extend(error_rows("hvp", b.name, "unjudged", msg))
            refs = None
        if refs is not None:
            hvp_scale = max((_finite_max(refs[p].grad) for p in case.wrt), default=0.0)
            for b in able["hvp"]:
                try:
                    got = _timed(spent, b.name, lambda: b.hvp(case, _read_only(point), dtype,
                                                               {p: t.astype(dtype) for p, t in v.items()}))
                except (MissingOp, NotImplementedError) as exc:
                    rows.extend(error_rows("hvp", b.name, "skipped", f"case {case.name!r}: {exc}"))
                    continue
                except Exception as exc:
                    rows.extend(error_rows("hvp", b.name, "error", f"hvp: {_describe_exception(case, exc)}"))
                    continue
                for param in case.wrt:
                    g = np.asarray(got.get(param, np.nan)) if isinstance(got, dict) else np.asarray(np.nan)
                    if g.shape != point[param].shape:
                        rows.append(Row(case.name, param, b.name, dtype, "error", mode="hvp",
                                        message=f"case {case.name!r}, backend {b.name}: H·v for {param!r} has shape "
                                                f"{g.shape}, the input {point[param].shape}"))
                        continue
                    rows.append(judged("hvp", b.name, param, g, refs[param], scale=hvp_scale))
    rows = [_apply_expectation(case, r) for r in rows]
    for r in rows:
        r.tags = tuple(sorted(case.tags))
    return rows
