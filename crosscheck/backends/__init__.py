"""Backends by name. Framework backends are imported only when asked for."""

from __future__ import annotations

import importlib

from .base import Backend, Evaluation

# name -> (module, class); torch and jax modules import their framework lazily, inside the backend.
_REGISTRY = {
    "numeric": ("crosscheck.backends.numeric", "NumericBackend"),
    "core": ("crosscheck.backends.core", "CoreBackend"),
    "handwritten": ("crosscheck.backends.core", "HandwrittenBackend"),
    "torch": ("crosscheck.backends.torch", "TorchBackend"),
    "jax": ("crosscheck.backends.jax", "JaxBackend"),
}
NAMES = tuple(_REGISTRY)
#: what a plain run compares with the reference
DEFAULT = tuple(n for n in NAMES if n != "numeric")


def get(name) -> Backend:
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}: choose from {', '.join(NAMES)}")
    module, cls = _REGISTRY[name]
    return getattr(importlib.import_module(module), cls)()


__all__ = ["Backend", "Evaluation", "NAMES", "DEFAULT", "get"]
