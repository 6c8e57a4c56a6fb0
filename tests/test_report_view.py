"""What a reader of the report sees: Markdown that renders as meant, a legend, the binding notes, colours for
verdicts (in the heatmap and in report.html), links to the tables, and the page in a real browser."""

import html as html_lib
import math
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from crosscheck import plots, report
from crosscheck.catalogue import discover
from crosscheck.compare import Row

from . import browser

# A user's folder: a pass, a fail, an error and a kink — and none of the article's cases.
CASES = """
    import numpy as np
    from crosscheck import case, inputs

    @case(x=inputs.normal(3))
    def fine(nn, x):
        return nn.tanh(x)

    @case(x=inputs.normal(3), backward=lambda g, x: {"x": g * 2 * np.cos(x)})
    def wrong(nn, x):
        return nn.sin(x)

    @case(x=inputs.normal(3))
    def broken(nn, x):
        raise RuntimeError("not ready")

    @case(x=inputs.fixed([0.0, 1.0]))
    def kinked(nn, x):
        return nn.relu(x)
"""


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("view")
    (folder / "cases").mkdir()
    (folder / "cases" / "mine.py").write_text(textwrap.dedent(CASES))
    cases = discover([folder / "cases"])
    results = report.compute(cases, ["core", "handwritten"], ("float64",))
    report.write(results, folder / "results")
    return folder / "results"


def test_a_full_table_line_is_not_a_table_row(written):
    lines = (written / "report.md").read_text().splitlines()
    full = [i for i, line in enumerate(lines) if line.startswith("Full table:")]
    assert full and all(lines[i - 1] == "" for i in full)


def test_no_article_heading_for_a_users_folder(written):
    text = (written / "report.md").read_text()
    assert "The article's figures" not in text and "seed_chain_rule" not in text


def test_the_report_has_a_verdict_legend(written):
    text = (written / "report.md").read_text()
    assert "What the verdicts mean:" in text
    for verdict in ("pass", "fail", "kink", "error", "nan", "skipped", "expected-discrepancy"):
        assert re.search(rf"^\| {re.escape(verdict)} \| .+ \| (yes|no) \|$", text, re.M), verdict


def test_the_binding_notes_are_in_the_report(written):
    results = report.Results([Row("c", "x", b, "float64", "pass") for b in ("core", "torch", "jax")], [], [], [],
                             [], {})
    _, doc = report.build(results)
    text = doc.markdown()
    assert "## How each framework computes an op" in text
    assert re.search(r"^\| softmax_cross_entropy \| F\.cross_entropy.* \| -jnp\.mean\(jnp\.sum\(target", text, re.M)
    assert re.search(r"^\| mean_squared_error \| native \| jnp\.mean", text, re.M)


def _pixels(png_bytes):
    import io

    import matplotlib.image

    return (matplotlib.image.imread(io.BytesIO(png_bytes))[..., :3] * 255).round().astype(int)


def _has_colour(pixels, hex_colour, at_least=20):
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int(np.sum(np.all(np.abs(pixels - rgb) <= 2, axis=-1))) >= at_least


def test_the_heatmap_paints_and_labels_error_cells(written):
    import pandas as pd

    long = pd.read_csv(written / "rows.csv", dtype=str, keep_default_na=False)
    assert "error" in set(long["verdict"])
    assert _has_colour(_pixels(plots.error_heatmap(long)), plots.VERDICT_COLOURS["error"])


def test_ten_percent_of_the_tolerance_is_green_and_a_failure_red():
    cmap, norm = plots.error_colours()
    for ratio in (1e-6, 1e-3, 0.1, 0.5, 0.9):
        r, g, b, _ = cmap(norm(math.log10(ratio)))
        assert g > r + 0.1, (ratio, r, g, b)  # a pass is green, however close to the tolerance
    for ratio in (1.5, 10, 100):
        r, g, b, _ = cmap(norm(math.log10(ratio)))
        assert r > g + 0.3, (ratio, r, g, b)


def test_report_html_colours_verdicts_and_links_the_tables(written):
    page = (written / "report.html").read_text()
    for verdict in ("pass", "fail", "error", "kink"):
        assert f'<td class="v-{verdict}">{verdict}</td>' in page
        assert f".v-{verdict}{{background:{plots.VERDICT_COLOURS[verdict]}}}" in page
    assert "unjudged" in plots.VERDICT_COLOURS
    for name in ("summary", "discrepancies"):
        assert f'<a href="{name}.csv">' in page and (written / f"{name}.csv").is_file()


PROBE = """
for (const td of document.querySelectorAll('td[class^="v-"]'))
  td.setAttribute('data-seen-bg', getComputedStyle(td).backgroundColor);
for (const img of document.querySelectorAll('img'))
  img.setAttribute('data-seen-size', img.complete ? img.naturalWidth + 'x' + img.naturalHeight : 'none');
for (const a of document.querySelectorAll('a'))
  a.setAttribute('data-seen-href', a.href);
document.body.setAttribute('data-probed', 'yes');
"""


def _rgb(hex_colour):
    return "rgb(" + ", ".join(str(int(hex_colour[i:i + 2], 16)) for i in (1, 3, 5)) + ")"


@pytest.mark.skipif(browser.skip_reason() is not None, reason=str(browser.skip_reason()))
def test_report_html_in_a_real_browser(written, tmp_path_factory, record_property):
    dom = browser.probe(written / "report.html", PROBE)
    assert 'data-probed="yes"' in dom
    seen = {(m.group(1), m.group(2)) for m in re.finditer(r'class="v-([a-z-]+)" data-seen-bg="([^"]+)"', dom)}
    verdicts = {v for v, _ in seen}
    assert {"pass", "fail", "error", "kink"} <= verdicts
    for verdict, colour in seen:  # every verdict cell shows its colour, as the browser computed it
        assert colour == _rgb(plots.VERDICT_COLOURS[verdict]), (verdict, colour)
    sizes = re.findall(r'data-seen-size="([^"]+)"', dom)
    assert sizes and all(re.fullmatch(r"[1-9]\d*x[1-9]\d*", s) for s in sizes), sizes  # every image decoded
    hrefs = [html_lib.unescape(h) for h in re.findall(r'data-seen-href="([^"]+)"', dom)]
    assert any(h.endswith("/summary.csv") for h in hrefs)
    for href in hrefs:  # each link resolves to a table beside the report
        assert href.startswith("file://") and Path(href[len("file://"):]).is_file(), href
    shot = browser.screenshot(written / "report.html", tmp_path_factory.mktemp("artifacts") / "report.png")
    record_property("screenshot", str(shot))
    print(f"screenshot of report.html: {shot}")
    pixels = _pixels(shot.read_bytes())
    assert _has_colour(pixels, plots.VERDICT_COLOURS["fail"]) and _has_colour(pixels, plots.VERDICT_COLOURS["pass"])
