"""Rows → tables (text, CSV, Markdown, JSON) and files. The only module, with the report, that writes.

Files are replaced atomically (written to a temporary file beside the
target, then renamed), so an interrupted run never leaves a half-written
table, and nothing in them depends on the time of the run: the same
catalogue and versions give byte-identical files.

The long table has one row per (case, param, backend, dtype); the derived
tables are pandas DataFrames built from it (pandas is imported only here, and
only by the functions that need it).
"""

from __future__ import annotations

import csv
import html
import io
import os
import tempfile
from pathlib import Path

from .compare import VERDICTS, index_str

#: the distribution on the package index (the import package is crosscheck)
DISTRIBUTION = "crosscheck-grad"

COLUMNS = ("case", "param", "backend", "dtype", "mode", "reference", "method", "max_abs", "max_rel", "err_eps", "ratio", "atol", "rtol",
           "ulps", "precision", "ref_error", "detectable", "worst_index", "value", "expected", "verdict", "message",
           "note", "forward", "tags")
SHORT = (("case", 28), ("param", 8), ("backend", 11), ("dtype", 7), ("mode", 4), ("max abs", 9), ("max rel", 9),
         ("tolerance", 19), ("ulps", 8), ("rank", 4), ("verdict", 8))


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _stage(path, content):
    """Write ``content`` (str or bytes) in full to a temporary file beside ``path``; returns its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    binary = isinstance(content, bytes)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a results file is as readable as any other
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_atomic(path, content):
    """Write ``content`` (str or bytes) to ``path`` so that readers see the old file or the new one, never a part."""
    write_files(Path(path).parent, {Path(path).name: content})


def write_files(folder, files) -> list[Path]:
    """Replace several files as one: each is first written in full beside its target, and only then
    are all renamed into place, one after the other, with Ctrl-C and SIGTERM held back meanwhile.
    An interruption before that leaves every old file as it was (and no temporary file)."""
    import signal

    folder = Path(folder)
    staged = {}
    try:
        for name, content in files.items():
            staged[name] = _stage(folder / name, content)
        held = {signal.SIGINT, signal.SIGTERM}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            for name, tmp in list(staged.items()):
                os.replace(tmp, folder / name)
                del staged[name]
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    finally:
        for tmp in staged.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
    return [folder / name for name in files]


def _num(x, fmt="{:.3e}"):
    return "" if x != x else fmt.format(x)  # NaN (not computed) -> empty


def _cell(row, col):
    v = getattr(row, col)
    if col in ("max_abs", "max_rel", "atol", "rtol", "err_eps", "ratio", "ulps", "ref_error", "detectable"):
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
    return [r.case, r.param, r.backend, r.dtype, r.mode, _num(r.max_abs, "{:.2e}"), _num(r.max_rel, "{:.2e}"), tol,
            _num(r.ulps, "{:.2g}"), r.precision, r.verdict]


def to_text(rows) -> str:
    """The terminal table: one line per row."""
    widths = [w for _, w in SHORT]
    lines = ["  ".join(f"{h:<{w}}" for (h, _), w in zip(SHORT, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(f"{c:<{w}}" for c, w in zip(_short_cells(r), widths)).rstrip())
    return "\n".join(lines)


def _markdown(header, records) -> str:
    """A GitHub Markdown table from a header and rows of cells (pipes escaped, newlines flattened, HTML's
    &, < and > as entities: a case name or message renders as text, never as markup)."""
    def cell(v):
        return html.escape(str(v), quote=False).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in values) + " |" for values in records]
    return "\n".join(lines) + "\n"


def to_markdown(rows) -> str:
    return _markdown([h for h, _ in SHORT], (_short_cells(r) for r in rows))


def counts(rows) -> dict:
    out = {v: 0 for v in VERDICTS}
    for r in rows:
        out[r.verdict] += 1
    return out


def summary_line(rows) -> str:
    c = counts(rows)
    return ", ".join(f"{n} {v}" for v, n in c.items() if n) or "no rows"


def run_files(rows) -> dict:
    """{run.csv: every column, run.md: the short table and every non-pass message}."""
    md = ["# crosscheck run", "", summary_line(rows), "", to_markdown(rows)]
    notable = [r for r in rows if r.verdict != "pass"]
    if notable:
        md += ["## Rows that are not a pass", ""]
        md += [f"- **{r.verdict}** `{r.case}` {r.param} {r.backend} {r.dtype} {r.mode}: {r.message or r.note}"
               for r in notable]
        md.append("")
    return {"run.csv": to_csv(rows), "run.md": "\n".join(md)}


def write_run(rows, folder, force=False) -> list[Path]:
    """run.csv and run.md into a results folder crosscheck owns (see :mod:`crosscheck.folder`)."""
    from . import folder as results_folder

    return results_folder.write(folder, run_files(rows), "run", force=force)


# ------------------------------------------------------------------ pandas tables for the report


def frame(rows):
    """The long table: one row per (case, param, backend, dtype), every error figure, as strings
    formatted once (so CSV, Markdown and JSON agree to the character)."""
    import pandas as pd

    return pd.DataFrame([[_cell(r, c) for c in COLUMNS] for r in rows], columns=list(COLUMNS))


def summary_pivot(long):
    """case × (backend, dtype) → verdict ('' where the backend does not apply): of one mode's rows (the
    report makes one grid per mode)."""
    pivot = long.pivot_table(index="case", columns=["backend", "dtype"], values="verdict",
                             aggfunc=_worst_verdict, sort=False)
    pivot = pivot[sorted(pivot.columns, key=_column_order)]
    pivot.columns = [f"{b} {d}" for b, d in pivot.columns]
    return pivot.fillna("").reset_index()


BACKEND_ORDER = ("core", "handwritten", "torch", "jax", "tensorflow", "autograd")


def _column_order(column):
    backend, dtype = column
    return (("float64", "float32").index(dtype) if dtype in ("float64", "float32") else 9,
            BACKEND_ORDER.index(backend) if backend in BACKEND_ORDER else 9, backend)


_SEVERITY = ("error", "nan", "fail", "unjudged", "expected-discrepancy", "kink", "skipped", "pass")


def _worst_verdict(verdicts):
    return min(verdicts, key=_SEVERITY.index)


def pairwise_table(pairs):
    """The pairwise agreement matrix: one row per case and dtype, a column per backend pair (max rel diff)."""
    import pandas as pd

    if not pairs:
        return pd.DataFrame(columns=["case", "dtype"])
    long = pd.DataFrame([{"case": p.case, "dtype": p.dtype, "pair": f"{p.a} vs {p.b}", "max_rel": p.max_rel}
                         for p in pairs])
    wide = long.pivot_table(index=["case", "dtype"], columns="pair", values="max_rel", aggfunc="max", sort=False)
    return wide.map(lambda v: _num(v, "{:.2e}")).fillna("").reset_index()


def pairwise_worst(pairs):
    """Per backend pair and dtype, the worst case among those where both backends pass every row: the matrix's
    headline, how closely two backends agree where both are right (at kinks they may differ by design: the
    kink conventions; where one is off, the discrepancies)."""
    import pandas as pd

    worst = {}
    for p in pairs:
        if not p.both_pass:
            continue
        key = (f"{p.a} vs {p.b}", p.dtype)
        if key not in worst or p.scale_rel > worst[key].scale_rel:
            worst[key] = p
    # ranked by the difference at the gradient's own scale: element-wise relative differences of elements
    # near zero (1e-22 against 0) say nothing of agreement, and are in pairwise.csv for who wants them
    return pd.DataFrame([{"pair": k[0], "dtype": k[1], "worst rel to scale": _num(p.scale_rel, "{:.2e}"),
                          "worst max rel": _num(p.max_rel, "{:.2e}"), "max abs": _num(p.max_abs, "{:.2e}"),
                          "case": p.case, "param": p.worst_param} for k, p in sorted(worst.items())])


def conventions_table(conventions):
    """At kinks, where backends return different valid subgradients: the left and right derivatives and every
    backend's value side by side."""
    import pandas as pd

    backends = sorted({b for c in conventions for b in c.values}, key=lambda b: (
        BACKEND_ORDER.index(b) if b in BACKEND_ORDER else 9, b))
    return pd.DataFrame([{"case": c.case, "param": c.param, "index": index_str(c.index), "dtype": c.dtype,
                          "left": _num(c.left, "{:.6g}"), "right": _num(c.right, "{:.6g}"),
                          **{b: _num(c.values.get(b, float("nan")), "{:.6g}") for b in backends}}
                         for c in conventions], columns=["case", "param", "index", "dtype", "left", "right", *backends])


def precision_table(rows):
    """Per backend and dtype: the median and worst error in ulps over the rows judged element-wise, and how
    often the backend was the most precise on its row: below-tolerance differences made visible."""
    import pandas as pd

    stats = {}
    for r in rows:
        if r.ulps == r.ulps and r.precision:
            s = stats.setdefault((r.backend, r.dtype), {"ulps": [], "first": 0, "rows": 0})
            s["ulps"].append(r.ulps)
            s["rows"] += 1
            s["first"] += r.precision.startswith("1/")
    out = []
    for (b, d), s in sorted(stats.items(), key=lambda kv: (("float64", "float32").index(kv[0][1])
                                                           if kv[0][1] in ("float64", "float32") else 9,
                                                           _column_order((kv[0][0], kv[0][1])))):
        u = sorted(s["ulps"])
        out.append({"backend": b, "dtype": d, "rows": s["rows"], "median ulps": _num(u[len(u) // 2], "{:.3g}"),
                    "worst ulps": _num(u[-1], "{:.3g}"), "most precise on": f"{s['first']} of {s['rows']}"})
    return pd.DataFrame(out, columns=["backend", "dtype", "rows", "median ulps", "worst ulps", "most precise on"])


def discrepancies(long):
    """Every row that is not a pass, with its cause."""
    cols = ["case", "param", "backend", "dtype", "mode", "verdict", "max_abs", "max_rel", "worst_index", "cause"]
    notable = long[long["verdict"] != "pass"].copy()
    notable["cause"] = [m or n for m, n in zip(notable["message"], notable["note"])]
    return notable[cols].reset_index(drop=True)


def versions():
    """python, numpy, pandas, torch, jax, crosscheck versions (from package metadata: nothing imported)."""
    import platform
    from importlib import metadata

    import pandas as pd

    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    rows = [("python", platform.python_version())]
    rows += [(d, version(d)) for d in ("numpy", "pandas", "torch", "jax", "jaxlib", "tensorflow-cpu", "autograd")]
    rows.append(("crosscheck", version(DISTRIBUTION)))
    return pd.DataFrame(rows, columns=["package", "version"])


def markdown_table(df) -> str:
    """A DataFrame as a GitHub Markdown table (cells as they are: format before)."""
    return _markdown(list(df.columns), df.itertuples(index=False))


def write_table(folder, name, df, *, header=None, formats=("csv", "md", "json")) -> list[Path]:
    """``name``.csv / .md / .json in ``folder``, written together (see :func:`write_files`)."""
    return write_files(folder, render_table(name, df, header=header, formats=formats))


def render_table(name, df, *, header=None, formats=("csv", "md", "json")) -> dict:
    """{file name: text} of a table in each format; ``header`` (a DataFrame, e.g. the versions) goes above
    the Markdown table."""
    out = {}
    for fmt in formats:
        if fmt == "csv":
            text = df.to_csv(index=False, lineterminator="\n")
        elif fmt == "md":
            text = (markdown_table(header) + "\n" if header is not None else "") + markdown_table(df)
        elif fmt == "json":
            text = df.to_json(orient="records", indent=1, force_ascii=False) + "\n"
        else:
            raise ValueError(f"unknown table format {fmt!r}")
        out[f"{name}.{fmt}"] = text
    return out
