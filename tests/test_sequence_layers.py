"""Attention and recurrent layers (issue 11): the hand-written backwards pass, and wrong ones are caught with the
parameter and the worst element named; the core's attention rule; the flow-through-time study."""

import dataclasses
import re

import numpy as np
import pytest

from crosscheck import flow_time, runner
from crosscheck.backends import core as core_backend
from crosscheck.core.tape import apply
from crosscheck.core import sequence

H = 4  # the recurrent cases' hidden width (cases/layers_sequence.py)


def _sigmoid_derivative_forgotten(s):
    return s  # wrong: σ' = s(1 - s), the (1 - s) factor left out


def _wrong_lstm_backward(case):
    """The case's own hand-written backward with the forget gate's derivative wrong (the other gates right)."""
    def backward(g, **a):
        hs, steps = sequence.lstm_forward(a["x"], a["h0"], a["c0"], a["Wx"], a["Wh"], a["b"])
        dhs = np.broadcast_to(g, hs.shape).astype(g.dtype)
        wrong = {**sequence.GATE_DERIVATIVES, "f": _sigmoid_derivative_forgotten}
        return sequence.lstm_backward(a["x"], a["h0"], a["c0"], a["Wx"], a["Wh"], a["b"], hs, steps, dhs, wrong)

    return dataclasses.replace(case, backward=backward)


def test_the_lstm_hand_written_backward_passes(catalogue):
    rows = runner.run([catalogue["lstm"]], backends=["handwritten", "core"], dtypes=("float64", "float32"))
    assert {r.param for r in rows} == {"x", "h0", "c0", "Wx", "Wh", "b"}
    assert {r.verdict for r in rows} == {"pass"}, [r.message for r in rows if r.verdict != "pass"]


def test_an_lstm_backward_with_one_gate_derivative_wrong_is_caught(catalogue):
    rows = runner.run([_wrong_lstm_backward(catalogue["lstm"])], backends=["handwritten"], dtypes=("float64",))
    by_param = {r.param: r for r in rows}
    # every gradient upstream of the forget gate is wrong: the weights, the inputs, both initial states
    assert {p for p, r in by_param.items() if r.verdict == "fail"} == {"x", "h0", "c0", "Wx", "Wh", "b"}
    row = by_param["b"]
    for words in ("case 'lstm'", "parameter 'b'", "backend handwritten", "dtype float64", "worst at b[", "got ",
                  "reference ", "max abs error", "max rel error"):
        assert words in row.message, (words, row.message)
    (k,) = map(int, re.search(r"worst at b\[(\d+)\]", row.message).groups())
    assert row.worst_index == (k,)
    assert H <= k < 2 * H  # the worst bias element is a forget-gate bias (torch's gate order i, f, g, o)


def test_a_wrong_attention_rule_in_the_core_is_caught(monkeypatch, catalogue):
    def wrong(q, k, v, *, causal=False):  # the softmax's Jacobian without its -P·(P·dP) term
        out, (scale, p) = sequence.attention_forward(q, k, v, causal)

        def vjp(g):
            ds = p * (g @ np.swapaxes(v, -1, -2))
            return scale * (ds @ k), scale * (np.swapaxes(ds, -1, -2) @ q), np.swapaxes(p, -1, -2) @ g
        return out, vjp

    monkeypatch.setattr(core_backend.CoreVocabulary, "scaled_dot_product_attention",
                        lambda self, q, k, v, causal=False: apply(wrong, q, k, v, causal=causal))
    rows = runner.run([catalogue["attention"]], backends=["core", "handwritten"], dtypes=("float64",), modes=("rev",))
    verdicts = {(r.backend, r.param): r.verdict for r in rows}
    assert verdicts[("core", "q")] == verdicts[("core", "k")] == "fail"
    assert verdicts[("core", "v")] == "pass"  # dv = Pᵀg does not go through the softmax
    assert {v for (b, _), v in verdicts.items() if b == "handwritten"} == {"pass"}


@pytest.mark.parametrize("causal", [False, True])
def test_the_causal_mask_gives_no_gradient_to_future_keys(causal):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((4, 3)) for _ in range(3))
    out, vjp = sequence.scaled_dot_product_attention(q, k, v, causal=causal)
    g = np.zeros_like(out)
    g[0] = 1.0  # only query 0's output: with the mask it sees key 0 and value 0 only
    dq, dk, dv = vjp(g)
    assert (np.all(dk[1:] == 0) and np.all(dv[1:] == 0)) == causal


def test_flow_through_time_on_the_core_and_the_hand_written_backward():
    from crosscheck.backends import get

    cells = flow_time.gradient_flow_through_time([get("handwritten"), get("core")])
    assert {(c.model, c.steps) for c in cells} == {(m, t) for m in flow_time.MODELS for t in flow_time.LENGTHS}
    for c in cells:
        assert np.isfinite(c.mean_abs_first_step) and c.mean_abs_first_step > 0 and not c.error
        if c.backend == "core":
            assert c.rel_diff < 1e-12  # the tape against the hand-written BPTT
    rnn = {c.steps: c.mean_abs_first_step for c in cells if c.model == "rnn" and c.backend == "handwritten"}
    assert rnn[50] < 1e-3 * rnn[5]  # the tanh RNN's gradient at the first step vanishes with T


def test_the_report_has_the_flow_through_time_section(catalogue, tmp_path):
    import io

    from crosscheck import report

    cases = [catalogue[n] for n in ("rnn_tanh", "lstm", "gru")]
    results = report.compute(cases, ["core", "handwritten"], ("float64",),
                             progress=report.Progress(1, stream=io.StringIO()))
    assert len(results.time_flow) == 2 * len(flow_time.MODELS) * len(flow_time.LENGTHS)
    report.write(results, tmp_path)
    table = (tmp_path / "gradient_flow_through_time.csv").read_text()
    assert "LSTM" in table and "GRU" in table and "RNN (tanh)" in table
    assert (tmp_path / "gradient_flow_through_time.png").read_bytes()[:4] == b"\x89PNG"
    assert "Gradient flow through time" in (tmp_path / "report.md").read_text()
