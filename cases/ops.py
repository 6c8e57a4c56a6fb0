"""Every op of the vocabulary at random points and at each of its special points, generated from the op
definitions in ``crosscheck/ops_spec.py`` (nothing here is written per op: add an op or a point there).

Case names: ``op_<op>__random`` and ``op_<op>__<point>``. Tags: ``ops``, the theme, ``op_<op>``, ``random`` or
``special``, and ``judge_v2`` on points where no derivative exists for finite differences to converge to (jumps, infinite derivatives, branch cuts): the reference says so and those rows are ``unjudged`` with the reason.
"""

from crosscheck import inputs, ops_spec
from crosscheck.catalogue import Expected, case

#: themes whose special points are read with a cotangent of ones (each gradient element is the op's own
#: derivative there); the others (reductions, linear algebra, ...) keep the seeded random cotangent
_ONES = {"elementwise", "activations"}


def _register(name, op, specs, attrs, tags, expect=(), cotangent="random", dtypes=("float64", "float32"), doc=""):
    def fn(nn, **values):
        return op.invoke(nn, values, attrs)

    fn.__name__ = name
    fn.__doc__ = doc
    fn.__module__ = __name__
    case(name, tags=tags, expect=expect, cotangent=cotangent, dtypes=dtypes, tolerance=op.tolerance, **specs)(fn)


for _op in ops_spec.OPS.values():
    _tags = {"ops", _op.theme, f"op_{_op.name}"}
    _everywhere = tuple(Expected(reason, backend=backend, dtype=dtype) for backend, dtype, reason in
                        _op.expect_everywhere)
    if _op.random_cases:
        _register(ops_spec.case_name(_op), _op, dict(_op.random), {}, _tags | {"random"},
                  tuple(Expected(reason, backend=b, param=p, dtype=d) for b, p, d, reason in _op.expectations())
                  + tuple(Expected(reason, backend=b, param=p, dtype=d, mode="hvp")
                          for b, p, d, reason in _op.second_order())
                  + _everywhere, doc=f"{_op.signature} at a seeded random point")
    for _point in _op.points:
        _specs = {k: (inputs.data(v) if k in _op.data else inputs.fixed(v)) for k, v in _point.values.items()}
        _expect = [Expected(reason, backend=b, param=p, dtype=d) for b, p, d, reason in _point.expectations()]
        _expect += [Expected(reason, backend=b, param=p, dtype=d, mode="hvp") for b, p, d, reason in _point.second_order()]
        _expect += _everywhere
        _ptags = _tags | {"special"} | ({"judge_v2"} if _point.judge_v2 else set())
        _register(ops_spec.case_name(_op, _point), _op, _specs, _point.attrs, _ptags, tuple(_expect),
                  "ones" if _op.theme in _ONES else "random", _point.dtypes,
                  doc=f"{_op.signature} at {_point.label}: {_point.maths}")
