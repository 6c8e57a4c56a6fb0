"""Item 3: one forward + backward of a dense stack w → w → w (tanh, tanh), batch 64, loss ⟨c, y⟩.

Four ways to compute dL/dW1 and dL/dW2: the core's tape (``crosscheck.core.tape`` and ``ops``, as the
``core`` backend runs a case), the same computation written by hand in numpy (the floor the tape adds
its bookkeeping to), torch eager (autograd), and jax (``jit`` of ``value_and_grad``, compiled outside
the timed region, ``block_until_ready``). Their gradients are checked against each other before timing,
so no contender is timed computing something else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .timing import round_robin

BATCH = 64
CONTENDERS = ("core tape", "numpy by hand", "torch eager", "jax jit")


def _arrays(width, dtype):
    rng = np.random.default_rng(width)
    x = rng.standard_normal((BATCH, width)).astype(dtype)
    W1 = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(dtype)
    W2 = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(dtype)
    c = rng.standard_normal((BATCH, width)).astype(dtype)
    return x, W1, W2, c


def core_tape(x, W1, W2, c):
    from crosscheck.core import ops, tape

    def step():
        w1, w2 = tape.Tensor(W1, requires_grad=True), tape.Tensor(W2, requires_grad=True)
        h = tape.apply(ops.tanh, tape.Tensor(x) @ w1)
        y = tape.apply(ops.tanh, h @ w2)
        loss = tape.apply(ops.sum, y * tape.Tensor(c))
        return tape.gradients(loss, [w1, w2])

    return step


def numpy_by_hand(x, W1, W2, c):
    def step():
        h = np.tanh(x @ W1)
        y = np.tanh(h @ W2)
        dz2 = c * (1 - y * y)  # d tanh = 1 - y²
        dW2 = h.T @ dz2
        dz1 = (dz2 @ W2.T) * (1 - h * h)
        return [x.T @ dz1, dW2]

    return step


def torch_eager(x, W1, W2, c):
    import torch

    x, c = torch.from_numpy(x), torch.from_numpy(c)
    w1, w2 = torch.from_numpy(W1).requires_grad_(), torch.from_numpy(W2).requires_grad_()

    def step():
        loss = (torch.tanh(torch.tanh(x @ w1) @ w2) * c).sum()
        return [g.numpy() for g in torch.autograd.grad(loss, (w1, w2))]

    return step


def jax_jit(x, W1, W2, c):
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 stays float64; float32 arrays stay float32
    jnp = jax.numpy

    def loss(w1, w2, x, c):
        return jnp.sum(jnp.tanh(jnp.tanh(x @ w1) @ w2) * c)

    f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    args = [jax.device_put(a) for a in (W1, W2, x, c)]

    def step():
        _, grads = jax.block_until_ready(f(*args))
        return [np.asarray(g) for g in grads]

    step()  # compile outside the timed region
    return step


BUILDERS = {"core tape": core_tape, "numpy by hand": numpy_by_hand, "torch eager": torch_eager, "jax jit": jax_jit}


@dataclass
class Layer:
    width: int
    dtype: str
    timings: dict = field(default_factory=dict)  # contender -> Timing
    agreement: float = 0.0  # the largest relative difference between two contenders' gradients


def measure(widths, dtypes, *, repeats, budget, log=print):
    out = []
    for dtype in dtypes:
        for width in widths:
            arrays = _arrays(width, dtype)
            steps = {name: BUILDERS[name](*arrays) for name in CONTENDERS}
            grads = {name: step() for name, step in steps.items()}
            ref = grads["numpy by hand"]
            agreement = max(float(np.max(np.abs(g - r)) / np.max(np.abs(r)))
                            for name in CONTENDERS for g, r in zip(grads[name], ref))
            limit = 1e-4 if dtype == "float32" else 1e-10
            if agreement > limit:
                raise AssertionError(f"width {width} {dtype}: the contenders' gradients differ by {agreement:.2e}")
            log(f"  width {width} {dtype}")
            layer = Layer(width, dtype, agreement=agreement)
            layer.timings = round_robin(steps, repeats=repeats, budget=budget, min_repeats=min(5, repeats))
            out.append(layer)
    return out
