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
from crosscheck.cli import main
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
        raise RuntimeError("not <b>ready</b> | yet")

    @case(x=inputs.fixed([0.0, 1.0]))
    def kinked(nn, x):
        return nn.relu(x)
"""


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The user's folder through ``crosscheck report --cases DIR`` (exit 1: a gradient failed)."""
    folder = tmp_path_factory.mktemp("view")
    (folder / "cases").mkdir()
    (folder / "cases" / "mine.py").write_text(textwrap.dedent(CASES))
    assert main(["report", "--cases", str(folder / "cases"), "--backend", "core", "--backend", "handwritten",
                 "--dtype", "float64", "--results", str(folder / "results")]) == 1
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


def test_the_planted_failure_is_a_finding_with_its_message(written):
    """The wrong hand-written backward: in the findings (report.md and report.html) with its message, and a red
    cell in the verdict grid."""
    md = (written / "report.md").read_text()
    findings = md[md.index("## Findings"):md.index("## Full tables")]
    assert re.search(r"^\| wrong \| x \| handwritten \| float64 \| rev \| fail \| case 'wrong', parameter 'x', backend "
                     r"handwritten, dtype float64: 3 of 3 elements outside tolerance; worst at x\[0\]", findings, re.M)
    assert re.search(r"^\| broken \| x \| core \| float64 \| rev \| error \| .*RuntimeError: not &lt;b&gt;ready&lt;/b&gt; "
                     r"\\\| yet \|$", findings, re.M)  # HTML and a pipe in a message: text in one cell
    page = (written / "report.html").read_text()
    section = page[page.index('<section id="findings">'):page.index("</section>")]
    assert "not &lt;b&gt;ready&lt;/b&gt; | yet" in section and "<b>ready</b>" not in page
    assert '<td class="v-fail">fail</td></tr>' in section  # its message on the line under the row:
    assert '<b>message:</b> case &#39;wrong&#39;, parameter &#39;x&#39;, backend handwritten' in section
    grid = re.search(r'<table class="" data-filter="grid" data-grid>.*?</table>', page, re.S).group(0)
    header = re.findall(r"<th>([^<]*)</th>", grid)
    wrong = re.search(r"<tr><td>wrong</td>(.*?)</tr>", grid).group(1)
    cells = re.findall(r"<td(?: class=\"([^\"]*)\")?>([^<]*)</td>", wrong)
    assert cells[header.index("handwritten float64") - 1] == ("v-fail", "fail")


def test_report_md_renders_as_meant(written):
    """report.md through a CommonMark renderer with tables (as GitHub's): one <table> per Markdown table, every
    row with the header's cells, no markup from a message, and each "Full table:" line a paragraph of its own."""
    markdown_it = pytest.importorskip("markdown_it")
    text = (written / "report.md").read_text()
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(text)
    assert rendered.count("<table>") == len(re.findall(r"^\|---", text, re.M)) >= 6
    for table in re.findall(r"<table>.*?</table>", rendered, re.S):
        widths = {len(re.findall(r"<t[hd]", row)) for row in re.findall(r"<tr>.*?</tr>", table, re.S)}
        assert len(widths) == 1, table[:300]
    assert "<b>ready</b>" not in rendered and "&lt;b&gt;ready&lt;/b&gt; | yet" in rendered
    assert rendered.count("<p>Full table:") == text.count("\nFull table:")
    headings = re.findall(r"<h2>(.*?)</h2>", rendered)
    assert headings[0] == "Findings" and headings[-1] == "Full tables"


def test_markdown_escapes_html_and_pipes_in_case_names(tmp_path):
    import pandas as pd

    doc = report.Document()
    doc.table(pd.DataFrame([{"case": "a|b<script>x</script>", "verdict": "fail"}]), "rows")
    doc.text("after")
    text = doc.markdown()
    assert "| a\\|b&lt;script&gt;x&lt;/script&gt; | fail |" in text and "<script>" not in text
    assert "|\n\nFull table:" in text and text.rstrip().endswith("after")
    assert "&lt;script&gt;" in doc.html() and "<td>a|b<script>" not in doc.html()


def test_a_raw_block_goes_as_is_into_each_format():
    doc = report.Document()
    doc.raw('<div id="x">figure</div>', "*figure*")
    assert '<div id="x">figure</div>' in doc.html() and "*figure*" in doc.markdown()
    assert "*figure*" not in doc.html() and "<div" not in doc.markdown()


# What a reader sees, recorded by the browser on the page: the first part, each verdict cell's colour, each
# image's decoded size, the page's width against the window's, and the long table's filter at work.
SEES = """
const b = document.body, first = document.querySelector('body > section');
b.setAttribute('data-first-part', first ? first.id : 'none');
const findings = document.getElementById('findings');
b.setAttribute('data-findings-top', findings ? Math.round(findings.getBoundingClientRect().top) : -1);
for (const td of document.querySelectorAll('td[class^="v-"]'))
  td.setAttribute('data-seen-bg', getComputedStyle(td).backgroundColor);
for (const img of document.querySelectorAll('img'))
  img.setAttribute('data-seen-size', img.complete ? img.naturalWidth + 'x' + img.naturalHeight : 'none');
for (const a of document.querySelectorAll('a'))
  a.setAttribute('data-seen-href', a.href);
b.setAttribute('data-widths', document.documentElement.scrollWidth + ' ' + window.innerWidth);
const form = document.querySelector('form.filter[data-target="rows"]');
if (form) {
  const rows = [...document.querySelectorAll('table[data-filter="rows"] tbody tr')];
  const visible = () => rows.filter(r => !r.hidden).length;
  const before = visible();
  form.elements.verdict.value = 'fail';
  form.elements.verdict.dispatchEvent(new Event('input', {bubbles: true}));
  const fails = visible();
  form.elements.verdict.value = '';
  form.elements.case.value = 'kink';
  form.elements.case.dispatchEvent(new Event('input', {bubbles: true}));
  b.setAttribute('data-filtered', before + ' ' + fails + ' ' + visible() + ' ' + form.querySelector('output').textContent);
}
b.setAttribute('data-probed', 'yes');
"""
DESKTOP, NARROW = (1366, 768), (500, 900)  # 500: headless Chromium's narrowest window


def _rgb(hex_colour):
    return "rgb(" + ", ".join(str(int(hex_colour[i:i + 2], 16)) for i in (1, 3, 5)) + ")"


def problems(dom):
    """What a reader would miss on the page, as sentences (empty: the page is as it should be)."""
    found = []
    if 'data-probed="yes"' not in dom:
        return ["the probe did not run"]
    first = re.search(r'data-first-part="([^"]*)"', dom).group(1)
    if first != "findings":
        found.append(f"the findings section is not first (first part: {first})")
    seen = {(m.group(1), m.group(2)) for m in re.finditer(r'class="v-([a-z-]+)" data-seen-bg="([^"]+)"', dom)}
    if not seen:
        found.append("no coloured verdict cell")
    found += [f"a {v} cell shows {c}" for v, c in sorted(seen) if c != _rgb(plots.VERDICT_COLOURS[v])]
    sizes = re.findall(r'data-seen-size="([^"]+)"', dom)
    if not sizes:
        found.append("no image")
    found += [f"image {i} did not load ({s})" for i, s in enumerate(sizes) if not re.fullmatch(r"[1-9]\d*x[1-9]\d*", s)]
    page_width, window = map(int, re.search(r'data-widths="(\d+) (\d+)"', dom).groups())
    if page_width > window:
        found.append(f"horizontal overflow: the page is {page_width} px wide in a {window} px window")
    return found


@pytest.fixture(scope="module")
def seen(written):
    if browser.skip_reason() is not None:
        pytest.skip(browser.skip_reason())
    return {size: browser.probe(written / "report.html", SEES, size=size) for size in (DESKTOP, NARROW)}


def test_report_html_in_a_real_browser(written, seen, tmp_path_factory, record_property):
    for size, dom in seen.items():
        assert problems(dom) == [], size
        assert re.search(r'data-widths="\d+ (\d+)"', dom).group(1) == str(size[0])  # the window we asked for
    dom = seen[DESKTOP]
    verdicts = set(re.findall(r'class="v-([a-z-]+)" data-seen-bg=', dom))
    assert {"pass", "fail", "error", "kink"} <= verdicts
    assert 0 <= int(re.search(r'data-findings-top="(-?\d+)"', dom).group(1)) < DESKTOP[1]  # on the first screen
    hrefs = [html_lib.unescape(h) for h in re.findall(r'data-seen-href="([^"]+)"', dom)]
    assert any(h.endswith("/summary.csv") for h in hrefs) and any(h.endswith("/rows.csv") for h in hrefs)
    for href in hrefs:  # each link resolves to a table beside the report, or to a part of the page
        path, _, anchor = href[len("file://"):].partition("#")
        if anchor:
            assert f'id="{anchor}"' in dom, href
        else:
            assert href.startswith("file://") and Path(path).is_file(), href
    # the filter: 11 rows (5 gradients, and the core's J·v and H·v of the three cases it computes); 1 fail; the case
    # "kinked" has 3 rows (the core in three modes; handwritten has no backward for it)
    assert re.search(r'data-filtered="11 1 3 3 of 11 rows shown"', dom), re.search(r'data-filtered="[^"]*"', dom)
    artifacts = tmp_path_factory.mktemp("artifacts")
    for name, size in (("desktop", DESKTOP), ("narrow", NARROW)):
        shot = browser.screenshot(written / "report.html", artifacts / f"report-{name}.png", size=size)
        record_property(f"screenshot-{name}", str(shot))
        print(f"screenshot of report.html at {size[0]}x{size[1]}: {shot}")
    pixels = _pixels((artifacts / "report-desktop.png").read_bytes())
    assert _has_colour(pixels, plots.VERDICT_COLOURS["fail"]) and _has_colour(pixels, plots.VERDICT_COLOURS["pass"])


def test_the_browser_check_fails_on_a_broken_page(written, tmp_path):
    """The same check on a page broken on purpose: an image that does not load, the findings section gone, a
    line too wide for the narrow window, the colour of a verdict lost."""
    if browser.skip_reason() is not None:
        pytest.skip(browser.skip_reason())
    page = (written / "report.html").read_text()
    start, end = page.index('<section id="findings">'), page.index("</section>") + len("</section>")
    broken = page.replace('src="data:image/png;base64,', 'src="data:image/png;base64,broken', 1)
    broken = broken[:start] + broken[end:]
    broken = broken.replace("</body>", '<div style="width:1600px">a wide line</div></body>')
    broken = broken.replace(".v-fail{background:", ".v-gone{background:")  # the failures' colour lost
    for name in ("summary.csv", "rows.csv"):  # the links resolve beside it
        (tmp_path / name).write_text((written / name).read_text())
    (tmp_path / "report.html").write_text(broken)
    found = problems(browser.probe(tmp_path / "report.html", SEES, size=NARROW))
    assert any(p.startswith("the findings section is not first") for p in found), found
    assert any(p.startswith("image 0 did not load") for p in found), found
    assert any(p.startswith("horizontal overflow") for p in found), found
    assert any(p.startswith("a fail cell shows rgba(0, 0, 0, 0)") for p in found), found


def test_the_screenshot_script_draws_the_readme_pictures(written, tmp_path):
    """scripts/screenshots.py: two PNGs of the asked sizes, and exit 1 on a page whose first screen lacks the
    verdict counts."""
    if browser.skip_reason() is not None:
        pytest.skip(browser.skip_reason())
    import importlib.util

    spec = importlib.util.spec_from_file_location("screenshots", Path(__file__).parent.parent / "scripts" /
                                                  "screenshots.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--report", str(written / "report.html"), "--out", str(tmp_path / "shots")]) == 0
    for name, (width, height) in script.SHOTS.items():
        assert _pixels((tmp_path / "shots" / name).read_bytes()).shape[:2] == (height, width), name
    page = (written / "report.html").read_text()
    start = page.index('<h3 id="verdicts-per-backend-and-dtype">')
    (tmp_path / "report.html").write_text(page[:start] + '<div style="height:2000px"></div>' + page[start:])
    assert script.main(["--report", str(tmp_path / "report.html"), "--out", str(tmp_path / "pushed")]) == 1
