"""The conventions table: at every special point of every op, the mathematics and what each backend returns.

For each (op, special point) declared in :mod:`crosscheck.ops_spec` whose generated case is in the run, in
float64: the reference's one-sided derivatives (left and right; they differ at a kink), each backend's
gradient there, and a class:

- ``agree``: every backend returns the derivative (or, where none exists, the same value);
- ``different valid subgradients``: at a kink the backends pick different values, each between the left and
  right derivatives;
- ``NaN in one``: a backend returns NaN or inf where the others (and the reference) are finite;
- ``outside the subdifferential or wrong``: a backend's value is neither the derivative nor between the
  one-sided derivatives.

Every row that does not agree carries its reason: the one declared with the point (a framework's documented
rule) or, for different subgradients with nothing declared, what each backend picks. Written by
``crosscheck report`` as ``results/conventions.{md,csv,json}``; the report opens with the rows that do not agree.
"""

from __future__ import annotations

import numpy as np

from . import ops_spec
from .compare import REFERENCE_ERROR_FACTOR, is_subgradient
from .reference import reference_for

CLASSES = ("agree", "different valid subgradients", "NaN in one", "outside the subdifferential or wrong")
#: the backends shown, in this order (those in the run)
SHOWN = ("core", "torch", "jax")
COLUMNS = ["op", "point", "mathematics", "reference (left / right)", *SHOWN, "class", "reason"]


def _fmt(values):
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    text = ", ".join("nan" if np.isnan(v) else f"{v:.4g}" for v in flat)
    return text if flat.size == 1 else f"[{text}]"


def _per_param(texts):
    return texts[0][1] if len(texts) == 1 else "; ".join(f"{k}: {t}" for k, t in texts)


def _element_class(value, left, right, central, is_kink, usable, tolerance, noise):
    """One backend's value at one element: agree / subgradient / nan / wrong / unjudged."""
    if is_kink:
        if not np.isfinite(value):
            return "nan"
        return "subgradient" if is_subgradient(value, left, right, tolerance, noise) else "wrong"
    if not usable:  # no derivative the reference can converge to (a jump, an infinite derivative)
        return "unjudged" if np.isfinite(value) else "nan"
    if not np.isfinite(value):
        return "nan"
    close = abs(value - central) <= tolerance.atol + tolerance.rtol * abs(central) + noise
    return "agree" if close else "wrong"


def _row(o, point, case, backends, dtype):
    reference = reference_for(case, dtype)
    row = {"op": o.name, "point": point.label, "mathematics": point.maths}
    if reference is None or isinstance(reference, Exception) or not np.isfinite(reference.value):
        return None
    tolerance = case.tolerance(dtype)
    grads = {}
    for b in backends:
        try:
            grads[b.name] = b.evaluate(case, reference.point, dtype).grads
        except Exception as exc:  # a backend that cannot evaluate the point says so in its cell
            grads[b.name] = exc
    ref_texts, classes, values = [], {b.name: set() for b in backends}, {b.name: [] for b in backends}
    any_kink = False
    with np.errstate(all="ignore"):
        for param in case.wrt:
            pref = reference.params[param]
            right, left = pref.right.reshape(-1), pref.left.reshape(-1)
            central, error = pref.grad.reshape(-1), pref.error.reshape(-1)
            split = pref.kink.reshape(-1)
            usable = np.isfinite(central) & np.isfinite(error)
            side_error = REFERENCE_ERROR_FACTOR * (pref.left_error.reshape(-1) + pref.right_error.reshape(-1))
            any_kink |= bool(split.any())
            if split.any():
                ref_texts.append((param, f"{_fmt(left)} / {_fmt(right)}"))
            elif not usable.all():
                ref_texts.append((param, "none: " + _fmt(np.where(usable, central, np.nan))
                                  + " (nan: no derivative converges here)"))
            else:
                ref_texts.append((param, _fmt(central)))
            for b in backends:
                g = grads[b.name]
                if isinstance(g, Exception):
                    classes[b.name].add("error")
                    continue
                flat = np.asarray(g[param], dtype=np.float64).reshape(-1)
                values[b.name].append((param, _fmt(flat)))
                for i in range(flat.size):
                    noise = side_error[i] if split[i] else REFERENCE_ERROR_FACTOR * (error[i] if usable[i] else 0.0)
                    classes[b.name].add(_element_class(flat[i], left[i], right[i], central[i], bool(split[i]),
                                                       bool(usable[i]), tolerance, noise))
    row["reference (left / right)"] = _per_param(ref_texts)
    for b in backends:
        g = grads[b.name]
        row[b.name] = (f"error: {type(g).__name__}: {g}" if isinstance(g, Exception) else _per_param(values[b.name]))
    row["class"], auto = _classify(classes, grads, backends, any_kink)
    declared = "; ".join(f"{k if isinstance(k, str) else '/'.join(k)}: {r}" for k, r in point.expect.items())
    row["reason"] = "" if row["class"] == "agree" else (declared or point.why or auto)
    return row


def _classify(classes, grads, backends, any_kink):
    """(class, an automatic reason) from each backend's element classes."""
    everyone = set().union(*classes.values()) if classes else set()
    names = [b.name for b in backends]
    if "wrong" in everyone or "error" in everyone:
        who = [n for n in names if classes[n] & {"wrong", "error"}]
        return CLASSES[3], f"{', '.join(who)} outside [left, right] (or failed)"
    if "nan" in everyone:
        who = [n for n in names if "nan" in classes[n]]
        if len(who) < len(names):
            return CLASSES[2], f"NaN or inf from {', '.join(who)} where the others are finite"
        return CLASSES[0], ""
    if any_kink and _differ(grads, names):
        picks = ", ".join(f"{n} {_summary(grads[n])}" for n in names)
        return CLASSES[1], f"at a kink any value between the one-sided derivatives is a subgradient: {picks}"
    if "unjudged" in everyone and _differ(grads, names):
        return CLASSES[1], "the derivative does not exist here; the backends return different values"
    return CLASSES[0], ""


def _summary(g):
    return "; ".join(f"{k} {_fmt(v)}" for k, v in g.items()) if len(g) > 1 else _fmt(next(iter(g.values())))


def _differ(grads, names):
    first = grads[names[0]]
    for n in names[1:]:
        for k in first:
            a, b = np.asarray(first[k], np.float64), np.asarray(grads[n][k], np.float64)
            if not np.allclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True):
                return True
    return False


def table(cases, backends, dtype="float64"):
    """The conventions DataFrame for the special points among ``cases``, on ``backends`` (instances; the
    numeric reference is taken separately)."""
    import pandas as pd

    by_name = {c.name: c for c in cases}
    shown = [b for b in backends if b.name in SHOWN and not b.unavailable()]
    rows = []
    for o, point in ops_spec.special_points():
        case = by_name.get(ops_spec.case_name(o, point))
        if case is None or dtype not in case.dtypes:
            continue
        with np.errstate(all="ignore"):  # NaN and inf at these points are findings, not warnings
            row = _row(o, point, case, shown, dtype)
        if row is not None:
            rows.append(row)
    # the same columns whatever is installed: a backend that cannot run here has empty cells
    return pd.DataFrame([{c: row.get(c, "") for c in COLUMNS} for row in rows], columns=COLUMNS)


def counts(df):
    """{class: number of rows}, in CLASSES order."""
    return {c: int((df["class"] == c).sum()) for c in CLASSES if len(df)}


def add_section(doc, df, level=2):
    """The report's opening findings: which frameworks disagree, where, and why."""
    if df is None or not len(df):
        return
    doc.heading("Where the frameworks disagree", level)
    summary = ", ".join(f"{n} {c}" for c, n in counts(df).items())
    doc.text(f"At {len(df)} special points of the ops (kinks, ties, domain edges, saturation, singular matrices; "
             f"float64): {summary}. The rows that do not agree, with the mathematics, each backend's gradient and "
             f"the reason; every special point is in conventions.md / conventions.csv.")
    doc.table(df[df["class"] != "agree"], "conventions", classes={"class": CLASS_COLOURS.get}, below=["reason"])


#: each class of disagreement coloured as the verdict it resembles (report.html)
CLASS_COLOURS = {"agree": "v-pass", "different valid subgradients": "v-kink", "NaN in one": "v-nan",
                 "outside the subdifferential or wrong": "v-fail"}


def render(df) -> dict:
    """{file name: text} for results/conventions.csv, .md and .json."""
    from . import tables

    if df is None:
        return {}
    return tables.render_table("conventions", df)
