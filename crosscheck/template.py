"""``crosscheck new NAME``: a commented case file that runs as written."""

from __future__ import annotations

import keyword
from pathlib import Path

from .tables import write_atomic

TEMPLATE = '''"""{name}: what this case checks, in one line."""

import numpy as np

from crosscheck import Tolerance, case, inputs  # noqa: F401  (Tolerance: for the override below)


def {name}_backward(g, x, w):
    """Optional: your hand-written backward, given the cotangent g of the output.

    Here y = tanh(x @ w): dy = (1 - y²) ∘ g, then dx = dy wᵀ and dw = xᵀ dy.
    Delete it (and backward= below) if you only want the frameworks compared.
    Compute in the dtype of the arrays you are given: the run is float64 and float32, and a
    gradient that comes back float64 in a float32 run is an error row (a float64 constant such as
    np.float64(2.0) or np.array([...]) promotes float32 to float64; write 2.0 or x.dtype.type(2.0)).
    """
    y = np.tanh(x @ w)
    dy = g * (1 - y * y)
    return {{"x": dy @ w.T, "w": x.T @ dy}}


@case(
    x=inputs.normal(4, 3),  # seeded from "{name}:x": adding other cases never changes it
    w=inputs.normal(3, 2, scale=0.5),
    # target=inputs.data([[0.0, 1.0]] * 4),  # data: fed to every backend, not differentiated
    backward={name}_backward,
    tags={{"mine"}},  # pytest -m mine; crosscheck run --tag mine
    # tolerance={{"float32": Tolerance(atol=1e-4, rtol=1e-3)}},  # only if you must, with a reason
)
def {name}(nn, x, w):
    # Only nn's ops and + - * / @ ** here: each backend binds them to its own kernels.
    return nn.tanh(x @ w)  # a non-scalar output is contracted with a seeded random cotangent
'''


def write_template(name: str, folder) -> Path:
    """Write ``folder/name.py``; refuses a name that is no identifier and never overwrites a file."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"case name {name!r} must be a python identifier (letters, digits, _) and no keyword")
    path = Path(folder) / f"{name}.py"
    if path.exists():
        raise FileExistsError(f"{path} exists already; choose another name or folder")
    write_atomic(path, TEMPLATE.format(name=name))
    return path
