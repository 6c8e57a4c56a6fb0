"""The two interactive figures (crosscheck/explorer.py): their numbers, the tape's hook, and the page in a browser."""

import html as html_lib
import json
import re

import numpy as np
import pytest

from crosscheck import backends as registry
from crosscheck import explorer, report, seed
from crosscheck.backends.core import CoreBackend, CoreVocabulary
from crosscheck.core import ops, stacks, tape
from crosscheck.core.tape import Tensor, apply

from . import browser

STEP_NAMES = tuple(name for name, _ in explorer.STEP_CASES)


def _backends():
    names = ["core", "handwritten"] + [n for n in ("torch", "jax") if registry.get(n).unavailable() is None]
    return [registry.get(n) for n in names]


@pytest.fixture(scope="module")
def data(catalogue):
    return explorer.compute({n: catalogue[n] for n in STEP_NAMES}, _backends(), registry.get("numeric"))


@pytest.fixture(scope="module")
def page(data, tmp_path_factory):
    """report.html and report.md as ``crosscheck report`` renders them with these figures."""
    results = report.Results([], [], [], [], [], {}, explorer=data)
    files = report.render(results)
    folder = tmp_path_factory.mktemp("explorer")
    for name in ("report.html", "report.md"):
        (folder / name).write_text(files[name], encoding="utf-8")
    return folder / "report.html"


# ------------------------------------------------------------------ the numbers


def test_the_article_cells_are_reproduced_on_every_backend(data):
    for depth, act, residual, printed in explorer.article_cells():
        key = explorer.setting_key(act, residual, "kaiming")
        for name in data["flow"]["backends"]:
            assert f"{explorer.curve(data, key, name, depth)[0]:.2e}" == printed, (depth, act, residual, name)


@pytest.mark.parametrize("activation", explorer.ACTIVATIONS)
@pytest.mark.parametrize("residual", (False, True))
def test_each_depth_is_the_depth_d_network(data, activation, residual):
    """The batched evaluation's row d-1 is the depth-d stack of stacks.initial_stack(d), ones at its output."""
    key = explorer.setting_key(activation, residual, "kaiming")
    for depth in (1, 2, 7, 30):
        x, weights = stacks.initial_stack(depth, seed=explorer.SEED, width=explorer.WIDTH)
        out, cache = stacks.forward(x, weights, activation, residual)
        d_input, _, d_outputs = stacks.backward(weights, cache, np.ones_like(out), activation, residual)
        want = [np.mean(np.abs(d_input))] + [np.mean(np.abs(g)) for g in d_outputs[:-1]]
        got = explorer.curve(data, key, "core", depth)
        np.testing.assert_allclose(got, want, rtol=1e-4)


def test_the_backends_agree_and_the_inits_differ(data):
    for key, s in data["flow"]["settings"].items():
        assert not s["errors"], key
        for name, b in s["backends"].items():
            assert b["max_rel"] < 1e-10, (key, name, b["max_rel"])
    settings = data["flow"]["settings"]
    kaiming, unit = (settings[explorer.setting_key("relu", False, i)]["base"][29][0] for i in ("kaiming", "unit"))
    assert unit > 1e6 * kaiming  # the badly scaled init explodes through 30 ReLU layers


def _wrong_sigmoid_core():
    class Tanh(CoreVocabulary):
        def sigmoid(self, a):
            return apply(ops.tanh, a)

    return type("WrongSigmoid", (CoreBackend,), {"vocabulary": Tanh})()


def test_a_wrong_binding_moves_its_line():
    """The embedded data come from the run: core's sigmoid bound to tanh on purpose moves core's sigmoid lines."""
    backends = [registry.get("handwritten"), _wrong_sigmoid_core()]
    settings, names = explorer.flow(backends)
    assert names == ["core", "handwritten"]
    data = {"flow": {"settings": settings, "backends": names}}
    sig = explorer.setting_key("sigmoid", False, "kaiming")
    assert settings[sig]["backends"]["core"]["max_rel"] > 0.1
    assert explorer.curve(data, sig, "core", 20) != explorer.curve(data, sig, "handwritten", 20)
    svg = explorer.chart_svg(data, sig, 20)
    lines = dict(re.findall(r'data-backend="(\w+)" data-values="([^"]*)"', svg))
    assert lines["core"] != lines["handwritten"]
    relu = explorer.setting_key("relu", False, "kaiming")
    assert settings[relu]["backends"]["core"]["max_rel"] < 1e-10 and not settings[relu]["backends"]["core"]["curves"]


# ------------------------------------------------------------------ the tape's hook


def test_the_tape_hook_records_each_step_and_changes_nothing():
    x = Tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    y = apply(ops.tanh, x)
    loss = (y * y + apply(ops.sin, y)).sum()
    (plain,) = tape.gradients(loss, [x])
    seen = []

    def scribble(step):  # a hook that writes into what it is given must not change the sweep
        seen.append(step.node.op)
        for a in step.contributions + step.accumulated:
            if a is not None:
                a[...] = 1e9

    (observed,) = tape.gradients(loss, [x], observe=scribble)
    np.testing.assert_array_equal(observed, plain)
    assert seen == ["sum", "add", "multiply", "sin", "tanh"]
    (again,), steps = tape.backward_steps(loss, [x])
    np.testing.assert_array_equal(again, plain)
    # y receives three contributions (both factors of y·y, and sin); their sum is its gradient
    arriving = [c for s in steps for p, c in zip(s.node.parents, s.contributions) if p is y]
    assert len(arriving) == 3
    tanh_step = steps[-1]
    np.testing.assert_allclose(tanh_step.upstream, sum(arriving))
    np.testing.assert_allclose(tanh_step.local[0], 1 - np.tanh(x.value) ** 2)


def test_the_step_sequences(data):
    seqs = {s["case"]: s for s in data["steps"]}
    assert set(seqs) == set(STEP_NAMES)
    xor = seqs["xor_mlp"]
    assert [f["op"] for f in xor["forward"]][:3] == ["matmul", "add", "relu"]
    last = xor["steps"][-1]
    assert last["op"] == "matmul" and list(last["complete"]) == ["W1"]
    rows = last["complete"]["W1"]["backends"]
    assert [r["backend"] for r in rows] == data["flow"]["backends"]
    assert all(r["diff_numerical"] < 1e-10 and r["diff_tape"] < 1e-15 for r in rows)
    twice = seqs["value_used_twice"]
    assert max(i["arrivals"] for s in twice["steps"] for i in s["inputs"]) == 3


# ------------------------------------------------------------------ the page


def test_no_external_url_and_a_static_fallback(page):
    text = page.read_text()
    start = text.index('<section id="xp"')
    section = text[start:text.index("</section>", start)]
    assert not re.search(r"(https?:)?//[a-z]", section, re.I) and "src=" not in section
    static = section[:section.index("<script")]
    assert 'class="xp-match">1.99e-11<' in static  # the default (20 sigmoid layers, Kaiming) without JavaScript
    assert static.count('class="xp-line"') == len(_backends())
    assert "bp-static-table" in static
    md = page.with_name("report.md").read_text()
    assert "## Interactive figures" in md and "The article's cell for this setting: 1.99e-11" in md
    assert "<section" not in md


def test_rerun_is_byte_identical(catalogue, data):
    backends = [registry.get("core"), registry.get("handwritten")]
    cases = {n: catalogue[n] for n in STEP_NAMES}
    a, b = (explorer.compute(cases, backends, registry.get("numeric")) for _ in range(2))
    assert explorer.html(a) == explorer.html(b) and explorer.markdown(a) == explorer.markdown(b)


EXPLORE = r"""
const out = {};
const line = () => Object.fromEntries([...document.querySelectorAll('#xp-chart .xp-line')].map(
    l => [l.dataset.backend, l.dataset.values]));
const lit = () => [...document.querySelectorAll('#xp-article td.xp-match')].map(td => td.dataset.cell).join(',');
const set = (id, v) => { const e = document.getElementById(id);
    if (e.type === 'checkbox') e.checked = v; else e.value = v; e.dispatchEvent(new Event('input')); };
out.shown = !document.getElementById('xp-controls').hidden;
out.start = [line(), lit()];
set('xp-depth', '5'); out.depth5 = [line(), lit()];
set('xp-activation', 'relu'); out.relu5 = [line(), lit()];
set('xp-depth', '10'); set('xp-activation', 'sigmoid'); set('xp-residual', true); out.res10 = [line(), lit()];
set('xp-init', 'xavier'); out.xavier = [line(), lit()];
set('xp-depth', '7'); set('xp-init', 'kaiming'); out.seven = [line(), lit()];
document.body.setAttribute('data-out', JSON.stringify(out));
"""

STEPS = r"""
const out = {};
const sel = document.getElementById('bp-case');
sel.value = String([...sel.options].findIndex(o => o.textContent.includes('XOR'))); sel.dispatchEvent(new Event('change'));
const key = k => document.dispatchEvent(new KeyboardEvent('keydown', {key: k, bubbles: true}));
out.start = document.getElementById('bp-view').dataset.step;
key('ArrowRight'); key('ArrowRight'); key('ArrowLeft'); out.afterKeys = document.getElementById('bp-view').dataset.step;
let guard = 0;
while (!document.getElementById('bp-next').disabled && guard++ < 100) document.getElementById('bp-next').click();
out.end = document.getElementById('bp-view').dataset.step;
out.w1 = Object.fromEntries([...document.querySelectorAll('table.bp-complete[data-param="W1"] tr[data-backend]')].map(
    r => [r.dataset.backend, r.dataset.diffNumerical]));
out.op = document.getElementById('bp-op').textContent;
sel.value = String([...sel.options].findIndex(o => o.textContent.includes('value_used_twice')));
sel.dispatchEvent(new Event('change'));
out.twice = [];
for (let i = 0; i < 30 && !document.getElementById('bp-next').disabled; i++) {
  document.getElementById('bp-next').click();
  document.querySelectorAll('#bp-inputs tr[data-arrivals="3"]').forEach(r => out.twice.push(r.dataset.arrival));
}
document.body.setAttribute('data-out', JSON.stringify(out));
"""


def _probe(page, script):
    reason = browser.skip_reason()
    if reason:
        pytest.skip(reason)
    dom = browser.probe(page, script)
    found = re.search(r'<body[^>]*data-out="([^"]*)"', dom)
    assert found, dom[-3000:]
    return json.loads(html_lib.unescape(found.group(1)))


def test_the_explorer_in_a_browser(page, data):
    out = _probe(page, EXPLORE)
    assert out["shown"]
    fmt = lambda vs: " ".join(f"{v:.2e}" for v in vs)  # noqa: E731
    sig20 = explorer.curve(data, explorer.setting_key("sigmoid", False, "kaiming"), "core", 20)
    assert out["start"][0]["core"] == fmt(sig20) and out["start"][1] == "20|sigmoid|plain"
    # changing the depth, then the activation, changes every backend's rendered line
    assert out["depth5"][0]["core"] == fmt(explorer.curve(data, explorer.setting_key("sigmoid", False, "kaiming"),
                                                          "core", 5))
    assert out["depth5"][1] == "5|sigmoid|plain"
    for before, after in ((out["start"], out["depth5"]), (out["depth5"], out["relu5"])):
        assert set(after[0]) == set(data["flow"]["backends"])
        assert all(after[0][n] != before[0][n] for n in after[0])
    assert out["relu5"][1] == "5|relu|plain" and out["relu5"][0]["core"].split()[0] == "2.43e+00"
    assert out["res10"][1] == "10|sigmoid|residual" and out["res10"][0]["torch" if "torch" in out["res10"][0]
                                                                         else "core"].split()[0] == "1.97e-01"
    assert out["xavier"][1] == "" and out["seven"][1] == ""  # no article cell for Xavier, nor for 7 layers


def test_stepping_through_xor_reaches_w1(page, data):
    out = _probe(page, STEPS)
    n = len(next(s for s in data["steps"] if s["case"] == "xor_mlp")["steps"])
    assert out["start"] == "0" and out["afterKeys"] == "1" and out["end"] == str(n)
    assert "matmul" in out["op"]
    assert set(out["w1"]) == set(data["flow"]["backends"])
    assert all(float(v) < 1e-10 for v in out["w1"].values()), out["w1"]
    assert sorted(set(out["twice"])) == ["1", "2", "3"]  # y = tanh(x): its three contributions arriving
