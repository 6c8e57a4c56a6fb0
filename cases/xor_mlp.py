"""The article's XOR network: 2 → 4 → 4 → 1, ReLU, ReLU, sigmoid, BCE; seed 3, weights N(0, 1)·0.5, zero biases.

The first XOR point is (0, 0) and the biases start at 0, so the first
layer's pre-activations for it are exactly 0: a ReLU kink. The gradient of
b1 is therefore reported as ``kink`` (left and right derivatives differ
there), not as a pass or a failure. (b2 sits on a kink too, but one where
both one-sided derivatives happen to be 0.) HIPS autograd's ReLU is
``maximum(a, 0)``, which gives ½ at 0: through two layers at their kinks that
is outside [left, right], an expected discrepancy declared below.

It also carries the article's training run: 2000 epochs of full-batch SGD at
lr = 1.0, repeated on every backend from the same weights.
"""

from crosscheck import Expected, Training, case, inputs
from crosscheck.core import mlp

_INIT = mlp.initial_parameters(seed=3)


def _backward(g, X, y, **params):
    """The manual MLP's layer-by-layer backward."""
    _, cache = mlp.forward(params, X)
    return mlp.backward(params, cache, y, upstream=g)


def _predict(X, y, **params):
    return mlp.forward(params, X)[0]


@case(X=inputs.data(mlp.XOR_INPUTS), y=inputs.data(mlp.XOR_TARGETS),
      **{k: inputs.fixed(v) for k, v in _INIT.items()},
      backward=_backward, train=Training(steps=2000, lr=1.0, predict=_predict), tags={"seed", "mlp"},
      expect=[Expected("autograd's relu is maximum(a, 0), whose backward splits a tie ½/½; both ReLU layers sit "
                       "at 0 for the point (0, 0), and the chain of ½s is no one-sided derivative of the network "
                       "(torch.maximum bound as relu gives the same numbers)", backend="autograd", param="b1"),
              Expected("autograd's relu is maximum(a, 0), whose ½/½ split at the tie also enters its second order: at "
                       "(0, 0), where both ReLU layers sit at 0, its H·v in W2 is no one-sided second derivative of "
                       "the network (the others' H·v rows there are kink or unjudged)", backend="autograd", param="W2",
                       mode="hvp")])
def xor_mlp(nn, X, y, W1, b1, W2, b2, W3, b3):
    a1 = nn.relu(X @ W1 + b1)
    a2 = nn.relu(a1 @ W2 + b2)
    return nn.binary_cross_entropy(nn.sigmoid(a2 @ W3 + b3), y)
