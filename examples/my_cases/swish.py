"""A user's case: swish(x) = x·σ(x), with a hand-written backward to check."""
import numpy as np
from crosscheck import case, inputs


def swish_backward(g, x):
    s = 1 / (1 + np.exp(-x))
    return {"x": g * (s + x * s * (1 - s))}  # d/dx x·σ(x) = σ + x·σ(1 - σ)


@case(x=inputs.normal(8, 3), backward=swish_backward, tags={"mine"})
def swish(nn, x):
    return x * nn.sigmoid(x)
