"""Every op of the vocabulary on its own, on seeded random inputs, plus the article's worked points.

Non-scalar outputs are contracted with the case's seeded random cotangent,
so each case checks a full vector-Jacobian product, not a plain sum.
"""

import numpy as np

from crosscheck import case, inputs




# ------------------------------------------------------------------ elementwise, binary (with broadcasting)


@case(a=inputs.normal(3, 4), b=inputs.normal(3, 4), tags={"local", "elementwise"})
def add(nn, a, b):
    return nn.add(a, b)


@case(x=inputs.normal(5, 4), b=inputs.normal(4), tags={"local", "broadcast"})
def bias_add_broadcast(nn, x, b):
    """b (4,) is broadcast over the 5 rows: its gradient sums the rows."""
    return x + b


@case(a=inputs.normal(3, 1), b=inputs.normal(1, 4), tags={"local", "broadcast"})
def outer_broadcast(nn, a, b):
    """(3, 1) ∘ (1, 4) → (3, 4): both operands are stretched."""
    return nn.multiply(a, b)


@case(a=inputs.normal(3, 4), b=inputs.normal(4), tags={"local", "broadcast"})
def subtract(nn, a, b):
    return nn.subtract(a, b)


@case(a=inputs.normal(3, 4), b=inputs.normal(3, 4), tags={"local", "elementwise"})
def multiply(nn, a, b):
    return nn.multiply(a, b)


@case(a=inputs.normal(3, 4), b=inputs.uniform(3, 4, low=0.5, high=2.0), tags={"local", "elementwise"})
def divide(nn, a, b):
    return nn.divide(a, b)


@case(a=inputs.normal(2, 3), b=inputs.uniform(3, low=0.5, high=2.0), tags={"local", "broadcast"})
def divide_broadcast(nn, a, b):
    return a / b


@case(a=inputs.normal(3, 4), b=inputs.normal(3, 4), tags={"local", "elementwise"})
def maximum(nn, a, b):
    return nn.maximum(a, b)


# ------------------------------------------------------------------ elementwise, unary


@case(x=inputs.normal(3, 4), tags={"local", "elementwise"})
def negative(nn, x):
    return nn.negative(x)


@case(x=inputs.normal(3, 4), tags={"local", "elementwise"})
def power_cube(nn, x):
    return nn.power(x, 3)


@case(x=inputs.uniform(3, 4, low=0.5, high=2.0), tags={"local", "elementwise"})
def power_fractional(nn, x):
    return x**2.5


@case(x=inputs.normal(3, 4), tags={"local", "elementwise"})
def exp(nn, x):
    return nn.exp(x)


@case(x=inputs.uniform(3, 4, low=0.5, high=3.0), tags={"local", "elementwise"})
def log(nn, x):
    return nn.log(x)


@case(x=inputs.normal(3, 4, scale=2.0), tags={"local", "elementwise"})
def sin(nn, x):
    return nn.sin(x)


@case(x=inputs.normal(3, 4, scale=2.0), tags={"local", "elementwise"})
def cos(nn, x):
    return nn.cos(x)


@case(x=inputs.normal(3, 4, scale=2.0), tags={"local", "elementwise"})
def tanh(nn, x):
    return nn.tanh(x)


@case(x=inputs.normal(3, 4, scale=3.0), tags={"local", "elementwise"})
def sigmoid(nn, x):
    return nn.sigmoid(x)


@case(x=inputs.away_from_zero(3, 4), tags={"local", "elementwise"})
def relu(nn, x):
    return nn.relu(x)


# ------------------------------------------------------------------ the article's points


@case(x=inputs.fixed([0.0, 1.0, -1.0, 5.0]), cotangent="ones", tags={"local", "seed"})
def sigmoid_article_points(nn, x):
    """σ'(x) at 0, 1, -1, 5 is [0.25, 0.1966, 0.1966, 0.0066]; ones as cotangent give exactly σ'(x)."""
    return nn.sigmoid(x)


@case(x=inputs.fixed([-2.0, 0.5, -0.1, 3.0]), cotangent="ones", tags={"local", "seed"})
def relu_article_points(nn, x):
    """relu'(x) at -2, 0.5, -0.1, 3 is the gate [0, 1, 0, 1]."""
    return nn.relu(x)


@case(X=inputs.normal(3, 4), W=inputs.normal(4, 2), tags={"local", "seed", "linear"})
def matmul(nn, X, W):
    """The article's shapes: 3 samples × 4 features times 4 × 2; dX = dC Wᵀ, dW = Xᵀ dC."""
    return X @ W


@case(logits=inputs.fixed([2.0, 1.0, 0.1]), target=inputs.data([1.0, 0.0, 0.0]), tags={"local", "seed", "loss"})
def softmax_cross_entropy_article(nn, logits, target):
    """Logits [2, 1, 0.1], class 0: the gradient is p - y = [-0.341, 0.2424, 0.0986]."""
    return nn.softmax_cross_entropy(logits, target)


# ------------------------------------------------------------------ linear algebra, reductions, shape


@case(A=inputs.normal(2, 3, 4), B=inputs.normal(4, 5), tags={"local", "linear", "broadcast"})
def matmul_batched(nn, A, B):
    """A stack of 2 matrices times one matrix: B's gradient sums over the stack."""
    return nn.matmul(A, B)


@case(A=inputs.normal(3, 4), v=inputs.normal(4), tags={"local", "linear"})
def matmul_vector(nn, A, v):
    """nn.matmul, not ``@``: TensorFlow's ``@`` is tf.matmul, which takes no 1-D operand (numpy's rules do)."""
    return nn.matmul(A, v)


@case(x=inputs.normal(3, 4), tags={"local", "reduction"})
def sum_all(nn, x):
    return nn.sum(x)


@case(x=inputs.normal(3, 4), tags={"local", "reduction"})
def sum_axis0(nn, x):
    return nn.sum(x, axis=0)


@case(x=inputs.normal(3, 4, 2), tags={"local", "reduction"})
def mean_axis1_keepdims(nn, x):
    return nn.mean(x, axis=1, keepdims=True)


@case(x=inputs.normal(3, 4), tags={"local", "reduction"})
def mean_all(nn, x):
    return nn.mean(x)


@case(x=inputs.normal(3, 4), tags={"local", "shape"})
def reshape(nn, x):
    return nn.sin(nn.reshape(x, (2, 6)))


@case(x=inputs.normal(2, 3, 4), tags={"local", "shape"})
def transpose(nn, x):
    return nn.tanh(nn.transpose(x, (2, 0, 1)))


# ------------------------------------------------------------------ losses


@case(pred=inputs.normal(4, 3), target=inputs.normal(4, 3), tags={"local", "loss"})
def mean_squared_error(nn, pred, target):
    return nn.mean_squared_error(pred, target)


@case(p=inputs.uniform(6, 1, low=0.05, high=0.95), y=inputs.data([[0.0], [1.0], [1.0], [0.0], [1.0], [0.0]]),
      tags={"local", "loss"})
def binary_cross_entropy(nn, p, y):
    return nn.binary_cross_entropy(p, y)


@case(logits=inputs.normal(4, 5, scale=2.0),
      target=inputs.data([[0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 1, 0, 0]]),
      tags={"local", "loss"})
def softmax_cross_entropy(nn, logits, target):
    """A batch of 4 rows: dL/dz = (p - y)/4."""
    return nn.softmax_cross_entropy(logits, target)


# ------------------------------------------------------------------ composition


@case(x=inputs.normal(3, 4), tags={"local", "composition"})
def value_used_twice(nn, x):
    """y = tanh(x) feeds both factors of y·y and a sin: its gradient must collect all three paths."""
    y = nn.tanh(x)
    return y * y + nn.sin(y)


@case(x=inputs.normal(4, 3), W=inputs.normal(3, 2), b=inputs.normal(2), tags={"local", "composition"})
def linear_tanh_layer(nn, x, W, b):
    return nn.tanh(x @ W + b)


# ------------------------------------------------------------------ kinks: points where no derivative exists


@case(x=inputs.fixed([-1.0, 0.0, 2.0]), tags={"local", "kinks"})
def relu_at_zero(nn, x):
    """relu at exactly 0: left derivative 0, right 1; torch, jax and TensorFlow return 0 there, autograd ½."""
    return nn.relu(x)


@case(a=inputs.fixed([1.0, 2.0, 3.0]), b=inputs.fixed([1.0, 0.0, 5.0]), tags={"local", "kinks"})
def maximum_tie(nn, a, b):
    """max(a, b) with a tie at element 0: the core splits the gradient, ½ to each side."""
    return nn.maximum(a, b)


# The article's matmul check, exactly: legacy seed 42 draws X (3×4), W (4×2), then the upstream dC (3×2);
# the proxy loss Σ dC ∘ (XW) has dL/dW = Xᵀ dC.
_rs = np.random.RandomState(42)
_X42, _W42, _DC42 = _rs.randn(3, 4), _rs.randn(4, 2), _rs.randn(3, 2)


@case(X=inputs.fixed(_X42), W=inputs.fixed(_W42), dC=inputs.data(_DC42), tags={"local", "seed", "linear"})
def matmul_article_check(nn, X, W, dC):
    """The article's data; the seed table sets each backend's dW against a step-1e-5 central difference."""
    return nn.sum(dC * (X @ W))
