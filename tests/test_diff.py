"""crosscheck diff: planted changes between two results folders are listed, and the exit code says whether a
verdict changed."""

import csv
import io
from pathlib import Path

import pytest

from crosscheck import diff, runner, tables
from crosscheck.cli import main


@pytest.fixture(scope="module")
def rows_csv(catalogue):
    rows = runner.run([catalogue[n] for n in ("tanh", "relu_at_zero", "maximum_tie", "matmul")],
                      backends=["core"], modes=("rev",))
    return tables.to_csv(rows)


def _folder(path, text, name="rows.csv"):
    path.mkdir()
    (path / name).write_text(text)
    return path


def _edit(text, match, **changes):
    """The CSV with the row matching ``match`` (column -> value) changed."""
    reader = csv.DictReader(io.StringIO(text))
    out = io.StringIO()
    writer = csv.DictWriter(out, reader.fieldnames, lineterminator="\n")
    writer.writeheader()
    hits = 0
    for row in reader:
        if all(row[k] == v for k, v in match.items()):
            row.update(changes)
            hits += 1
        writer.writerow(row)
    assert hits == 1
    return out.getvalue()


def test_identical_folders_have_no_changes(tmp_path, rows_csv, capsys):
    a, b = _folder(tmp_path / "a", rows_csv), _folder(tmp_path / "b", rows_csv, name="run.csv")
    assert main(["diff", str(a), str(b)]) == 0
    assert capsys.readouterr().out.endswith(": no changes\n")


def test_a_planted_verdict_change_is_listed_and_exits_1(tmp_path, rows_csv, capsys):
    changed = _edit(rows_csv, {"case": "tanh", "dtype": "float32"}, verdict="fail")
    a, b = _folder(tmp_path / "a", rows_csv), _folder(tmp_path / "b", changed)
    assert main(["diff", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "1 verdict" in out.splitlines()[0]
    assert "| verdict | tanh | x | core | float32 | rev | pass | fail |" in out
    assert main(["diff", str(a / "rows.csv"), str(b / "rows.csv")]) == 1  # the files themselves work too


def test_a_gradient_moved_beyond_tolerance_is_listed_without_failing(tmp_path, rows_csv, capsys):
    matmul = [r for r in csv.DictReader(io.StringIO(rows_csv)) if r["case"] == "matmul" and r["dtype"] == "float64"]
    first = matmul[0]
    value = float(first["value"])
    allowed = float(first["atol"]) + float(first["rtol"]) * abs(float(first["expected"]))
    inside = _edit(rows_csv, {"case": "matmul", "dtype": "float64", "param": first["param"]},
                   value=f"{value + 0.5 * allowed:.10g}")
    # beyond the tolerance, and visible at the 10 digits rows.csv keeps (the oracle's tolerance is ~1e-11)
    outside = _edit(rows_csv, {"case": "matmul", "dtype": "float64", "param": first["param"]},
                    value=f"{value + max(3 * allowed, 1e-8 * abs(value)):.10g}")
    a = _folder(tmp_path / "a", rows_csv)
    assert main(["diff", str(a), str(_folder(tmp_path / "in", inside))]) == 0
    assert capsys.readouterr().out.endswith("no changes\n")
    assert main(["diff", str(a), str(_folder(tmp_path / "out", outside))]) == 0  # no verdict changed
    out = capsys.readouterr().out
    assert f"| gradient | matmul | {first['param']} | core | float64 | rev | value {first['value']} |" in out


def test_a_kink_convention_change_and_a_binding_change_are_named(tmp_path, rows_csv, capsys):
    kink = [r for r in csv.DictReader(io.StringIO(rows_csv)) if r["case"] == "relu_at_zero" and r["dtype"] == "float64"]
    assert kink[0]["verdict"] == "kink"
    # the backend now takes the right derivative at relu(0): a different subgradient, still a kink
    changed = _edit(rows_csv, {"case": "relu_at_zero", "dtype": "float64"},
                    value=f"{float(kink[0]['value']) - 0.25:.10g}")
    changed = _edit(changed, {"case": "tanh", "dtype": "float64"}, note="tanh: composed")
    a, b = _folder(tmp_path / "a", rows_csv), _folder(tmp_path / "b", changed)
    assert main(["diff", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "| convention | relu_at_zero | x | core | float64 | rev |" in out
    assert "| binding | tanh | x | core | float64 | rev |  | tanh: composed |" in out


def test_rows_in_one_folder_only_are_added_or_removed(tmp_path, rows_csv, capsys):
    lines = rows_csv.splitlines(keepends=True)
    fewer = "".join(line for line in lines if not line.startswith("tanh,"))
    a, b = _folder(tmp_path / "a", fewer), _folder(tmp_path / "b", rows_csv)
    assert main(["diff", str(a), str(b)]) == 0
    assert "| added | tanh | x | core | float64 | rev |  | pass |" in capsys.readouterr().out
    assert main(["diff", str(b), str(a)]) == 0
    assert "| removed | tanh | x | core | float64 | rev | pass |  |" in capsys.readouterr().out


def test_bad_arguments_exit_2_with_the_reason(tmp_path, rows_csv, capsys):
    a = _folder(tmp_path / "a", rows_csv)
    assert main(["diff", str(a), str(tmp_path / "nowhere")]) == 2
    assert "no such results folder or file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["diff", str(a), str(tmp_path / "empty")]) == 2
    assert "no rows.csv (crosscheck report) or run.csv" in capsys.readouterr().err
    _folder(tmp_path / "other", "a,b\n1,2\n")
    assert main(["diff", str(a), str(tmp_path / "other")]) == 2
    assert "not a crosscheck rows table (no column case" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:
        main(["diff", str(a)])
    assert exit.value.code == 2


def test_the_committed_results_diff_cleanly_against_themselves(capsys):
    results = Path(__file__).resolve().parent.parent / "results"
    if not (results / "rows.csv").exists():
        pytest.skip("no committed results")
    assert main(["diff", str(results), str(results)]) == 0
    assert capsys.readouterr().out.endswith("no changes\n")
    assert diff.verdicts_changed([]) is False


def test_rows_of_different_modes_are_told_apart(tmp_path, catalogue, capsys):
    """The same (case, param, backend, dtype) in the three modes is three rows: a verdict changed in H·v alone is
    listed as such, not hidden behind the gradient's row (a table without a mode column reads as rev)."""
    text = tables.to_csv(runner.run([catalogue["tanh"]], backends=["core"], dtypes=("float64",)))
    changed = _edit(text, {"mode": "hvp"}, verdict="fail")
    assert main(["diff", str(_folder(tmp_path / "a", text)), str(_folder(tmp_path / "b", changed))]) == 1
    assert "| verdict | tanh | x | core | float64 | hvp | pass | fail |" in capsys.readouterr().out
    old = "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != 4) for line in text.splitlines())
    assert set(diff.read_rows(_folder(tmp_path / "old", old + "\n"))) == {("tanh", "x", "core", "float64", "rev")}
