"""Correct gradients at points that are not kinks: C¹ points (f' continuous, f'' jumps), saturation, and
values very close to a kink without sitting on it."""
import numpy as np

from crosscheck import case, inputs


def huber(nn, d):
    a = nn.relu(d) + nn.relu(-d)  # |d|
    m = a - nn.relu(a - 1)  # min(|d|, 1)
    return 0.5 * m * m + (a - m)


@case(d=inputs.fixed([1.0, -1.0, 0.999, 1.001, -2.0, 0.25]), tags={"hard"})
def huber_at_its_breakpoints(nn, d):
    """Huber / smooth-L1 at |d| = 1: the first derivative is continuous there, only the second jumps."""
    return huber(nn, d)


@case(d=inputs.normal(16, scale=1.5), tags={"hard"})
def huber_random(nn, d):
    return huber(nn, d)


def elu(nn, x):
    # α = 1: x for x > 0, e^x - 1 below. Written with min(x, 0) = x - relu(x), so the chain rule through relu's
    # 0 at 0 still gives the true slope 1 there (exp(-relu(-x)) would give 0: a composition that is C¹ while
    # the chain rule through its pieces is not right at the seam)
    return nn.relu(x) + nn.exp(x - nn.relu(x)) - 1


@case(x=inputs.fixed([0.0, 1e-3, -1e-3, 2.0, -2.0]), tags={"hard"})
def elu_at_zero(nn, x):
    """ELU with α = 1 at 0: the slopes from both sides are 1, the curvature jumps."""
    return elu(nn, x)


@case(x=inputs.fixed([1.0]), tags={"hard"})
def square_relu_at_zero_shifted(nn, x):
    """relu(x - 1)²: at x = 1 both one-sided derivatives are 0 (C¹, not a kink)."""
    r = nn.relu(x - 1)
    return r * r + x


@case(x=inputs.uniform(16, low=-60.0, high=60.0), tags={"hard"})
def sigmoid_saturated(nn, x):
    return nn.sigmoid(x)


@case(x=inputs.uniform(16, low=-25.0, high=25.0), tags={"hard"})
def tanh_saturated(nn, x):
    return nn.tanh(x)


@case(x=inputs.fixed([1e-9, -1e-9, 1e-14, 3e-7]), tags={"hard"})
def relu_near_zero(nn, x):
    """Within a step of relu's kink, but not on it: smooth at each of these points."""
    return nn.relu(x) * 2


@case(a=inputs.fixed([0.3, 1.0]), b=inputs.fixed([0.3 + 1e-12, 1.0 - 1e-13]), tags={"hard"})
def maximum_nearly_tied(nn, a, b):
    return nn.maximum(a, b)


@case(z=inputs.normal(6, 5, scale=30.0), t=inputs.data(np.eye(5)[[0, 1, 2, 3, 4, 0]]), tags={"hard"})
def softmax_cross_entropy_large_logits(nn, z, t):
    return nn.softmax_cross_entropy(z, t)


@case(x=inputs.normal(6, 5), w=inputs.normal(5, 4, scale=0.01), tags={"hard"})
def small_weights_layer(nn, x, w):
    return nn.tanh(x @ w)
