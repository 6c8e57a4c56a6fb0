"""A small CNN trained for a fixed number of SGD steps on every backend from the same start, compared step by step
(as the XOR network): conv 3×3 (padding 1) → ReLU → max-pool 2×2 → linear → cross-entropy, on four seeded 6×6
images of vertical and horizontal bars (crosscheck/core/cnn.py). The hand-written backward is the layer-by-layer
one of crosscheck/core/cnn.py, built from the textbook layer backwards (loops over kernel taps and windows).

The max-pool sees ties where ReLU zeroes a whole window; every element of such a window has a zero ReLU
derivative, so the tie's convention cannot change the gradient.
"""

from crosscheck import Training, case, inputs
from crosscheck.core import cnn

_X, _LABELS = cnn.images()


@case(X=inputs.data(_X), labels=inputs.data(_LABELS),
      **{k: inputs.fixed(v) for k, v in cnn.initial_parameters().items()},
      backward=cnn.backward, train=Training(steps=30, lr=0.5, predict=cnn.predict), tags={"layers", "cnn"})
def small_cnn(nn, X, labels, W1, b1, W2, b2):
    a1 = nn.relu(nn.conv2d(X, W1, b1, padding=1))
    pooled = nn.max_pool2d(a1, 2, 2)
    return nn.cross_entropy(nn.reshape(pooled, (X.shape[0], -1)) @ W2 + b2, labels)
