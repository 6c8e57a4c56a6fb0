"""What the forward-rule test files share: the shipped catalogue's cases by name, and one mode's verdicts."""

from crosscheck import catalogue

_CASES = None


def shipped_cases(*names):
    """The shipped catalogue's cases of these names (discovered once per session)."""
    global _CASES
    if _CASES is None:
        _CASES = catalogue.discover([catalogue.shipped_case_folder()])
    found = [c for c in _CASES if c.name in names]
    assert len(found) == len(names), names
    return found


def verdicts(rows, mode):
    """{(case, param, dtype): verdict} of the rows of one mode."""
    return {(r.case, r.param, r.dtype): r.verdict for r in rows if r.mode == mode}
