"""Options defined once, for the command line (``--backend``) and for pytest (``--crosscheck-backend``).

Name filters differ on purpose: on the command line ``-k`` and ``--tag``
select cases; under pytest its own ``-k`` (on test ids) and ``-m`` (tags
become marks) do the same job.
"""

from __future__ import annotations

from pathlib import Path

from .catalogue import DTYPES

#: the built-in backends a plain run compares with the reference (installed plugins join them: backends.default())
BACKENDS = ("core", "handwritten", "torch", "jax", "tensorflow", "autograd")


def _number(convert, kind, ok, rule):
    """An argparse type: ``convert`` the text, and refuse (a usage error, exit 2, naming the option) a value
    that is not a ``kind`` or fails ``ok``, saying the ``rule``."""
    def check(text):
        import argparse

        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value

    return check


#: an integer >= 1
positive_int = _number(int, "an integer", lambda v: v >= 1, "at least 1")
#: a number > 0 (seconds)
positive_float = _number(float, "a number", lambda v: v > 0, "more than 0")
#: an integer >= 0 (0 for --central-max: every input by random directions)
non_negative_int = _number(int, "an integer", lambda v: v >= 0, "0 or more")


# dest -> (command-line flags, argparse keyword arguments); pytest takes the long flag as --crosscheck-<name>.
OPTIONS = {
    "cases": (("--cases",), dict(action="append", metavar="DIR",
                                 help="folder (or file) of case files; repeatable. "
                                      "Default: crosscheck_cases of pyproject.toml's [tool.pytest.ini_options], else "
                                      "./cases, else the catalogue shipped with the package")),
    "backends": (("--backend",), dict(action="append", metavar="NAME",
                                      help=f"backend to run; repeatable: a name ({', '.join(BACKENDS)}, numeric, or "
                                           f"an installed plugin's), package.module:Class for an engine not "
                                           f"installed, or 'default' for the default set. Default: "
                                           f"{', '.join(BACKENDS)} and every installed plugin")),
    "dtypes": (("--dtype",), dict(action="append", choices=DTYPES, help="dtype to run; repeatable. Default: both")),
    "probe": (("--probe",), dict(choices=("all", "failing"), default="all",
                                 help="look for kinks at every element (default) or only where the central "
                                      "difference disagrees")),
    "method": (("--method",), dict(choices=("auto", "central", "directional"), default="auto",
                                   help="element-wise central differences, random-direction derivatives, or "
                                        "auto: central up to --central-max elements per input, directional beyond")),
    "directions": (("--directions",), dict(type=positive_int, default=16, metavar="K",
                                           help="random ±1 directions per input for the directional check "
                                                "(default 16)")),
    "modes": (("--mode",), dict(action="append", choices=("rev", "fwd", "hvp"), metavar="MODE",
                                help="mode to check; repeatable: rev (gradients, reverse mode), fwd (J·v, forward "
                                     "mode), hvp (Hessian-vector products). Default: all three (a case may opt out "
                                     "of fwd and hvp)")),
    "central_max": (("--central-max",), dict(type=non_negative_int, default=1 << 14, metavar="N",
                                             help="largest input (elements) checked element-wise under "
                                                  "--method auto (default 16384)")),
}


def reference_options(values):
    """{method, directions, central_max, modes} from parsed options (argparse namespace or pytest's getoption)."""
    get = values if callable(values) else (lambda name: getattr(values, name))
    modes = get("modes")
    return {"method": get("method"), "directions": get("directions"), "central_max": get("central_max"),
            "modes": tuple(m for m in ("rev", "fwd", "hvp") if m in modes) if modes else ("rev", "fwd", "hvp")}
CLI_ONLY = {
    "pattern": (("-k",), dict(metavar="PATTERN", help="only cases whose name matches (glob or substring)")),
    "tags": (("--tag",), dict(action="append", metavar="TAG", help="only cases with this tag; repeatable")),
}


def backends_named(values):
    """Backend instances for ``--backend`` values (None or empty: the defaults); ValueError naming a bad one."""
    from . import backends

    return backends.resolve(values or ["default"])


def add_to_argparse(parser, *names):
    for name in names:
        flags, kwargs = {**OPTIONS, **CLI_ONLY}[name]
        parser.add_argument(*flags, dest=name, **kwargs)


def add_to_pytest(group):
    for name, (flags, kwargs) in OPTIONS.items():
        group.addoption("--crosscheck-" + flags[-1].lstrip("-"), dest=f"crosscheck_{name}", **kwargs)


def case_folders(values):
    """The folders named, or the default catalogue (see :func:`crosscheck.catalogue.default_case_folders`)."""
    from .catalogue import default_case_folders

    return [Path(v) for v in values] if values else default_case_folders()
