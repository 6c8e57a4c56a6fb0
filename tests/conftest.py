import os
from pathlib import Path

import pytest

from crosscheck.catalogue import discover

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases"

# The suite runs serially unless a test asks for workers (-j N): tests/test_parallel.py compares the two. A
# default of every core would start worker processes in each small command-line test, and their own
# subprocesses, for no gain.
os.environ["CROSSCHECK_JOBS"] = "1"


@pytest.fixture(scope="session")
def catalogue():
    """The shipped catalogue, by case name."""
    return {c.name: c for c in discover([CASES])}
