from pathlib import Path

import pytest

from crosscheck.catalogue import discover

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases"


@pytest.fixture(scope="session")
def catalogue():
    """The shipped catalogue, by case name."""
    return {c.name: c for c in discover([CASES])}
