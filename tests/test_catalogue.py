"""The catalogue: discovery, seeds, inputs, duplicate names, cotangents."""

import textwrap

import numpy as np
import pytest

from crosscheck import inputs
from crosscheck.catalogue import CatalogueError, case_files, discover, select
from crosscheck.compare import Tolerance
from crosscheck.inputs import InputError, seed_for


def write(folder, name, body):
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


CASE_A = """
    from crosscheck import case, inputs

    @case(x=inputs.normal(3, 2), tags={"mine"})
    def alpha(nn, x):
        return nn.tanh(x)
"""


def test_the_shipped_catalogue_loads(catalogue):
    assert {"sin_of_quadratic", "sigmoid_neuron", "xor_mlp", "stack_relu_20", "matmul", "relu"} <= set(catalogue)
    stacks = {n for n in catalogue if n.startswith("stack_") and not n.startswith("stack_regression")}
    assert stacks == {f"stack_{k}_{d}" for k in ("sigmoid", "relu", "sigmoid_residual") for d in (2, 5, 10, 15, 20)}
    for c in catalogue.values():
        assert c.file.endswith(".py") and c.line > 0


def test_seeds_come_from_names_so_adding_a_case_shifts_nothing(tmp_path):
    write(tmp_path, "a.py", CASE_A)
    before = discover([tmp_path])[0].point()["x"]
    write(tmp_path, "0_first.py", CASE_A.replace("alpha", "beta"))  # sorts before a.py
    after = {c.name: c for c in discover([tmp_path])}
    np.testing.assert_array_equal(after["alpha"].point()["x"], before)
    assert not np.array_equal(after["beta"].point()["x"], before)
    assert after["alpha"].seed("x") == seed_for("alpha", "x")


def test_duplicate_names_are_rejected_naming_both_files(tmp_path):
    write(tmp_path, "one.py", CASE_A)
    write(tmp_path, "two.py", CASE_A)
    with pytest.raises(CatalogueError) as err:
        discover([tmp_path])
    assert "one.py" in str(err.value) and "two.py" in str(err.value) and "alpha" in str(err.value)


def test_a_syntax_error_names_file_and_line(tmp_path):
    write(tmp_path, "broken.py", "x = 1\ndef oops(:\n")
    with pytest.raises(CatalogueError, match=r"broken\.py:2"):
        discover([tmp_path])


def test_an_import_error_names_the_file(tmp_path):
    write(tmp_path, "needs.py", "import not_a_module_anywhere\n")
    with pytest.raises(CatalogueError, match=r"needs\.py:1.*ModuleNotFoundError"):
        discover([tmp_path])


def test_private_files_are_not_cases(tmp_path):
    write(tmp_path, "_helpers.py", "raise RuntimeError('not a case file')\n")
    write(tmp_path, "a.py", CASE_A)
    assert [p.name for p in case_files([tmp_path])] == ["a.py"]


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(CatalogueError, match="does not exist"):
        discover([tmp_path / "nowhere"])


def test_select_by_pattern_and_tag(catalogue):
    cases = list(catalogue.values())
    assert {c.name for c in select(cases, pattern="stack_relu_*")} == {f"stack_relu_{n}" for n in (2, 5, 10, 15, 20)}
    assert all("kinks" in c.tags for c in select(cases, tags=["kinks"]))
    assert {c.name for c in select(cases, pattern="xor")} == {"xor_mlp"}


def test_non_scalar_outputs_get_a_seeded_random_cotangent(catalogue):
    c = catalogue["add"]
    cot = c.cotangent_for((3, 4), "float64")
    assert not np.allclose(cot, 1.0)
    np.testing.assert_array_equal(cot, c.cotangent_for((3, 4), "float64"))
    assert c.cotangent_for((3, 4), "float32").dtype == np.float32


def test_fixed_points_and_data_inputs(catalogue):
    xor = catalogue["xor_mlp"]
    assert xor.wrt == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert xor.point()["X"].tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert catalogue["sin_of_quadratic"].point("float32")["x"].dtype == np.float32


@pytest.mark.parametrize("make,words", [
    (lambda: inputs.normal(3, -1), "non-negative"),
    (lambda: inputs.normal(2.5), "integer"),
    (lambda: inputs.normal(3, scale=0), "scale"),
    (lambda: inputs.uniform(3, low=1, high=0), "low < high"),
    (lambda: inputs.fixed("abc"), "numeric"),
    (lambda: inputs.fixed([1.0, 2.0], shape=(3,)), "the case expects"),
])
def test_invalid_input_specs_say_what_is_wrong(make, words):
    spec = make()
    assert words in spec.check()
    with pytest.raises(InputError, match=words):
        spec.sample(0)


def test_a_bad_spec_makes_an_error_case_and_the_file_still_loads(tmp_path):
    write(tmp_path, "bad.py", CASE_A.replace("inputs.normal(3, 2)", "inputs.normal(3, -2)") +
          CASE_A.replace("alpha", "beta"))
    alpha, beta = discover([tmp_path])
    assert "input 'x'" in alpha.error and "non-negative" in alpha.error
    assert beta.error == ""


def test_tolerance_is_keyword_only_and_needs_both():
    with pytest.raises(TypeError):
        Tolerance(1e-5, 1e-3)
    with pytest.raises(TypeError):
        Tolerance(atol=1e-5)
    with pytest.raises(ValueError, match="rtol"):
        Tolerance(atol=1e-5, rtol=-1)


def test_per_case_tolerance_override(tmp_path):
    write(tmp_path, "t.py", """
        from crosscheck import case, inputs, Tolerance

        @case(x=inputs.normal(2), tolerance={"float32": Tolerance(atol=1e-3, rtol=1e-2)})
        def loose32(nn, x):
            return nn.exp(x)
    """)
    (c,) = discover([tmp_path])
    assert c.tolerance("float32") == Tolerance(atol=1e-3, rtol=1e-2)
    assert c.tolerance("float64") != c.tolerance("float32")
