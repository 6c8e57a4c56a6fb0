"""``crosscheck list | run | report | new``: the command line."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import keyword
import re
import sys
from pathlib import Path

from . import guard
from .catalogue import DTYPES, CatalogueError, discover, select
from .folder import FolderError, claim
from .options import (add_to_argparse, backends_named, case_folders, positive_float, positive_int,
                      reference_options)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with "did you mean" for a mistyped subcommand, choice or option."""

    def error(self, message):
        super().error(message + _suggestion(self, message))


def _suggestion(parser, message):
    """' (did you mean X?)' for the closest known word to the one the message quotes; '' if none is close."""
    m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if m:
        word, known = m.group(1), re.findall(r"'([^']*)'", m.group(2)) or m.group(2).split(", ")
    else:
        m = re.search(r"unrecognized arguments: (\S+)", message)
        if not m:
            return ""
        word, known = m.group(1).split("=")[0], _option_strings(parser)
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _option_strings(parser):
    """Every option string of the parser and of its subcommands."""
    found = set(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= set(sub._option_string_actions)
    return sorted(o for o in found if o.startswith("--"))


def _add_output(p, what, default=None):
    """--results DIR, --force and --timeout for run and report."""
    p.add_argument("--results", type=Path, default=default, metavar="DIR", help=what)
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty folder crosscheck did not write (it replaces files of the same "
                        "names there and adopts the folder)")
    p.add_argument("--timeout", type=positive_float, default=guard.DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"time limit per case and dtype, every backend together; past it the case's rows are "
                        f"errors (default {guard.DEFAULT_TIMEOUT:g})")
    p.add_argument("-j", "--jobs", type=positive_int, default=None, metavar="N",
                   help="worker processes sharing the cases (default: $CROSSCHECK_JOBS, else the cores available); "
                        "the tables are the same for every N")
    p.add_argument("--no-cache", action="store_true",
                   help="do not read or write jax's compilation cache (kept in the user's cache folder, e.g. "
                        "~/.cache/crosscheck/jax; $CROSSCHECK_CACHE_DIR moves it); results are the same either way")


def _jobs(args, units):
    """Worker processes for ``units`` units of work: -j, else the default; never more than half the units
    (a worker starts a fresh interpreter and imports the frameworks again: it must have work to pay for that)."""
    from . import parallel

    jobs = args.jobs if args.jobs is not None else parallel.default_jobs()
    return max(1, min(jobs, units // 2))


def _apply_cache_option(args):
    """--no-cache: off for this process and the workers it starts (they inherit the environment)."""
    if args.no_cache:
        from . import cache

        cache.disable()


def _print_cache_summary():
    from . import cache

    line = cache.summary()
    if line:
        print(line)


def _results_folder(args):
    """The claimed results folder (checked, locked, leftovers of a killed run recovered), or None."""
    if args.results is None:
        return contextlib.nullcontext(None)
    return claim(args.results, force=args.force)


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
    with _results_folder(args) as target:
        return _run(args, target)


def _run(args, target):
    from . import runner, tables

    backends = backends_named(args.backends)  # a bad name is a bad argument, before any case loads
    selection = _selection(args)
    if selection is None:
        return 2
    cases, errors = selection
    rows, pairs, conventions = runner.load_error_rows(errors), [], []
    dtypes = tuple(args.dtypes or DTYPES)
    _apply_cache_option(args)
    jobs = _jobs(args, sum(1 for c in cases for d in c.dtypes if d in dtypes))
    rows += runner.run(cases, backends=backends, dtypes=dtypes, probe=args.probe, pairs=pairs,
                       conventions=conventions, timeout=args.timeout, jobs=jobs, **reference_options(args))
    shown = rows if not args.quiet else [r for r in rows if r.verdict != "pass"]
    print(tables.to_text(shown))
    notable = [r for r in rows if r.verdict != "pass"]
    if notable:
        print("\nnot a pass:")
        for r in notable:
            print(f"  {r.verdict:<8} {r.case} {r.param} {r.backend} {r.dtype} {r.mode}: {r.message or r.note}")
    _print_findings(rows, pairs, conventions)
    if target is not None:
        for path in target.write(tables.run_files(rows), "run"):
            print(f"wrote {path}")
    print(f"\n{len(cases)} cases, {len(rows)} rows: {tables.summary_line(rows)}")
    _print_cache_summary()
    return 1 if runner.failed(rows) else 0


def _print_findings(rows, pairs, conventions):
    """What the verdicts alone do not show: backends that disagree with each other, kinks where they return
    different subgradients, forward values that differ from the reference's."""
    apart = [p for p in pairs if p.beyond]
    if apart:
        print("\nbackends that disagree with each other beyond the tolerance:")
        for p in apart:
            print(f"  {p.case} {p.dtype}: {p.a} vs {p.b}: {p.beyond} element(s), worst in {p.worst_param!r}: "
                  f"max abs {p.max_abs:.3e}, max rel {p.max_rel:.3e}")
    if conventions:
        print("\nkink conventions (different valid subgradients, every backend's value side by side):")
        for c in conventions:
            print(f"  {c.describe()}")
    forward = [r for r in rows if r.forward]
    seen = set()
    for r in forward:
        if (r.case, r.backend, r.dtype) not in seen:
            if not seen:
                print("\nforward values that differ from the reference's beyond the tolerance:")
            seen.add((r.case, r.backend, r.dtype))
            print(f"  {r.case} {r.backend} {r.dtype}: {r.forward}")


def cmd_report(args):
    with _results_folder(args) as target:
        return _report(args, target)


def _report(args, target):
    from . import report, runner, tables

    backends = backends_named(args.backends)
    selection = _selection(args)
    if selection is None:
        return 2
    cases, errors = selection
    dtypes = tuple(args.dtypes or DTYPES)
    _apply_cache_option(args)
    jobs = _jobs(args, sum(1 for c in cases for d in c.dtypes if d in dtypes))
    results = report.compute(cases, backends, dtypes, args.probe, timeout=args.timeout, jobs=jobs,
                             **reference_options(args))
    results.rows[:0] = runner.load_error_rows(errors)
    written = target.write(report.render(results), "report")
    notable = [r for r in results.rows if r.verdict in runner.FAILING]
    for r in notable:
        print(f"  {r.verdict:<8} {r.case} {r.param} {r.backend} {r.dtype} {r.mode}: {r.message or r.note}")
    print(f"wrote {len(written)} files into {args.results}/ (report: {args.results / 'report.html'})")
    print(f"{len(cases)} cases, {len(results.rows)} rows: {tables.summary_line(results.rows)}; "
          f"{len(results.divergences)} trajectories, {len(results.flow_cells)} gradient-flow cells")
    _print_cache_summary()
    return 1 if notable else 0


def cmd_new(args):
    from .template import write_template

    _check_new_name(args.name, args.folder)
    path = write_template(args.name, args.folder)
    print(f"wrote {path}; run it with: crosscheck run --cases {args.folder} -k {args.name}")
    return 0


def _check_new_name(name, folder):
    """A new case's name must be a usable function name and not a case the folder (or the catalogue) has."""
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ValueError(f"case name {name!r} is a python keyword: it cannot name the case's function; choose "
                         f"another, e.g. {name}_case")
    folders = [Path(folder)] if Path(folder).is_dir() else []
    folders += [f for f in case_folders(None) if f.is_dir() and f.resolve() not in {p.resolve() for p in folders}]
    for existing in discover(folders, errors=[]):
        if existing.name == name:
            raise ValueError(f"case name {name!r} is taken: {existing.location} defines it, and two cases of one "
                             f"name fail every later run; choose another name")
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
    parser = ArgumentParser(
        prog="crosscheck",
        description="Compare hand-written backprop, finite differences and framework autograd, case by case.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list the catalogue's cases and their tags, computing nothing",
                       description="List the cases with their tags and differentiated inputs; computes nothing.")
    _add_selection(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="judge every case on every backend against finite differences",
                       description="Compute each case's gradients on each backend and dtype, compare them with the "
                                   "float64 central-difference reference, print the table (and, with --results DIR, "
                                   "write DIR/run.csv and DIR/run.md; nothing is written without it), and exit 1 if "
                                   "any row is fail, nan or error.")
    _add_selection(p)
    add_to_argparse(p, "backends", "dtypes", "probe", "modes", "method", "directions", "central_max")
    _add_output(p, "also write run.csv and run.md into DIR (a new, empty or crosscheck's own folder)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the rows that are not a pass")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="run everything and write the tables, plots and report into results/",
                       description="Judge the catalogue on every backend, train the cases that carry a training run, "
                                   "measure gradient flow, reproduce the article's tables, and write the tables "
                                   "(.csv/.md/.json), plots, report.md and a self-contained report.html into "
                                   "results/ (a new, empty or crosscheck's own folder: the new set replaces the old "
                                   "one whole). Exits 1 if any row is fail, nan or error.")
    _add_selection(p)
    add_to_argparse(p, "backends", "dtypes", "probe", "modes", "method", "directions", "central_max")
    _add_output(p, "where to write (default: results)", default=Path("results"))
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
    try:
        args = build_parser().parse_args(argv)
        try:
            return args.func(args)
        except (CatalogueError, FolderError, ValueError, FileExistsError) as exc:
            print(f"crosscheck: error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:  # a results folder that could not be written (disk full, permissions)
            print(f"crosscheck: error: {exc}; the previous results are left as they were", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("\ncrosscheck: interrupted; files already written are left as they were", file=sys.stderr)
            return 130
    finally:
        guard.note(guard.END)  # main ended, however: a supervising process tells this from an abrupt exit


def console():
    """The ``crosscheck`` command: :func:`main` in a child process, so that an abrupt exit is reported."""
    sys.exit(guard.supervise(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
