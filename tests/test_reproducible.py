"""The committed results regenerate byte for byte on another machine: the `crosscheck` command pins the BLAS
(one thread, OpenBLAS's generic kernel), so another kernel or thread count leaves `git status` clean."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Matrix products big enough that OpenBLAS's kernels (FMA or not, blocking, threads) change their last bits.
CASES = """
    from crosscheck import case, inputs

    @case(x=inputs.normal(24, 40), w=inputs.normal(40, 32, scale=0.3), v=inputs.normal(32, 8))
    def products(nn, x, w, v):
        return nn.tanh(x @ w) @ v
"""
SETTINGS = ({"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_NUM_THREADS": "1"},
            {"OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_NUM_THREADS": "2"})


def report(command, cases, out, blas):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS_", "MKL_", "OMP_"))}
    proc = subprocess.run([*command, "report", "--cases", str(cases), "--backend", "core", "--results", str(out)],
                          env={**env, **blas}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_another_blas_kernel_or_thread_count_gives_identical_files(tmp_path):
    command = Path(sys.executable).parent / "crosscheck"
    if not command.exists():
        pytest.skip(f"the crosscheck command is not installed beside {sys.executable}")
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "products.py").write_text(textwrap.dedent(CASES))
    unpinned = [report([sys.executable, "-m", "crosscheck.cli"], cases, tmp_path / f"raw{i}", blas)
                for i, blas in enumerate(SETTINGS)]
    if unpinned[0] == unpinned[1]:
        pytest.skip("this machine's OpenBLAS gives the same bits under both settings (no AVX2 kernel here?)")
    pinned = [report([str(command)], cases, tmp_path / f"pinned{i}", blas) for i, blas in enumerate(SETTINGS)]
    assert pinned[0] == pinned[1]
