"""The chain rule on scalars: the article's two worked examples."""

from crosscheck import case, inputs


@case(x=inputs.fixed(2.0), tags={"seed", "chain_rule"})
def sin_of_quadratic(nn, x):
    """f(x) = sin(x² + 3x) at x = 2: df/dx = cos(x² + 3x)·(2x + 3) = 7 cos 10."""
    return nn.sin(x**2 + 3 * x)


@case(w=inputs.fixed(0.8), b=inputs.fixed(-0.2), x=inputs.data(1.5), t=inputs.data(1.0), tags={"seed", "chain_rule"})
def sigmoid_neuron(nn, w, b, x, t):
    """L = (σ(wx + b) - t)²: dL/dw = 2(y - t)·y(1 - y)·x."""
    y = nn.sigmoid(w * x + b)
    return (y - t) ** 2
