"""An xfails file: tests expected to fail here, one id a line, ``# reason`` after it; blank and ``#`` lines skipped.

An id is a test's name (``maximum_tie[jax-float32]``) or its full node id
(``cases/local_gradients.py::maximum_tie[jax-float32]``). Ids that match no
collected test are reported, so a renamed case cannot leave a stale entry behind.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest


def read(path) -> dict:
    """{id: (reason, line number)} from the file; the reason is the line's comment, else where the id was listed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise pytest.UsageError(f"--crosscheck-xfails: cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise pytest.UsageError(f"--crosscheck-xfails: {path} is not a text file of test ids (byte {exc.start} is "
                                f"not UTF-8)") from None
    if "\0" in text:
        raise pytest.UsageError(f"--crosscheck-xfails: {path} is not a text file of test ids (it holds NUL bytes)")
    ids = {}
    for number, line in enumerate(text.splitlines(), 1):
        id_, _, comment = line.partition("#")
        if id_.strip():
            ids[id_.strip()] = (comment.strip() or f"listed in {path}:{number}", number)
    return ids


def apply(items, ids) -> list:
    """Mark the items whose name or node id is listed as xfail; return the ids that matched none."""
    matched = set()
    for item in items:
        for id_ in (item.nodeid, item.name):
            if id_ in ids:
                item.add_marker(pytest.mark.xfail(reason=ids[id_][0], strict=False))
                matched.add(id_)
                break
    return [id_ for id_ in ids if id_ not in matched]


def warn_unmatched(path, ids, unmatched):
    """One warning per stale id, located at its line of the file."""
    for id_ in unmatched:
        warnings.warn_explicit(pytest.PytestWarning(f"{id_} matches no collected test (--crosscheck-xfails)"),
                               pytest.PytestWarning, filename=str(path), lineno=ids[id_][1])
