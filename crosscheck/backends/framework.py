"""What the PyTorch and JAX backends share: a lazy import that reports why it failed, and op recording.

Frameworks are imported only inside their backend, on first use, so the core,
the reference and ``crosscheck list`` never pay for (or need) them.
"""

from __future__ import annotations

import importlib

from ..vocabulary import OPS


def import_framework(name):
    """(module, None) when ``name`` imports, else (None, the reason a ``skipped`` row shows)."""
    try:
        return importlib.import_module(name), None
    except ModuleNotFoundError as exc:
        return None, f"{name} is not installed (ModuleNotFoundError: {exc})"
    except Exception as exc:  # installed but broken (a missing shared library, a version clash): say so
        return None, f"{name} failed to import ({type(exc).__name__}: {exc})"


class Recording:
    """Mixin for a vocabulary: remembers which ops were looked up on it, so a row carries the
    binding notes of the ops its case used, not of every op the backend composes."""

    def __getattribute__(self, name):
        if name in OPS:
            object.__getattribute__(self, "used").add(name)
        return object.__getattribute__(self, name)

    def notes(self):
        return {op: self.bindings[op] for op in sorted(self.used) if op in self.bindings}
