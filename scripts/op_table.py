"""Rewrite the op table in README.md from the op definitions (crosscheck/ops_spec.py).

    python scripts/op_table.py          # rewrite README.md's op-table section
    python scripts/op_table.py --check  # exit 1 if README.md's table is out of date

tests/test_ops.py runs the check, so a new op or point without a regenerated table fails the suite.
"""

import sys
from pathlib import Path

from crosscheck import ops_spec

README = Path(__file__).resolve().parent.parent / "README.md"


def main(argv):
    text = README.read_text()
    new = ops_spec.readme_with_table(text)
    if "--check" in argv:
        if new != text:
            print("README.md's op table is out of date: run python scripts/op_table.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
