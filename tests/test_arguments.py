"""Every bad argument and bad file a new user hit: a usage error (exit 2) or an error row, naming what was wrong."""

import os
import textwrap
import warnings
from pathlib import Path

import pytest

from crosscheck import runner
from crosscheck.catalogue import discover
from crosscheck.cli import build_parser, main

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
INNER = ("-p", "no:hypothesispytest", "-p", "no:cacheprovider")  # see test_plugin.py


def usage_error(argv, capsys):
    """The exit status and stderr of argv that argparse rejects."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code, capsys.readouterr().err


def write(folder, name, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(body))
    return folder


def rows_of(folder, dtypes=("float64",)):
    errors = []
    cases = discover([folder], errors)
    return runner.load_error_rows(errors) + runner.run(cases, backends=["core"], dtypes=dtypes), errors


# ------------------------------------------------------------------ the command line


def test_a_text_file_as_cases_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("my notes\n")
    assert main(["run", "--cases", str(tmp_path / "notes.txt")]) == 2
    assert f"--cases {tmp_path / 'notes.txt'}: not a folder or a python case file" in capsys.readouterr().err


@pytest.mark.parametrize("argv,words", [
    (["run", "--directions", "0"], "argument --directions: must be at least 1, got 0"),
    (["run", "--directions", "-2"], "argument --directions: must be at least 1, got -2"),
    (["report", "--central-max", "-1"], "argument --central-max: must be 0 or more, got -1"),
    (["run", "--directions", "many"], "argument --directions: 'many' is not an integer"),
])
def test_bad_numbers_are_usage_errors(capsys, argv, words):
    code, err = usage_error(argv, capsys)
    assert code == 2 and words in err


@pytest.mark.parametrize("argv,words,suggestion", [
    (["reprot"], "invalid choice: 'reprot'", "report"),
    (["run", "--backedn", "torch"], "unrecognized arguments: --backedn", "--backend"),
    (["report", "--forse"], "unrecognized arguments: --forse", "--force"),
])
def test_typos_get_a_did_you_mean(capsys, argv, words, suggestion):
    code, err = usage_error(argv, capsys)
    assert code == 2 and words in err and f"(did you mean {suggestion}?)" in err


def test_a_mistyped_backend_gets_a_did_you_mean(capsys):
    assert main(["run", "--backend", "troch"]) == 2
    err = capsys.readouterr().err
    assert "unknown backend 'troch'" in err and "(did you mean torch?)" in err


def test_no_suggestion_when_nothing_is_close(capsys):
    code, err = usage_error(["zzzzzz"], capsys)
    assert code == 2 and "did you mean" not in err


def test_run_help_says_nothing_is_written_without_results():
    text = " ".join(build_parser()._subparsers._group_actions[0].choices["run"].format_help().split())
    assert "nothing is written without it" in text and "write results/run.csv" not in text
    assert "--timeout SECONDS" in text and "--force" in text


@pytest.mark.parametrize("name,words", [
    ("class", "is a python keyword"),
    ("sin", "is taken: "),
])
def test_new_refuses_a_keyword_or_a_name_the_catalogue_has(tmp_path, capsys, monkeypatch, name, words):
    monkeypatch.chdir(ROOT)
    assert main(["new", name, "--folder", str(tmp_path)]) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / f"{name}.py").exists()


def test_new_refuses_a_name_taken_in_the_target_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "mine", "a.py", """
        from crosscheck import case, inputs

        @case(x=inputs.normal(3))
        def mine(nn, x):
            return nn.tanh(x)
    """)
    assert main(["new", "mine", "--folder", "mine"]) == 2
    assert "a.py:" in capsys.readouterr().err


def test_a_load_error_keeps_its_line_with_a_relative_cases_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "mine", "broken.py", """
        from crosscheck import case, inputs

        raise RuntimeError("not ready")
    """)
    assert main(["run", "--cases", "mine", "--backend", "core"]) == 1
    assert "broken.py:4: case file failed to load: RuntimeError: not ready" in capsys.readouterr().err


# ------------------------------------------------------------------ case files


@pytest.mark.parametrize("tags,words", [
    ('"mine"', "tags='mine' is a string, which would become one tag per letter"),
    ('{""}', "tag '' cannot be a pytest mark"),
    ('{"a:b"}', "tag 'a:b' cannot be a pytest mark"),
    ('{"not"}', "tag 'not' cannot be a pytest mark"),
])
def test_bad_tags_are_load_errors_naming_the_line(tmp_path, tags, words):
    folder = write(tmp_path / "c", "tagged.py", f"""
        from crosscheck import case, inputs

        @case(x=inputs.normal(3), tags={tags})
        def tagged(nn, x):
            return nn.tanh(x)
    """)
    _, errors = rows_of(folder)
    (error,) = errors
    assert words in str(error) and "tagged.py:4" in str(error)


def test_a_bad_tag_does_not_abort_a_strict_markers_session(pytester):
    pytester.makepyfile(tagged="""
        from crosscheck import case, inputs

        @case(x=inputs.normal(3), tags={"a:b"})
        def tagged(nn, x):
            return nn.tanh(x)

        @case(x=inputs.normal(3), tags={"fine"})
        def fine(nn, x):
            return nn.tanh(x)
    """)
    result = pytester.runpytest("--strict-markers", "--crosscheck-cases", ".", "--crosscheck-backend", "core", *INNER)
    result.assert_outcomes(failed=1)  # the file's load error: one failing test naming it, no session abort
    result.stdout.fnmatch_lines(["*tag 'a:b' cannot be a pytest mark*"])


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", b"ok_id\x00\n"])
def test_a_binary_xfails_file_is_a_usage_error(pytester, content):
    pytester.makepyfile(good="""
        from crosscheck import case, inputs

        @case(x=inputs.normal(3))
        def good(nn, x):
            return nn.tanh(x)
    """)
    (pytester.path / "known.txt").write_bytes(content)
    result = pytester.runpytest("--crosscheck-cases", ".", "--crosscheck-backend", "core", "--crosscheck-xfails",
                                "known.txt", *INNER)
    assert result.ret == 4  # pytest's usage error, not an INTERNALERROR (3)
    result.stderr.fnmatch_lines(["*known.txt is not a text file of test ids*"])


@pytest.mark.parametrize("spec,words", [
    ("inputs.fixed([1+2j, 3.0])", "complex values are not supported"),
    ("inputs.data([[1j]])", "complex values are not supported"),
    ("inputs.normal(0, 3)", "shape (0, 3) has no elements"),
    ("inputs.fixed([])", "shape (0,) has no elements"),
])
def test_complex_and_empty_inputs_are_refused_clearly(tmp_path, spec, words):
    folder = write(tmp_path / "c", "odd.py", f"""
        from crosscheck import case, inputs

        @case(x={spec})
        def odd(nn, x):
            return nn.sum(x * x)
    """)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy ComplexWarning, no imaginary part silently dropped
        rows, _ = rows_of(folder)
    assert rows and all(r.verdict == "error" and words in r.message and "odd.py" in r.message for r in rows)


def test_an_op_outside_the_vocabulary_names_no_unrelated_op(tmp_path):
    folder = write(tmp_path / "c", "bessel.py", """
        from crosscheck import case, inputs

        @case(x=inputs.normal(3), w=inputs.normal(3))
        def uses_bessel(nn, x, w):
            return nn.bessel_j0(x) * w
    """)
    rows, _ = rows_of(folder, dtypes=("float64", "float32"))
    assert len(rows) == 4
    for r in rows:
        assert "nn has no op 'bessel_j0'" in r.message
        assert "power" not in r.message and "subtract" not in r.message  # no guess, no 22-op list on every row


def test_a_float64_backward_in_a_float32_run_says_how_to_fix_it(tmp_path):
    folder = write(tmp_path / "c", "promoted.py", """
        import numpy as np
        from crosscheck import case, inputs

        @case(x=inputs.normal(3), backward=lambda g, x: {"x": g * np.float64(2.0)})
        def doubled(nn, x):
            return x * 2.0
    """)
    errors = []
    cases = discover([folder], errors)
    rows = runner.run(cases, backends=["handwritten"], dtypes=("float64", "float32"))
    by_dtype = {r.dtype: r for r in rows}
    assert by_dtype["float64"].verdict == "pass"
    assert by_dtype["float32"].verdict == "error"
    assert "is float64, the run is float32: compute in the dtype of the arrays you are given" in \
        by_dtype["float32"].message
    from crosscheck.template import TEMPLATE
    assert "a gradient that comes back float64 in a float32 run is an error row" in " ".join(TEMPLATE.split())
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "a gradient that comes back float64 in a float32 run is an `error`" in readme


def test_the_results_folder_of_run_is_only_written_when_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "c", "good.py", """
        from crosscheck import case, inputs

        @case(x=inputs.normal(3))
        def good(nn, x):
            return nn.tanh(x)
    """)
    assert main(["run", "--cases", "c", "--backend", "core"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["c"]
