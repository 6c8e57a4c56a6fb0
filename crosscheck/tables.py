"""Rows → text tables and files. The only module (with the report) that writes.

Files are replaced atomically (written to a temporary file beside the
target, then renamed), so an interrupted run never leaves a half-written
table, and nothing in them depends on the time of the run.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

from .compare import VERDICTS, index_str

COLUMNS = ("case", "param", "backend", "dtype", "reference", "max_abs", "max_rel", "atol", "rtol",
           "worst_index", "value", "expected", "verdict", "message", "note", "tags")
SHORT = (("case", 28), ("param", 8), ("backend", 11), ("dtype", 7), ("max abs", 9), ("max rel", 9),
         ("tolerance", 19), ("verdict", 8))


def write_atomic(path, text):
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _num(x, fmt="{:.3e}"):
    return "" if x != x else fmt.format(x)  # NaN (not computed) -> empty


def _cell(row, col):
    v = getattr(row, col)
    if col in ("max_abs", "max_rel", "atol", "rtol"):
        return _num(v)
    if col in ("value", "expected"):
        return _num(v, "{:.10g}")
    if col == "worst_index":
        return index_str(v) if v else ""
    if col == "tags":
        return " ".join(v)
    return str(v)


def to_csv(rows) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([_cell(r, c) for c in COLUMNS])
    return buf.getvalue()


def _short_cells(r):
    tol = f"{r.atol:.0e} + {r.rtol:.0e}·|r|" if r.atol == r.atol else ""
    return [r.case, r.param, r.backend, r.dtype, _num(r.max_abs, "{:.2e}"), _num(r.max_rel, "{:.2e}"), tol, r.verdict]


def to_text(rows) -> str:
    """The terminal table: one line per row."""
    widths = [w for _, w in SHORT]
    lines = ["  ".join(f"{h:<{w}}" for (h, _), w in zip(SHORT, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(f"{c:<{w}}" for c, w in zip(_short_cells(r), widths)).rstrip())
    return "\n".join(lines)


def to_markdown(rows) -> str:
    head = [h for h, _ in SHORT]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _short_cells(r)) + " |")
    return "\n".join(lines) + "\n"


def counts(rows) -> dict:
    out = {v: 0 for v in VERDICTS}
    for r in rows:
        out[r.verdict] += 1
    return out


def summary_line(rows) -> str:
    c = counts(rows)
    return ", ".join(f"{n} {v}" for v, n in c.items() if n) or "no rows"


def write_run(rows, folder) -> list[Path]:
    """results/run.csv (every column) and results/run.md (the short table and every non-pass message)."""
    folder = Path(folder)
    md = ["# crosscheck run", "", summary_line(rows), "", to_markdown(rows)]
    notable = [r for r in rows if r.verdict != "pass"]
    if notable:
        md += ["## Rows that are not a pass", ""]
        md += [f"- **{r.verdict}** `{r.case}` {r.param} {r.backend} {r.dtype}: {r.message or r.note}" for r in notable]
        md.append("")
    written = []
    for name, text in (("run.csv", to_csv(rows)), ("run.md", "\n".join(md))):
        write_atomic(folder / name, text)
        written.append(folder / name)
    return written
