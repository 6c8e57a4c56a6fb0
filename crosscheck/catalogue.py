"""Cases, the ``@case`` decorator, and discovery of case files.

A case is a function written once against the op vocabulary ``nn``; its
inputs come from :mod:`crosscheck.inputs` specs, seeded by the case's name.
``@case`` only records the case in the module that defines it; nothing runs
at import. :func:`discover` imports case files and collects what they
recorded, rejecting duplicate names with both files named.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import importlib.util
import inspect
import keyword
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .compare import DEFAULT_TOLERANCES, Tolerance
from .inputs import InputSpec, seed_for

DTYPES = ("float64", "float32")
COTANGENTS = ("random", "ones")
#: the attribute where ``@case`` leaves its cases in the defining module
_MODULE_CASES = "__crosscheck_cases__"


class CatalogueError(Exception):
    """A case or case file that cannot be loaded; the message names the file (and line, where known)."""

    def __init__(self, message, *, path=None, line=None, case=None):
        super().__init__(message)
        self.path, self.line, self.case = path, line, case


@dataclass(frozen=True)
class Expected:
    """A known, explained disagreement: the rows it matches become ``expected-discrepancy``.

    ``backend``, ``dtype``, ``param`` and ``mode`` (rev, fwd, hvp: see :mod:`crosscheck.modes`) narrow the
    match; None matches any.
    """

    reason: str
    backend: str | None = None
    dtype: str | None = None
    param: str | None = None
    mode: str | None = None

    def matches(self, backend, dtype, param, mode="rev"):
        return all(want is None or want == got for want, got in
                   ((self.backend, backend), (self.dtype, dtype), (self.param, param), (self.mode, mode)))


@dataclass(frozen=True)
class Training:
    """A training run the case carries: ``steps`` of plain SGD at rate ``lr`` on every differentiated
    input, from the case's point, identically on every backend. ``predict(**point) -> array``,
    optional, gives the trained model's predictions (in numpy) for comparing the end points."""

    steps: int
    lr: float
    predict: Callable | None = None

    def __post_init__(self):
        if not (isinstance(self.steps, int) and self.steps > 0):
            raise CatalogueError(f"Training: steps must be a positive integer, got {self.steps!r}")
        if not self.lr > 0:
            raise CatalogueError(f"Training: lr must be positive, got {self.lr!r}")


@dataclass
class Case:
    name: str
    fn: Callable
    inputs: dict
    tags: frozenset = frozenset()
    tolerances: dict = field(default_factory=dict)  # dtype -> Tolerance, overriding the defaults
    dtypes: tuple = DTYPES
    backward: Callable | None = None
    cotangent: str = "random"
    expected: tuple = ()
    training: Training | None = None
    draw: int = 0  # which draw of the random inputs (see redrawn)
    error: str = ""  # why the case cannot run (an invalid input spec): every row of it is an error
    file: str = "?"
    line: int = 0
    doc: str = ""
    source: str = ""  # the case file it was loaded from ("" for a case made in code): -j finds it again there
    modes: tuple = ("rev", "fwd", "hvp")  # the modes it is checked in (crosscheck.modes); a case may opt out
    _cotangents: dict = field(default_factory=dict, repr=False, compare=False)  # see cotangent_for

    @property
    def wrt(self):
        """The inputs differentiated, in declaration order."""
        return [k for k, spec in self.inputs.items() if spec.grad]

    @property
    def location(self):
        return f"{self.file}:{self.line}"

    def tolerance(self, dtype) -> Tolerance:
        return self.tolerances.get(dtype, DEFAULT_TOLERANCES[dtype])

    def seed(self, input_name):
        if self.draw:
            return seed_for(self.name, input_name, str(self.draw))
        return seed_for(self.name, input_name)

    def redrawn(self, draw: int) -> "Case":
        """The same case with its random inputs (and cotangent) drawn afresh: draw k seeds every
        input by CRC-32 of "name:input:k". Draw 0 is the case itself. Fixed inputs do not change."""
        return dataclasses.replace(self, draw=int(draw))

    @property
    def is_random(self):
        """Whether any input is drawn at random (a case of fixed points only is the same at every draw)."""
        return any(spec.kind != "fixed" for spec in self.inputs.values())

    def point(self, dtype="float64") -> dict:
        """The case's inputs as numpy arrays in ``dtype`` (drawn in float64, then rounded)."""
        return {k: spec.sample(self.seed(k)).astype(dtype, copy=False) for k, spec in self.inputs.items()}

    def cotangent_for(self, shape, dtype):
        """The seeded vector a non-scalar output is contracted with (never all ones by default:
        the sum of a softmax is constant, so ones would hide its bugs)."""
        key = (tuple(shape), np.dtype(dtype).name, self.draw, self.cotangent)
        cached = self._cotangents.get(key)
        if cached is None:  # made once per shape, dtype and draw: the reference evaluates the case many times
            if self.cotangent == "ones":
                cached = np.ones(shape, dtype=dtype)
            else:
                rng = np.random.default_rng(self.seed("<cotangent>"))
                cached = rng.standard_normal(shape).astype(dtype, copy=False)
            cached.setflags(write=False)
            self._cotangents[key] = cached
        return cached

    def expectation(self, backend, dtype, param, mode="rev"):
        return next((e for e in self.expected if e.matches(backend, dtype, param, mode)), None)

    def inputs_summary(self, dtype) -> str:
        """``x=float64[4,3] normal(...) seed=…`` for each input: what a failure message shows, not the tensors."""
        parts = []
        for k, spec in self.inputs.items():
            shape = ",".join(str(n) for n in spec.shape)
            seed = "" if spec.kind == "fixed" else f" seed={self.seed(k)}"
            parts.append(f"{k}={dtype}[{shape}] {spec.describe()}{seed}")
        return "; ".join(parts)


def _tolerances(tolerance):
    if tolerance is None:
        return {}
    if isinstance(tolerance, Tolerance):
        return {d: tolerance for d in DTYPES}
    if isinstance(tolerance, dict):
        for d, t in tolerance.items():
            if d not in DTYPES or not isinstance(t, Tolerance):
                raise CatalogueError(f"tolerance: expected {{dtype: Tolerance}} with dtype in {DTYPES}, got {d!r}: {t!r}")
        return dict(tolerance)
    raise CatalogueError(f"tolerance: expected a Tolerance or a {{dtype: Tolerance}} dict, got {tolerance!r}")


def _tags(tags):
    """The tags as a frozenset of valid pytest mark names (each becomes one: ``pytest -m TAG``)."""
    if isinstance(tags, str):
        raise CatalogueError(f"tags={tags!r} is a string, which would become one tag per letter: "
                             f"write tags={{{tags!r}}}")
    try:
        tags = frozenset(tags)
    except TypeError:
        raise CatalogueError(f"tags must be a set of names, got {tags!r}") from None
    for tag in sorted(tags, key=str):
        if not isinstance(tag, str) or not tag.isidentifier() or keyword.iskeyword(tag):
            raise CatalogueError(f"tag {tag!r} cannot be a pytest mark (pytest -m {tag}): use a python identifier "
                                 f"(letters, digits, _) that is not a keyword")
    return tags


def case(name=None, *, tags=(), tolerance=None, dtypes=DTYPES, backward=None, cotangent="random",
         expect=(), train=None, modes=("rev", "fwd", "hvp"), **inputs):
    """Register the decorated function as a case.

    ``inputs`` map each argument of the function (after ``nn``) to an input
    spec. ``backward(g, **inputs) -> {param: grad}``, optional, is a
    hand-written backward for the whole case, given the cotangent ``g`` of its
    output. ``cotangent="ones"`` contracts a non-scalar output with ones
    instead of the default seeded random vector (only where a reference
    setup demands it). ``expect`` lists :class:`Expected` discrepancies.
    ``train=Training(steps, lr)`` attaches a training run compared step by
    step across backends. ``modes`` are the modes it is checked in (``"rev"``, the gradient, always;
    ``"fwd"``, J·v; ``"hvp"``, H·v): ``modes=("rev",)`` opts out of the other two, say for a case whose
    output is not what forward mode should differentiate.
    """
    modes = tuple(modes)
    if "rev" not in modes or any(m not in ("rev", "fwd", "hvp") for m in modes):
        raise CatalogueError(f"modes must include 'rev' and name only 'rev', 'fwd', 'hvp'; got {modes!r}")
    if train is not None and not isinstance(train, Training):
        raise CatalogueError(f"train: expected a Training(steps=, lr=), got {train!r}")
    for k, spec in inputs.items():
        if not isinstance(spec, InputSpec):
            raise CatalogueError(f"input {k!r}: expected an input spec from crosscheck.inputs, got {spec!r}")
    if cotangent not in COTANGENTS:
        raise CatalogueError(f"cotangent must be one of {COTANGENTS}, got {cotangent!r}")
    bad = [d for d in dtypes if d not in DTYPES]
    if bad:
        raise CatalogueError(f"dtypes {bad} not supported: choose from {DTYPES}")
    tolerances = _tolerances(tolerance)
    tags = _tags(tags)
    expected = tuple(expect)

    def register(fn):
        case_name = name or fn.__name__
        signature = inspect.signature(fn).parameters
        params = list(signature)
        takes_var_kw = any(p.kind is p.VAR_KEYWORD for p in signature.values())
        missing = [k for k in inputs if k not in params and not takes_var_kw]
        if not params or missing:
            raise CatalogueError(
                f"case {case_name!r}: the function must take nn first and then its inputs; "
                f"no argument for {missing or 'nn'}")
        code = inspect.unwrap(fn).__code__
        problems = [f"input {k!r}: {spec.check()}" for k, spec in inputs.items() if spec.check()]
        new = Case(
            name=case_name, fn=fn, inputs=dict(inputs), tags=frozenset(tags), tolerances=tolerances,
            dtypes=tuple(dtypes), backward=backward, cotangent=cotangent, expected=expected, training=train,
            file=code.co_filename, line=code.co_firstlineno, doc=inspect.getdoc(fn) or "",
            error="; ".join(problems), modes=modes,
        )
        module = sys.modules.get(fn.__module__)
        if module is not None:
            module.__dict__.setdefault(_MODULE_CASES, []).append(new)
        return fn

    return register


def _load_file(path: Path):
    """Import one case file under a private module name and return the cases it recorded."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    module_name = f"crosscheck_cases_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:  # sys.exit() at import would otherwise end the whole run, silently with 0
        del sys.modules[module_name]
        line = _line_in(exc, str(path))
        raise CatalogueError(f"{path}:{line or '?'}: case file called sys.exit({exc.code!r}) while loading",
                             path=str(path), line=line) from exc
    except SyntaxError as exc:
        del sys.modules[module_name]
        raise CatalogueError(f"{exc.filename}:{exc.lineno}: syntax error in case file: {exc.msg}",
                             path=str(path), line=exc.lineno) from exc
    except Exception as exc:
        del sys.modules[module_name]
        line = _line_in(exc, str(path))
        raise CatalogueError(f"{path}:{line or '?'}: case file failed to load: {type(exc).__name__}: {exc}",
                             path=str(path), line=line) from exc
    loaded = module.__dict__.get(_MODULE_CASES, [])
    for c in loaded:
        c.source = str(path)
    return loaded


def _line_in(exc, filename):
    """The last line of ``filename`` in the exception's traceback (None if the file is not in it)."""
    line, tb = None, exc.__traceback__
    filename = os.path.abspath(filename)
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def case_files(folders):
    """Every ``*.py`` under the folders, sorted, skipping private files (``_*.py``)."""
    files = []
    for folder in folders:
        folder = Path(folder)
        if folder.is_file():
            if folder.suffix != ".py":
                raise CatalogueError(f"--cases {folder}: not a folder or a python case file (*.py)", path=str(folder))
            files.append(folder)
            continue
        if not folder.is_dir():
            raise CatalogueError(f"case folder {folder} does not exist", path=str(folder))
        files.extend(p for p in sorted(folder.rglob("*.py")) if not p.name.startswith("_"))
    return files


def discover(folders, errors=None) -> list[Case]:
    """All cases defined in the case files under ``folders``, in file order; duplicate names rejected.

    A file that fails to load, or a second case of a name already taken, raises
    :class:`CatalogueError` — unless ``errors`` is a list: then the error is
    appended to it and discovery goes on with the other files and cases.
    """
    cases, seen = [], {}

    def fail(error):
        if errors is None:
            raise error
        errors.append(error)

    for path in case_files(folders):
        try:
            loaded = _load_file(path)
        except CatalogueError as exc:
            fail(exc)
            continue
        for c in loaded:
            if c.name in seen:
                fail(CatalogueError(
                    f"duplicate case name {c.name!r}: defined in {seen[c.name].location} and in {c.location}",
                    path=c.file, line=c.line, case=c.name))
                continue
            seen[c.name] = c
            cases.append(c)
    return cases


def select(cases, *, pattern=None, tags=None):
    """Cases whose name matches the glob/substring ``pattern`` and which carry every tag in ``tags``."""
    out = []
    for c in cases:
        if pattern and not (fnmatch.fnmatchcase(c.name, pattern) or pattern in c.name):
            continue
        if tags and not set(tags) <= c.tags:
            continue
        out.append(c)
    return out


def shipped_case_folder() -> Path:
    """The default catalogue: ``crosscheck/catalogue_cases`` in an installed wheel, ``cases/`` in a checkout."""
    package = Path(__file__).resolve().parent
    installed = package / "catalogue_cases"
    return installed if installed.is_dir() else package.parent / "cases"


def configured_case_folders(start=None) -> list[Path]:
    """``crosscheck_cases`` of ``[tool.pytest.ini_options]`` in the nearest pyproject.toml (the working
    directory or above), relative to that file; [] when there is none or it names none."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                import tomllib
            except ModuleNotFoundError:  # python 3.10
                return []
            try:
                config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise CatalogueError(f"{pyproject}: cannot read crosscheck_cases: {exc}") from None
            names = config.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("crosscheck_cases", [])
            if isinstance(names, str):
                names = names.split()
            return [folder / n for n in names]
    return []


def default_case_folders() -> list[Path]:
    """Without ``--cases``: ``crosscheck_cases`` from pyproject.toml, else ``./cases``, else the shipped catalogue."""
    configured = configured_case_folders()
    if configured:
        return configured
    here = Path.cwd() / "cases"
    return [here if here.is_dir() else shipped_case_folder()]


def default_case_folder() -> Path:
    """The first of :func:`default_case_folders` (kept for scripts that take one folder)."""
    return default_case_folders()[0]
