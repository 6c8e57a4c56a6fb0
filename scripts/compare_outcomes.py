"""Compare the outcomes of two pytest runs, test id by test id, from their JUnit XML reports.

    python scripts/compare_outcomes.py serial.xml parallel.xml
    python scripts/compare_outcomes.py --subset all.xml parallel.xml   # the second ran part of the first

Exits 0 when both ran the same tests with the same outcome each (passed,
failed, error, skipped, xfailed), 1 otherwise, listing the differences. CI
uses it to show that ``pytest -n 2`` gives what a serial run gives.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def outcomes(path) -> dict:
    """{test id: outcome} from a JUnit XML file written by ``pytest --junitxml``."""
    result = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcome = kinds[0] if kinds else "passed"
        if outcome == "skipped" and any(c.get("type") == "pytest.xfail" for c in case if c.tag == "skipped"):
            outcome = "xfailed"
        result[test_id] = outcome
    return result


def differences(a: dict, b: dict) -> list[str]:
    lines = [f"only in the first run: {t} ({a[t]})" for t in sorted(set(a) - set(b))]
    lines += [f"only in the second run: {t} ({b[t]})" for t in sorted(set(b) - set(a))]
    lines += [f"{t}: {a[t]} vs {b[t]}" for t in sorted(set(a) & set(b)) if a[t] != b[t]]
    return lines


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    subset = "--subset" in argv
    argv = [a for a in argv if a != "--subset"]
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    a, b = outcomes(argv[0]), outcomes(argv[1])
    if subset:  # the second run is a part of the first (one folder of it): compare over the second's tests
        a = {t: o for t, o in a.items() if t in b}
    diff = differences(a, b)
    for line in diff:
        print(line)
    counts = {}
    for o in a.values():
        counts[o] = counts.get(o, 0) + 1
    summary = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
    print(f"{len(a)} tests ({summary}): " + ("same outcomes" if not diff else f"{len(diff)} differences"))
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
