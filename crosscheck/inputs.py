"""Input specifications for cases: seeded random arrays and fixed points.

Each spec draws its values from a generator seeded by the case's name and the
input's name, so adding a case or an input never shifts another's values.
Values are drawn in float64 and cast to the dtype under test.

``grad=False`` marks data (targets, XOR inputs) that is fed to every backend
but not differentiated.

A spec that cannot be honoured (a negative size, low ≥ high, a fixed point
of the wrong shape) does not raise where it is written: it carries its
``problem``, and ``@case`` turns it into a case whose every row is an
``error`` naming the case, its file and line, and the problem, while the
other cases of the file still load and run.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np


class InputError(ValueError):
    """An input specification that cannot be honoured."""


def seed_for(*names: str) -> int:
    """A stable 32-bit seed from names (CRC-32): independent of order of discovery and of python's hash seed."""
    return zlib.crc32(":".join(names).encode())


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            raise InputError(f"shape {shape!r}: every size must be an integer, got {n!r}")
        if n < 0:
            raise InputError(f"shape {shape!r}: sizes must be non-negative, got {n}")
    return tuple(int(n) for n in shape)


KINDS = ("normal", "uniform", "away_from_zero", "fixed")


@dataclass(frozen=True)
class InputSpec:
    """How to make one input: ``kind`` names the distribution, ``shape`` its shape."""

    kind: str
    shape: tuple
    params: dict = field(default_factory=dict)
    value: np.ndarray | None = None
    grad: bool = True
    problem: str | None = None  # why this spec cannot be honoured (None: it can)

    def check(self):
        """The spec's problem, if any, as a sentence (None when it is valid)."""
        if self.problem:
            return self.problem
        if self.kind not in KINDS:
            return f"unknown input distribution {self.kind!r}: expected one of {', '.join(KINDS)}"
        if 0 in self.shape:
            return (f"{self.kind}: shape {self.shape} has no elements, so there is no gradient to check; "
                    f"give every dimension a size of at least 1")
        return None

    def sample(self, seed: int) -> np.ndarray:
        """This input's float64 values for a given seed (fixed points ignore it)."""
        problem = self.check()
        if problem:
            raise InputError(problem)
        if self.kind == "fixed":
            return np.array(self.value, dtype=np.float64)
        rng = np.random.default_rng(seed)
        p = self.params
        if self.kind == "normal":
            return p["mean"] + p["scale"] * rng.standard_normal(self.shape)
        if self.kind == "uniform":
            return rng.uniform(p["low"], p["high"], self.shape)
        if self.kind == "away_from_zero":
            # |x| in [low, high] with a random sign: keeps kinks at 0 (relu, maximum ties) out of reach of the step
            return rng.choice([-1.0, 1.0], self.shape) * rng.uniform(p["low"], p["high"], self.shape)
        raise InputError(f"no sampler for input distribution {self.kind!r}")

    def describe(self) -> str:
        if self.kind == "fixed":
            return "fixed"
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{self.kind}({args})"


def _validated(kind, build):
    """``build()``'s spec, or an invalid spec carrying the reason (see the module's docstring)."""
    try:
        return build()
    except InputError as exc:
        return InputSpec(kind, (), problem=f"{kind}: {exc}")


def normal(*shape, mean=0.0, scale=1.0, grad=True) -> InputSpec:
    """N(mean, scale²) values of the given shape."""
    def build():
        if not scale > 0:
            raise InputError(f"scale must be positive, got {scale!r}")
        return InputSpec("normal", _shape(shape), {"mean": float(mean), "scale": float(scale)}, grad=grad)

    return _validated("normal", build)


def uniform(*shape, low=-1.0, high=1.0, grad=True) -> InputSpec:
    """Uniform values in [low, high)."""
    def build():
        if not low < high:
            raise InputError(f"need low < high, got low={low!r}, high={high!r}")
        return InputSpec("uniform", _shape(shape), {"low": float(low), "high": float(high)}, grad=grad)

    return _validated("uniform", build)


def away_from_zero(*shape, low=0.1, high=2.0, grad=True) -> InputSpec:
    """Values with |x| uniform in [low, high] and a random sign: for ops with a kink at 0."""
    def build():
        if not 0 < low < high:
            raise InputError(f"need 0 < low < high, got low={low!r}, high={high!r}")
        return InputSpec("away_from_zero", _shape(shape), {"low": float(low), "high": float(high)}, grad=grad)

    return _validated("away_from_zero", build)


def fixed(value, *, shape=None, grad=True) -> InputSpec:
    """A fixed input point (a number or an array), e.g. x = 2.0 or relu at exactly 0.

    ``shape``, optional, is the shape the case expects: a value of another shape is a problem.
    """
    def build():
        try:
            raw = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise InputError(f"value is not a numeric array: {exc}") from None
        if np.iscomplexobj(raw):
            raise InputError("complex values are not supported: crosscheck checks gradients of real functions "
                             "(split a complex input into its real and imaginary parts)")
        try:
            array = np.array(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"value is not a numeric array: {exc}") from None
        if shape is not None and array.shape != _shape(tuple(shape)):
            raise InputError(f"value has shape {array.shape}, the case expects {tuple(shape)}")
        array.setflags(write=False)
        return InputSpec("fixed", array.shape, value=array, grad=grad)

    return _validated("fixed", build)


def data(value, *, shape=None) -> InputSpec:
    """A fixed input that is not differentiated (targets, a dataset)."""
    return fixed(value, shape=shape, grad=False)
