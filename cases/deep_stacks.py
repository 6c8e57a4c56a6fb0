"""Deep stacks: depths 2–20 × {sigmoid, ReLU, sigmoid + residual}, the article's gradient-flow setup.

Seed 42, width 16, one input row, weights N(0, 2/16) (Kaiming), an upstream
gradient of ones at the output (the article's choice, hence
``cotangent="ones"``). The gradient at the input is what the article's
gradient-flow table averages.
"""

from crosscheck import Training, case, inputs
from crosscheck.core import stacks

DEPTHS = (2, 5, 10, 15, 20)
KINDS = {"sigmoid": ("sigmoid", False), "relu": ("relu", False), "sigmoid_residual": ("sigmoid", True)}


def _make(n, activation, residual):
    names = [f"W{i}" for i in range(n)]

    def stack(nn, x, **weights):
        a = x
        for i, name in enumerate(names):
            z = a @ weights[name]
            out = nn.sigmoid(z) if activation == "sigmoid" else nn.relu(z)
            a = out + a if residual and i > 0 else out
        return a

    def backward(g, x, **weights):
        ws = [weights[name] for name in names]
        _, cache = stacks.forward(x, ws, activation, residual)
        d_input, d_weights, _ = stacks.backward(ws, cache, g, activation, residual)
        return {"x": d_input, **dict(zip(names, d_weights))}

    return stack, backward


for _n in DEPTHS:
    _x, _weights = stacks.initial_stack(_n, seed=42, width=16)
    for _kind, (_activation, _residual) in KINDS.items():
        _fn, _backward = _make(_n, _activation, _residual)
        case(f"stack_{_kind}_{_n}", x=inputs.fixed(_x), **{f"W{i}": inputs.fixed(w) for i, w in enumerate(_weights)},
             backward=_backward, cotangent="ones", tags={"seed", "stacks", _kind})(_fn)


# A regression task on the 10-layer sigmoid + residual stack, for training trajectories:
# the article's input row and weights, a seeded N(0, 1) target, MSE, 200 SGD steps.
_REG_DEPTH = 10
_reg_x, _reg_weights = stacks.initial_stack(_REG_DEPTH, seed=42, width=16)
_reg_fn, _ = _make(_REG_DEPTH, "sigmoid", True)
_reg_names = [f"W{i}" for i in range(_REG_DEPTH)]


def _regression_backward(g, x, target, **weights):
    ws = [weights[n] for n in _reg_names]
    out, cache = stacks.forward(x, ws, "sigmoid", True)
    upstream = g * 2 * (out - target) / out.size  # d MSE / d out
    _, d_weights, _ = stacks.backward(ws, cache, upstream, "sigmoid", True)
    return dict(zip(_reg_names, d_weights))


def _regression(nn, x, target, **weights):
    return nn.mean_squared_error(_reg_fn(nn, x, **weights), target)


case("stack_regression_sigmoid_residual_10", x=inputs.data(_reg_x), target=inputs.normal(1, 16, grad=False),
     **{n: inputs.fixed(w) for n, w in zip(_reg_names, _reg_weights)}, backward=_regression_backward,
     train=Training(steps=200, lr=0.05), tags={"stacks", "training"})(_regression)
