"""The float64 reference for one case in one dtype, computed once and shared by every backend.

Each differentiated input is checked one of two ways:

- ``central``: a central difference for every element (2 evaluations per
  element, batched) — exact to ~1e-10 and says *which* element is wrong;
- ``directional``: the derivative along ``k`` seeded random ±1 directions
  (2 evaluations per direction, whatever the size) — for large inputs, where
  element-wise differences cost too much. Every element enters every
  projection with weight ±1, so a single wrong element of size δ shifts each
  projection by δ; a failed projection then falls back to element-wise
  differences, where affordable, to name the worst element.

``method="auto"`` takes ``central`` for inputs of at most ``central_max``
elements and ``directional`` beyond.
"""

from __future__ import annotations

import numpy as np

METHODS = ("auto", "central", "directional")
#: inputs up to this many elements get element-wise central differences under method="auto"
CENTRAL_MAX = 1 << 14
#: random directions per input under the directional method
DIRECTIONS = 16


class Reference:
    """The point (rounded to the dtype), the forward value, and per input its central differences or
    its directional derivatives; one-sided derivatives on demand, memoised.

    Raises whatever the case raises when it cannot be evaluated in plain numpy.
    """

    def __init__(self, case, dtype, numeric, method="auto", directions=DIRECTIONS, central_max=CENTRAL_MAX):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.case, self.numeric = case, numeric
        self.point = {k: v.astype(np.float64) for k, v in case.point(dtype).items()}
        self.value = numeric.value(case, self.point)
        self.methods, self.grads, self.directions, self.projections = {}, {}, {}, {}
        for param in case.wrt:
            size = self.point[param].size
            use_central = method == "central" or (method == "auto" and size <= central_max)
            self.methods[param] = "central" if use_central else "directional"
            if use_central:
                self.grads[param] = numeric.central(case, self.point, param)
            else:
                v = self.directions_for(param, directions)
                self.directions[param] = v
                self.projections[param] = numeric.directional(case, self.point, param, v)
        self._all_sides = {}

    def directions_for(self, param, count):
        """The seeded ±1 directions for ``param`` (from the case's name, its draw and the input's name)."""
        from .numerical import rademacher_directions

        return rademacher_directions(self.point[param].shape, count, self.case.seed(f"{param}<directions>"))

    def method_label(self, param):
        return "central" if self.methods[param] == "central" else f"directional×{len(self.projections[param])}"

    def central(self, param):
        """Element-wise central differences of ``param`` (computed now if the method was directional)."""
        if param not in self.grads:
            self.grads[param] = self.numeric.central(self.case, self.point, param)
        return self.grads[param]

    def one_sided(self, param, indices=None):
        """(right, left, noise) at the flat ``indices`` of ``param``; all elements (memoised) when None."""
        if indices is not None:
            return self.numeric.one_sided(self.case, self.point, param, indices)
        if param not in self._all_sides:
            self._all_sides[param] = self.numeric.one_sided(self.case, self.point, param, None)
        return self._all_sides[param]


def reference_for(case, dtype, numeric=None, **options):
    """The case's :class:`Reference` in ``dtype``, or the exception that prevented it (None for a case
    whose own specification is broken: its rows say why)."""
    if case.error:
        return None
    if numeric is None:
        from . import backends

        numeric = backends.get("numeric")
    try:
        with np.errstate(all="ignore"):
            return Reference(case, dtype, numeric, **options)
    except Exception as exc:
        return exc


__all__ = ["CENTRAL_MAX", "DIRECTIONS", "METHODS", "Reference", "reference_for"]
