"""The conformance suite's pytest nodes: a case file collects one test per (case, backend, dtype).

A test judges its one backend with :func:`crosscheck.runner.judge_case` against
the case's finite-difference reference, computed once per (case, dtype) per
session and shared by that case's tests. Its outcome follows the rows'
verdicts: pass or kink passes; fail, nan or error fails with the rows'
messages (no traceback); skipped skips; expected-discrepancy xfails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import backends as backend_registry
from .catalogue import DTYPES, CatalogueError, case_files, discover
from .compare import FAILING
from .options import BACKENDS
from .runner import judge_case, reference_for

#: tags that would change what pytest does if they became marks
_PYTEST_MARKS = frozenset({"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings"})


@dataclass
class Suite:
    """One session's conformance suite: where its case files are and what to run; references cached."""

    folders: list  # resolved paths of case folders (or files)
    explicit: bool  # from --crosscheck-cases: run even where pytest's own collection does not reach
    backends: tuple = BACKENDS
    dtypes: tuple = DTYPES
    probe: str = "all"
    reference_options: dict = field(default_factory=dict)  # method, directions, central_max
    modes: tuple = ("rev", "fwd", "hvp")  # the modes collected (a test per mode the case and backend take)
    instances: dict = field(default_factory=dict)  # table name -> Backend, for backends named by plugin or path
    collected: set = field(default_factory=set)  # case files collected so far
    names: dict = field(default_factory=dict)  # case name -> location: duplicates are rejected, as in discover()
    tags: set = field(default_factory=set)  # tags registered as markers so far
    _backends: dict = field(default_factory=dict)
    _references: dict = field(default_factory=dict)

    def claims(self, path: Path) -> bool:
        """A case file: a ``*.py`` not starting with ``_``, in (or being) one of the folders."""
        if path.suffix != ".py" or path.name.startswith("_"):
            return False
        path = path.resolve()
        return any(path == f or f in path.parents for f in self.folders)

    def uncollected_files(self):
        """Case files of the folders that pytest's own collection did not reach, sorted."""
        return [p for p in case_files(self.folders) if p.resolve() not in self.collected]

    def backend(self, name):
        if name not in self._backends:
            self._backends[name] = self.instances.get(name) or backend_registry.get(name)
        return self._backends[name]

    def reference(self, case, dtype):
        """The case's reference in ``dtype`` (or the exception that prevented it), computed once."""
        key = (case.file, case.name, dtype)
        if key not in self._references:
            self._references[key] = reference_for(case, dtype, self.backend("numeric"), **self.reference_options)
        return self._references[key]


SUITE = pytest.StashKey[Suite]()


class CaseFile(pytest.File):
    """A case file: one :class:`CaseTest` per case, backend that applies to it, and dtype."""

    def collect(self):
        suite = self.config.stash[SUITE]
        suite.collected.add(self.path.resolve())
        errors = []
        cases = discover([self.path], errors)
        for error in errors:  # a file that does not load is one failing test; the other files still run
            yield LoadError.from_parent(self, name="<load error>", error=error)
        for case in cases:
            if case.name in suite.names:
                yield LoadError.from_parent(self, name=f"{case.name}[duplicate]", error=CatalogueError(
                    f"duplicate case name {case.name!r}: defined in {suite.names[case.name]} and in {case.location}"))
                continue
            suite.names[case.name] = case.location
            marks = ["crosscheck", *(t for t in sorted(case.tags) if t not in _PYTEST_MARKS)]
            for tag in set(marks) - suite.tags:
                self.config.addinivalue_line("markers", f"{tag}: crosscheck cases tagged {tag!r}")
                suite.tags.add(tag)
            for backend in suite.backends:
                if not suite.backend(backend).applies(case):
                    continue
                takes = getattr(suite.backend(backend), "modes", ("rev",))
                modes = [m for m in suite.modes if m in case.modes and m in takes]
                for dtype in (d for d in case.dtypes if d in suite.dtypes):
                    for mode in modes:
                        # a gradient test keeps its id, case[backend-dtype]; the others gain the mode
                        suffix = "" if mode == "rev" else f"-{mode}"
                        item = CaseTest.from_parent(self, name=f"{case.name}[{backend}-{dtype}{suffix}]", case=case,
                                                    backend=backend, dtype=dtype, mode=mode)
                        for mark in (*marks, backend):
                            item.add_marker(mark)
                        yield item


class LoadError(pytest.Item):
    """A case file that failed to load, or a case name taken twice: a failing test naming file and line."""

    def __init__(self, *, error, **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def runtest(self):
        pytest.fail(str(self.error), pytrace=False)

    def reportinfo(self):
        return self.path, (self.error.line or 1) - 1, self.name


class CaseTest(pytest.Item):
    """One case on one backend in one dtype, in one mode (rev: gradients; fwd: J·v; hvp: H·v)."""

    def __init__(self, *, case, backend, dtype, mode="rev", **kwargs):
        super().__init__(**kwargs)
        self.case, self.backend, self.dtype, self.mode = case, backend, dtype, mode

    def runtest(self):
        suite = self.config.stash[SUITE]
        rows = judge_case(self.case, self.dtype, [suite.backend(self.backend)],
                          suite.reference(self.case, self.dtype), suite.probe, modes=(self.mode,))
        self.user_properties.extend((r.param, r.verdict) for r in rows)
        if any(r.verdict in FAILING for r in rows):
            pytest.fail(describe_failure(rows), pytrace=False)
        skipped = [r for r in rows if r.verdict == "skipped"]
        if skipped:
            pytest.skip(skipped[0].message)
        reasons = dict.fromkeys(self.case.expectation(r.backend, r.dtype, r.param, r.mode).reason
                                for r in rows if r.verdict == "expected-discrepancy")
        if reasons:
            pytest.xfail("expected discrepancy: " + "; ".join(reasons))

    def reportinfo(self):
        return self.case.file, self.case.line - 1, self.name


def describe_failure(rows):
    """Each failing row's message, one clause a line; identical messages (an error) once; then the other rows."""
    by_message = {}
    for r in rows:
        if r.verdict in FAILING:
            by_message.setdefault(r.message, []).append(r.param)
    lines = []
    for message, params in by_message.items():
        first, *rest = message.split("; ")
        lines.append(first + (";" if rest else ""))
        lines.extend(f"    {clause}" + (";" if i < len(rest) - 1 else "") for i, clause in enumerate(rest))
        if len(params) > 1:
            lines.append(f"    (parameters {', '.join(params)})")
    others = [f"{r.param} {r.verdict}" for r in rows if r.verdict not in FAILING]
    if others:
        lines.append("other parameters: " + ", ".join(others))
    return "\n".join(lines)
