"""Compilations kept between runs: jax's persistent compilation cache, in the user's cache folder.

The jax backend compiles one ``value_and_grad`` per case and dtype; XLA's compilation is most of a report's
time and gives the same executable every time for the same program, versions and machine. jax can keep the
compiled executables on disk (its persistent compilation cache, keyed by the program, the jax/jaxlib
versions, the compile options and the device), so a second run on the machine skips compilation. It is on by
default, in ``<user cache folder>/crosscheck/jax`` by the platform's convention (``$XDG_CACHE_HOME`` or
``~/.cache`` on Linux, ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows), or in
``$CROSSCHECK_CACHE_DIR/jax``; ``--no-cache`` (or ``CROSSCHECK_CACHE=off``) turns it off. A cached
executable is the one the compiler would have produced, so the cache changes no value (a test shows no row
changes with it off). This module is imported by the jax backend only when jax itself is; it imports nothing
heavy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: environment variable: "off" (or 0, no, false) disables the caches
CACHE_ENV = "CROSSCHECK_CACHE"
#: environment variable: the folder the caches go into, instead of the platform's user cache folder
CACHE_DIR_ENV = "CROSSCHECK_CACHE_DIR"
_OFF = {"0", "off", "no", "false"}

#: compile requests that could use the cache, and those it answered (this process and, added by
#: :mod:`crosscheck.parallel`, its workers)
counts = {"requests": 0, "hits": 0}
_configured = {"jax": None}


def enabled() -> bool:
    return os.environ.get(CACHE_ENV, "").strip().lower() not in _OFF


def disable():
    """Turn the caches off for this process and the processes it starts (``--no-cache``)."""
    os.environ[CACHE_ENV] = "off"


def user_cache_folder() -> Path:
    """The platform's per-user cache folder for crosscheck."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
        return Path(base) / "crosscheck" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "crosscheck"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crosscheck"


def _count(event, **kwargs):
    if event == "/jax/compilation_cache/compile_requests_use_cache":
        counts["requests"] += 1
    elif event == "/jax/compilation_cache/cache_hits":
        counts["hits"] += 1


def configure_jax(jax):
    """Point jax's persistent compilation cache at crosscheck's folder (once per process; a folder the user
    set in jax's own configuration is kept). Returns the folder, or None when off or not writable."""
    if _configured["jax"] is not None:
        return _configured["jax"] or None
    _configured["jax"] = ""
    if not enabled():
        return None
    folder = jax.config.jax_compilation_cache_dir
    if not folder:
        folder = user_cache_folder() / "jax"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"crosscheck: jax compilation cache off: cannot create {folder}: {exc}", file=sys.stderr)
            return None
        jax.config.update("jax_compilation_cache_dir", str(folder))
    # every compilation is worth keeping: the graphs are small and each compiles in ~0.1 s, below jax's
    # default threshold of 1 s
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.monitoring.register_event_listener(_count)
    _configured["jax"] = str(folder)
    return str(folder)


def summary() -> str | None:
    """One line on how warm the cache was, or None when nothing was compiled through it."""
    if not counts["requests"]:
        return None
    hits, requests = counts["hits"], counts["requests"]
    state = "warm" if hits == requests else "cold" if hits == 0 else "partly warm"
    folder = _configured["jax"] or user_cache_folder() / "jax"
    return f"jax compilation cache {state}: {hits} of {requests} compilations read from {folder}"
