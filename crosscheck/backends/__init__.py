"""Backends by name: the built-in ones, engines installed as plugins, and ``package.module:Class``.

A backend is named one of three ways (:func:`get`):

- a built-in name (``core``, ``handwritten``, ``numeric``, ``torch``, ``jax``, ``tensorflow``, ``autograd``);
- the name of an entry point in the group ``crosscheck.backends`` that an installed package declares,
  e.g. in its ``pyproject.toml``::

      [project.entry-points."crosscheck.backends"]
      myengine = "myengine.crosscheck_binding:MyEngineBackend"

- ``package.module:Class`` for an engine that is not installed as a package (the module is imported with
  the current directory on ``sys.path``, as ``python -m`` would).

Framework modules are imported only when their backend runs; a plugin's module is imported when it is named
(or, for installed plugins, when the default set is built). The interface a backend implements is
:mod:`crosscheck.backends.base` and :mod:`crosscheck.vocabulary`.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from .base import Backend, Evaluation

#: the entry-point group an installed engine declares its backend in
ENTRY_POINT_GROUP = "crosscheck.backends"

# name -> (module, class); framework modules import their framework lazily, inside the backend.
_REGISTRY = {
    "numeric": ("crosscheck.backends.numeric", "NumericBackend"),
    "core": ("crosscheck.backends.core", "CoreBackend"),
    "handwritten": ("crosscheck.backends.core", "HandwrittenBackend"),
    "torch": ("crosscheck.backends.torch", "TorchBackend"),
    "jax": ("crosscheck.backends.jax", "JaxBackend"),
    "tensorflow": ("crosscheck.backends.tensorflow", "TensorFlowBackend"),
    "autograd": ("crosscheck.backends.autograd", "AutogradBackend"),
}
NAMES = tuple(_REGISTRY)
#: what a plain run compares with the reference (a framework that is not installed gives ``skipped`` rows),
#: before the installed plugins (:func:`default`) are added
DEFAULT = tuple(n for n in NAMES if n != "numeric")


def plugins() -> dict:
    """{name: entry point} of the backends installed packages declare in :data:`ENTRY_POINT_GROUP`
    (nothing is imported here)."""
    from importlib import metadata

    found = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)  # the first distribution on sys.path wins, as for console scripts
    return found


def default() -> tuple:
    """The built-in defaults, then every installed plugin (sorted by name)."""
    return DEFAULT + tuple(n for n in sorted(plugins()) if n not in _REGISTRY)


def available() -> tuple:
    """Every name :func:`get` accepts without a module path."""
    return NAMES + tuple(n for n in sorted(plugins()) if n not in _REGISTRY)


def _import_path(spec):
    """The class named by ``package.module:Class``; ValueError with what went wrong."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr or not all(p.isidentifier() for p in module_name.split(".") + attr.split(".")):
        raise ValueError(f"backend {spec!r}: expected package.module:Class")
    cwd = str(Path.cwd())
    if cwd not in sys.path and "" not in sys.path:  # a console script's sys.path lacks the current directory
        sys.path.append(cwd)
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"backend {spec!r}: cannot import {module_name!r} ({type(exc).__name__}: {exc})") from exc
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise ValueError(f"backend {spec!r}: module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _instance(obj, spec):
    """A Backend from a class (or a ready instance); its name defaults to the class's."""
    what = obj.__name__ if isinstance(obj, type) else type(obj).__name__
    if not (issubclass(obj, Backend) if isinstance(obj, type) else isinstance(obj, Backend)):
        raise ValueError(f"backend {spec!r} is a {what}, not a crosscheck.backends.Backend "
                         f"(subclass Backend and implement evaluate)")
    try:
        backend = obj() if isinstance(obj, type) else obj
    except Exception as exc:
        raise ValueError(f"backend {spec!r}: {what}() raised {type(exc).__name__}: {exc}") from exc
    if backend.name == "?":
        backend.name = type(backend).__name__
    return backend


def get(name) -> Backend:
    """A new instance of the backend called ``name``: built-in, installed plugin, or ``package.module:Class``."""
    if name in _REGISTRY:
        module, cls = _REGISTRY[name]
        return getattr(importlib.import_module(module), cls)()
    if ":" in str(name):
        return _instance(_import_path(name), name)
    found = plugins()
    if name in found:
        try:
            obj = found[name].load()
        except Exception as exc:
            raise ValueError(f"backend {name!r} (entry point {found[name].value!r} of group {ENTRY_POINT_GROUP!r}) "
                             f"failed to load: {type(exc).__name__}: {exc}") from exc
        backend = _instance(obj, name)
        backend.name = name  # the name it is registered under is the one tables show
        return backend
    import difflib

    close = difflib.get_close_matches(str(name), available(), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ValueError(f"unknown backend {name!r}{hint}: choose from {', '.join(available())}, or name a class as "
                     f"package.module:Class (an engine installed as a package registers its backend in the "
                     f"entry-point group {ENTRY_POINT_GROUP!r})")


def resolve(names) -> list:
    """Instances for ``names`` (``default`` expands to :func:`default`), in order, duplicates dropped;
    ValueError when one is unknown or two share a table name."""
    expanded = []
    for n in names:
        expanded.extend(default() if n == "default" else [n])
    instances, seen = [], {}
    for n in dict.fromkeys(expanded):
        b = get(n)
        if b.name in seen:
            raise ValueError(f"backends {seen[b.name]!r} and {n!r} are both called {b.name!r} in the tables: "
                             f"give one a different name")
        seen[b.name] = n
        instances.append(b)
    return instances


__all__ = ["Backend", "Evaluation", "NAMES", "DEFAULT", "ENTRY_POINT_GROUP", "available", "default", "get",
           "plugins", "resolve"]
