"""report.html as a page people read: one self-contained file rendered from a Jinja2 template.

The report's blocks (:class:`crosscheck.report.Document`) come in as they are; here they become parts with
anchors and a contents line, tables with a coloured cell per verdict (a legend beside them), rows collapsed
into ``<details>``, a filter over the long tables (case / backend / dtype / verdict: a few lines of inline
JavaScript, nothing fetched), and images embedded as data URIs. No CDN, no network, no timestamp: the same
blocks give the same bytes.
"""

from __future__ import annotations

import base64
import html
import re

#: verdict colours, the same as the plots' (crosscheck.plots.VERDICT_COLOURS), passed in by the caller
STYLE = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;
 max-width:1280px;margin:0 auto;padding:10px 18px 40px}
h1{font-size:22px;margin:6px 0 2px}
h2{font-size:19px;margin:26px 0 6px;padding-top:8px;border-top:3px solid #d0d7de}
h3{font-size:16px;margin:18px 0 4px}
p{margin:4px 0 8px;overflow-wrap:anywhere}
nav.parts{font-size:13px;margin:0 0 6px}nav.parts a{margin-right:12px}
section#findings h2{border-top-color:#1f6feb}
code{background:#f3f4f6;padding:0 3px;border-radius:3px;font-size:12.5px}
.wrap{max-width:100%;overflow-x:auto;margin:4px 0 2px}
table{border-collapse:collapse;font-size:12.5px}
th,td{border:1px solid #d0d7de;padding:2px 7px;text-align:left;vertical-align:top}
th{background:#f0f3f6;position:sticky;top:0;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.zero{color:#9aa1a9;text-align:right}
td.long{min-width:22em;max-width:48em}
tr.below td{border-top:none;color:#3d444d;font-size:12px;padding:0 7px 5px 18px;background:#fafbfc}
td.true{color:#1a7f37}td.false{color:#cf222e;font-weight:600}
table.counts td{text-align:right;min-width:4.2em;font-variant-numeric:tabular-nums}
table.counts td:first-child,table.counts td:nth-child(2){text-align:left;min-width:0}
p.links{font-size:12.5px;margin:2px 0 10px;color:#57606a}
p.legend{font-size:12.5px;margin:4px 0 6px}
.chip{display:inline-block;padding:0 6px;margin:1px 2px;border-radius:3px;border:1px solid #c8ced6}
details{margin:4px 0 10px}summary{cursor:pointer;font-size:13px;color:#0550ae}
form.filter{display:flex;flex-wrap:wrap;gap:4px 12px;align-items:center;font-size:12.5px;margin:6px 0 2px;
 padding:5px 8px;background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px}
form.filter input{width:12em}form.filter output{color:#57606a}
figure{margin:8px 0 14px}figure img{max-width:100%;height:auto;display:block}
figcaption{font-size:12.5px;color:#57606a}
@media (max-width:700px){body{padding:6px 8px}h1{font-size:19px}td.long{min-width:14em}}
"""

#: the filter: each form names a group of tables (data-filter); a grid (case × "backend dtype" columns) hides
#: columns by backend / dtype and keeps rows where a shown cell has the verdict
SCRIPT = """
for (const f of document.querySelectorAll('form.filter')) {
  const tables = [...document.querySelectorAll('table[data-filter="' + f.dataset.target + '"]')];
  const run = () => {
    const want = {};
    for (const el of f.elements) if (el.name) want[el.name] = el.value.trim().toLowerCase();
    let shown = 0, total = 0;
    for (const t of tables) {
      const heads = [...t.tHead.rows[0].cells].map(c => c.textContent.toLowerCase());
      const grid = 'grid' in t.dataset;
      if (grid) heads.forEach((h, i) => {
        if (i === 0) return;
        const [b, d] = h.split(' ');
        const hide = (want.backend && b !== want.backend) || (want.dtype && d !== want.dtype);
        for (const r of t.rows) r.cells[i].hidden = hide;
      });
      for (const r of t.tBodies[0].rows) {
        const cells = [...r.cells], at = n => heads.indexOf(n);
        const text = n => at(n) < 0 ? '' : cells[at(n)].textContent.toLowerCase();
        let ok = !want.case || text('case').includes(want.case);
        if (!grid) for (const k of ['backend', 'dtype']) if (want[k] && text(k) !== want[k]) ok = false;
        if (want.verdict) {
          const vs = grid ? cells.slice(1).filter(c => !c.hidden).map(c => c.textContent) : [text('verdict')];
          ok = ok && (want.verdict === '!pass' ? vs.some(v => v && v !== 'pass') : vs.includes(want.verdict));
        }
        r.hidden = !ok; shown += ok; total += 1;
      }
    }
    f.querySelector('output').textContent = shown + ' of ' + total + ' rows shown';
  };
  f.addEventListener('input', run);
  run();
}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>{{ style }}</style></head>
<body>
{% macro table(t) -%}
{% if t.filter %}<form class="filter" data-target="{{ t.filter }}" onsubmit="return false">
<label>case <input type="search" name="case" placeholder="contains…"></label>
{%- for name, values in t.selects %}
<label>{{ name }} <select name="{{ name }}"><option value="">all</option>
{%- if name == "verdict" %}<option value="!pass">any but pass</option>{% endif %}
{%- for v in values %}<option>{{ v }}</option>{% endfor %}</select></label>
{%- endfor %}
<output>{{ t.count }} of {{ t.count }} rows shown</output></form>
{% endif -%}
{% for part in t.parts -%}
{% if part.summary %}<details><summary>{{ part.summary }}</summary>{% endif %}
<div class="wrap"><table class="{{ t.css }}"{% if t.filter %} data-filter="{{ t.filter }}"{% endif %}
{%- if t.grid %} data-grid{% endif %}>
<thead><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>
{{ part.rows }}</tbody></table></div>
{% if part.summary %}</details>{% endif %}
{% endfor -%}
{% if t.link %}<p class="links">Full table: <a href="{{ t.link }}.csv">{{ t.link }}.csv</a> · <a href="{{ t.link }}.md">.md</a> · <a href="{{ t.link }}.json">.json</a></p>
{% endif %}
{%- endmacro %}
{% for b in blocks -%}
{% if b.kind == "open" %}<section id="{{ b.anchor }}">
{% elif b.kind == "close" %}</section>
{% elif b.kind == "heading" %}<h{{ b.level }}{% if b.anchor %} id="{{ b.anchor }}"{% endif %}>{{ b.text }}</h{{ b.level }}>
{% if b.nav %}<nav class="parts">{% for anchor, title in nav %}<a href="#{{ anchor }}">{{ title }}</a>{% endfor %}</nav>
{% endif %}
{% elif b.kind == "text" %}<p>{{ b.html }}</p>
{% elif b.kind == "raw" %}{{ b.html }}
{% elif b.kind == "image" %}<figure><img alt="{{ b.caption }}" src="data:image/png;base64,{{ b.data }}"><figcaption>{{ b.caption }}</figcaption></figure>
{% elif b.kind == "table" %}{{ table(b) }}
{% endif %}
{%- endfor %}
<script>{{ script }}</script>
</body></html>
"""

_NUMBER = re.compile(r"^[-+]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?%?$|^(nan|inf|-inf)$", re.I)
#: a table's select filters, in this order, for the columns it has
SELECTS = ("backend", "dtype", "verdict")


def inline(text):
    """Plain text with `code` spans, as safe HTML."""
    from markupsafe import Markup

    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False)))


def _cell_class(value, column, verdicts, classes):
    if column in classes:
        return classes[column](value)
    if value in verdicts:
        return f"v-{value}"
    if value in ("True", "False"):  # the article's tables: does crosscheck match the article?
        return value.lower()
    if _NUMBER.match(value):
        return "num"
    if len(value) > 80:
        return "long"
    return None


def _row_html(cells, below, width):
    """One table row (and its lines below), escaped: built here rather than in the template, since a long
    table has thousands of rows."""
    from markupsafe import escape  # as the template escapes

    out = "<tr>" + "".join(f'<td class="{cls}">{escape(text)}</td>' if cls else f"<td>{escape(text)}</td>"
                           for text, cls in cells) + "</tr>\n"
    for name, text in below:
        out += f'<tr class="below"><td colspan="{width}"><b>{escape(name)}:</b> {escape(text)}</td></tr>\n'
    return out


def _join(rows):
    from markupsafe import Markup

    return Markup("".join(rows))


def table_block(df, link, options, verdicts):
    """The template's view of one table: columns, cells with their classes, parts (shown / collapsed)."""
    below = [str(c) for c in options.get("below", ()) if c in df.columns]
    columns = [str(c) for c in df.columns if str(c) not in below]
    classes = options.get("classes", {})
    names = [str(c) for c in df.columns]
    shown, under = [names.index(c) for c in columns], [names.index(c) for c in below]
    rows = []
    for values in df.to_numpy(dtype=object).tolist():
        values = [str(v) for v in values]  # as written (a missing value: nan)
        rows.append(([(values[i], _cell_class(values[i], names[i], verdicts, classes)) for i in shown],
                     [(names[i], values[i]) for i in under if values[i]]))
    rows = [_row_html(cells, below, len(columns)) for cells, below in rows]
    collapse = options.get("collapse")  # (mask of rows to fold away, summary line)
    if collapse is not None:
        mask, summary = collapse
        shown = [r for r, folded in zip(rows, mask) if not folded]
        folded = [r for r, folded in zip(rows, mask) if folded]
        parts = [{"rows": _join(shown), "summary": None}] + ([{"rows": _join(folded), "summary": summary}]
                                                             if folded else [])
    else:
        parts = [{"rows": _join(rows), "summary": None}]
    grid = bool(options.get("grid"))
    selects = []
    if options.get("filter"):
        for name in SELECTS:
            if name in columns:
                values = sorted(set(df[name].astype(str)) - {""})
            elif grid and name in ("backend", "dtype"):
                values = list(dict.fromkeys(c.split(" ")[SELECTS.index(name)] for c in columns[1:]))
            elif grid:
                values = sorted({v for c in columns[1:] for v in df[c].astype(str)} - {""})
            else:
                continue
            selects.append((name, values))
    return {"kind": "table", "columns": columns, "parts": parts, "link": link, "css": options.get("css", ""),
            "filter": options.get("filter"), "grid": grid, "selects": selects, "count": len(rows)}


def _anchor(text, taken):
    """A heading's id: its words in lower case joined by '-', numbered when taken (the same text twice)."""
    base = "-".join(re.findall(r"[a-z0-9]+", text.lower())) or "section"
    anchor, n = base, 1
    while anchor in taken:
        n += 1
        anchor = f"{base}-{n}"
    taken.add(anchor)
    return anchor


def render(blocks, images, verdict_colours, title="crosscheck report"):
    """The page's HTML from the document's blocks (see :class:`crosscheck.report.Document`)."""
    import jinja2
    from markupsafe import Markup

    style = STYLE + "".join(f".v-{v}{{background:{c}}}" for v, c in verdict_colours.items())
    view, nav, open_part, anchors = [], [], False, set()
    for block in blocks:
        kind = block[0]
        if kind == "part":
            _, title_text, anchor = block
            if open_part:
                view.append({"kind": "close"})
            view += [{"kind": "open", "anchor": anchor}, {"kind": "heading", "level": 2, "text": title_text}]
            nav.append((anchor, title_text))
            open_part = True
        elif kind == "heading":
            view.append({"kind": "heading", "level": block[1], "text": block[2], "nav": block[1] == 1,
                         "anchor": _anchor(block[2], anchors) if block[1] > 2 else None})
        elif kind == "text":
            view.append({"kind": "text", "html": inline(block[1])})
        elif kind == "raw":
            view.append({"kind": "raw", "html": Markup(block[1])})
        elif kind == "image":
            view.append({"kind": "image", "caption": block[2],
                         "data": base64.b64encode(images[block[1]]).decode()})
        elif kind == "table":
            view.append(table_block(block[1], block[2], block[3], verdict_colours))
    if open_part:
        view.append({"kind": "close"})
    env = jinja2.Environment(autoescape=True, keep_trailing_newline=True)
    return env.from_string(TEMPLATE).render(blocks=view, nav=nav, title=title, style=Markup(style),
                                            script=Markup(SCRIPT))
