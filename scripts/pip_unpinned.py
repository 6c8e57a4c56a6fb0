"""pip install under constraints.txt, less the pins named in $CROSSCHECK_UNPIN (tox's per-version environments).

constraints.txt pins one version of each framework; an environment that installs another version of one
(jax 0.8.3 beside the locked 0.10.2) keeps every other pin and drops only that framework's own.
Usage (tox's install_command): python scripts/pip_unpinned.py {opts} {packages}
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv):
    unpin = {n.lower().replace("_", "-") for n in os.environ.get("CROSSCHECK_UNPIN", "").split()}
    kept = [line for line in (ROOT / "constraints.txt").read_text().splitlines()
            if re.split(r"[=<>!~ ]", line, maxsplit=1)[0].lower().replace("_", "-") not in unpin]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(kept) + "\n")
    try:
        return subprocess.call([sys.executable, "-m", "pip", "install", "-c", fh.name, *argv])
    finally:
        os.unlink(fh.name)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
