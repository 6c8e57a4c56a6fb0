"""The second-order studies of the report (issue 13): curvature along the XOR training run, and how forward
mode, reverse mode and Hessian-vector products agree across backends on the deep stacks at depth 20.

- **XOR curvature along training.** The article trains its XOR MLP at learning rate 1.0; plain gradient descent
  is stable along a direction only while lr < 2/λ, λ the loss's curvature there. At the checkpoints of the
  core's float64 training run, the largest curvature λ_max is found by power iteration on the core's H·v
  (reverse over its forward-mode rules), and every backend's own H·v along that top direction gives its
  estimate vᵀHv; beside it each backend's H·v against the core's along the same direction.
- **Depth 20.** On the sigmoid, ReLU and residual stacks at depth 20, every backend's J·v (along the seeded
  tangent of the input x), its gradient of x (Jᵀu) and its H·v (the seeded tangent over every input), each
  against the core's, and the transpose identity ⟨u, J·v⟩ = ⟨Jᵀu, v⟩ within the backend itself.
"""

from __future__ import annotations

import numpy as np

from . import modes
from .numerical import rademacher_direction

#: power iterations for λ_max (the XOR MLP has 17 parameters: the top eigenvalue settles well before)
POWER_ITERATIONS = 60
DEPTH_CASES = ("stack_sigmoid_20", "stack_relu_20", "stack_sigmoid_residual_20")


def _flat(d, names):
    return np.concatenate([np.asarray(d[k], dtype=np.float64).reshape(-1) for k in names])


def _split(vector, point, names):
    out, start = {}, 0
    for k in names:
        n = point[k].size
        out[k] = vector[start:start + n].reshape(point[k].shape)
        start += n
    return out


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
    with np.errstate(invalid="ignore"):
        return float(np.max(np.abs(a - b), initial=0.0) / scale)


def _second_order_backends(backends):
    return [b for b in backends if "hvp" in getattr(b, "modes", ()) and not b.unavailable()]


def xor_curvature(catalogue, backends, checkpoints):
    """Rows (epoch, loss, λ_max, 2/λ_max, per backend vᵀHv and its H·v's distance from the core's) at the
    checkpoints of the core's float64 training of the XOR MLP; [] when the case or the core is absent."""
    from . import backends as registry
    from .trajectories import train

    case = catalogue.get("xor_mlp")
    runnable = _second_order_backends(backends)
    if case is None or case.training is None or not any(b.name == "core" for b in runnable):
        return []
    core = registry.get("core")
    traj = train(case, core, "float64")
    names = case.wrt
    base = case.point("float64")
    rows = []
    for epoch in checkpoints:
        if epoch >= len(traj.params) or not np.isfinite(traj.params[epoch]).all():
            continue
        point = dict(base)
        point.update(_split(traj.params[epoch], base, names))
        v = rademacher_direction((sum(base[k].size for k in names),), case.seed("<curvature>"), 0).astype(np.float64)
        v /= np.linalg.norm(v)
        lam = 0.0
        for _ in range(POWER_ITERATIONS):  # power iteration on H (the top eigenvalue by magnitude)
            hv = _flat(core.hvp(case, point, "float64", _split(v, base, names)), names)
            lam = float(v @ hv)
            norm = float(np.linalg.norm(hv))
            if norm == 0:
                break
            v = hv / norm
        loss = core.evaluate(case, point, "float64").value
        row = {"epoch": epoch, "loss": loss, "lambda_max": lam, "lr_bound": 2 / abs(lam) if lam else np.inf,
               "backends": {}}
        reference = _flat(core.hvp(case, point, "float64", _split(v, base, names)), names)
        for b in runnable:
            try:
                hv = _flat(b.hvp(case, point, "float64", _split(v, base, names)), names)
                row["backends"][b.name] = (float(v @ hv), _rel(hv, reference), "")
            except Exception as exc:
                row["backends"][b.name] = (np.nan, np.nan, f"{type(exc).__name__}: {exc}")
        rows.append(row)
    return rows


def xor_curvature_table(rows):
    import pandas as pd

    if not rows:
        return pd.DataFrame()
    backends = list(rows[0]["backends"])
    out = []
    for r in rows:
        rec = {"epoch": str(r["epoch"]), "loss": f"{r['loss']:.4f}", "λ_max (core)": f"{r['lambda_max']:.6g}",
               "2/λ_max": f"{r['lr_bound']:.4g}"}
        for b in backends:
            vhv, rel, err = r["backends"][b]
            rec[f"{b} vᵀHv"] = err[:60] if err else f"{vhv:.6g}"
            rec[f"{b} H·v vs core"] = "" if err else f"{rel:.1e}"
        out.append(rec)
    return pd.DataFrame(out)


def depth_agreement(catalogue, backends):
    """Per depth-20 stack and backend (float64): J·v, Jᵀu and H·v against the core's, and the backend's own
    transpose identity residual |⟨u, J·v⟩ - ⟨Jᵀu, v⟩| / (|⟨u, J·v⟩| + |⟨Jᵀu, v⟩|)."""
    import pandas as pd

    runnable = [b for b in backends if not b.unavailable() and {"fwd", "hvp"} <= set(getattr(b, "modes", ()))]
    cases = [catalogue[n] for n in DEPTH_CASES if n in catalogue]
    if not cases or not any(b.name == "core" for b in runnable):
        return pd.DataFrame()
    out = []
    for case in cases:
        point = case.point("float64")
        v_x = modes.tangent(case, "x", point["x"].shape)
        v = modes.hvp_tangents(case, point)
        results = {}
        for b in runnable:
            try:
                jv = np.asarray(b.jvp(case, point, "float64", "x", v_x), dtype=np.float64)
                g = np.asarray(b.evaluate(case, point, "float64").grads["x"], dtype=np.float64)
                hv = _flat(b.hvp(case, point, "float64", v), case.wrt)
                extra = None
                if hasattr(b, "hvp_forward_over_reverse"):
                    extra = _flat(b.hvp_forward_over_reverse(case, point, "float64", v), case.wrt)
                results[b.name] = (jv, g, hv, extra, "")
            except Exception as exc:
                results[b.name] = (None, None, None, None, f"{type(exc).__name__}: {exc}")
        core = results.get("core")
        if core is None or core[4]:
            continue
        u = np.ones(core[0].shape)  # the stacks take a cotangent of ones
        for name, (jv, g, hv, extra, err) in results.items():
            if err:
                out.append({"case": case.name, "backend": name, "J·v vs core": err[:80], "Jᵀu vs core": "",
                            "H·v vs core": "", "transpose residual": "", "H·v two ways": ""})
                continue
            left, right = float(np.sum(u * jv)), float(np.sum(g * v_x))
            residual = abs(left - right) / max(abs(left) + abs(right), 1e-300)
            out.append({"case": case.name, "backend": name, "J·v vs core": f"{_rel(jv, core[0]):.1e}",
                        "Jᵀu vs core": f"{_rel(g, core[1]):.1e}", "H·v vs core": f"{_rel(hv, core[2]):.1e}",
                        "transpose residual": f"{residual:.1e}",
                        "H·v two ways": "" if extra is None else f"{_rel(extra, hv):.1e}"})
    return pd.DataFrame(out)


def compute(catalogue, backends, dtypes, checkpoints):
    """(XOR curvature rows, depth-20 agreement table): float64, when the run holds those cases."""
    if "float64" not in dtypes:
        return [], None
    return xor_curvature(catalogue, backends, checkpoints), depth_agreement(catalogue, backends)
