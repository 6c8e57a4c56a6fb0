"""The benchmark's tanh MLP, 16 → H → H → 1 on a batch of 32, as a crosscheck case of any width H.

P = 16H + H + H² + H + H + 1 = H² + 19H + 1 parameters; :func:`hidden_for` picks the H whose P is
nearest a target. The output (32, 1) is contracted with the case's seeded cotangent, so every tool
differentiates the same scalar ⟨c, f(x)⟩.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from crosscheck import case, discover, inputs

BATCH, FEATURES = 32, 16
#: the width the case is written at; :func:`tanh_mlp_case` redraws it at any other
_H = 4
PARAMETERS = ("W1", "b1", "W2", "b2", "W3", "b3")


def parameter_count(hidden):
    return hidden * hidden + 19 * hidden + 1


def hidden_for(target):
    """The width whose parameter count is nearest ``target`` (the larger one on a tie)."""
    h = (-19 + math.sqrt(361 + 4 * (target - 1))) / 2
    lo, hi = max(1, math.floor(h)), math.floor(h) + 1
    return lo if abs(parameter_count(lo) - target) < abs(parameter_count(hi) - target) else hi


def _specs(hidden):
    """Weights N(0, 1/fan_in) keep tanh out of saturation at every width; biases small."""
    return dict(
        x=inputs.normal(BATCH, FEATURES, grad=False),
        W1=inputs.normal(FEATURES, hidden, scale=FEATURES**-0.5),
        b1=inputs.normal(hidden, scale=0.1),
        W2=inputs.normal(hidden, hidden, scale=hidden**-0.5),
        b2=inputs.normal(hidden, scale=0.1),
        W3=inputs.normal(hidden, 1, scale=hidden**-0.5),
        b3=inputs.normal(1, scale=0.1),
    )


@case(dtypes=("float64",), tags={"benchmark"}, **_specs(_H))
def tanh_mlp(nn, x, W1, b1, W2, b2, W3, b3):
    a1 = nn.tanh(x @ W1 + b1)
    a2 = nn.tanh(a1 @ W2 + b2)
    return a2 @ W3 + b3


def tanh_mlp_case(hidden):
    """The case at width ``hidden``, named ``tanh_mlp_P<count>`` (its inputs seeded by that name)."""
    (base,) = discover([Path(__file__)])
    return dataclasses.replace(base, name=f"tanh_mlp_P{parameter_count(hidden)}", inputs=_specs(hidden))


def numpy_point(c):
    """The case's float64 inputs and its cotangent: what gradcheck and check_grads are given."""
    point = c.point("float64")
    return point, c.cotangent_for((BATCH, 1), "float64")


def forward_numpy(x, W1, b1, W2, b2, W3, b3):
    return np.tanh(np.tanh(x @ W1 + b1) @ W2 + b2) @ W3 + b3
