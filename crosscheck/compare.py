"""Judging one gradient against a reference: errors, tolerances, verdicts, messages.

Knows numbers and tolerances only: nothing of cases' files, backends or output.

An element passes when ``|value - reference| <= atol + rtol * |reference|``
(the rule of ``numpy.isclose`` and ``torch.testing.assert_close``). The
relative error reported is ``|value - reference| / |reference|`` (inf where
the reference is 0 and the value is not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

VERDICTS = ("pass", "fail", "expected-discrepancy", "kink", "unjudged", "nan", "error", "skipped")
#: verdicts that make a run fail (exit code non-zero)
FAILING = frozenset({"fail", "nan", "error"})


@dataclass(frozen=True)
class Tolerance:
    """An element passes when |value - reference| <= atol + rtol·|reference|.

    Keyword-only, and both are required: a positional (atol, rtol) pair is too easy to swap.
    """

    atol: float
    rtol: float

    def __init__(self, *, atol: float, rtol: float):
        for name, v in (("atol", atol), ("rtol", rtol)):
            if not (isinstance(v, (int, float)) and v >= 0 and np.isfinite(v)):
                raise ValueError(f"Tolerance: {name} must be a finite number >= 0, got {v!r}")
        object.__setattr__(self, "atol", float(atol))
        object.__setattr__(self, "rtol", float(rtol))

    def __str__(self):
        return f"atol={self.atol:.0e} rtol={self.rtol:.0e}"


# Defaults per dtype, for a gradient compared with the float64 central-difference
# reference taken at the same (dtype-rounded) input point. The reference's own error
# is about 1e-10 relative; float32 gradients carry round-off of many float32 ulps,
# growing with the depth of the computation. The README ("How the reference is
# computed, and the tolerances") gives the reasoning and the measured margins.
DEFAULT_TOLERANCES = {
    "float64": Tolerance(atol=1e-7, rtol=1e-6),
    "float32": Tolerance(atol=1e-5, rtol=1e-4),
}
#: float64, where every element's reference came from the complex-step oracle (error ~1e-15 relative):
#: the reference no longer needs room, so the tolerance is what float64 backends need (calibrated)
ORACLE_TOLERANCE = Tolerance(atol=1e-13, rtol=1e-11)
#: an element may be off by this many times the reference's own error estimate, beyond the tolerance
REFERENCE_ERROR_FACTOR = 2.0


@dataclass
class Comparison:
    """The errors of one gradient against its reference."""

    max_abs: float
    max_rel: float
    worst_index: tuple
    value_at_worst: float
    reference_at_worst: float
    mismatched: np.ndarray  # flat indices of elements outside tolerance
    nonfinite: np.ndarray  # flat indices where value is NaN/inf and the reference is not
    size: int
    scale: float = 0.0  # max |reference|: the gradient's own magnitude
    worst_ratio: float = 0.0  # the worst element's error ÷ what was allowed (> 1 fails)
    # flat indices of elements outside the tolerance but within the reference's own error, where that
    # error is larger than the tolerance: the reference cannot tell
    uncertain: np.ndarray = field(default_factory=lambda: np.array([], int))

    @property
    def passed(self):
        return self.mismatched.size == 0 and self.nonfinite.size == 0


def compare(value, reference, tolerance: Tolerance, error=None) -> Comparison:
    """Elementwise errors of ``value`` against ``reference`` (both cast to float64).

    ``error``, optional, is the reference's own error estimate per element: an element passes when
    ``|value - reference| <= atol + rtol·|reference| + REFERENCE_ERROR_FACTOR·error``; one that needs the
    reference's error to pass, where that error is larger than the tolerance itself, is ``uncertain``
    (neither passed nor failed: the reference is not good enough to tell)."""
    value = np.asarray(value, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if value.shape != reference.shape:
        raise ValueError(f"gradient has shape {value.shape}, the reference {reference.shape}")
    slack = 0.0 if error is None else REFERENCE_ERROR_FACTOR * np.asarray(error, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        abs_err = np.abs(value - reference)
        rel_err = np.where(abs_err == 0, 0.0, abs_err / np.abs(reference))
    finite = np.isfinite(value) & np.isfinite(reference)
    nonfinite = np.flatnonzero(~np.isfinite(value) & np.isfinite(reference))
    allowed = tolerance.atol + tolerance.rtol * np.abs(reference)
    outside = finite & ~(abs_err <= allowed)
    bad = outside & ~(abs_err <= allowed + slack)
    uncertain = np.flatnonzero(outside & ~bad & (slack > allowed))
    if value.size == 0:
        return Comparison(0.0, 0.0, (), np.nan, np.nan, np.array([], int), nonfinite, 0)
    # The worst element: the largest error in units of what was allowed.
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(finite, abs_err / (allowed + slack), np.inf)
    flat = int(np.nanargmax(np.where(np.isnan(ratio), np.inf, ratio)))
    worst = np.unravel_index(flat, value.shape) if value.ndim else ()
    return Comparison(
        max_abs=float(np.max(np.where(finite, abs_err, np.inf))),
        max_rel=float(np.max(np.where(finite, rel_err, np.inf))),
        worst_index=tuple(int(i) for i in worst),
        value_at_worst=float(value.flat[flat]),
        reference_at_worst=float(reference.flat[flat]),
        mismatched=np.flatnonzero(bad),
        nonfinite=nonfinite,
        size=value.size,
        scale=float(np.max(np.abs(np.where(np.isfinite(reference), reference, 0.0)))),
        worst_ratio=float(ratio.flat[flat]),
        uncertain=uncertain,
    )


def _slack(left, right, tolerance, noise):
    return tolerance.atol + tolerance.rtol * np.maximum(np.abs(left), np.abs(right)) + noise


def is_subgradient(value, left, right, tolerance: Tolerance, noise=0.0):
    """Per element: ``value`` lies between the left and right derivatives (within tolerance + noise)."""
    value, left, right = (np.asarray(a, dtype=np.float64) for a in (value, left, right))
    slack = _slack(left, right, tolerance, noise)
    return (value >= np.minimum(left, right) - slack) & (value <= np.maximum(left, right) + slack)


def agreement(a, b):
    """(max abs, max rel) difference between two gradients, neither taken as the truth:
    the relative difference is |a - b| / max(|a|, |b|), 0 where both are 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0, 0.0
    diff = np.abs(a - b)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.maximum(np.abs(a), np.abs(b)))
    return float(np.max(diff)), float(np.max(rel))


@dataclass
class Pair:
    """How closely two backends agree on one case in one dtype (worst over its parameters)."""

    case: str
    dtype: str
    a: str
    b: str
    max_abs: float
    max_rel: float
    worst_param: str
    beyond: int = 0  # elements where the two differ beyond the case's tolerance
    both_pass: bool = False  # every row of both backends on this case and dtype is a pass (no kink, no NaN)
    scale_rel: float = 0.0  # max |a - b| ÷ max(the larger gradient's max |·|, atol), per parameter


@dataclass
class Convention:
    """At a kink, backends that return different valid subgradients: the point's left and right derivatives
    and every backend's value side by side (one record per kink element where backends differ)."""

    case: str
    dtype: str
    param: str
    index: tuple
    left: float
    right: float
    values: dict  # backend -> its value there

    def describe(self):
        vals = ", ".join(f"{b} {v:.6g}" for b, v in sorted(self.values.items()))
        return (f"{self.case} {self.param}{index_str(self.index)} {self.dtype}: left derivative {self.left:.6g}, "
                f"right {self.right:.6g}; {vals}")


@dataclass
class Row:
    """One verdict: a gradient of one parameter of one case, by one backend in one dtype."""

    case: str
    param: str
    backend: str
    dtype: str
    verdict: str
    reference: str = "numeric"
    max_abs: float = float("nan")
    max_rel: float = float("nan")
    atol: float = float("nan")
    rtol: float = float("nan")
    worst_index: tuple = ()
    value: float = float("nan")
    expected: float = float("nan")
    message: str = ""
    note: str = ""
    tags: tuple = field(default_factory=tuple)
    err_eps: float = float("nan")  # max abs error in units of the dtype's eps at the gradient's scale
    ratio: float = float("nan")  # the worst element's error ÷ (atol + rtol·|reference|): > 1 is outside
    method: str = ""  # how the reference was taken: "central" (every element) or "directional×k"
    ulps: float = float("nan")  # the worst element's error in units in the last place of the dtype, at the reference
    precision: str = ""  # rank of this backend's ulps among the backends on the same (case, param, dtype): "1/4"
    ref_error: float = float("nan")  # the reference's largest error estimate ÷ the tolerance it is judged with
    detectable: float = float("nan")  # directional: the smallest single-element error the check was sure to catch
    forward: str = ""  # the backend's forward value where it differs from the reference's beyond tolerance
    mode: str = "rev"  # what was differentiated: "rev" (the gradient), "fwd" (J·v), "hvp" (H·v); see crosscheck.modes
    draw: int = 0  # the case's input draw (0: its own point; a calibration runs others); not a table column


def error_in_eps(max_abs, scale, dtype):
    """max |g - r| / (eps(dtype) · max(max|r|, tiny)): how many roundings of the gradient's own size."""
    finfo = np.finfo(np.dtype(dtype))
    return float(max_abs / (finfo.eps * max(scale, finfo.tiny)))


def ulp_error(value, reference, dtype):
    """max_i |value_i - reference_i| / ulp_dtype(reference_i), over the elements whose reference is at least
    eps·max|reference| (below that an absolute error at the gradient's scale is all the dtype can give, and
    an ulp count of it means nothing). 0 for an empty or exactly matching gradient."""
    value = np.asarray(value, dtype=np.float64).reshape(-1)
    reference = np.asarray(reference, dtype=np.float64).reshape(-1)
    ok = np.isfinite(value) & np.isfinite(reference)
    if not ok.any():
        return float("nan")
    ft = np.dtype(dtype).type
    r = np.abs(reference[ok])
    scale = float(np.max(r))
    keep = r >= np.finfo(ft).eps * scale
    if not keep.any():
        return 0.0
    ulp = np.spacing(r[keep].astype(ft)).astype(np.float64)
    ulp = np.where(ulp > 0, ulp, np.spacing(ft(np.finfo(ft).tiny)).astype(np.float64))
    return float(np.max(np.abs(value[ok][keep] - reference[ok][keep]) / ulp))


def index_str(index) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def describe_failure(row: Row, comparison: Comparison, inputs_summary: str) -> str:
    """The one message a failing row carries: enough to act on without re-running."""
    c = comparison
    where = f"{row.param}{index_str(row.worst_index)}" if row.worst_index else row.param
    parts = [
        f"case {row.case!r}, parameter {row.param!r}, backend {row.backend}, dtype {row.dtype}:",
        f"{c.mismatched.size + c.nonfinite.size} of {c.size} elements outside tolerance;",
        f"worst at {where}: got {c.value_at_worst:.10g}, {row.reference} reference {c.reference_at_worst:.10g};",
        f"max abs error {c.max_abs:.3e}, max rel error {c.max_rel:.3e};",
        f"allowed atol={row.atol:.1e} + rtol={row.rtol:.1e}·|reference|;",
        f"inputs {inputs_summary}",
    ]
    return " ".join(parts)
