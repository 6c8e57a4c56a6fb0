"""The article's tables, reproduced: each printed figure beside every backend's value.

Each table is built only when the catalogue has the cases it needs (a user's
own case folder simply gets none). Values are formatted at the article's
printed precision, so "matches" means equal as printed.
"""

from __future__ import annotations

import numpy as np

from .flow import KINDS
from .numerical import central_difference

CHAIN_RULE = {  # case -> (parameter, article's finite difference (step 1e-7), article's analytic value)
    "sin_of_quadratic": ("x", "-5.8735006980", "-5.8735007035"),
    "sigmoid_neuron": ("w", "-0.1586312778", "-0.1586312784"),
}
LOCAL = {  # case -> (parameter, article's printed gradient, decimals)
    "sigmoid_article_points": ("x", "[0.25, 0.1966, 0.1966, 0.0066]", 4),
    "relu_article_points": ("x", "[0.0, 1.0, 0.0, 1.0]", 4),
    "softmax_cross_entropy_article": ("logits", "[-0.341, 0.2424, 0.0986]", 4),
}
XOR_EPOCHS = {0: "0.6974", 500: "0.0027", 1000: "0.0012", 1500: "0.0008"}
XOR_PREDICTIONS = ["0.0000", "0.9978", "1.0000", "0.0000"]
GRADIENT_FLOW = {  # depth -> (sigmoid, relu, sigmoid + residual): mean |dL/dx|
    2: ("6.22e-02", "1.44e+00", "2.06e-01"),
    5: ("5.00e-04", "2.43e+00", "1.99e-01"),
    10: ("7.59e-06", "5.16e+00", "1.97e-01"),
    15: ("7.03e-09", "1.32e+00", "1.61e-01"),
    20: ("1.99e-11", "1.24e+00", "1.57e-01"),
}


def _frame(records):
    import pandas as pd

    return pd.DataFrame(records)


def _grads(case, backend, dtype="float64"):
    return backend.evaluate(case, case.point(dtype), dtype).grads


def _applying(backends, case):
    """The backends that apply to the case and bind every op it calls (a young engine's gaps are in its rows)."""
    from .matrix import binding_every_op

    return binding_every_op(backends, case)


def _article_difference(numeric, case, param, step):
    """The article's finite difference of the case's objective: a fixed step, quotient over 2·step."""
    point = case.point()
    f = numeric._objective_of(case, point, param)
    return central_difference(f, point[param], step=step, batched=True)


def chain_rule(catalogue, backends, numeric):
    records = []
    for name, (param, article_num, article_ana) in CHAIN_RULE.items():
        if name not in catalogue:
            continue
        case = catalogue[name]
        num = float(_article_difference(numeric, case, param, 1e-7))
        records.append({"quantity": f"{name}: d/d{param} by finite difference (step 1e-7)", "article": article_num,
                        "crosscheck": f"{num:.10f}", "matches": f"{num:.10f}" == article_num})
        for b in _applying(backends, case):
            g = float(_grads(case, b)[param])
            records.append({"quantity": f"{name}: d/d{param} by {b.name}", "article": article_ana,
                            "crosscheck": f"{g:.10f}", "matches": f"{g:.10f}" == article_ana})
    return _frame(records)


def local_gradients(catalogue, backends, numeric):
    records = []
    for name, (param, article, decimals) in LOCAL.items():
        if name not in catalogue:
            continue
        for b in _applying(backends, catalogue[name]):
            got = str(np.round(_grads(catalogue[name], b)[param], decimals).tolist())
            records.append({"quantity": f"{name} d/d{param}", "backend": b.name, "article": article,
                            "crosscheck": got, "matches": got == article})
    for name, param, article, limit, step in (("matmul_article_check", "W", "1.89e-11", 1e-9, 1e-5),):
        if name not in catalogue:
            continue
        num = _article_difference(numeric, catalogue[name], param, step)
        for b in _applying(backends, catalogue[name]):
            diff = float(np.max(np.abs(_grads(catalogue[name], b)[param] - num)))
            records.append({"quantity": f"{name}: max |d{param} - finite difference (step {step:g})|, "
                                        f"matches when below {limit:g}",
                            "backend": b.name, "article": article, "crosscheck": f"{diff:.2e}",
                            "matches": diff < limit})
    return _frame(records)


def xor_gradient_check(catalogue, backends, numeric):
    """The article's W1 check: max |dW1 - finite difference (step 1e-5)|, article 3.24e-12."""
    if "xor_mlp" not in catalogue:
        return _frame([])
    case = catalogue["xor_mlp"]
    num = _article_difference(numeric, case, "W1", 1e-5)
    records = []
    for b in _applying(backends, case):
        diff = float(np.max(np.abs(_grads(case, b)["W1"] - num)))
        records.append({"backend": b.name, "article": "3.24e-12", "max |dW1 - numerical|": f"{diff:.2e}",
                        "below 1e-10": diff < 1e-10})
    return _frame(records)


def xor_training(divergences, trajectories):
    """Loss at the article's epochs and the final predictions, per backend and dtype."""
    preds = {(t.backend, t.dtype): t.predictions for t in trajectories if t.case == "xor_mlp"}
    records = []
    for d in divergences:
        if d.case != "xor_mlp":
            continue
        rec = {"backend": d.backend, "dtype": d.dtype}
        rec.update({f"epoch {e}": f"{d.checkpoints[e]:.4f}" if e in d.checkpoints else "" for e in XOR_EPOCHS})
        p = preds.get((d.backend, d.dtype))
        rec["predictions"] = " ".join(f"{v:.4f}" for v in p.ravel()) if p is not None else ""
        rec["matches article"] = (all(rec[f"epoch {e}"] == v for e, v in XOR_EPOCHS.items())
                                  and rec["predictions"] == " ".join(XOR_PREDICTIONS))
        records.append(rec)
    if records:
        records.insert(0, {"backend": "article", "dtype": "float64",
                           **{f"epoch {e}": v for e, v in XOR_EPOCHS.items()},
                           "predictions": " ".join(XOR_PREDICTIONS), "matches article": True})
    return _frame(records)


def gradient_flow(cells):
    """The 15 cells per backend, with the article's value and the relative difference from the core."""
    records = []
    for depth, article in GRADIENT_FLOW.items():
        for kind, printed in zip(KINDS, article):
            row = {"layers": depth, "stack": kind, "article": printed}
            ok = True
            for c in cells:
                if c.depth == depth and c.kind == kind:
                    row[c.backend] = f"{c.mean_abs_input_grad:.2e}"
                    row[f"{c.backend} rel diff"] = f"{c.rel_diff:.1e}"
                    ok &= row[c.backend] == printed
            row["all match"] = ok
            records.append(row)
    return _frame(records if any(len(r) > 4 for r in records) else [])
