"""``crosscheck list | run | report | new``: the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .catalogue import DTYPES, CatalogueError, discover, select
from .options import add_to_argparse, backends_named, case_folders, reference_options


def _add_selection(p):
    add_to_argparse(p, "cases", "pattern", "tags")


def _cases(args, errors=None):
    """The selected cases; load errors go to ``errors`` when it is a list (else they raise)."""
    return select(discover(case_folders(args.cases), errors), pattern=args.pattern, tags=args.tags)


def _print_load_errors(errors):
    for e in errors:
        print(f"  error    {e}", file=sys.stderr)


def _selection(args):
    """(cases, load errors) for run and report, the errors printed; None when nothing at all is selected."""
    errors = []
    cases = _cases(args, errors)
    _print_load_errors(errors)
    if not cases and not errors:
        print("no cases selected", file=sys.stderr)
        return None
    return cases, errors


def cmd_list(args):
    errors = []
    cases = _cases(args, errors)
    _print_load_errors(errors)
    width = max((len(c.name) for c in cases), default=4)
    for c in cases:
        wrt = ",".join(c.wrt)
        extra = " +handwritten" if c.backward else ""
        print(f"{c.name:<{width}}  [{', '.join(sorted(c.tags))}]  d/d({wrt}){extra}")
    print(f"{len(cases)} cases" + (f", {len(errors)} load errors" if errors else ""))
    return 1 if errors else 0


def cmd_run(args):
    from . import runner, tables

    backends = backends_named(args.backends)  # a bad name is a bad argument, before any case loads
    selection = _selection(args)
    if selection is None:
        return 2
    cases, errors = selection
    rows = runner.load_error_rows(errors)
    rows += runner.run(cases, backends=backends, dtypes=tuple(args.dtypes or DTYPES), probe=args.probe,
                       **reference_options(args))
    shown = rows if not args.quiet else [r for r in rows if r.verdict != "pass"]
    print(tables.to_text(shown))
    notable = [r for r in rows if r.verdict != "pass"]
    if notable:
        print("\nnot a pass:")
        for r in notable:
            print(f"  {r.verdict:<8} {r.case} {r.param} {r.backend} {r.dtype}: {r.message or r.note}")
    if args.results:
        for path in tables.write_run(rows, args.results):
            print(f"wrote {path}")
    print(f"\n{len(cases)} cases, {len(rows)} rows: {tables.summary_line(rows)}")
    return 1 if runner.failed(rows) else 0


def cmd_report(args):
    from . import report, runner, tables

    backends = backends_named(args.backends)
    selection = _selection(args)
    if selection is None:
        return 2
    cases, errors = selection
    results = report.compute(cases, backends, tuple(args.dtypes or DTYPES), args.probe,
                             **reference_options(args))
    results.rows[:0] = runner.load_error_rows(errors)
    written = report.write(results, args.results)
    notable = [r for r in results.rows if r.verdict in runner.FAILING]
    for r in notable:
        print(f"  {r.verdict:<8} {r.case} {r.param} {r.backend} {r.dtype}: {r.message or r.note}")
    print(f"wrote {len(written)} files into {args.results}/ (report: {args.results / 'report.html'})")
    print(f"{len(cases)} cases, {len(results.rows)} rows: {tables.summary_line(results.rows)}; "
          f"{len(results.divergences)} trajectories, {len(results.flow_cells)} gradient-flow cells")
    return 1 if notable else 0


def cmd_new(args):
    from .template import write_template

    path = write_template(args.name, args.folder)
    print(f"wrote {path}; run it with: crosscheck run --cases {args.folder} -k {args.name}")
    return 0


def cmd_diff(args):
    from . import diff

    try:
        rows_a, rows_b = diff.read_rows(args.results_a), diff.read_rows(args.results_b)
    except diff.DiffError as exc:
        print(f"crosscheck diff: error: {exc}", file=sys.stderr)
        return 2
    changes = diff.diff(rows_a, rows_b)
    print(diff.to_markdown(changes, args.results_a, args.results_b), end="")
    return 1 if diff.verdicts_changed(changes) else 0


def _add_diff_parser(sub):
    p = sub.add_parser("diff", help="list the rows that changed between two results folders",
                       description="Compare two results folders (rows.csv of crosscheck report, or run.csv): list "
                                   "every row whose verdict changed, whose gradient moved beyond the row's "
                                   "tolerance, whose kink convention or binding changed, or that is in one folder "
                                   "only. Exits 1 when a verdict changed, 0 otherwise, 2 on bad arguments.")
    p.add_argument("results_a", type=Path, metavar="RESULTS_A", help="the folder before (or its rows.csv)")
    p.add_argument("results_b", type=Path, metavar="RESULTS_B", help="the folder after (or its rows.csv)")
    p.set_defaults(func=cmd_diff)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="crosscheck",
        description="Compare hand-written backprop, finite differences and framework autograd, case by case.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list the catalogue's cases and their tags, computing nothing",
                       description="List the cases with their tags and differentiated inputs; computes nothing.")
    _add_selection(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="judge every case on every backend against finite differences",
                       description="Compute each case's gradients on each backend and dtype, compare them with the "
                                   "float64 central-difference reference, print the table, write results/run.csv and "
                                   "results/run.md, and exit 1 if any row is fail, nan or error.")
    _add_selection(p)
    add_to_argparse(p, "backends", "dtypes", "probe", "method", "directions", "central_max")
    p.add_argument("--results", type=Path, metavar="DIR", help="also write run.csv and run.md into DIR")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the rows that are not a pass")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="run everything and write the tables, plots and report into results/",
                       description="Judge the catalogue on every backend, train the cases that carry a training run, "
                                   "measure gradient flow, reproduce the article's tables, and write the tables "
                                   "(.csv/.md/.json), plots, report.md and a self-contained report.html into "
                                   "results/ (each file replaced atomically). Exits 1 if any row is fail, nan or "
                                   "error.")
    _add_selection(p)
    add_to_argparse(p, "backends", "dtypes", "probe", "method", "directions", "central_max")
    p.add_argument("--results", type=Path, default=Path("results"), metavar="DIR",
                   help="where to write (default: results)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("new", help="write a commented case-file template that runs as written",
                       description="Write NAME.py, a commented template of a case file, into cases/ (or --folder). "
                                   "It runs as written; edit it into your case.")
    p.add_argument("name", help="the case's name: a python identifier")
    p.add_argument("--folder", type=Path, default=Path("cases"), metavar="DIR", help="where to write (default: cases)")
    p.set_defaults(func=cmd_new)
    _add_diff_parser(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CatalogueError, ValueError, FileExistsError) as exc:
        print(f"crosscheck: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ncrosscheck: interrupted; files already written are left as they were", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
