"""Backends as plugins: a module path, an entry point, missing ops as skipped rows, a wrong binding caught,
the example engine (examples/minitape) and the conformance matrix."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from crosscheck import backends, matrix, runner
from crosscheck.cli import main


def run_rev(*args, **kwargs):
    """A run of the gradients' rows only (what these tests judge; J·v and H·v rows are tests/test_modes*.py's)."""
    return runner.run(*args, modes=("rev",), **kwargs)


ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases"
MINITAPE = "examples.minitape.crosscheck_backend:Minitape"

# An engine binding in a module of its own: the core's tape, with only tanh bound (and the three ops the
# objective needs to contract an output with its cotangent).
ENGINE = """
    from crosscheck.backends import Backend, Evaluation
    from crosscheck.backends.core import CoreVocabulary
    from crosscheck.backends.base import objective
    from crosscheck.core import tape
    from crosscheck.core.tape import Tensor, apply
    from crosscheck.core import ops
    from crosscheck.vocabulary import Vocabulary


    class TanhOnly(Vocabulary):
        backend = "tanhonly"

        def __init__(self, dtype):
            self.dtype = dtype

        def constant(self, array):
            return Tensor(array.astype(self.dtype))

        def tanh(self, a):
            return apply(ops.tanh, a)

        # what the objective needs to contract a non-scalar output with its cotangent
        def multiply(self, a, b):
            return apply(ops.multiply, a, b)

        def sum(self, a, axis=None, keepdims=False):
            return apply(ops.sum, a, axis=axis, keepdims=keepdims)

        def reshape(self, a, shape):
            return apply(ops.reshape, a, shape=shape)


    class Engine(Backend):
        name = "tanhonly"
        vocabulary = TanhOnly

        def evaluate(self, case, point, dtype):
            leaves = {k: Tensor(v.astype(dtype), requires_grad=case.inputs[k].grad) for k, v in point.items()}
            loss, _ = objective(case, TanhOnly(dtype), leaves, dtype)
            grads = tape.gradients(loss, [leaves[k] for k in case.wrt])
            return Evaluation(float(loss.value), dict(zip(case.wrt, grads)))
"""


def _run(args, cwd=ROOT, env=None, module="crosscheck.cli"):
    code = f"import sys; from {module} import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def minitape():
    sys.path.insert(0, str(ROOT)) if str(ROOT) not in sys.path else None
    return backends.get(MINITAPE)


# ------------------------------------------------------------------ naming a backend


def test_a_backend_plugs_in_from_a_module_path_without_installing_anything(tmp_path):
    (tmp_path / "my_engine.py").write_text(textwrap.dedent(ENGINE))
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "two.py").write_text(textwrap.dedent("""
        from crosscheck import case, inputs

        @case(x=inputs.normal(3, 2))
        def my_tanh(nn, x):
            return nn.tanh(x) * x

        @case(x=inputs.normal(3, 2))
        def my_sigmoid(nn, x):
            return nn.sigmoid(nn.tanh(x))
    """))
    done = _run(["run", "--cases", "cases", "--backend", "my_engine:Engine"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 cases, 4 rows: 2 pass, 2 skipped" in done.stdout
    lines = [line.split() for line in done.stdout.splitlines()]
    assert ["my_tanh", "x", "tanhonly", "float64"] == lines[2][:4] and lines[2][-1] == "pass"
    # the sigmoid case calls an op the engine lacks: skipped, naming the op, and the run still passes
    assert ("skipped  my_sigmoid x tanhonly float64 rev: case 'my_sigmoid': backend 'tanhonly' has no binding for op "
            "'sigmoid'") in done.stdout


def test_a_backend_registers_through_an_entry_point_of_an_installed_package(tmp_path):
    site = tmp_path / "site"
    (site / "my_engine").mkdir(parents=True)
    (site / "my_engine" / "__init__.py").write_text(textwrap.dedent(ENGINE))
    info = site / "my_engine-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-engine\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[crosscheck.backends]\nmyengine = my_engine:Engine\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    code = ("from crosscheck import backends; print(sorted(backends.plugins())); print(backends.default()); "
            "print(backends.get('myengine').name)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['myengine']", str(backends.DEFAULT + ("myengine",)), "myengine"]
    done = _run(["run", "--cases", str(CASES), "-k", "tanh", "--backend", "myengine"], env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tanh                          x         myengine     float64" in done.stdout  # the registered name
    # pytest finds it by name too: one conformance test per case and dtype
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "--crosscheck-backend", "myengine", "--crosscheck-cases", str(CASES / "local_gradients.py"),
                           str(CASES / "local_gradients.py")], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "local_gradients.py::tanh[myengine-float64]" in done.stdout


def test_a_plugin_that_fails_to_load_is_a_bad_argument(tmp_path, capsys):
    info = tmp_path / "broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[crosscheck.backends]\nbroken = no_such_module_here:Engine\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = _run(["run", "--cases", str(CASES), "-k", "tanh", "--backend", "broken"], env=env)
    assert done.returncode == 2
    assert "backend 'broken' (entry point 'no_such_module_here:Engine'" in done.stderr
    assert "failed to load: ModuleNotFoundError" in done.stderr


# ------------------------------------------------------------------ the example engine, missing ops


def test_missing_ops_give_skipped_rows_naming_the_op(catalogue, minitape):
    rows = run_rev([catalogue["cos"], catalogue["maximum_tie"], catalogue["tanh"]], backends=[minitape])
    by_case = {(r.case, r.param, r.dtype): r for r in rows}
    for dtype in ("float64", "float32"):
        cos = by_case[("cos", "x", dtype)]
        assert cos.verdict == "skipped" and cos.message == "case 'cos': backend 'minitape' has no binding for op 'cos'"
        assert by_case[("maximum_tie", "a", dtype)].message.endswith("has no binding for op 'maximum'")
        assert by_case[("tanh", "x", dtype)].verdict == "pass"
    assert not runner.failed(rows)


def test_the_example_engine_runs_the_whole_catalogue_with_no_failure(catalogue, minitape):
    rows = run_rev(list(catalogue.values()), backends=[minitape])
    verdicts = {r.verdict for r in rows}
    # unjudged: the special points without a derivative (sign at 0, sqrt at 0), with the reason
    assert verdicts <= {"pass", "kink", "skipped", "unjudged"} and {"pass", "kink", "skipped"} <= verdicts, verdicts
    assert all("has no binding for op" in r.message for r in rows if r.verdict == "skipped")


def _wrong_tanh_minitape():
    """minitape with tanh's backward written wrongly (1 + y² for 1 - y²)."""
    from examples.minitape.crosscheck_backend import Minitape, MinitapeOps

    class WrongTanh(MinitapeOps):
        def tanh(self, a):
            y = np.tanh(a.value)
            return a._op(y, (a,), lambda g: (g * (1 + y * y),))

    return type("WrongMinitape", (Minitape,), {"vocabulary": WrongTanh, "name": "minitape"})


def test_a_wrong_plugin_binding_is_caught(catalogue, minitape):
    wrong = _wrong_tanh_minitape()
    rows = run_rev([catalogue["tanh"], catalogue["matmul"], catalogue["linear_tanh_layer"]], backends=[wrong()])
    verdicts = {(r.case, r.dtype): r.verdict for r in rows}
    assert verdicts[("tanh", "float64")] == verdicts[("tanh", "float32")] == "fail"
    assert verdicts[("matmul", "float64")] == "pass"
    (row,) = [r for r in rows if r.case == "tanh" and r.dtype == "float64"]
    for words in ("case 'tanh'", "parameter 'x'", "backend minitape", "dtype float64", "worst at x["):
        assert words in row.message
    # the matrix blames tanh, not matmul (cleared by the matmul case) nor add
    table, counts = matrix.conformance([catalogue[n] for n in ("tanh", "matmul", "linear_tanh_layer")], rows,
                                       [wrong()])
    cells = dict(zip(table["op"], table["minitape"]))
    assert cells["tanh"] == "fail" and cells["matmul"] == "pass" and cells["add"] == "fail"  # add: only there
    assert counts.loc[0, "fail"] == 2


# ------------------------------------------------------------------ the conformance matrix


def test_ops_of_a_case_are_its_own_calls_operators_included_and_kinks_noted(catalogue):
    assert matrix.ops_of(catalogue["xor_mlp"]) == (
        frozenset({"add", "matmul", "relu", "sigmoid", "binary_cross_entropy"}), frozenset({"relu"}))
    assert matrix.ops_of(catalogue["maximum_tie"]) == (frozenset({"maximum"}), frozenset({"maximum"}))
    assert matrix.ops_of(catalogue["maximum"])[1] == frozenset()  # random inputs: no tie
    # a loss composed of other ops inside a binding counts as the loss alone
    assert matrix.ops_of(catalogue["softmax_cross_entropy"])[0] == frozenset({"softmax_cross_entropy"})


def test_the_matrix_of_the_example_engine(catalogue, minitape):
    core = backends.get("core")
    cases = list(catalogue.values())
    rows = run_rev(cases, backends=[core, backends.get("handwritten"), minitape])
    table, counts = matrix.conformance(cases, rows, [backends.get("numeric"), core, backends.get("handwritten"),
                                                     minitape])
    assert list(table.columns) == ["op", "cases", "core", "minitape"]  # no column for the reference, handwritten
    cells = dict(zip(table["op"], table["minitape"]))
    assert cells["sin"] == cells["maximum"] == cells["binary_cross_entropy"] == "missing"
    assert cells["relu"] == "kink convention" and cells["tanh"] == "pass"
    assert cells["reshape"] == "untested"  # its one case also calls sin
    assert set(dict(zip(table["op"], table["core"])).values()) <= {"pass", "kink convention", "expected", ""}
    tally = counts.set_index("backend").loc["minitape"]
    # minitape binds 16 of the vocabulary's ops: every op is pass, kink convention, missing or untested
    assert tally["fail"] == 0 and tally["missing"] == len(table) - 16
    assert tally["pass"] + tally["kink convention"] + tally["untested"] == 16


def test_pytest_names_a_bad_backend_as_a_usage_error():
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "--crosscheck-backend", "no_such_module:Engine", "--crosscheck-cases", str(CASES),
                           str(CASES / "chain_rule.py")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "--crosscheck-backend: backend 'no_such_module:Engine': cannot import 'no_such_module'" in done.stderr


def test_pytest_runs_the_example_engine_from_its_module_path():
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                           "--crosscheck-backend", MINITAPE, "--crosscheck-cases", str(CASES / "chain_rule.py"),
                           str(CASES / "chain_rule.py")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed, 2 skipped" in done.stdout  # sin_of_quadratic needs sin, which minitape lacks
    assert "case 'sin_of_quadratic': backend 'minitape' has no binding for op 'sin'" in done.stdout


def test_the_kinks_of_the_vocabulary_are_noted_at_their_special_points_only(catalogue):
    from crosscheck.vocabulary import OPS

    assert set(matrix.KINKS) <= set(OPS)
    at_kink = {name: matrix.ops_of(c)[1] for name, c in catalogue.items() if name.startswith("op_")}
    for op in matrix.KINKS:  # each kink op meets its kink at one of its own special points at least
        assert any(op in ops for name, ops in at_kink.items() if name.startswith(f"op_{op}__")), op
    assert not [name for name, ops in at_kink.items() if name.endswith("__random") and ops]  # random: no kink
    # a point where the op is smooth is no kink: elu at 0 with α = 1, and the 2-norm away from the origin
    assert at_kink["op_elu__zero"] == frozenset() and at_kink["op_elu__zero_alpha_half"] == {"elu"}
    assert at_kink["op_softplus__zero"] == frozenset() and "norm" in at_kink["op_norm__inf_tie"]


@pytest.mark.parametrize("name", ["tensorflow", "autograd"])
def test_the_matrix_columns_of_tensorflow_and_autograd(catalogue, name):
    pytest.importorskip(name)
    cases = [catalogue[n] for n in ("op_abs__zero", "op_abs__random", "op_std__constant", "op_std__random",
                                    "op_tanh__zero")]
    rows = run_rev(cases, backends=[name])
    table, counts = matrix.conformance(cases, rows, [backends.get(name)])
    cells = dict(zip(table["op"], table[name]))
    # abs at 0: TF's and autograd's 0 is a subgradient; std of a constant: NaN, a declared discrepancy
    assert (cells["abs"], cells["std"], cells["tanh"]) == ("kink convention", "expected", "pass")
    assert counts.set_index("backend").loc[name, "missing"] == 0
