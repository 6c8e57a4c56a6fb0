"""``crosscheck diff A B``: what changed between two results folders (two framework versions, two machines).

Rows are matched by (case, param, backend, dtype, mode) in each folder's ``rows.csv``
(``crosscheck report``) or ``run.csv`` (``crosscheck run --results``). A
matched row is listed when

- its **verdict** changed (the command then exits 1);
- its **gradient** moved beyond tolerance: the backend's value at the worst
  element (``value``, where the worst element is the same one) or its error
  against the reference (``max_abs``) differs by more than ``atol + rtol·|reference|`` of the row (a ``kink``
  row whose value moved is listed as a **convention** change: the backend
  now picks another subgradient);
- its **binding** changed (the ``note`` column: how the backend binds an op).

Rows present in one folder only are listed as ``added`` or ``removed``. A table written before the modes
(issue 13) has no ``mode`` column: its rows are gradients, ``rev``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

KEY = ("case", "param", "backend", "dtype")
NEEDED = KEY + ("verdict", "max_abs", "value", "expected", "atol", "rtol", "note")


class DiffError(ValueError):
    """A results folder that cannot be read: missing, no rows table, or not one crosscheck wrote."""


@dataclass
class Change:
    kind: str  # verdict, gradient, convention, binding, added, removed
    case: str
    param: str
    backend: str
    dtype: str
    mode: str
    before: str
    after: str


def read_rows(path) -> dict:
    """{(case, param, backend, dtype, mode): row dict} from a results folder (rows.csv, else run.csv) or a CSV
    file."""
    path = Path(path)
    if path.is_dir():
        found = [path / n for n in ("rows.csv", "run.csv") if (path / n).is_file()]
        if not found:
            raise DiffError(f"{path}: no rows.csv (crosscheck report) or run.csv (crosscheck run --results) in it")
        path = found[0]
    elif not path.is_file():
        raise DiffError(f"{path}: no such results folder or file")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        absent = [c for c in NEEDED if c not in (reader.fieldnames or [])]
        if absent:
            raise DiffError(f"{path}: not a crosscheck rows table (no column {', '.join(absent)})")
        return {tuple(r[k] for k in KEY) + (r.get("mode") or "rev",): r for r in reader}


def _num(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _moved(a, b):
    """None, or (before, after) texts when the gradient moved beyond the row's tolerance."""
    atol, rtol = _num(b["atol"]) or _num(a["atol"]), _num(b["rtol"]) or _num(a["rtol"])
    if atol is None or rtol is None:
        return None
    ref = max(abs(_num(a["expected"]) or 0.0), abs(_num(b["expected"]) or 0.0))
    allowed = atol + rtol * ref
    # the value at the worst element compares only where the worst element is the same one
    for col in (("value", "max_abs") if a.get("worst_index") == b.get("worst_index") else ("max_abs",)):
        x, y = _num(a[col]), _num(b[col])
        if x is not None and y is not None and abs(x - y) > allowed:
            return f"{col} {a[col]}", f"{col} {b[col]} (|Δ| {abs(x - y):.3e} > allowed {allowed:.3e})"
    return None


def diff(rows_a: dict, rows_b: dict) -> list[Change]:
    changes = []
    for key in sorted(rows_a.keys() | rows_b.keys()):
        a, b = rows_a.get(key), rows_b.get(key)
        if a is None:
            changes.append(Change("added", *key, "", b["verdict"]))
            continue
        if b is None:
            changes.append(Change("removed", *key, a["verdict"], ""))
            continue
        if a["verdict"] != b["verdict"]:
            changes.append(Change("verdict", *key, a["verdict"], b["verdict"]))
            continue
        moved = _moved(a, b)
        if moved:
            changes.append(Change("convention" if a["verdict"] == "kink" else "gradient", *key, *moved))
        if a["note"] != b["note"]:
            changes.append(Change("binding", *key, a["note"], b["note"]))
    return changes


def verdicts_changed(changes) -> bool:
    return any(c.kind == "verdict" for c in changes)


def to_markdown(changes, a, b) -> str:
    from .tables import _markdown

    counts = {}
    for c in changes:
        counts[c.kind] = counts.get(c.kind, 0) + 1
    head = f"crosscheck diff {a} {b}: " + (", ".join(f"{n} {k}" for k, n in counts.items()) or "no changes")
    if not changes:
        return head + "\n"
    return head + "\n\n" + _markdown(["change", "case", "param", "backend", "dtype", "mode", "before", "after"],
                                     ([c.kind, c.case, c.param, c.backend, c.dtype, c.mode, c.before, c.after]
                                      for c in changes))
