"""The core's forward-mode rules, op by op: every op of the vocabulary has one, and on every catalogue case of
the op (its random point and its special points) the core's J·v and H·v (reverse over forward) agree with the
references of crosscheck.modes — pass, or a kink / unjudged verdict at a point where the derivative (or the
second derivative) does not exist; never fail, nan or error."""

import numpy as np
import pytest

from crosscheck import catalogue, ops_spec, runner
from crosscheck.backends.core import core_function

_CASES = None


def _op_cases(op):
    global _CASES
    if _CASES is None:
        _CASES = catalogue.discover([catalogue.shipped_case_folder()])
    prefix = f"op_{op}__"
    # the op's generated cases, and for the first 22 ops the local-gradient case named after it
    return [c for c in _CASES if c.name.startswith(prefix) or (c.name == op and "local" in c.tags)]


def test_every_op_has_a_forward_rule():
    missing = []
    for name, spec in ops_spec.OPS.items():
        fn = core_function(name)
        if not (getattr(fn, "jvp", None) or getattr(fn, "linear", False) or getattr(fn, "multilinear", False)):
            missing.append(f"{name} ({spec.core})")
    assert not missing, f"ops without a forward-mode rule: {', '.join(missing)}"


@pytest.mark.parametrize("op", sorted(ops_spec.OPS))
def test_forward_rule_agrees_with_the_references(op):
    cases = _op_cases(op)
    if not cases:
        pytest.skip(f"no catalogue case for {op}")
    rows = runner.run(cases, ["core"], modes=("fwd", "hvp"))
    assert rows, f"no fwd/hvp rows for {op}"
    bad = [r for r in rows if r.verdict in ("fail", "nan", "error", "skipped")]
    assert not bad, "\n".join(f"{r.case} {r.param} {r.dtype} {r.mode} {r.verdict}: {r.message}" for r in bad[:6])
