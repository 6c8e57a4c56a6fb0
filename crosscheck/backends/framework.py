"""What the framework backends share: a lazy import that reports why it failed, op recording, and the cache of
compiled functions of the cases run last.

Frameworks are imported only inside their backend, on first use, so the core,
the reference and ``crosscheck list`` never pay for (or need) them.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict

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


class CaseCache:
    """Compiled functions (jitted, traced) of the ``cases`` most recently used cases; older cases' are dropped.

    A compiled function is reused for every draw, dtype and mode of its case, which a run judges one after
    the other (runs, reports, the conformance suite and calibration go case by case), so a few cases are
    enough. Kept for every case, they were not: each jax executable holds memory mappings of its own (about
    130 for a depth-20 stack's J·v, ~5,700 for that case's 46 functions), and a serial ``pytest`` of the
    catalogue reached Linux's limit of 65,530 mappings per process (vm.max_map_count) and died in XLA with a
    segmentation fault. Dropping a case's functions releases its executables (the mappings measured fall
    back to those of the first case).
    """

    def __init__(self, cases=4):
        self.cases = cases
        self._cases = OrderedDict()  # (case name, case function) -> {key: compiled}

    def get(self, case, key, build):
        """The function cached for ``case`` under ``key``, made by ``build()`` the first time."""
        entries = self._touch(case)
        if key not in entries:
            entries[key] = build()
        return entries[key]

    def peek(self, case, key, default=None):
        """The function cached under ``key`` if there is one, without making it."""
        return self._cases.get((case.name, case.fn), {}).get(key, default)

    def keys(self, case):
        """The keys cached for ``case``."""
        return list(self._cases.get((case.name, case.fn), {}))

    def _touch(self, case):
        group = (case.name, case.fn)
        entries = self._cases.setdefault(group, {})
        self._cases.move_to_end(group)
        while len(self._cases) > max(1, self.cases):
            self._cases.popitem(last=False)
        return entries

    def __len__(self):
        """The functions cached, over every case kept."""
        return sum(len(entries) for entries in self._cases.values())
