"""The report: every file written, byte-identical reruns, real images, a standalone HTML, the CLI's new."""

import importlib.util
import io
import re

import pytest

from crosscheck import report, tables
from crosscheck.cli import main
from crosscheck.template import write_template

SMALL = ("sin_of_quadratic", "sigmoid_article_points", "matmul_article_check", "xor_mlp", "stack_sigmoid_2",
         "stack_relu_2", "stack_sigmoid_residual_2", "relu_at_zero", "op_abs__zero", "op_norm__l2_zero",
         "op_erf__random")
TABLES = ("rows", "summary", "pairwise", "pairwise_worst", "discrepancies", "trajectories", "gradient_flow",
          "seed_chain_rule", "seed_local_gradients", "seed_xor_gradient_check", "seed_xor_training",
          "seed_gradient_flow")
PLOTS = ("error_heatmap.png", "gradient_flow.png", "layer_norms.png", "xor_loss.png")


@pytest.fixture(scope="module")
def results(catalogue):
    cases = [catalogue[n] for n in SMALL]
    return report.compute(cases, ["core", "handwritten", "torch", "jax"], ("float64", "float32"),
                          progress=report.Progress(1, stream=io.StringIO()))


@pytest.fixture(scope="module")
def written(results, tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    report.write(results, folder)
    return folder


def test_every_file_is_written(written):
    names = {p.name for p in written.iterdir()}
    for t in TABLES:
        assert {f"{t}.csv", f"{t}.md", f"{t}.json"} <= names, t
    assert set(PLOTS) | {"report.md", "report.html", "versions.md"} <= names
    assert not [n for n in names if n.endswith(".tmp")]


def test_the_report_opens_with_the_conventions_findings(written):
    report_md = (written / "report.md").read_text()
    order = ["## Findings", "### Verdicts per backend and dtype", "### Where the frameworks disagree",
             "### Precision ranking in float32", "### Failures", "## Studies", "## Full tables"]
    assert [report_md.index(h) for h in order] == sorted(report_md.index(h) for h in order)
    csv = (written / "conventions.csv").read_text()
    assert csv.startswith("op,point,mathematics,reference (left / right),core,torch,jax,class,reason")
    assert "abs,zero" in csv and "norm,l2_zero" in csv
    if importlib.util.find_spec("jax"):  # jax's NaN at the origin of the 2-norm
        assert "NaN in one" in csv
    assert "| abs | zero |" in (written / "conventions.md").read_text()


def test_a_second_run_is_byte_identical(results, written, tmp_path):
    report.write(results, tmp_path)
    for path in written.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_tables_carry_versions_and_no_timestamps(written):
    text = (written / "rows.md").read_text()
    assert "| numpy |" in text and "| crosscheck |" in text
    assert not re.search(r"20\d\d-\d\d-\d\d|\d\d:\d\d:\d\d", "".join(p.read_text() for p in written.glob("*.csv")))


def test_plots_are_real_pngs(written):
    for name in PLOTS:
        data = (written / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, name


def test_the_html_stands_alone(written):
    html = (written / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == len(PLOTS)
    assert not re.search(r'src="(?!data:)', html)  # images embedded: no external file, no network
    anchors = [link for link in re.findall(r'href="([^"]*)"', html) if link.startswith("#")]
    assert anchors and all(f'id="{a[1:]}"' in html for a in anchors)  # the contents line: parts of the page
    links = [link for link in re.findall(r'href="([^"]*)"', html) if not link.startswith("#")]
    assert links and all("/" not in link and (written / link).is_file() for link in links)  # the tables beside it
    assert {"summary.csv", "rows.md", "verdict_counts.csv", "conventions.csv"} <= set(links)


def test_the_article_tables_match(written):
    for name in ("seed_chain_rule", "seed_local_gradients", "seed_xor_gradient_check", "seed_xor_training",
                 "seed_gradient_flow"):
        text = (written / f"{name}.csv").read_text()
        assert "False" not in text, name
    flow = (written / "seed_gradient_flow.csv").read_text()
    assert "6.22e-02" in flow and "1.44e+00" in flow and "2.06e-01" in flow


def test_the_discrepancy_table_lists_the_kinks(written):
    text = (written / "discrepancies.csv").read_text()
    assert "relu_at_zero" in text and "kink" in text and "xor_mlp" in text


def test_summary_pivot_orders_backends(written):
    header = (written / "summary.csv").read_text().splitlines()[0]
    assert header == ("case,core float64,handwritten float64,torch float64,jax float64,"
                      "core float32,handwritten float32,torch float32,jax float32")


def test_progress_bar_draws_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    bar = report.Progress(4, stream=out)
    bar.advance(2, "xor_mlp float64")
    bar.close()
    assert "2/4" in out.getvalue() and "#" * 15 in out.getvalue()


def test_report_cli_exits_non_zero_on_failure(tmp_path, capsys):
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "wrong.py").write_text(
        "from crosscheck import case, inputs\n\n"
        "@case(x=inputs.normal(3), backward=lambda g, x: {'x': 3 * g})\n"
        "def wrong(nn, x):\n    return nn.exp(x)\n")
    assert main(["report", "--cases", str(cases), "--backend", "handwritten", "--results", str(tmp_path / "out")]) == 1
    assert "fail" in (tmp_path / "out" / "discrepancies.csv").read_text()
    assert "1 cases" in capsys.readouterr().out


def test_new_writes_a_template_that_runs(tmp_path, capsys):
    assert main(["new", "my_first_case", "--folder", str(tmp_path)]) == 0
    assert main(["run", "--cases", str(tmp_path), "--backend", "core", "--backend", "handwritten"]) == 0
    assert "my_first_case" in capsys.readouterr().out
    with pytest.raises(FileExistsError):
        write_template("my_first_case", tmp_path)
    with pytest.raises(ValueError, match="identifier"):
        write_template("not-a-name", tmp_path)


def test_markdown_escapes_pipes():
    import pandas as pd

    md = tables.markdown_table(pd.DataFrame({"max |x|": ["a|b"]}))
    assert md.splitlines()[0] == "| max \\|x\\| |" and "a\\|b" in md
