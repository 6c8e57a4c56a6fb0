"""The catalogue as a pytest conformance suite: one test per (case, backend, dtype), e.g. ``xor_mlp[torch-float32]``.

Case folders come from ``--crosscheck-cases DIR`` (repeatable) or the ini option
``crosscheck_cases``; with neither, the plugin collects nothing. Folders from the
ini are collected where pytest's own collection reaches them (``testpaths``,
arguments); folders named on the command line always run. Case tags and the
backend become marks (``-m seed``, ``-m "not jax"``); ``--crosscheck-xfails FILE``
marks the tests it lists as expected failures.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import pytest

from . import xfails
from .catalogue import DTYPES, CatalogueError
from .conformance import SUITE, CaseFile, Suite
from .options import add_to_pytest, backends_named, reference_options
from .tables import DISTRIBUTION

#: distributions whose versions the header shows when their backend is selected (read without importing them)
_FRAMEWORKS = {"torch": ("torch",), "jax": ("jax", "jaxlib"), "tensorflow": ("tensorflow-cpu",), "autograd": ("autograd",)}


def pytest_addoption(parser):
    group = parser.getgroup("crosscheck", "crosscheck conformance suite")
    add_to_pytest(group)
    group.addoption("--crosscheck-xfails", dest="crosscheck_xfails", metavar="FILE",
                    help="file of test ids expected to fail, one a line, '# reason' comments allowed")
    parser.addini("crosscheck_cases", type="paths", default=[],
                  help="folders (or files) of crosscheck case files to collect as the conformance suite")


def pytest_configure(config):
    from_cli = config.getoption("crosscheck_cases")
    if from_cli:
        folders = [config.invocation_params.dir / p for p in from_cli]
    else:
        folders = list(config.getini("crosscheck_cases"))
    if not folders:
        return
    missing = [str(f) for f in folders if not f.exists()]
    if missing:
        raise pytest.UsageError(f"crosscheck case folder(s) not found: {', '.join(missing)}")
    instances = _backends(config)
    config.stash[SUITE] = Suite(
        folders=[f.resolve() for f in folders], explicit=bool(from_cli),
        backends=tuple(b.name for b in instances), instances={b.name: b for b in instances},
        dtypes=tuple(d for d in DTYPES if d in (config.getoption("crosscheck_dtypes") or DTYPES)),
        probe=config.getoption("crosscheck_probe") or "all",
        **_split_modes(reference_options(lambda name: config.getoption(f"crosscheck_{name}"))))
    config.addinivalue_line("markers", "crosscheck: a conformance test (one case, backend and dtype)")
    for backend in config.stash[SUITE].backends:
        config.addinivalue_line("markers", f"{backend}: a conformance test on the {backend} backend")


def _split_modes(options):
    """The suite's keywords: the reference's options, and the modes apart (they choose the tests collected)."""
    options = dict(options)
    return {"modes": options.pop("modes"), "reference_options": options}


def _backends(config):
    """The backends of ``--crosscheck-backend`` (names, plugins, package.module:Class), else the defaults."""
    try:
        return backends_named(config.getoption("crosscheck_backends"))
    except ValueError as exc:
        raise pytest.UsageError(f"--crosscheck-backend: {exc}") from None


@pytest.hookimpl(hookwrapper=True)
def pytest_collect_file(file_path, parent):
    outcome = yield
    suite = parent.config.stash.get(SUITE, None)
    if suite is not None and suite.claims(file_path):  # a case file is ours alone, even if named test_*.py
        outcome.force_result([CaseFile.from_parent(parent, path=file_path)])


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect, so they apply to the tests added here too
def pytest_collection_modifyitems(session, config, items):
    suite = config.stash.get(SUITE, None)
    if suite is not None and suite.explicit:
        try:
            unreached = suite.uncollected_files()
        except CatalogueError as exc:
            raise pytest.UsageError(str(exc)) from exc
        for path in unreached:
            items.extend(session.genitems(CaseFile.from_parent(session, path=path)))
    xfails_file = config.getoption("crosscheck_xfails")
    if xfails_file:  # matched before -k and -m deselect: a deselected test is no stale entry
        path = config.invocation_params.dir / xfails_file
        ids = xfails.read(path)
        unmatched = xfails.apply(items, ids)
        if getattr(config, "workerinput", {}).get("workerid", "gw0") == "gw0":  # xdist: every worker collects alike
            xfails.warn_unmatched(path, ids, unmatched)


def pytest_report_header(config):
    suite = config.stash.get(SUITE, None)
    if suite is None:
        return None
    folders = ", ".join(_relative(f, config.rootpath) for f in suite.folders)
    versions = [f"python {platform.python_version()}", f"numpy {_version('numpy')}"]
    for backend, dists in _FRAMEWORKS.items():
        if backend in suite.backends:
            versions += [f"{d} {_version(d) or 'not installed'}" for d in dists]
    return [f"crosscheck {_version(DISTRIBUTION)}: cases {folders}; backends {', '.join(suite.backends)}; "
            f"dtypes {', '.join(suite.dtypes)}; probe {suite.probe}",
            "crosscheck versions: " + ", ".join(versions)]


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _relative(path: Path, root: Path):
    try:
        return str(path.relative_to(root.resolve())) or "."
    except ValueError:
        return str(path)
