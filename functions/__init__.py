"""Everything the Lambda image runs: the scoring API, its model and its audit trail."""

import os

# One thread per BLAS/OpenMP pool, set before any submodule imports numpy (a package's __init__ runs
# first): single-row scoring gets p99 spikes otherwise. setdefault leaves an explicit setting alone.
for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_pool, "1")
