"""Deep stacks: depths 2–20 × {sigmoid, ReLU, sigmoid + residual}, the article's gradient-flow setup.

Seed 42, width 16, one input row, weights N(0, 2/16) (Kaiming), an upstream
gradient of ones at the output (the article's choice, hence
``cotangent="ones"``). The gradient at the input is what the article's
gradient-flow table averages.
"""

from crosscheck import case, inputs
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
