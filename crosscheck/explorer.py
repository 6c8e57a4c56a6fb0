"""The article's two interactive figures, computed by ``crosscheck report`` on every backend, embedded in report.html.

**Gradient-flow explorer.** The article's deep stack (seed 42, width 16, one input row, an upstream gradient
of ones at the output) for depth 1 to :data:`MAX_DEPTH`, every activation of :data:`ACTIVATIONS`, with and
without residual connections, for each initialisation of :data:`INITS`. A depth-d network is the first d
layers of the depth-30 stack (:func:`crosscheck.core.stacks.initial_stack` draws x, then W0, W1, ... from
one generator, so the first d weights of 30 are the article's d weights), with the ones at layer d's output.
The whole depth curve comes from one evaluation per setting and backend: the input row is repeated 30
times, row d-1 is the depth-d network (rows never mix: matmuls act on rows, the activations element-wise),
and the loss reads layer d's output on row d-1 only (a 0/1 mask per layer). A zero offset added to every
layer's output is differentiated too: its gradient is the gradient at that layer's output. So row d-1 of
the gradients at x and at each offset is the depth-d network's gradient at every layer; the figure plots
its mean |.| over the 16 units, layer 0 being the article's measure, mean |dL/dx|. The stack is run
through each backend's own ``nn`` (``evaluate``), and by the hand-written backward of
:mod:`crosscheck.core.stacks` (``handwritten``).

**Backprop step by step.** The article's sigmoid neuron, its XOR network and the catalogue's
``value_used_twice`` are run on the core's tape; :func:`crosscheck.core.tape.backward_steps` records each
step of the reverse sweep (the op, its upstream gradient, its local gradient and each input's contribution
and accumulated gradient). Only the core's tape exposes those intermediate values; every backend's
gradient of each parameter, with its difference to the tape's and to a central difference (step 1e-5, the
article's check of W1), is shown at the step where that parameter's gradient is complete.

:func:`html` renders one self-contained ``<section>`` (inline style and script, data as JSON, the default
setting as a static SVG and tables when JavaScript is off); :func:`markdown` renders the static part.
"""

from __future__ import annotations

import functools
import html as html_lib
import json
import math

import numpy as np

from .core import stacks

ACTIVATIONS = ("sigmoid", "tanh", "relu", "gelu")
#: name -> (weight scale, label): weights are the article's N(0, 1) draws times the scale
INITS = {
    "kaiming": (math.sqrt(2 / 16), "Kaiming N(0, 2/16), the article's"),
    "xavier": (math.sqrt(2 / (16 + 16)), "Xavier N(0, 2/(16+16))"),
    "unit": (1.0, "badly scaled N(0, 1)"),
}
MAX_DEPTH = 30
WIDTH = 16
SEED = 42
BASELINE = "handwritten"
DEFAULT = {"depth": 20, "activation": "sigmoid", "residual": False, "init": "kaiming"}
#: the article's gradient-flow columns as explorer settings (activation, residual)
ARTICLE_COLUMNS = (("sigmoid", False), ("relu", False), ("sigmoid", True))
#: catalogue cases stepped through, and the parameter whose check the article prints
STEP_CASES = (("sigmoid_neuron", "the article's sigmoid neuron"),
              ("xor_mlp", "the article's XOR network, 2 → 4 → 4 → 1"),
              ("value_used_twice", "a value used three times (catalogue: value_used_twice)"))
STEP = 1e-5  # the article's finite-difference step for its check of W1


def setting_key(activation, residual, init):
    return f"{activation}|{'residual' if residual else 'plain'}|{init}"


def _num(v, digits=5):
    """A float at ``digits`` significant digits (the JSON and every table print it the same on every run)."""
    v = float(v)
    if not math.isfinite(v):
        return None
    return float(f"{v:.{digits - 1}e}") + 0.0  # + 0.0: a negative zero prints as 0


# ------------------------------------------------------------------ gradient flow: the stack as a case


@functools.lru_cache(maxsize=None)
def _stack_function(activation, residual):
    """One function per structure (shared by the inits, so a compiling backend compiles it once)."""
    def stack(nn, x, **inputs):
        a, total = x, None
        for i in range(MAX_DEPTH):
            out = getattr(nn, activation)(a @ inputs[f"W{i}"])
            a = out + a if residual and i > 0 else out
            if i < MAX_DEPTH - 1:
                a = a + inputs[f"h{i + 1}"]
            term = nn.multiply(a, inputs[f"M{i + 1}"])  # the depth-(i+1) network's output, on its row only
            total = term if total is None else total + term
        return nn.sum(total)

    def backward(g, x, **inputs):
        """By hand (crosscheck.core.stacks): each layer's mask is the gradient the loss sends to its output."""
        ws = [inputs[f"W{i}"] for i in range(MAX_DEPTH)]
        offsets = [inputs[f"h{i}"] for i in range(1, MAX_DEPTH)] + [np.zeros_like(x)]
        masks = [inputs[f"M{i}"] * g for i in range(1, MAX_DEPTH + 1)]
        _, cache = stacks.forward(x, ws, activation, residual, offsets)
        d_input, _, d_outputs = stacks.backward(ws, cache, np.zeros_like(x), activation, residual, injected=masks)
        return {"x": d_input, **{f"h{i}": d_outputs[i - 1] for i in range(1, MAX_DEPTH)}}

    stack.__name__ = f"explorer_{activation}_{'residual' if residual else 'plain'}"
    return stack, backward


def flow_case(activation, residual, init):
    """The setting's stack as a case (not in any catalogue): x and the offsets differentiated."""
    from . import inputs
    from .catalogue import Case

    scale = INITS[init][0]
    x, weights = stacks.initial_stack(MAX_DEPTH, seed=SEED, width=WIDTH)  # the article's draws, Kaiming-scaled
    weights = [w / INITS["kaiming"][0] * scale for w in weights]
    fn, backward = _stack_function(activation, residual)
    specs = {"x": inputs.fixed(np.repeat(x, MAX_DEPTH, axis=0))}
    specs.update({f"h{i}": inputs.fixed(np.zeros((MAX_DEPTH, WIDTH))) for i in range(1, MAX_DEPTH)})
    specs.update({f"W{i}": inputs.data(w) for i, w in enumerate(weights)})
    for d in range(1, MAX_DEPTH + 1):
        mask = np.zeros((MAX_DEPTH, WIDTH))
        mask[d - 1] = 1.0
        specs[f"M{d}"] = inputs.data(mask)
    return Case(name=fn.__name__, fn=fn, inputs=specs, backward=backward, cotangent="ones", dtypes=("float64",),
                doc=f"gradient-flow explorer: {activation}, residual={residual}, {init}")


def curves_of(grads):
    """[depth-1 .. depth-30], each the mean |gradient| at layers 0 .. d-1 of the depth-d network."""
    x = np.abs(np.asarray(grads["x"]))
    hs = [np.abs(np.asarray(grads[f"h{i}"])) for i in range(1, MAX_DEPTH)]
    return [[float(x[d - 1].mean())] + [float(hs[i - 1][d - 1].mean()) for i in range(1, d)]
            for d in range(1, MAX_DEPTH + 1)]


def _order(names):
    from .tables import BACKEND_ORDER

    return sorted(names, key=lambda n: (BACKEND_ORDER.index(n) if n in BACKEND_ORDER else 9, n))


def flow(backends):
    """{setting key: {"base": curves, "backends": {name: {"max_rel": …, "curves": {depth: values where they
    differ from the baseline as stored}}}, "errors": {name: message}}}, and the backends' names in order."""
    runnable = [b for b in backends if not b.reference and not b.unavailable()]
    settings, names = {}, set()
    for activation in ACTIVATIONS:
        for residual in (False, True):
            for init in INITS:
                case = flow_case(activation, residual, init)
                point = case.point("float64")
                got, errors = {}, {}
                for b in runnable:
                    if not b.applies(case):
                        continue
                    try:
                        got[b.name] = curves_of(b.evaluate(case, point, "float64").grads)
                    except Exception as exc:  # a missing op, a broken binding: the setting says so
                        errors[b.name] = f"{type(exc).__name__}: {exc}"[:300]
                names.update(got)
                settings[setting_key(activation, residual, init)] = _against_baseline(got, errors)
    return settings, _order(names)


def _against_baseline(got, errors):
    base_name = BASELINE if BASELINE in got else (_order(got)[0] if got else None)
    if base_name is None:
        return {"baseline": None, "base": [], "backends": {}, "errors": dict(sorted(errors.items()))}
    base = got[base_name]
    stored = [[_num(v) for v in curve] for curve in base]
    out = {}
    for name, curves in sorted(got.items()):
        rel, differing = 0.0, {}
        for d, (curve, ref) in enumerate(zip(curves, base), start=1):
            for v, r in zip(curve, ref):
                if v != r:
                    rel = max(rel, abs(v - r) / abs(r) if r else math.inf)
            printed = [_num(v) for v in curve]
            if printed != stored[d - 1]:
                differing[str(d)] = printed
        out[name] = {"max_rel": _num(rel, 3) if math.isfinite(rel) else None, "curves": differing}
    return {"baseline": base_name, "base": stored, "backends": out, "errors": dict(sorted(errors.items()))}


def article_cells():
    """[(depth, activation, residual, printed)] of the article's gradient-flow table."""
    from .seed import GRADIENT_FLOW

    return [(depth, act, res, printed) for depth, row in GRADIENT_FLOW.items()
            for (act, res), printed in zip(ARTICLE_COLUMNS, row)]


# ------------------------------------------------------------------ backprop step by step


def _fmt_array(a):
    if a is None:
        return None
    a = np.asarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "values": [_num(v, 6) for v in a.ravel()]}


def steps_of(case, backends, numeric):
    """The case's forward ops and backward sweep on the core's tape, and every backend's gradients."""
    from .backends.base import objective
    from .backends.core import CoreVocabulary
    from .core import tape
    from .core.tape import Tensor
    from .seed import _article_difference

    point = case.point("float64")
    leaves = {k: Tensor(np.asarray(v, dtype="float64"), requires_grad=case.inputs[k].grad) for k, v in point.items()}
    loss, _ = objective(case, CoreVocabulary("float64"), leaves, "float64")
    wrt = case.wrt
    grads, sweep = tape.backward_steps(loss, [leaves[k] for k in wrt])
    names = {id(t): k for k, t in leaves.items()}
    order = tape._topological_order(loss)
    forward = []
    for node in order:
        if id(node) in names:
            continue
        names[id(node)] = f"v{len(forward) + 1}"
        forward.append(node)

    def name(t):
        return names.get(id(t), "constant")

    ops = [{"name": name(n), "op": n.op, "inputs": [name(p) for p in n.parents], "value": _fmt_array(n.value)}
           for n in forward]
    # how many contributions each value receives over the sweep (a value used twice receives two)
    arrivals = {}
    for s in sweep:
        for p, c in zip(s.node.parents, s.contributions):
            if c is not None:
                arrivals[id(p)] = arrivals.get(id(p), 0) + 1
    seen, last_step = {}, {}
    for i, s in enumerate(sweep):
        for p, c in zip(s.node.parents, s.contributions):
            if c is not None and id(p) in names and names[id(p)] in wrt:
                last_step[names[id(p)]] = i
    numerical = {k: _article_difference(numeric, case, k, STEP) for k in wrt} if numeric is not None else {}
    tape_grads = dict(zip(wrt, grads))
    per_backend = {}
    for b in backends:
        if b.reference or b.unavailable() or not b.applies(case):
            continue
        try:
            got = b.evaluate(case, point, "float64").grads
            per_backend[b.name] = {k: np.asarray(got[k], dtype=np.float64) for k in wrt}
        except Exception as exc:
            per_backend[b.name] = f"{type(exc).__name__}: {exc}"[:300]

    def finals(param):
        rows = []
        for bname in _order(per_backend):
            got = per_backend[bname]
            if isinstance(got, str):
                rows.append({"backend": bname, "error": got})
                continue
            g = got[param]
            rows.append({"backend": bname, "grad": _fmt_array(g),
                         "diff_tape": _num(np.max(np.abs(g - tape_grads[param])), 3),
                         "diff_numerical": _num(np.max(np.abs(g - numerical[param])), 3) if numerical else None})
        return rows

    steps = []
    for i, s in enumerate(sweep):
        inputs = []
        within = {}  # a parent used twice by this very op (y·y): its second row starts from the first's sum
        for p, local, c, before, after in zip(s.node.parents, s.local, s.contributions, s.arrived_before,
                                              s.accumulated):
            if c is None:
                continue
            seen[id(p)] = seen.get(id(p), 0) + 1
            if id(p) in within:
                before = within[id(p)]
            after = c if before is None else before + c  # the tape's sum, in its order: its last is s.accumulated
            within[id(p)] = after
            inputs.append({"name": name(p), "local": _fmt_array(local), "contribution": _fmt_array(c),
                           "before": _fmt_array(before), "accumulated": _fmt_array(after),
                           "arrival": seen[id(p)], "arrivals": arrivals[id(p)]})
        done = sorted((k for k, at in last_step.items() if at == i), key=wrt.index)
        steps.append({"node": name(s.node), "op": s.node.op, "upstream": _fmt_array(s.upstream), "inputs": inputs,
                      "complete": {k: {"tape": _fmt_array(tape_grads[k]),
                                       "numerical": _fmt_array(numerical.get(k)), "backends": finals(k)}
                                   for k in done}})
    return {"case": case.name, "params": wrt, "loss": _num(float(loss.value), 10), "forward": ops, "steps": steps,
            "backends": _order(n for n in per_backend)}


# ------------------------------------------------------------------ everything the report embeds


def compute(catalogue, backends, numeric=None):
    """The two figures' data (a dict of plain numbers and strings, JSON-ready) for the backends that can run.
    ``catalogue`` ({name: case}) provides the step-by-step cases that are in it."""
    settings, names = flow(backends)
    sequences = []
    for name, title in STEP_CASES:
        if name in catalogue:
            seq = steps_of(catalogue[name], backends, numeric)
            seq["title"] = title
            sequences.append(seq)
    return {
        "flow": {"settings": settings, "backends": names, "activations": list(ACTIVATIONS),
                 "inits": {k: label for k, (_, label) in INITS.items()}, "max_depth": MAX_DEPTH,
                 "default": DEFAULT, "article": [[d, a, r, p] for d, a, r, p in article_cells()]},
        "steps": sequences,
    }


def curve(data, setting, backend, depth):
    """The stored curve of ``backend`` for the depth-``depth`` network (the baseline's where they print alike)."""
    s = data["flow"]["settings"][setting]
    own = s["backends"].get(backend, {}).get("curves", {})
    return own.get(str(depth), s["base"][depth - 1] if s["base"] else [])




# ------------------------------------------------------------------ rendering: one <section>, and its Markdown

COLOURS = {"handwritten": "#ff7f0e", "core": "#1f77b4", "torch": "#d62728", "jax": "#2ca02c",
           "tensorflow": "#9467bd", "autograd": "#8c564b"}
OTHER_COLOURS = ("#17becf", "#bcbd22", "#e377c2", "#7f7f7f")
CHART = {"w": 640, "h": 300, "left": 58, "right": 12, "top": 12, "bottom": 34}


def colour(name, names):
    if name in COLOURS:
        return COLOURS[name]
    others = [n for n in names if n not in COLOURS]
    return OTHER_COLOURS[others.index(name) % len(OTHER_COLOURS)] if name in others else "#7f7f7f"


def _g(v):
    """A stored number as report text (3 significant digits, the article's precision)."""
    return "—" if v is None else f"{v:.2e}"


def chart_svg(data, setting, depth):
    """The chart of one setting as SVG, the way the page's script draws it (the no-JavaScript figure)."""
    c = CHART
    names = data["flow"]["backends"]
    lines = [(n, curve(data, setting, n, depth)) for n in names if n in data["flow"]["settings"][setting]["backends"]]
    positive = [v for _, vs in lines for v in vs if v is not None and v > 0]
    lo = math.floor(math.log10(min(positive))) if positive else -1
    hi = math.ceil(math.log10(max(positive))) if positive else 1
    if hi <= lo:
        hi = lo + 1
    pw, ph = c["w"] - c["left"] - c["right"], c["h"] - c["top"] - c["bottom"]

    def px(i):
        return c["left"] + (pw / 2 if depth == 1 else pw * i / (depth - 1))

    def py(v):
        return c["top"] + ph * (hi - math.log10(v)) / (hi - lo)

    out = [f'<svg id="xp-chart" viewBox="0 0 {c["w"]} {c["h"]}" '
           f'width="{c["w"]}" height="{c["h"]}" role="img" data-setting="{setting}" data-depth="{depth}">',
           f'<rect x="{c["left"]}" y="{c["top"]}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>']
    every = max(1, math.ceil((hi - lo) / 8))
    for e in range(lo, hi + 1, every):
        y = py(10.0 ** e)
        out.append(f'<line x1="{c["left"]}" x2="{c["left"] + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{c["left"] - 4}" y="{y + 4:.1f}" text-anchor="end">1e{e}</text>')
    step = max(1, math.ceil(depth / 10))
    for i in range(0, depth, step):
        out.append(f'<text x="{px(i):.1f}" y="{c["top"] + ph + 14}" text-anchor="middle">{i}</text>')
    out.append(f'<text x="{c["left"] + pw / 2:.1f}" y="{c["h"] - 4}" text-anchor="middle">layer (0 = the input, '
               f'the article\'s mean |dL/dx|)</text>')
    for k, (n, vs) in enumerate(lines):
        pts = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(vs) if v is not None and v > 0)
        width = max(1.5, 7 - 1.2 * k)
        out.append(f'<polyline class="xp-line" data-backend="{html_lib.escape(n)}" '
                   f'data-values="{" ".join(_g(v) for v in vs)}" fill="none" stroke="{colour(n, names)}" '
                   f'stroke-width="{width:.1f}" stroke-opacity="0.8" points="{pts}"/>')
    out.append("</svg>")
    return "".join(out)


def _article_table(data, setting, depth):
    act, residual, init = setting.split("|")
    rows = ["<table id=\"xp-article\"><tr><th>layers</th>"
            + "".join(f"<th>{a}{' + residual' if r else ''}</th>" for a, r in ARTICLE_COLUMNS) + "</tr>"]
    cells = {(d, a, r): p for d, a, r, p in data["flow"]["article"]}
    for d in sorted({d for d, *_ in data["flow"]["article"]}):
        row = f"<tr><td>{d}</td>"
        for a, r in ARTICLE_COLUMNS:
            key = f"{d}|{a}|{'residual' if r else 'plain'}"
            match = (d == depth and a == act and (residual == "residual") == r and init == "kaiming")
            cls = ' class="xp-match"' if match else ""
            row += f'<td data-cell="{key}"{cls}>{cells[(d, a, r)]}</td>'
        rows.append(row + "</tr>")
    return "".join(rows) + "</table>"


def _values_table(data, setting, depth):
    """Per backend: mean |dL/dx| of this network, and the largest relative difference from the baseline."""
    s = data["flow"]["settings"][setting]
    rows = ['<table id="xp-values"><tr><th>backend</th><th>mean |dL/dx| (layer 0)</th>'
            f'<th>max rel. diff. from {html_lib.escape(str(s["baseline"]))}, any depth and layer</th></tr>']
    for n in data["flow"]["backends"]:
        if n in s["backends"]:
            vs = curve(data, setting, n, depth)
            e = html_lib.escape(n)
            rows.append(f'<tr data-backend="{e}"><td>{e}</td><td>{_g(vs[0])}</td>'
                        f'<td>{_g(s["backends"][n]["max_rel"])}</td></tr>')
    for n, msg in s["errors"].items():
        rows.append(f'<tr data-backend="{html_lib.escape(n)}"><td>{html_lib.escape(n)}</td><td colspan="2">'
                    f'{html_lib.escape(msg)}</td></tr>')
    return "".join(rows) + "</table>"


def _arr(a):
    if a is None:
        return "—"
    vals = [_g6(v) for v in a["values"]]
    if len(a["shape"]) == 2:
        cols = a["shape"][1]
        return "[" + "; ".join(" ".join(vals[r * cols:(r + 1) * cols]) for r in range(a["shape"][0])) + "]"
    return vals[0] if not a["shape"] else "[" + " ".join(vals) + "]"


def _g6(v):
    return "—" if v is None else f"{v:.6g}"


def _static_steps(seq):
    """Every step of one sequence as a table (what the page shows without JavaScript)."""
    rows = [f'<table class="bp-static-table"><tr><th>step</th><th>op</th><th>upstream</th><th>input</th>'
            f'<th>local</th><th>contribution</th><th>accumulated</th></tr>']
    for k, s in enumerate(seq["steps"], start=1):
        for j, inp in enumerate(s["inputs"]):
            head = (f'<td rowspan="{len(s["inputs"])}">{k}</td><td rowspan="{len(s["inputs"])}">{s["node"]} = '
                    f'{s["op"]}</td><td rowspan="{len(s["inputs"])}">{_arr(s["upstream"])}</td>') if j == 0 else ""
            arrives = f' ({inp["arrival"]} of {inp["arrivals"]})' if inp["arrivals"] > 1 else ""
            rows.append(f"<tr>{head}<td>{inp['name']}{arrives}</td><td>{_arr(inp['local'])}</td>"
                        f"<td>{_arr(inp['contribution'])}</td><td>{_arr(inp['accumulated'])}</td></tr>")
    return "".join(rows) + "</table>"


def _final_checks(seq):
    """param × backend: max |gradient - central difference| (the article's check, for every parameter)."""
    out = {}
    for s in seq["steps"]:
        for param, info in s["complete"].items():
            for r in info["backends"]:
                out.setdefault(param, {})[r["backend"]] = r.get("diff_numerical")
    return out


def html(data):
    """One self-contained ``<section>``: inline style and script, the data as JSON, no external URL."""
    d = DEFAULT
    setting = setting_key(d["activation"], d["residual"], d["init"])
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    depth_max = data["flow"]["max_depth"]
    acts = "".join(f'<option value="{a}"{" selected" if a == d["activation"] else ""}>{a}</option>'
                   for a in data["flow"]["activations"])
    inits = "".join(f'<option value="{k}"{" selected" if k == d["init"] else ""}>{html_lib.escape(label)}</option>'
                    for k, label in data["flow"]["inits"].items())
    cases = "".join(f'<option value="{i}"{" selected" if s["case"] == "xor_mlp" else ""}>'
                    f'{html_lib.escape(s["title"])}</option>' for i, s in enumerate(data["steps"]))
    statics = "".join(f'<h4>{html_lib.escape(s["title"])}</h4>{_static_steps(s)}' for s in data["steps"])
    parts = [
        '<section id="xp" class="xp">',
        f"<style>{_CSS}</style>",
        '<div id="xp-flow">',
        "<h3>Gradient-flow explorer</h3>",
        f"<p>Mean |gradient| at every layer of the article's stack (seed {SEED}, width {WIDTH}, ones at the "
        f"output), log scale, one line per backend; a depth-d network is the first d layers of the "
        f"depth-{depth_max} draws. Computed by <code>crosscheck report</code> on every backend; nothing is "
        f"computed here. Without JavaScript: the default setting.</p>",
        '<form class="xp-controls" id="xp-controls" hidden>'
        f'<label>depth <input type="range" id="xp-depth" min="1" max="{depth_max}" value="{d["depth"]}">'
        f'<output id="xp-depth-out">{d["depth"]}</output></label> '
        f'<label>activation <select id="xp-activation">{acts}</select></label> '
        f'<label><input type="checkbox" id="xp-residual"{" checked" if d["residual"] else ""}> residual</label> '
        f'<label>init <select id="xp-init">{inits}</select></label></form>',
        f'<p id="xp-caption" class="xp-caption">{_caption(data, setting, d["depth"])}</p>',
        f'<div class="xp-row"><div id="xp-chart-box">{chart_svg(data, setting, d["depth"])}</div>'
        f'<div><div id="xp-legend">{_legend(data)}</div><p class="xp-small">The article\'s table (Kaiming): '
        f'the cell of the current setting is highlighted.</p>{_article_table(data, setting, d["depth"])}</div></div>',
        f'<div id="xp-values-box">{_values_table(data, setting, d["depth"])}</div>',
        "</div>",
        '<div id="xp-steps">',
        "<h3>Backprop step by step</h3>",
        "<p>The tape's operations in forward order, then its backward sweep one operation at a time (Next / "
        "Previous, or the arrow keys): for each input of the op, the local gradient (the op's rule applied to "
        "an upstream of ones), the contribution it receives and what it has accumulated. Only the core's tape "
        "exposes these intermediate values; at the step where a parameter's gradient is complete, every "
        "backend's gradient is shown beside the tape's, with the largest difference to it and to a central "
        f"difference (step {STEP:g}){html_lib.escape(_KINK_NOTE)}.</p>",
        '<div class="bp-controls" id="bp-controls" hidden>'
        f'<select id="bp-case">{cases}</select> <button type="button" id="bp-prev">◀ Previous</button> '
        '<button type="button" id="bp-next">Next ▶</button> <span id="bp-where"></span></div>',
        f'<div id="bp-view"><div class="bp-static">{statics}</div></div>',
        "</div>",
        f'<script type="application/json" id="xp-data">{blob}</script>',
        f"<script>{_JS}</script>",
        "</section>",
    ]
    return "\n".join(parts)


def _caption(data, setting, depth, escape=html_lib.escape):
    act, residual, init = setting.split("|")
    return (f"{depth} layer{'s' if depth > 1 else ''}, {act}{' + residual' if residual == 'residual' else ''}, "
            f"{escape(data['flow']['inits'][init])}")


def _legend(data):
    names = data["flow"]["backends"]
    return " ".join(f'<span class="xp-key"><span style="background:{colour(n, names)}"></span>'
                    f'{html_lib.escape(n)}</span>'
                    for n in names)


def markdown(data):
    """The static figures for report.md: the default setting's values, the article's cell, the W1 checks."""
    d = DEFAULT
    setting = setting_key(d["activation"], d["residual"], d["init"])
    names = [n for n in data["flow"]["backends"] if n in data["flow"]["settings"][setting]["backends"]]
    lines = [f"Interactive in report.html (depth 1–{data['flow']['max_depth']}, "
             f"{', '.join(data['flow']['activations'])}, "
             f"residual on/off, {', '.join(data['flow']['inits'])} initialisation; the backward sweep step by step). "
             f"The default setting here: {_caption(data, setting, d['depth'], str)}.", "",
             "| layer | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    curves = {n: curve(data, setting, n, d["depth"]) for n in names}
    for i in range(d["depth"]):
        lines.append(f"| {i} | " + " | ".join(_g(curves[n][i]) for n in names) + " |")
    article = {(dd, a, r): p for dd, a, r, p in data["flow"]["article"]}
    printed = article.get((d["depth"], d["activation"], d["residual"]))
    if printed:
        lines += ["", f"The article's cell for this setting: {printed}; crosscheck's layer 0: "
                      + ", ".join(f"{n} {_g(curves[n][0])}" for n in names) + "."]
    for seq in data["steps"]:
        checks = _final_checks(seq)
        if not checks:
            continue
        backends = seq["backends"]
        lines += ["", f"Backward sweep of {seq['title']}: {len(seq['steps'])} steps on the core's tape; "
                      f"max |gradient - central difference (step {STEP:g})| per parameter{_KINK_NOTE}:", "",
                  "| parameter | " + " | ".join(backends) + " |", "|---|" + "---|" * len(backends)]
        for param in seq["params"]:
            lines.append(f"| {param} | " + " | ".join(_g(checks.get(param, {}).get(b)) for b in backends) + " |")
    return "\n".join(lines) + "\n"


_KINK_NOTE = (" (a parameter that sits at a kink, as XOR's b1 does at ReLU(0), differs from the central difference, "
              "which straddles the kink: the verdict tables call those rows kink)")

_CSS = (".xp .xp-row{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}"
        ".xp svg text{font-size:11px;font-family:sans-serif}.xp .xp-match{background:#ffe066;font-weight:bold;"
        "outline:2px solid #c90}.xp .xp-key{margin-right:.8em;white-space:nowrap}.xp .xp-key span{display:inline-block;"
        "width:1.4em;height:.5em;margin-right:.3em;vertical-align:middle}.xp .xp-small{font-size:12px;margin:.3em 0}"
        ".xp .xp-controls label{margin-right:1em}.xp .xp-caption{font-weight:bold}"
        ".xp .bp-now{background:#ffe066}.xp .bp-twice{color:#b00;font-weight:bold}.xp td.num{font-family:monospace}"
        ".xp .bp-controls{margin:.5em 0}.xp .bp-static-table td{font-family:monospace;font-size:11px}")

# The page's script: it only reads the embedded data and draws it (the chart as chart_svg draws it).
_JS = r"""(function(){
var D=JSON.parse(document.getElementById('xp-data').textContent);
var F=D.flow, C={w:640,h:300,left:58,right:12,top:12,bottom:34};
var COL={handwritten:'#ff7f0e',core:'#1f77b4',torch:'#d62728',jax:'#2ca02c',tensorflow:'#9467bd',autograd:'#8c564b'};
var OTHER=['#17becf','#bcbd22','#e377c2','#7f7f7f'];
function $(id){return document.getElementById(id);}
function esc(s){return String(s).replace(/&/g,'&amp;').replace(/</g,'&lt;').replace(/>/g,'&gt;').replace(/"/g,'&quot;');}
function g3(v){return v===null||v===undefined?'\u2014':v.toExponential(2).replace(/e([+-])(\d)$/,'e$10$2');}
function g6(v){return v===null||v===undefined?'\u2014':String(Number(v.toPrecision(6)));}
function colour(n){if(COL[n])return COL[n];var o=F.backends.filter(function(b){return !COL[b];});var i=o.indexOf(n);return i<0?'#7f7f7f':OTHER[i%OTHER.length];}
function key(){return $('xp-activation').value+'|'+($('xp-residual').checked?'residual':'plain')+'|'+$('xp-init').value;}
function curve(s,b,d){var S=F.settings[s];var own=(S.backends[b]||{}).curves||{};return own[String(d)]||S.base[d-1]||[];}
function chart(s,d){
  var names=F.backends.filter(function(n){return F.settings[s].backends[n];});
  var lines=names.map(function(n){return [n,curve(s,n,d)];});
  var pos=[];lines.forEach(function(l){l[1].forEach(function(v){if(v!==null&&v>0)pos.push(v);});});
  var lo=pos.length?Math.floor(Math.log10(Math.min.apply(null,pos))):-1, hi=pos.length?Math.ceil(Math.log10(Math.max.apply(null,pos))):1;
  if(hi<=lo)hi=lo+1;
  var pw=C.w-C.left-C.right, ph=C.h-C.top-C.bottom;
  function px(i){return C.left+(d===1?pw/2:pw*i/(d-1));}
  function py(v){return C.top+ph*(hi-Math.log10(v))/(hi-lo);}
  var o=['<svg id="xp-chart" viewBox="0 0 '+C.w+' '+C.h+'" width="'+C.w+'" height="'+C.h+'" role="img" data-setting="'+s+'" data-depth="'+d+'">',
    '<rect x="'+C.left+'" y="'+C.top+'" width="'+pw+'" height="'+ph+'" fill="#fafafa" stroke="#999"/>'];
  var every=Math.max(1,Math.ceil((hi-lo)/8));
  for(var e=lo;e<=hi;e+=every){var y=py(Math.pow(10,e));o.push('<line x1="'+C.left+'" x2="'+(C.left+pw)+'" y1="'+y.toFixed(1)+'" y2="'+y.toFixed(1)+'" stroke="#ddd"/><text x="'+(C.left-4)+'" y="'+(y+4).toFixed(1)+'" text-anchor="end">1e'+e+'</text>');}
  var step=Math.max(1,Math.ceil(d/10));
  for(var i=0;i<d;i+=step)o.push('<text x="'+px(i).toFixed(1)+'" y="'+(C.top+ph+14)+'" text-anchor="middle">'+i+'</text>');
  o.push('<text x="'+(C.left+pw/2).toFixed(1)+'" y="'+(C.h-4)+'" text-anchor="middle">layer (0 = the input, the article\'s mean |dL/dx|)</text>');
  lines.forEach(function(l,k){
    var pts=[];l[1].forEach(function(v,i){if(v!==null&&v>0)pts.push(px(i).toFixed(1)+','+py(v).toFixed(1));});
    o.push('<polyline class="xp-line" data-backend="'+esc(l[0])+'" data-values="'+l[1].map(g3).join(' ')+'" fill="none" stroke="'+colour(l[0])+'" stroke-width="'+Math.max(1.5,7-1.2*k).toFixed(1)+'" stroke-opacity="0.8" points="'+pts.join(' ')+'"/>');
  });
  o.push('</svg>');return o.join('');
}
function update(){
  var d=parseInt($('xp-depth').value,10), s=key(), S=F.settings[s], p=s.split('|');
  $('xp-depth-out').textContent=d;
  $('xp-chart-box').innerHTML=chart(s,d);
  $('xp-caption').textContent=d+' layer'+(d>1?'s':'')+', '+p[0]+(p[1]==='residual'?' + residual':'')+', '+F.inits[p[2]];
  var cells=document.querySelectorAll('#xp-article td[data-cell]');
  var want=d+'|'+p[0]+'|'+p[1];
  for(var i=0;i<cells.length;i++){cells[i].className=(p[2]==='kaiming'&&cells[i].getAttribute('data-cell')===want)?'xp-match':'';}
  var r=['<table id="xp-values"><tr><th>backend</th><th>mean |dL/dx| (layer 0)</th><th>max rel. diff. from '+esc(S.baseline)+', any depth and layer</th></tr>'];
  F.backends.forEach(function(n){if(S.backends[n])r.push('<tr data-backend="'+esc(n)+'"><td>'+esc(n)+'</td><td>'+g3(curve(s,n,d)[0])+'</td><td>'+g3(S.backends[n].max_rel)+'</td></tr>');});
  Object.keys(S.errors).forEach(function(n){r.push('<tr data-backend="'+esc(n)+'"><td>'+esc(n)+'</td><td colspan="2">'+esc(S.errors[n])+'</td></tr>');});
  $('xp-values-box').innerHTML=r.join('')+'</table>';
}
['xp-depth','xp-activation','xp-residual','xp-init'].forEach(function(id){$(id).addEventListener('input',update);$(id).addEventListener('change',update);});
$('xp-controls').hidden=false;update();
// ---- backprop step by step
var seq=null, at=0;
function arr(a){if(!a)return '\u2014';var v=a.values.map(g6);if(a.shape.length===2){var c=a.shape[1],rows=[];for(var r=0;r<a.shape[0];r++)rows.push(v.slice(r*c,(r+1)*c).join(' '));return '['+rows.join('; ')+']';}return a.shape.length?'['+v.join(' ')+']':v[0];}
function forwardList(current){
  return '<ol class="bp-forward">'+seq.forward.map(function(f){return '<li'+(f.name===current?' class="bp-now"':'')+'><code>'+esc(f.name)+' = '+esc(f.op)+'('+f.inputs.map(esc).join(', ')+')</code></li>';}).join('')+'</ol>';
}
function show(){
  var n=seq.steps.length, o=[];
  $('bp-where').textContent=at===0?'forward pass (step 0 of '+n+')':'backward step '+at+' of '+n;
  if(at===0){
    o.push('<p>Forward pass on the core\'s tape: '+seq.forward.length+' operations; loss = '+seq.loss+'. Next: the backward sweep, from the loss back to the parameters ('+seq.params.join(', ')+').</p>');
    o.push(forwardList(null));
  }else{
    var s=seq.steps[at-1];
    o.push('<p id="bp-op">Backward through <code>'+esc(s.node)+' = '+esc(s.op)+'</code>; upstream gradient d loss / d '+esc(s.node)+' = <code>'+arr(s.upstream)+'</code></p>');
    o.push('<table id="bp-inputs"><tr><th>input</th><th>local gradient</th><th>contribution (upstream \u00d7 local)</th><th>had before</th><th>accumulated</th></tr>');
    s.inputs.forEach(function(x){
      var twice=x.arrivals>1?' <span class="bp-twice">contribution '+x.arrival+' of '+x.arrivals+' arriving</span>':'';
      o.push('<tr data-input="'+esc(x.name)+'" data-arrival="'+x.arrival+'" data-arrivals="'+x.arrivals+'"><td>'+esc(x.name)+twice+'</td><td class="num">'+arr(x.local)+'</td><td class="num">'+arr(x.contribution)+'</td><td class="num">'+arr(x.before)+'</td><td class="num">'+arr(x.accumulated)+'</td></tr>');
    });
    o.push('</table>');
    Object.keys(s.complete).forEach(function(p){
      var c=s.complete[p];
      o.push('<p>The gradient of <b>'+esc(p)+'</b> is complete. Tape: <code>'+arr(c.tape)+'</code>; central difference: <code>'+arr(c.numerical)+'</code></p>');
      o.push('<table class="bp-complete" data-param="'+esc(p)+'"><tr><th>backend</th><th>gradient of '+esc(p)+'</th><th>max |\u0394| to the tape</th><th>max |\u0394| to the central difference</th></tr>');
      c.backends.forEach(function(b){
        if(b.error){o.push('<tr data-backend="'+esc(b.backend)+'"><td>'+esc(b.backend)+'</td><td colspan="3">'+esc(b.error)+'</td></tr>');return;}
        o.push('<tr data-backend="'+esc(b.backend)+'" data-diff-numerical="'+g3(b.diff_numerical)+'"><td>'+esc(b.backend)+'</td><td class="num">'+arr(b.grad)+'</td><td>'+g3(b.diff_tape)+'</td><td>'+g3(b.diff_numerical)+'</td></tr>');
      });
      o.push('</table>');
    });
    o.push(forwardList(s.node));
  }
  $('bp-view').innerHTML=o.join('');
  $('bp-view').setAttribute('data-step',String(at));
  $('bp-prev').disabled=at===0;$('bp-next').disabled=at===n;
}
function choose(){seq=D.steps[parseInt($('bp-case').value,10)];at=0;show();}
function move(k){at=Math.max(0,Math.min(seq.steps.length,at+k));show();}
if(D.steps.length){
  $('bp-case').addEventListener('change',choose);
  $('bp-prev').addEventListener('click',function(){move(-1);});
  $('bp-next').addEventListener('click',function(){move(1);});
  document.addEventListener('keydown',function(e){
    var t=e.target&&e.target.tagName;if(t==='INPUT'||t==='SELECT'||t==='TEXTAREA')return;
    if(e.key==='ArrowRight'){move(1);e.preventDefault();}else if(e.key==='ArrowLeft'){move(-1);e.preventDefault();}
  });
  $('bp-controls').hidden=false;choose();
}
})();"""
