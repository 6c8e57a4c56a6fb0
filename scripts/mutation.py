"""Mutation testing of the judge, the tables and the studies: does a small plausible bug make a test fail?

    python scripts/mutation.py                    # every module below; writes results/mutation.md
    python scripts/mutation.py --module compare   # one module (repeatable); --list prints the mutants only
    tox -e mutation                               # the same, in its own environment

A deterministic AST mutator (no dependency): each mutant changes one node of one module's source. The
script imports the project once, then per mutant forks a child that puts the mutant in place (the mutated
function's ``__code__`` swapped in; a module-level mutant re-executes the module and rebinds its names where
other modules imported them: see :func:`apply`; the file on disk is never written) and runs the module's
focused tests with ``pytest -x``. A mutant is *killed* when a test fails (or the tests run past the time limit:
an endless loop is a bug caught), *survives* when every test passes.

Mutation operators (one node at a time):

- ``compare``: ``<`` → ``<=`` and ``>``; ``<=`` → ``<`` and ``>=``; ``>`` → ``>=`` and ``<``; ``>=`` → ``>`` and
  ``<=``; ``==`` ↔ ``!=``; ``is`` ↔ ``is not``; ``in`` ↔ ``not in``
- ``boolop``: ``and`` ↔ ``or``; ``bitop``: ``&`` ↔ ``|`` (numpy masks)
- ``arith``: ``+`` ↔ ``-``, ``*`` ↔ ``/``, ``//`` → ``/``, ``**`` → ``*``, ``%`` → ``//`` (also in ``+=``)
- ``unary``: ``not x``, ``~x``, ``-x`` → ``x``
- ``const``: a float c → 10·c and c/10 (0.0 → 1.0); an int n → n + 1; ``True`` ↔ ``False`` (strings untouched)
- ``swap``: the first two positional arguments of a call exchanged (not of ``COMMUTATIVE`` functions)
- ``name``: ``min`` ↔ ``max``, ``minimum`` ↔ ``maximum``, ``argmin`` ↔ ``argmax``, ``nanmin`` ↔ ``nanmax``,
  ``any`` ↔ ``all`` (a function or a numpy attribute)
- ``return``: ``return x`` → ``return None``

Not mutated: docstrings, f-strings and other string constants (messages), annotations. Equivalent by
construction, listed and not run: the ``-1`` of ``reshape(-1)`` made ``-2`` (numpy takes any negative size as
"infer").

Which mutants run: every mutant of the judge's functions (``FULL`` below: all of compare.py and the judging
functions of runner.py); elsewhere a deterministic sample, the mutants whose id hashes (sha1) into the first
``1/SAMPLE[module]`` of the range. A mutant's id names its module, function, operator and the node's text
before and after, so it survives edits elsewhere in the file; ``scripts/mutation_equivalent.txt`` lists the
survivors judged equivalent (no test can tell them apart from the original: same behaviour on every input
the code can receive) with the reason, one per line: ``<id>  <reason>``.

The score is killed ÷ (run − equivalent): the share of the non-equivalent mutants some test catches.
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT_FILE = ROOT / "scripts" / "mutation_equivalent.txt"
OUT = ROOT / "results" / "mutation.md"
#: every mutant's outcome by id, written as the run goes (what --resume reads)
STATE = ROOT / "results" / "mutation.json"

J, R, D = "tests/test_judge.py::test_", "tests/test_runner.py::test_", "tests/test_directional.py::test_"
P = "tests/test_backend_plugins.py::test_"
#: module -> the focused tests run against each of its mutants (seconds, numpy-only backends; fast ones first)
TESTS = {
    "compare": ["tests/test_judge_boundaries.py"],
    "runner": ["tests/test_judge_boundaries.py", J + "a_subgradient_at_a_three_way_tie_is_judged_as_a_vector",
               J + "different_valid_subgradients_make_a_convention_record_and_run_prints_them",
               J + "where_the_reference_is_not_finite_a_nan_and_a_finite_value_differ",
               J + "forward_values_are_compared_with_the_reference",
               J + "a_case_whose_value_changes_between_calls_is_an_error_not_a_kink",
               J + "a_backward_writing_into_its_input_is_an_error_and_harms_no_other_backend",
               R + "a_wrong_handwritten_backward_fails", R + "expected_discrepancies_are_reported_as_such",
               R + "a_handwritten_backward_with_the_wrong_shape_is_an_error",
               D + "large_inputs_go_directional_and_pass"],
    "reference": ["tests/test_numerical.py", J + "float64_rows_against_the_oracle_get_the_tighter_tolerance",
                  J + "a_subgradient_at_a_three_way_tie_is_judged_as_a_vector",
                  J + "a_smooth_point_near_a_pole_is_no_kink",
                  J + "where_the_reference_is_not_finite_a_nan_and_a_finite_value_differ",
                  J + "c1_points_are_smooth_not_kinks",
                  J + "a_step_that_would_cross_a_domain_edge_and_infinite_inputs",
                  J + "a_case_whose_value_changes_between_calls_is_an_error_not_a_kink",
                  R + "a_wrong_handwritten_backward_fails",
                  R + "the_batched_reference_equals_the_one_at_a_time_reference",
                  D + "directional_difference_matches_the_projection", D + "large_inputs_go_directional_and_pass",
                  D + "the_method_can_be_forced"],
    "tables": ["tests/test_studies_planted.py"],
    "seed": ["tests/test_studies_planted.py", "tests/test_seed_figures.py"],
    "trajectories": ["tests/test_studies_planted.py"],
    "flow": ["tests/test_studies_planted.py"],
    "conventions": ["tests/test_studies_planted.py"],
    "matrix": ["tests/test_studies_planted.py",
               P + "ops_of_a_case_are_its_own_calls_operators_included_and_kinks_noted",
               P + "the_kinks_of_the_vocabulary_are_noted_at_their_special_points_only"],
}
TESTS["numerical"] = TESTS["reference"]
#: J·v and H·v (issue 13): their references, tolerances, kinks and the transpose identity, against the core's own
#: forward rules (planted wrong ones included) and the judge's hard points in the three modes
M = "tests/test_modes.py::test_"
TESTS["modes"] = [M + t for t in ("every_mode_has_its_rows_and_they_pass", "a_wrong_forward_rule_fails_its_fwd_rows",
                                  "a_rule_computed_outside_the_tape_passes_fwd_and_fails_hvp",
                                  "a_backend_whose_jvp_disagrees_with_its_gradient_fails_the_transpose_identity",
                                  "hvp_at_a_kink_of_the_gradient_is_never_a_failure",
                                  "inputs_of_many_scales_get_a_step_per_scale", "a_case_may_opt_out_of_the_modes",
                                  "the_mode_is_a_column_and_selects",
                                  "a_jvp_that_raises_or_has_the_wrong_shape_is_an_error_row_of_its_own_input",
                                  "where_several_kinks_meet_a_jvp_outside_the_one_sided_slopes_is_unjudged_with_the_"
                                  "reason")] + [
    "tests/test_forward_rules_13c.py::test_singular_value_hvp_at_a_repeated_singular_value_is_the_one_sided_value"]
# (not test_modes' pytester test: the focused runs load no plugin)
#: (module, function) -> tests added for its mutants: the directional judge needs a large input
TESTS_FOR = {("runner", f): [D + "large_inputs_go_directional_and_pass",
                             D + "an_error_below_what_the_row_says_it_detects_passes",
                             D + "a_single_wrong_element_in_a_large_tensor_is_caught"]
             for f in ("_judge_directional", "_projection_allowance", "_dot_int8")}
#: runner.run's -j path and the draw each row carries: the parallel run against the serial one, and calibration's
#: draws (a few cases, each at all its draws, over two workers)
TESTS_FOR[("runner", "run")] = ["tests/test_parallel.py::test_run_with_workers_gives_the_serial_rows_pairs_and_conventions",
                                "tests/test_calibration.py::test_two_workers_give_the_tables_of_one_and_of_a_run_draw_by_"
                                "draw"]


def tests_for(m):
    return TESTS[m.module] + TESTS_FOR.get((m.module, m.qualname.split(".")[0]), [])


#: functions (qualified names) of which every mutant runs; of the rest, 1 in SAMPLE[module]
FULL = {
    "compare": None,  # None: the whole module
    "runner": {"_tolerance", "_judge_central", "_forward_check", "_apply_expectation", "pairwise", "failed",
               "_judge_joint"},
}
SAMPLE = {"compare": 1, "runner": 12, "reference": 12, "numerical": 30, "tables": 10, "seed": 8, "trajectories": 5,
          "flow": 3, "conventions": 10, "matrix": 16, "modes": 6}

RESHAPE = "reshape(-1) -> reshape(-2): numpy takes any negative size as \"infer this dimension\", the same array"
#: the hand-planted bugs of issue 16, mapped onto today's code: (module, function, bug, text, replacement,
#: the test that pins it, what today's suite did before the tests of issue 16)
SAME = "test_judge, test_runner, test_directional, test_numerical, test_judge_suites"
PLANTED = [
    ("compare", "compare", "atol and rtol swapped in the rule (and so in the ratio)",
     "allowed = tolerance.atol + tolerance.rtol * np.abs(reference)",
     "allowed = tolerance.rtol + tolerance.atol * np.abs(reference)",
     "test_judge_boundaries::test_just_inside_passes_and_just_outside_fails",
     "survived: not caught in 433 s by " + SAME + ", test_studies, test_report, test_seed_figures, "
     "test_readme_figures"),
    ("compare", "is_subgradient", "every value a valid subgradient at a kink (`&` → `|`)",
     "return (value >= np.minimum(left, right) - slack) & (value",
     "return (value >= np.minimum(left, right) - slack) | (value",
     "test_judge_boundaries::test_a_kink_accepts_inside_and_on_the_edge_and_rejects_outside",
     "killed (219 s: " + SAME + ")"),
    ("compare", "<module>", "float32 default tolerance loosened 100×",
     '"float32": Tolerance(atol=1e-5, rtol=1e-4)', '"float32": Tolerance(atol=1e-3, rtol=1e-2)',
     "test_judge_boundaries::test_the_default_tolerances_are_the_documented_numbers", "killed (222 s, the same files)"),
    ("compare", "compare", "relative error divided by the value, not the reference",
     "abs_err / np.abs(reference))", "abs_err / np.abs(value))",
     "test_judge_boundaries::test_the_relative_error_divides_by_the_reference_not_the_value",
     "killed (212 s, the same files)"),
    ("runner", "_judge_central", "a wrong smooth element beside a valid kink ignored (the old kinks() path is "
     "gone: the kink elements are judged by is_subgradient inside _judge_central)",
     "    if failing.size or kink_bad.size:", "    if kink_bad.size or (failing.size and not at_kink.size):",
     "test_judge_boundaries::test_a_wrong_smooth_element_beside_a_valid_kink_fails",
     "killed (251 s, the same files): the old survivor went with the rewritten judge"),
    ("runner", "pairwise", "pairwise agreement of a backend with itself",
     "gb = np.asarray(evaluations[b].grads", "gb = np.asarray(evaluations[a].grads",
     "test_judge_boundaries::test_pairwise_measures_two_different_backends_not_a_backend_with_itself, "
     "test_studies_planted::test_the_pairwise_table_shows_a_planted_disagreement",
     "not caught in 8.8 min of test_studies, test_seed_figures, test_report (stopped there)"),
    ("trajectories", "compare_trajectories", "trajectory divergence measured against itself",
     "divergence(t, runs[baseline], checkpoints)", "divergence(t, t, checkpoints)",
     "test_studies_planted::test_a_wrong_backend_diverges_from_the_baseline_by_the_hand_computed_amount",
     "not re-measured (the issue: survived)"),
    ("seed", "gradient_flow", "the seed gradient-flow column reading the wrong field",
     'row[c.backend] = f"{c.mean_abs_input_grad:.2e}"', 'row[c.backend] = f"{c.max_layer_rel_diff:.2e}"',
     "test_studies_planted::test_the_seed_gradient_flow_table_reads_the_mean_and_the_rel_diff_and_flags_the_"
     "wrong_cell", "not re-measured (the issue: survived)"),
    ("tables", "_worst_verdict", "the summary cell showing the mildest verdict, not the worst",
     "return min(verdicts, key=_SEVERITY.index)", "return max(verdicts, key=_SEVERITY.index)",
     "test_studies_planted::test_the_summary_cell_shows_the_worst_verdict_of_its_rows",
     "not re-measured (the issue: survived)"),
]


def planted():
    out = []
    for module, qual, what, old, new, test, before in PLANTED:
        source = (ROOT / "crosscheck" / f"{module}.py").read_text()
        if source.count(old) != 1:
            raise SystemExit(f"planted bug {what!r}: its text is no longer in crosscheck/{module}.py once: "
                             f"update PLANTED")
        out.append(Mutant(module, qual, "planted", 0, old, new, source.replace(old, new), what))
    return out


COMPARE = {ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt),
           ast.GtE: (ast.Gt, ast.LtE), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.Is: (ast.IsNot,),
           ast.IsNot: (ast.Is,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,)}
ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
         ast.Pow: ast.Mult, ast.Mod: ast.FloorDiv, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd}
#: functions whose first two arguments commute: swapping them is no mutant
COMMUTATIVE = {"max", "min", "maximum", "minimum", "fmax", "fmin", "union1d", "intersect1d", "logical_or",
               "logical_and", "hypot", "_slack", "agreement", "array_equal", "allclose", "isclose"}
NAMES = {"min": "max", "max": "min", "minimum": "maximum", "maximum": "minimum", "argmin": "argmax",
         "argmax": "argmin", "nanmin": "nanmax", "nanmax": "nanmin", "any": "all", "all": "any"}


@dataclass
class Mutant:
    module: str
    qualname: str
    operator: str
    line: int
    before: str
    after: str
    source: object  # the whole mutated module (after materialize)
    id: str = ""
    equivalent: str = ""  # the reason, for a mutant equivalent by construction


def _segment(lines, node):
    if node.lineno == node.end_lineno:
        return lines[node.lineno - 1][node.col_offset:node.end_col_offset]
    first = lines[node.lineno - 1][node.col_offset:]
    middle = lines[node.lineno:node.end_lineno - 1]
    last = lines[node.end_lineno - 1][:node.end_col_offset]
    return "\n".join([first, *middle, last])


def _replace(lines, node, text):
    """The module's source with ``node``'s span replaced by ``text`` (parenthesised for an expression)."""
    head = lines[node.lineno - 1][:node.col_offset]
    tail = lines[node.end_lineno - 1][node.end_col_offset:]
    out = lines[:node.lineno - 1] + [head + text + tail] + lines[node.end_lineno:]
    return "\n".join(out) + "\n"


def _variants(node):
    """(operator, mutated copy) for one node; statements handled by the caller."""
    out = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for new in COMPARE.get(type(op), ()):
                m = copy.deepcopy(node)
                m.ops[i] = new()
                out.append(("compare", m))
    elif isinstance(node, ast.BoolOp):
        m = copy.deepcopy(node)
        m.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        out.append(("boolop", m))
    elif isinstance(node, ast.BinOp) and type(node.op) in ARITH:
        m = copy.deepcopy(node)
        m.op = ARITH[type(node.op)]()
        out.append(("bitop" if isinstance(node.op, (ast.BitAnd, ast.BitOr)) else "arith", m))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert, ast.USub)):
        if not (isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)):
            out.append(("unary", copy.deepcopy(node.operand)))
    elif isinstance(node, ast.Constant) and not isinstance(node.value, (str, bytes)) and node.value is not None:
        v = node.value
        if isinstance(v, bool):
            out.append(("const", ast.Constant(not v)))
        elif isinstance(v, float):
            out.extend([("const", ast.Constant(v * 10)), ("const", ast.Constant(v / 10))] if v else
                       [("const", ast.Constant(1.0))])
        elif isinstance(v, int):
            out.append(("const", ast.Constant(v + 1)))
    elif isinstance(node, ast.Call):
        args = node.args
        fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if len(args) >= 2 and not any(isinstance(a, ast.Starred) for a in args[:2]) \
                and ast.dump(args[0]) != ast.dump(args[1]) and fn not in COMMUTATIVE:
            m = copy.deepcopy(node)
            m.args[0], m.args[1] = m.args[1], m.args[0]
            out.append(("swap", m))
    elif isinstance(node, ast.Name) and node.id in NAMES and isinstance(node.ctx, ast.Load):
        out.append(("name", ast.Name(NAMES[node.id], ast.Load())))
    elif isinstance(node, ast.Attribute) and node.attr in NAMES and isinstance(node.ctx, ast.Load):
        m = copy.deepcopy(node)
        m.attr = NAMES[node.attr]
        out.append(("name", m))
    return out


def mutants(module: str) -> list[Mutant]:
    path = ROOT / "crosscheck" / f"{module}.py"
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    found = []
    skip = set()  # nodes not mutated: docstrings, f-strings, annotations
    reshape_sizes = set()  # the -1 of reshape(-1): its mutant is equivalent by numpy's rule

    def mark(n):
        for sub in ast.walk(n):
            skip.add(id(sub))

    def visit(node, qual):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                mark(body[0])
            if not isinstance(node, ast.ClassDef):
                for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs:
                    if a.annotation is not None:
                        mark(a.annotation)
                if node.returns is not None:
                    mark(node.returns)
            qual = f"{qual}.{node.name}" if qual else node.name
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "reshape":
            for a in node.args:  # reshape(-1) -> reshape(-2): numpy takes any negative size as "infer"
                if isinstance(a, ast.UnaryOp) and isinstance(a.operand, ast.Constant):
                    reshape_sizes.add(id(a.operand))
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.AnnAssign) and node.annotation is not None):
            mark(node if isinstance(node, ast.JoinedStr) else node.annotation)
        if id(node) not in skip:
            if isinstance(node, ast.AugAssign) and type(node.op) in ARITH:
                m = copy.deepcopy(node)
                m.op = ARITH[type(node.op)]()
                found.append(("arith", qual, node, m))
            elif isinstance(node, ast.Return) and node.value is not None and not (
                    isinstance(node.value, ast.Constant) and node.value.value is None):
                found.append(("return", qual, node, ast.Return(ast.Constant(None))))
            elif isinstance(node, ast.expr):
                for op, m in _variants(node):
                    found.append((op, qual, node, m))
        for child in ast.iter_child_nodes(node):
            visit(child, qual)

    if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant):
        mark(tree.body[0])
    visit(tree, "")
    out, seen = [], {}
    for op, qual, node, m in found:
        if ast.dump(node) == ast.dump(m):
            continue
        before = _segment(lines, node)
        after = ast.unparse(m)
        key = f"{module}:{qual or '<module>'}:{op}:{' '.join(before.split())} -> {after}"
        seen[key] = seen.get(key, 0) + 1
        mid = key if seen[key] == 1 else f"{key} #{seen[key]}"
        text = after if isinstance(node, ast.stmt) else f"({after})"
        out.append(Mutant(module, qual or "<module>", op, node.lineno, " ".join(before.split()), after,
                          (lines, node, text), mid,
                          RESHAPE if op == "const" and id(node) in reshape_sizes else ""))
    return out


def materialize(ms):
    """The mutated module's source for each mutant (the few whose text does not parse are dropped)."""
    out = []
    for m in ms:
        lines, node, text = m.source
        m.source = _replace(lines, node, text)
        try:
            ast.parse(m.source)
        except SyntaxError:
            continue
        out.append(m)
    return out


def selected(ms: list[Mutant]) -> list[Mutant]:
    """Every mutant of a FULL function; elsewhere those whose id's sha1 falls in the module's sample."""
    out = []
    for m in ms:
        full = FULL.get(m.module, set())
        top = m.qualname.split(".")[0]
        if full is None or top in full:
            out.append(m)
            continue
        h = int(hashlib.sha1(m.id.encode()).hexdigest()[:8], 16)
        if h % SAMPLE.get(m.module, 1) == 0:
            out.append(m)
    return out


def _target(module, qualname):
    """The function object whose code holds the mutant (a top-level function, a method, or the function a
    nested one is defined in), or None when the mutant is at module or class-body level."""
    obj = module
    for part in qualname.split("."):
        if isinstance(obj, type) or obj is module:
            obj = vars(obj).get(part)
            if isinstance(obj, (staticmethod, classmethod)):
                obj = obj.__func__
            elif isinstance(obj, property):
                obj = obj.fget
        if obj is None:
            return None
        if callable(obj) and hasattr(obj, "__code__"):
            return obj
    return None


def _codes(code):
    yield code
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            yield from _codes(c)


def apply(m: Mutant):
    """Put the mutant in place in this (forked) interpreter, where the project's modules are imported.

    A mutant inside a function swaps the function's ``__code__`` for the mutated one: every module that
    imported the function keeps calling the same object, now mutated. A mutant in a nested function, or at
    module or class-body level
    (a constant such as a default tolerance) re-executes the mutated module into its own namespace, then every
    other loaded ``crosscheck`` module's name bound to an object of the old namespace is rebound to the new
    one (a number bound as a default argument elsewhere keeps its old value: such a mutant is seen only where
    the name is read at call time)."""
    import importlib

    mod = importlib.import_module(f"crosscheck.{m.module}")
    path = str(ROOT / "crosscheck" / f"{m.module}.py")
    code = compile(m.source, path, "exec")
    target = _target(mod, m.qualname) if m.qualname != "<module>" else None
    # a function nested in another one lives in closures made when the outer one ran (maybe at import, as the
    # matrix's kink predicates): swapping the outer code would not reach them, so the module is re-executed
    if target is not None and target.__code__.co_qualname == m.qualname:
        new = [c for c in _codes(code) if c.co_qualname == target.__code__.co_qualname]
        if len(new) == 1 and new[0].co_freevars == target.__code__.co_freevars:
            target.__code__ = new[0]
            _defaults(mod, code, m.qualname, target)
            return
    old = dict(vars(mod))
    exec(code, vars(mod))
    by_id = {id(v): k for k, v in old.items()}
    for name, other in list(sys.modules.items()):
        if not name.startswith("crosscheck") or other is mod or other is None:
            continue
        for k, v in list(vars(other).items()):
            src = by_id.get(id(v))
            if src is not None and old[src] is v and (src == k or not isinstance(v, (int, float, str, bool))):
                setattr(other, k, vars(mod)[src])


def _defaults(mod, code, qualname, target):
    """A mutated default argument lives in the function object, not its code: taken from the mutated module
    executed in a scratch namespace."""
    scratch = {"__name__": mod.__name__, "__package__": mod.__package__, "__file__": mod.__file__}
    try:
        exec(code, scratch)
    except Exception:
        return
    fresh = _target(SimpleNamespace(**scratch), qualname)
    if fresh is None or fresh.__code__.co_qualname != target.__code__.co_qualname:
        return
    if repr(fresh.__defaults__) != repr(target.__defaults__):
        target.__defaults__ = fresh.__defaults__
    if repr(fresh.__kwdefaults__) != repr(target.__kwdefaults__):
        target.__kwdefaults__ = fresh.__kwdefaults__


def _pytest_args(tests):
    return ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--no-header", "-o", "addopts=", *tests]


def run_one(mutant, tests, timeout):
    """'killed' | 'survived' | 'timeout': the tests against one mutant (None: the code as it is), in a child
    forked from this process, which has the project and its dependencies imported already."""
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(ROOT)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the focused tests need no plugin: faster
            if mutant is not None:
                apply(mutant)
            import pytest

            os._exit(int(pytest.main(_pytest_args(tests))))
        except BaseException:
            os._exit(99)
    start = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > timeout:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", time.monotonic() - start
        time.sleep(0.02)
    rc = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - start
    if rc == 0:
        return "survived", elapsed
    if rc == 1:
        return "killed", elapsed
    return f"killed (exit {rc})", elapsed  # a collection error, a mutated module that does not load, a crash


def equivalents():
    out = {}
    if EQUIVALENT_FILE.exists():
        for line in EQUIVALENT_FILE.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                mid, _, reason = line.partition("  ")
                out[mid.strip()] = reason.strip()
    return out


def write_report(results, modules, elapsed, counts_all, path=OUT, planted_results=(), partial="", resumed=False):
    eq = equivalents()
    eq.update({m.id: m.equivalent for m, _, _ in results if m.equivalent and m.id not in eq})
    total = len(results)
    killed = sum(1 for _, s, _ in results if s != "survived")
    survivors = [(m, s) for m, s, _ in results if s == "survived"]
    equivalent = [m for m, _ in survivors if m.id in eq]
    gaps = [m for m, _ in survivors if m.id not in eq]
    judged = total - len(equivalent)
    score = killed / judged if judged else 1.0
    lines = ["# Mutation testing of the judge, the tables and the studies", "",
             "Written by `python scripts/mutation.py` (see its docstring and the README, \"Mutation testing\"). "
             "Each mutant is one small change to one module (a flipped comparison, `&` for `|`, `+` for `-`, a "
             "constant ×10 or ÷10, swapped arguments, a dropped `not`, `min` for `max`, `return None`); it is "
             "killed when one of the module's focused tests fails. Score = killed ÷ (mutants run − equivalent).",
             "",
             f"**Score: {killed} killed of {judged} non-equivalent mutants = {100 * score:.1f} %** "
             f"({total} run, {len(equivalent)} equivalent, {len(gaps)} surviving non-equivalent); "
             f"this invocation took {elapsed / 60:.1f} min" + (" (`--resume`: the kills recorded in "
                                                                 "results/mutation.json kept, the rest run again)"
                                                                 if resumed else "")
             + (f" (**partial: {partial}**)." if partial else "."), "",
             "| module | mutants (all) | run | killed | equivalent | surviving | tests |",
             "|---|---|---|---|---|---|---|"]
    for mod in modules:
        rs = [(m, s) for m, s, _ in results if m.module == mod]
        k = sum(1 for _, s in rs if s != "survived")
        e = sum(1 for m, s in rs if s == "survived" and m.id in eq)
        files = sorted({t.split("::")[0].replace("tests/", "") for t in TESTS[mod]})
        lines.append(f"| {mod} | {counts_all[mod]} | {len(rs)} | {k} | {e} | {len(rs) - k - e} | "
                     f"{', '.join('`' + f + '`' for f in files)} (see `TESTS`) |")
    lines += ["", "Sampling: every mutant of " + "; ".join(
        f"`{m}` ({'whole module' if f is None else ', '.join(sorted(f))})" for m, f in FULL.items())
        + "; elsewhere 1 in N by the sha1 of the mutant's id (N: "
        + ", ".join(f"{m} {n}" for m, n in SAMPLE.items() if m in modules) + ").", ""]
    if planted_results:
        lines += ["## The bugs planted by hand in issue 16", "",
                  "Each mapped onto today's code and run against its module's focused tests; \"before\": what the "
                  "tests of that time did (the files of the judge or of the studies, without the tests of issue 16).",
                  "", "| module | function | bug | now | pinned by | before |", "|---|---|---|---|---|---|"]
        for (module, qual, what, _, _, test, before), (_, status, _) in zip(PLANTED, planted_results):
            lines.append(f"| {module} | `{qual}` | {what} | {status} | `{test}` | {before} |")
        lines.append("")
    lines += ["## Surviving mutants judged equivalent", ""]
    lines += [f"- `{m.id}` (line {m.line}): {eq[m.id]}" for m in equivalent] or ["none"]
    lines += ["", "## Surviving mutants not judged equivalent (gaps)", ""]
    lines += [f"- `{m.id}` (line {m.line})" for m in gaps] or ["none"]
    lines.append("")
    path.write_text("\n".join(lines))
    return score


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--module", action="append", choices=sorted(TESTS), help="only this module (repeatable)")
    p.add_argument("--list", action="store_true", help="print the selected mutants and exit")
    p.add_argument("--all", action="store_true", help="every mutant, no sampling")
    p.add_argument("--match", help="only mutants whose id contains this text")
    p.add_argument("--out", default=str(OUT), help="the report (default results/mutation.md)")
    p.add_argument("--state", default=str(STATE), help="the outcomes by id (default results/mutation.json)")
    p.add_argument("--resume", action="store_true",
                   help="keep the kills recorded in results/mutation.json and run the rest (sound when tests were "
                        "only added since: a mutant some test killed stays killed)")
    args = p.parse_args(argv)
    modules = args.module or list(TESTS)
    import importlib

    import pandas  # noqa: F401  imported once here, shared by every forked child
    import pytest  # noqa: F401

    for mod in TESTS:
        importlib.import_module(f"crosscheck.{mod}")

    plan, counts_all = [], {}
    for mod in modules:
        ms = mutants(mod)
        counts_all[mod] = len(ms)
        chosen = ms if args.all else selected(ms)
        if args.match:
            chosen = [m for m in chosen if args.match in m.id]
        plan.extend(materialize(chosen))
    if args.list:
        for m in plan:
            print(f"{m.line:5d}  {m.id}")
        print(f"{len(plan)} mutants", file=sys.stderr)
        return 0
    start = time.monotonic()
    limits = {}
    for mod in modules:
        status, t = run_one(None, TESTS[mod], timeout=600)
        if status != "survived":
            print(f"the unmutated tests of {mod} do not pass ({status}): fix them first", file=sys.stderr)
            return 2
        limits[mod] = 3 * t + 10
        print(f"{mod}: tests pass unmutated in {t:.1f}s", flush=True)
    import json

    state_file = Path(args.state)
    earlier = json.loads(state_file.read_text()) if args.resume and state_file.exists() else {}
    state = dict(earlier)
    results = []
    for i, m in enumerate(plan, 1):
        if m.equivalent:  # equivalent by construction (reshape(-1)): not run
            results.append((m, "survived", 0.0))
            continue
        if earlier.get(m.id, "survived") != "survived":
            results.append((m, earlier[m.id], 0.0))
            continue
        extra = 30 * ((m.module, m.qualname.split(".")[0]) in TESTS_FOR)  # the directional tests' time
        status, t = run_one(m, tests_for(m), limits[m.module] + extra)
        results.append((m, status, t))
        state[m.id] = status
        state_file.write_text(json.dumps(state, indent=0, sort_keys=True) + "\n")
        if i % 25 == 0:  # a report so far, in case the run is stopped
            write_report(results, modules, time.monotonic() - start, counts_all, Path(args.out),
                         partial=f"{i} of {len(plan)} mutants", resumed=args.resume)
        print(f"[{i}/{len(plan)}] {status:9s} {t:5.1f}s  {m.id}", flush=True)
    planted_results = []
    if not args.module and not args.match:
        for m in planted():
            status, t = run_one(m, tests_for(m), limits[m.module])
            planted_results.append((m, status, t))
            print(f"[planted] {status:9s} {t:5.1f}s  {m.id}", flush=True)
    elapsed = time.monotonic() - start
    score = write_report(results, modules, elapsed, counts_all, Path(args.out), planted_results,
                         resumed=args.resume)
    print(f"score {100 * score:.1f} % ({args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
