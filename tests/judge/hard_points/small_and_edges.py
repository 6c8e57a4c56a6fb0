"""Correct gradients where a naive finite-difference check raises false alarms: small |x| near a
singularity, domain edges within a step, skewed distributions. Every backend's own ops, no hand-written help."""
import numpy as np

from crosscheck import Expected, case, inputs


@case(x=inputs.uniform(32, low=0.0, high=1.0), tags={"hard"})
def log_of_uniform(nn, x):
    """log(x), x ~ U(0, 1): some draws put an element at 1e-3 or below."""
    return nn.log(x)


@case(x=inputs.uniform(16, low=1e-7, high=1e-3), tags={"hard"})
def log_of_tiny(nn, x):
    return nn.log(x)


@case(x=inputs.uniform(16, low=1e-6, high=1e-3), tags={"hard"})
def reciprocal_near_zero(nn, x):
    return 1 / x


@case(x=inputs.uniform(16, low=1e-8, high=1e-3), tags={"hard"})
def sqrt_near_zero(nn, x):
    return nn.power(x, 0.5)


#: a true finding, not the judge's: torch's double backward of BCE (FunctionsManual.cpp) takes the numerator as
#: x² - 2xt + t, (1 - x)² computed by cancelling terms of size 1; in float32 at p within ~1e-4 of y it is 0 where
#: y/(p²n) = 0.0156 (draws 48 and 83 of 200; tests/test_judge.py names the same at its own draw)
_TORCH_BCE_HVP = Expected("torch's float32 H·v of BCE cancels to 0 at p within ~1e-4 of its label (its double "
                          "backward expands (1 - x)² as x² - 2xt + t)", backend="torch", dtype="float32", param="p",
                          mode="hvp")


@case(p=inputs.uniform(64, low=0.0, high=1.0), y=inputs.data((np.arange(64) % 2).astype(float)), tags={"hard"},
      expect=[_TORCH_BCE_HVP])
def bce_uniform_probabilities(nn, p, y):
    """Binary cross-entropy with p ~ U(0, 1) over 64 elements: p near 0 or 1 in most draws."""
    return nn.binary_cross_entropy(p, y)


@case(x=inputs.fixed([-0.999999, -0.9999, 0.5, 3.0]), tags={"hard"})
def log1p_near_minus_one(nn, x):
    """log(1 + x) at x = -0.999999: a step of 2^-17 would cross the domain edge."""
    return nn.log(1 + x)


@case(x=inputs.uniform(16, low=-1.0, high=-0.99), tags={"hard"})
def log1p_uniform_near_edge(nn, x):
    return nn.log(1 + x)


@case(x=inputs.fixed([1e-300, 1e-30, -1e-20, 0.0]), tags={"hard"})
def sin_of_tiny(nn, x):
    return nn.sin(x) * 3


@case(x=inputs.fixed([1e6, -3e7, 1e15]), tags={"hard"})
def sin_of_huge(nn, x):
    return nn.sin(x)


@case(x=inputs.normal(12, scale=1e8), tags={"hard"})
def square_of_huge(nn, x):
    return x * x * 1e-16


@case(x=inputs.normal(12, scale=1e-8), tags={"hard"})
def cube_of_tiny(nn, x):
    return x * x * x * 1e16


@case(x=inputs.fixed([-np.inf, np.inf, 0.5, -3.0]), tags={"hard"})
def sigmoid_at_infinities(nn, x):
    return nn.sigmoid(x)


@case(x=inputs.fixed([-np.inf, np.inf, 0.5, -3.0]), tags={"hard"})
def tanh_at_infinities(nn, x):
    return nn.tanh(x)


@case(x=inputs.fixed([-np.inf, -800.0, 0.5]), tags={"hard"})
def exp_at_minus_infinity(nn, x):
    return nn.exp(x)


@case(x=inputs.fixed([-np.inf, 2.0, -0.5]), tags={"hard"})
def relu_at_minus_infinity(nn, x):
    return nn.relu(x)
