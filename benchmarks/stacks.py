"""The two stacks the benchmarks compare: the clean environment of their processes, and the reference
stack's model, a scikit-learn RandomForest (100 trees, class_weight="balanced") fitted on the real data
when CREDIT_DATA is set, else on rows generated from the contract, saved with joblib.

`benchmarks.serving` and `benchmarks.load` build it into a temporary folder; `benchmarks/reference_app.py`
serves it.
"""

import os
import tempfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from benchmarks.results import ROOT, say
from functions.scoring.contract import FEATURE_NAMES
from training.synthetic import generate_rows


def training_data() -> tuple[NDArray[np.float64], NDArray[np.int64], str]:
    """Return X, y and a description: the real data if CREDIT_DATA is set, else generated rows."""
    given = os.environ.get("CREDIT_DATA", "")
    if given:
        from training.data import load_dataset

        dataset = load_dataset(Path(given))
        return dataset.X, dataset.y, f"the real data ({len(dataset.y):,} rows, {dataset.source})"
    rows = generate_rows(30_000, seed=0)
    X = np.array([[float(row[name]) for name in FEATURE_NAMES] for row in rows])
    late = X[:, FEATURE_NAMES.index("pay_0")] >= 2
    y = (late | (np.random.default_rng(0).random(len(rows)) < 0.15)).astype(np.int64)
    return X, y, f"{len(rows):,} rows generated from the contract (CREDIT_DATA unset)"


def build_reference(folder: Path) -> str:
    """Fit the reference RandomForest and save it with joblib into `folder`."""
    import joblib
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    X, y, source = training_data()
    say(f"fitting the reference RandomForest on {source}")
    forest = RandomForestClassifier(n_estimators=100, class_weight="balanced", random_state=0, n_jobs=-1)
    forest.fit(pd.DataFrame(X, columns=list(FEATURE_NAMES)), y)
    forest.set_params(n_jobs=None)  # served as the reference app would: default single job
    joblib.dump(forest, folder / "model.joblib")
    size = (folder / "model.joblib").stat().st_size / 1e6
    return f"{source}; model.joblib {size:.0f} MB"


def environment(**extra: str) -> dict[str, str]:
    """Return a clean environment for a stack's process."""
    return {
        **extra,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "HOME": os.environ.get("HOME") or tempfile.gettempdir(),  # a child process needs some home
    }
