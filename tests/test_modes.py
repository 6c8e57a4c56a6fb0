"""Forward mode (J·v) and second order (H·v) rows: the plumbing (mode column, --mode, opting out, pytest ids)
and the judge of those rows — a wrong forward rule and a wrong second order are caught, correct values at hard
points (kinks of the first derivative, where the second is a distribution) are never called a failure."""

import textwrap

import numpy as np
import pytest

from crosscheck import catalogue, runner, tables
from crosscheck.backends.core import CoreBackend
from crosscheck import case, inputs
from crosscheck.cli import main
from crosscheck.core import ops

pytest_plugins = ["pytester"]
INNER = ("-p", "no:hypothesispytest")


def _case_file(tmp_path, body):
    folder = tmp_path / "cases"
    folder.mkdir(exist_ok=True)
    (folder / "mine.py").write_text("from crosscheck import case, inputs\n\n" + textwrap.dedent(body))
    return folder


def _rows(cases, modes=("rev", "fwd", "hvp"), backends=("core",), dtypes=("float64", "float32")):
    return runner.run(cases, list(backends), dtypes, modes=modes)


def _made(fn, **kw):
    """A case made in code: the decorator records it on this module; take it back from there."""
    import sys

    from crosscheck.catalogue import _MODULE_CASES

    case(**kw)(fn)
    return sys.modules[fn.__module__].__dict__[_MODULE_CASES].pop()


def sin_case():
    def wavy(nn, x, w):
        return nn.sin(x @ w) * nn.tanh(x @ w) + x @ w

    return _made(wavy, x=inputs.normal(3, 4), w=inputs.normal(4, 2))


def test_every_mode_has_its_rows_and_they_pass():
    rows = _rows([sin_case()])
    assert {r.mode for r in rows} == {"rev", "fwd", "hvp"}
    # per mode: two inputs × two dtypes on the core
    assert all(sum(r.mode == m for r in rows) == 4 for m in ("rev", "fwd", "hvp"))
    assert all(r.verdict == "pass" for r in rows), [(r.mode, r.dtype, r.message) for r in rows if r.verdict != "pass"]
    fwd = [r for r in rows if r.mode == "fwd" and r.dtype == "float64"]
    assert all(r.reference == "complex-step" and "transpose identity holds" in r.note for r in fwd)


def test_a_wrong_forward_rule_fails_its_fwd_rows(monkeypatch):
    # planted: d sin a = sin a · da (the derivative forgotten, the function kept)
    monkeypatch.setattr(ops.sin, "jvp", lambda T, y, a, da: da * T.sin(a), raising=False)
    rows = _rows([sin_case()], modes=("fwd",))
    failing = [r for r in rows if r.verdict == "fail"]
    assert {(r.param, r.dtype) for r in failing} == {(p, d) for p in ("x", "w") for d in ("float64", "float32")}
    assert "fwd (J·v" in failing[0].message and "outside tolerance" in failing[0].message


def test_a_rule_computed_outside_the_tape_passes_fwd_and_fails_hvp(monkeypatch):
    # planted: the right tangent, but cos(a) taken from a.value in numpy: a constant to the reverse sweep, so
    # the H·v of the core (reverse over forward) misses the -sin term
    monkeypatch.setattr(ops.sin, "jvp", lambda T, y, a, da: da * T.constant(np.cos(a.value)), raising=False)
    rows = _rows([sin_case()], modes=("fwd", "hvp"), dtypes=("float64",))
    assert all(r.verdict == "pass" for r in rows if r.mode == "fwd")
    assert {r.verdict for r in rows if r.mode == "hvp"} == {"fail"}


def test_a_backend_whose_jvp_disagrees_with_its_gradient_fails_the_transpose_identity(monkeypatch):
    """The J·v judged against a reference that cannot tell (an unjudged row stays unjudged), but the identity
    against the backend's passing gradient can."""

    class Halved(CoreBackend):
        name = "halved"

        def jvp(self, case, point, dtype, param, tangent):
            return super().jvp(case, point, dtype, param, tangent) * 0.5

    rows = runner.run([sin_case()], [Halved()], ("float64",), modes=("rev", "fwd"))
    fwd = [r for r in rows if r.mode == "fwd"]
    assert {r.verdict for r in fwd} == {"fail"}
    # the reference check fails first (a halved J·v is far off); the identity is what names the inconsistency
    # when the reference passes: shown by a backend whose gradient is doubled while its J·v is right
    class Doubled(CoreBackend):
        name = "doubled"

        def evaluate(self, case, point, dtype):
            ev = super().evaluate(case, point, dtype)
            ev.grads = {k: 2 * v for k, v in ev.grads.items()}
            return ev

    rows = runner.run([sin_case()], [Doubled()], ("float64",), modes=("rev", "fwd"))
    assert {r.verdict for r in rows if r.mode == "rev"} == {"fail"}
    fwd = [r for r in rows if r.mode == "fwd"]
    # its gradient failed on its own: the identity's failure is noted, the J·v row keeps its pass
    assert {r.verdict for r in fwd} == {"pass"} and all("transpose identity fails" in r.note for r in fwd)


def test_a_jvp_that_raises_or_has_the_wrong_shape_is_an_error_row_of_its_own_input():
    class Raises(CoreBackend):
        name = "raises"

        def jvp(self, case, point, dtype, param, tangent):
            if param == "w":
                raise RuntimeError("planted: no rule")
            return super().jvp(case, point, dtype, param, tangent)

    class Flat(CoreBackend):
        name = "flat"

        def jvp(self, case, point, dtype, param, tangent):
            out = np.asarray(super().jvp(case, point, dtype, param, tangent))
            return out.reshape(-1) if param == "x" else out  # (3, 2) given as (6,)

    for backend, bad, words in ((Raises(), "w", "planted: no rule"), (Flat(), "x", "J·v has shape (6,)")):
        rows = {r.param: r for r in runner.run([sin_case()], [backend], ("float64",), modes=("fwd",))}
        assert (rows[bad].case, rows[bad].param, rows[bad].backend, rows[bad].verdict) == \
            ("wavy", bad, backend.name, "error") and words in rows[bad].message, rows[bad].message
        (good,) = set(rows) - {bad}
        assert rows[good].verdict == "pass" and rows[good].case == "wavy"


def test_where_several_kinks_meet_a_jvp_outside_the_one_sided_slopes_is_unjudged_with_the_reason(catalogue):
    """The XOR MLP at the input (0, 0): its four first-layer ReLUs are all at 0, and J·v along b1's tangent is a
    combination of their one-sided choices, which need not lie between the slopes along v."""
    rows = [r for r in runner.run([catalogue["xor_mlp"]], ["core"], ("float64",), modes=("fwd",)) if r.param == "b1"]
    assert [r.verdict for r in rows] == ["unjudged"] and "where several meet" in rows[0].message, rows[0].message


def test_hvp_at_a_kink_of_the_gradient_is_never_a_failure():
    """relu at 0 (and a maximum at a tie): the gradient jumps along the tangent, so H·v does not exist there."""
    def kinked(nn, x):
        return nn.relu(x) * x

    c = _made(kinked, x=inputs.fixed(np.array([0.0, 1.5, -2.0, 0.0])))
    rows = _rows([c], modes=("hvp",))
    assert rows and all(r.verdict in ("unjudged", "kink", "pass") for r in rows), [(r.verdict, r.message) for r in rows]
    assert any(r.verdict in ("unjudged", "kink") for r in rows)


def test_inputs_of_many_scales_get_a_step_per_scale():
    """sin at 1e6, -3e7 and 1e15 in one input: one step along v, fit for 1e15, spans many periods at 1e6, and the
    J·v and H·v rows were unjudged. J·v is linear in v: a tangent and step per scale judges them; a J·v wrong
    by 1e-6 relative at the first element is caught; H·v at 1e15 stays unjudged (no step resolves cos there)."""
    from crosscheck import modes

    # binades of max(|x|, 1): 19, 24, 49, 1; a group spans at most 20
    assert [m.tolist() for m in modes.scale_groups([1e6, -3e7, 1e15, 2.0])] == [
        [True, False, False, True], [False, True, False, False], [False, False, True, False]]
    assert len(modes.scale_groups(np.linspace(-3, 3, 7) * 1e5)) == 1  # one scale: one step, as before

    def wide(nn, x):
        return nn.sin(x)

    c = _made(wide, x=inputs.fixed(np.array([1e6, -3e7, 1e15])))
    rows = _rows([c], modes=("fwd", "hvp"), dtypes=("float64",))
    fwd, hvp = ([r for r in rows if r.mode == m] for m in ("fwd", "hvp"))
    assert [r.verdict for r in fwd] == ["pass"], fwd[0].message
    assert [r.verdict for r in hvp] == ["unjudged"] and "1 of 3 element(s)" in hvp[0].message

    class Off(CoreBackend):
        name = "off"

        def jvp(self, case, point, dtype, param, tangent):
            jv = np.array(super().jvp(case, point, dtype, param, tangent))
            jv.reshape(-1)[0] *= 1 + 1e-6
            return jv

    (row,) = runner.run([c], [Off()], ("float64",), modes=("fwd",))
    assert row.verdict == "fail" and row.worst_index == (0,), row.message


def test_a_case_may_opt_out_of_the_modes():
    def plain(nn, x):
        return nn.tanh(x)

    c = _made(plain, x=inputs.normal(3), modes=("rev",))
    assert {r.mode for r in _rows([c])} == {"rev"}
    with pytest.raises(catalogue.CatalogueError, match="modes must include 'rev'"):
        case(modes=("fwd",), x=inputs.normal(3))(plain)


def test_the_mode_is_a_column_and_selects(tmp_path, capsys):
    folder = _case_file(tmp_path, '''
        @case(x=inputs.normal(2, 3))
        def softsig(nn, x):
            return nn.sigmoid(x) * x
        ''')
    assert main(["run", "--cases", str(folder), "--backend", "core", "--mode", "hvp", "--results",
                 str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "2 rows: 2 pass" in out  # one input, two dtypes, hvp only
    csv = (tmp_path / "out" / "run.csv").read_text().splitlines()
    assert csv[0].split(",")[4] == "mode" and all(",hvp," in line for line in csv[1:])
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--cases", str(folder), "--backend", "core", "--mode", "sideways"])
    assert exit_.value.code == 2 and "invalid choice: 'sideways'" in capsys.readouterr().err


def test_pytest_ids_gain_the_mode(pytester):
    pytester.makepyfile(**{"cases/mine": '''
        from crosscheck import case, inputs

        @case(x=inputs.normal(3), dtypes=("float64",))
        def cube(nn, x):
            return x * x * x
        '''})
    result = pytester.runpytest("--crosscheck-cases", "cases", "--crosscheck-backend", "core", "--collect-only", "-q",
                                *INNER)
    ids = [line for line in result.stdout.lines if "::" in line]
    assert ids == ["cases/mine.py::cube[core-float64]", "cases/mine.py::cube[core-float64-fwd]",
                   "cases/mine.py::cube[core-float64-hvp]"]
    result = pytester.runpytest("--crosscheck-cases", "cases", "--crosscheck-backend", "core",
                                "--crosscheck-mode", "fwd", "-q", *INNER)
    result.assert_outcomes(passed=1)


def test_rows_csv_has_the_mode_after_the_dtype():
    assert tables.COLUMNS[:5] == ("case", "param", "backend", "dtype", "mode")
