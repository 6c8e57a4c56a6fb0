"""crosscheck's benchmarks: ``python benchmarks/run.py`` writes results/benchmarks.md (see run.py)."""
